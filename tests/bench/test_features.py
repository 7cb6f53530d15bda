"""The feature benchmark at tiny size: hooks (Kronecker and sketch), LESS loop and plain
fwd+bwd, same dim; and each projection's accuracy against exact gradients."""

from __future__ import annotations

import pytest
import torch

from drift.attribution.config import FeatureConfig
from drift.attribution.extract import feature_projection
from drift.bench import models
from drift.bench.features import cosine_pearson, exact_grads, run
from drift.bench.harness import Size


def test_tiny_run_times_four_paths_at_one_dim() -> None:
    result = run(Size.TINY, repeats=1)
    assert set(result.seconds) == {
        "hooks, sketch",
        "hooks, kronecker",
        "loop (LESS)",
        "plain fwd+bwd",
    }
    assert result.setting["dim"] == 4 * 4 * 2 * 4 * 2  # 4x4 per LoRA factor, q/k/v/o, 2 layers
    assert set(result.summary()["ratios"]) == {
        "hooks, sketch / loop (LESS)",
        "hooks, sketch / plain fwd+bwd",
        "hooks, sketch / hooks, kronecker",
        "plain fwd+bwd / loop (LESS)",
    }
    accuracy = result.notes["cosine Pearson vs exact gradients"]
    assert set(accuracy) == {"hooks, sketch", "hooks, kronecker", "loop (LESS)"}
    for stats in accuracy.values():
        assert -1.0 <= stats["min"] <= stats["median"] <= 1.0


def test_cosine_pearson_is_one_for_the_exact_geometry_and_below_it_for_a_projection() -> None:
    base, tokenizer = models.build(Size.TINY)
    model = models.with_lora(base).eval()
    examples = models.random_examples(6, 16, len(tokenizer))
    cfg = FeatureConfig(proj_in=4, proj_out=4)
    grads = exact_grads(model, examples, cfg)
    exact = torch.cat([g.flatten(1) for g in grads.values()], dim=1)
    assert cosine_pearson(exact, exact) == pytest.approx(1.0, abs=1e-12)
    projected = feature_projection(model, cfg, torch.device("cpu"))(grads)
    assert cosine_pearson(projected, exact) < 1.0
