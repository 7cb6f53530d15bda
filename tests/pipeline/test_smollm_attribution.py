"""The attribution study's real-model preset (experiment=smollm_attribution): every method, the
LoRA adapter and the arithmetic pool's planted kinds. (Its end-to-end run on SmolLM2 took longer
than the suite allows on 2 loaded cores; the README records the measured full-size run.)"""

import pytest
from real_models import needs_smollm

from drift.config import load_config
from drift.pipeline.attribution import check_methods

pytestmark = needs_smollm


def test_preset_keeps_every_method_and_the_lora_adapter(compose_cfg):
    cfg = load_config(compose_cfg(["experiment=smollm_attribution"]))
    methods = check_methods(cfg)
    assert set(methods) == {
        "full",
        "random",
        "drift_if",
        "less",
        "prism",
        "grad_sim",
        "cg_if",
        "perplexity",
        "embedding",
    }
    assert cfg.model.lora is not None and cfg.task.max_turns == 1
    assert cfg.model.gguf_file is not None and cfg.task.answer_format == "last_number"
    assert sum(cfg.study.corruption.values()) == pytest.approx(0.4)
