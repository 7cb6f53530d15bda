"""drift: improving language models through their training data (DRIFT-IW, DRIFT-IF, baselines)."""

__version__ = "0.1.0"
