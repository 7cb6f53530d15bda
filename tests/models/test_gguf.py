"""The GGUF conversion cache: reused while it matches its manifest, rebuilt when it does not.

The conversion itself (a real GGUF file) is tested with SmolLM2 in tests/models/test_smollm2.py;
here ``load_gguf`` is replaced by the tiny model so only the caching is exercised.
"""

import logging

import torch

import drift.models.gguf as gguf
from drift.models.config import ModelConfig
from drift.models.factory import load_policy
from drift.utils.manifest import check_manifest


def test_a_truncated_conversion_is_named_and_rebuilt(tmp_path, monkeypatch, caplog):
    (tmp_path / "m.gguf").write_bytes(b"GGUF stand-in")
    calls = []

    def fake_load(directory, gguf_file):
        calls.append(gguf_file)
        torch.manual_seed(0)
        return load_policy(ModelConfig())

    monkeypatch.setattr(gguf, "load_gguf", fake_load)
    out = gguf.ensure_gguf_export(str(tmp_path), "m.gguf", tmp_path / "cache")
    assert out.name == f"gguf-{gguf.file_digest(tmp_path / 'm.gguf')[:16]}"
    assert gguf.ensure_gguf_export(str(tmp_path), "m.gguf", tmp_path / "cache") == out
    assert len(calls) == 1  # reused
    weights = out / "model.safetensors"
    size = weights.stat().st_size
    weights.write_bytes(weights.read_bytes()[: size // 2])
    caplog.set_level(logging.WARNING)
    assert gguf.ensure_gguf_export(str(tmp_path), "m.gguf", tmp_path / "cache") == out
    assert len(calls) == 2  # rebuilt, not reused
    (warning,) = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert f"GGUF conversion {out} is broken: model.safetensors has {size // 2} bytes" in warning
    assert weights.stat().st_size == size and check_manifest(out, content=True) is None
