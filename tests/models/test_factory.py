"""Tiny model, loading, LoRA and HF export: reloads offline with identical logits."""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaForCausalLM,
    PreTrainedTokenizerBase,
)

from drift.config import ConfigError, DType, load_config
from drift.data.chat import EncodedExample
from drift.data.tokenizer import build_char_tokenizer
from drift.enums import Architecture
from drift.models.config import LoraConfig, ModelConfig, TinyModelConfig
from drift.models.factory import apply_lora, build_tiny_model, export_hf, load_policy
from drift.training.data import pad_examples
from drift.training.loss import weighted_sft_loss
from drift.utils.manifest import MANIFEST, check_manifest

PROMPT = "<|user|>5 3 2 4 odd<|end|><|assistant|><answer>3</answer><|end|>"


def _ids(tok: PreTrainedTokenizerBase) -> torch.Tensor:
    return torch.tensor([tok(PROMPT, add_special_tokens=False)["input_ids"]])


@torch.no_grad()
def _logits(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    return model.eval()(input_ids=ids).logits


def test_tiny_model_shape() -> None:
    tok = build_char_tokenizer()
    model = build_tiny_model(TinyModelConfig(), tok)
    cfg = model.config
    assert cfg.vocab_size == len(tok) == model.get_input_embeddings().weight.shape[0]
    assert model.lm_head.weight is model.get_input_embeddings().weight  # tied
    assert cfg.hidden_size // cfg.num_attention_heads == 32
    assert (cfg.eos_token_id, cfg.pad_token_id) == (tok.eos_token_id, tok.pad_token_id)
    assert model.generation_config.eos_token_id == tok.eos_token_id
    assert cfg._attn_implementation == "sdpa"  # ModelConfig's default
    assert sum(p.numel() for p in model.parameters()) == 137_920
    with pytest.raises(ConfigError, match="head_dim"):
        build_tiny_model(TinyModelConfig(hidden_size=64, num_heads=4), tok)


def test_qwen2_shaped_model_from_config(compose_cfg) -> None:
    cfg = load_config(compose_cfg(["model=qwen2.5-0.5b-shaped"]))
    tok = build_char_tokenizer()
    with torch.device("meta"):
        model = build_tiny_model(cfg.model.tiny, tok)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    shape = model.config
    assert (shape.num_hidden_layers, shape.hidden_size, shape.intermediate_size) == (24, 896, 4864)
    assert (shape.num_attention_heads, shape.num_key_value_heads) == (14, 2)
    assert 3.5e8 < sum(p.numel() for p in model.parameters()) < 3.6e8
    with pytest.raises(ConfigError, match="num_kv_heads"):
        TinyModelConfig(num_heads=2, num_kv_heads=3)


def test_export_reload_identical(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, tok = load_policy(ModelConfig())
    out = export_hf(model, tok, tmp_path / "policy")
    ids = _ids(tok)
    reloaded = AutoModelForCausalLM.from_pretrained(out, attn_implementation="sdpa")
    assert torch.equal(_logits(reloaded, ids), _logits(model, ids))
    eager = AutoModelForCausalLM.from_pretrained(out, attn_implementation="eager")
    assert torch.allclose(_logits(eager, ids), _logits(model, ids), atol=1e-5)  # float error
    tok2 = AutoTokenizer.from_pretrained(out)
    assert tok2(PROMPT, add_special_tokens=False)["input_ids"] == ids[0].tolist()
    assert tok2.decode(ids[0]) == PROMPT
    via_policy, tok3 = load_policy(ModelConfig(), path=str(out))
    assert torch.equal(_logits(via_policy, ids), _logits(model, ids))
    assert tok3.eos_token_id == tok.eos_token_id
    by_name, _ = load_policy(ModelConfig(name_or_path=str(out), dtype=DType.bfloat16))
    assert next(by_name.parameters()).dtype == torch.bfloat16


def test_export_replaces_atomically(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, tok = load_policy(ModelConfig())
    export_hf(model, tok, tmp_path / "policy")
    with torch.no_grad():
        model.get_input_embeddings().weight.add_(1.0)
    export_hf(model, tok, tmp_path / "policy")
    assert [p.name for p in tmp_path.iterdir()] == ["policy"]  # no temp dirs left
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "policy")
    assert torch.equal(_logits(reloaded, _ids(tok)), _logits(model, _ids(tok)))


def test_an_export_removes_what_a_killed_export_left_and_nothing_else(tmp_path: Path) -> None:
    """SIGKILL mid-export (tried on SmolLM2: every kill 0.1-0.5 s in) left no ``policy`` but a
    ``.policy.<...>.tmp`` directory that no later export removed."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is free now
    host = socket.gethostname()
    orphan = tmp_path / f".policy.{host}-{dead.pid}.0a1b.tmp"
    in_progress = tmp_path / f".policy.{host}-{os.getpid()}.2c3d.tmp"  # a live process's
    elsewhere = tmp_path / f".policy.other-node-{dead.pid}.4e5f.tmp"  # another host's
    for path in (orphan, in_progress, elsewhere):
        path.mkdir()
        (path / "model.safetensors").write_bytes(b"partial")
    model, tok = load_policy(ModelConfig())
    out = export_hf(model, tok, tmp_path / "policy")
    assert check_manifest(out) is None
    assert not orphan.exists() and in_progress.exists() and elsewhere.exists()


def test_missing_pad_token_falls_back_to_unk(tmp_path: Path) -> None:
    model, tok = load_policy(ModelConfig())
    out = export_hf(model, tok, tmp_path / "policy")
    config_path = out / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    del config["pad_token"]
    config_path.write_text(json.dumps(config))
    model2, tok2 = load_policy(ModelConfig(), path=str(out))
    assert tok2.pad_token == "<unk>"
    assert model2.config.pad_token_id == tok2.unk_token_id


def test_lora_trains_only_adapters_and_export_merges(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, tok = load_policy(ModelConfig())
    ids = _ids(tok)
    base_logits = _logits(model, ids)
    peft_model = apply_lora(model, LoraConfig(r=8))
    trainable = {n: p.numel() for n, p in peft_model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert sum(trainable.values()) == 2 * 4 * 8 * (64 + 64)  # layers x q,k,v,o x r(in+out)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.5)
    adapted = _logits(peft_model, ids)
    assert not torch.allclose(adapted, base_logits, atol=1e-3)
    out = export_hf(peft_model, tok, tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(out, attn_implementation="eager")
    assert not any("lora" in n for n, _ in merged.named_parameters())
    assert torch.allclose(_logits(merged, ids), adapted, atol=1e-5)
    assert any("lora_" in n for n, _ in peft_model.named_parameters())  # caller's model intact
    adapter_dir = export_hf(peft_model, tok, tmp_path / "adapter", merge_lora=False)
    assert (adapter_dir / "adapter_config.json").exists()


@pytest.mark.parametrize(("umask", "dirs", "files"), [(0o002, 0o775, 0o664), (0o022, 0o755, 0o644)])
def test_export_honours_the_umask_and_writes_a_manifest(tmp_path, umask, dirs, files) -> None:
    """A shared cache must be readable by the group: the exported directory and its files get
    the umask's modes like any other, not a temporary directory's 0700."""
    model, tok = load_policy(ModelConfig())
    previous = os.umask(umask)
    try:
        out = export_hf(model, tok, tmp_path / "policy")
        export_hf(model, tok, tmp_path / "policy")  # replacing it keeps the modes too
    finally:
        os.umask(previous)
    assert stat.S_IMODE(out.stat().st_mode) == dirs
    for path in out.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (dirs if path.is_dir() else files), path
    assert check_manifest(out) is None
    assert {"config.json", "model.safetensors"} <= set(
        json.loads((out / MANIFEST).read_text())["files"]
    )


def _loss_and_grads(model: torch.nn.Module, batch: dict[str, torch.Tensor]):
    model.zero_grad(set_to_none=True)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    loss = weighted_sft_loss(logits, batch["input_ids"], batch["loss_mask"], batch["weights"], 3)
    loss.backward()
    return loss.detach(), {n: p.grad for n, p in model.named_parameters()}


@pytest.mark.parametrize("architecture", [Architecture.llama, Architecture.qwen2])
def test_sdpa_gives_eager_attention_loss_and_gradients(architecture) -> None:
    """A fixed right-padded batch: the weighted SFT loss and every gradient agree to float
    error between the two attention implementations (grouped heads in the Qwen2 case)."""
    tok = build_char_tokenizer()
    shape = TinyModelConfig(architecture=architecture, hidden_size=128, num_heads=4, num_kv_heads=2)
    torch.manual_seed(0)
    eager = build_tiny_model(shape, tok, "eager")
    sdpa = build_tiny_model(shape, tok, "sdpa")
    sdpa.load_state_dict(eager.state_dict())
    assert (eager.config._attn_implementation, sdpa.config._attn_implementation) == (
        "eager",
        "sdpa",
    )
    gen = torch.Generator().manual_seed(0)
    examples = [
        EncodedExample(
            id=str(n),
            input_ids=torch.randint(1, len(tok), (n,), generator=gen).tolist(),
            loss_mask=[0] * (n // 2) + [1] * (n - n // 2),
            weight=w,
        )
        for n, w in [(20, 1.0), (9, 0.5), (14, 2.0)]
    ]
    batch = pad_examples(examples, pad_id=tok.pad_token_id)
    eager_loss, eager_grads = _loss_and_grads(eager.train(), batch)
    sdpa_loss, sdpa_grads = _loss_and_grads(sdpa.train(), batch)
    assert torch.allclose(sdpa_loss, eager_loss, rtol=1e-5, atol=0)
    for name, grad in eager_grads.items():
        assert torch.allclose(sdpa_grads[name], grad, rtol=1e-4, atol=1e-6), name


def test_sdpa_falls_back_to_eager_where_the_model_has_none(tmp_path, monkeypatch, caplog) -> None:
    tok = build_char_tokenizer()
    out = export_hf(build_tiny_model(TinyModelConfig(), tok), tok, tmp_path / "policy")
    monkeypatch.setattr(LlamaForCausalLM, "_supports_sdpa", False)
    with caplog.at_level(logging.WARNING, logger="drift.models.factory"):
        built = build_tiny_model(TinyModelConfig(), tok, "sdpa")
        loaded, _ = load_policy(ModelConfig(name_or_path=str(out), attn_implementation="sdpa"))
    assert built.config._attn_implementation == loaded.config._attn_implementation == "eager"
    assert caplog.text.count("falling back to eager attention") == 2
    with pytest.raises(ValueError, match="not supported"):
        build_tiny_model(TinyModelConfig(), tok, "no_such_attention")
