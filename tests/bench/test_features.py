"""The feature benchmark at tiny size: hooks, LESS loop and plain fwd+bwd, same dim."""

from __future__ import annotations

from drift.bench.features import run
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
