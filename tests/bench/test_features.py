"""The feature benchmark at tiny size: hooks, LESS loop and plain fwd+bwd, same dim; and each
projection's accuracy against exact gradients."""

from __future__ import annotations

import numpy as np
import torch

from drift.attribution.config import FeatureConfig
from drift.attribution.extract import extract_features, feature_projection
from drift.bench import models
from drift.bench.features import cosine_pearson, exact_grads, run
from drift.bench.harness import Size


def test_tiny_run_times_three_paths_at_one_dim() -> None:
    result = run(Size.TINY, repeats=1)
    assert set(result.seconds) == {"hooks", "loop (LESS)", "plain fwd+bwd"}
    assert result.setting["dim"] == 4 * 4 * 2 * 4 * 2  # 4x4 per LoRA factor, q/k/v/o, 2 layers
    assert set(result.summary()["ratios"]) == {
        "hooks / loop (LESS)",
        "hooks / plain fwd+bwd",
        "plain fwd+bwd / loop (LESS)",
    }
    accuracy = result.notes["cosine Pearson vs exact gradients"]
    assert set(accuracy) == {"hooks", "loop (LESS)"}
    for stats in accuracy.values():
        assert -1.0 <= stats["min"] <= stats["median"] <= 1.0


def test_the_accuracy_is_that_of_the_features_the_extractor_writes(tmp_path) -> None:
    base, tokenizer = models.build(Size.TINY)
    model = models.with_lora(base).eval()
    examples = models.random_examples(6, 16, len(tokenizer))
    cfg = FeatureConfig(proj_in=4, proj_out=4, batch_size=3, shard_size=6, seed=3)
    store = extract_features(
        model, examples, cfg, tmp_path, pad_id=0, model_name="m", show_progress=False
    )
    grads = exact_grads(model, examples, cfg)
    projected = feature_projection(model, cfg, torch.device("cpu"))(grads)
    np.testing.assert_allclose(store.load(), projected.numpy(), rtol=1e-3, atol=1e-6)
    exact = torch.cat([g.flatten(1) for g in grads.values()], dim=1)
    assert abs(cosine_pearson(exact, exact) - 1.0) < 1e-12
    assert cosine_pearson(projected, exact) < 1.0
