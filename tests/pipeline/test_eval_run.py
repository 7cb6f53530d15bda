"""`drift eval`'s run: the name a saved policy goes by in the results."""

from pathlib import Path

import pytest

from drift.pipeline.eval_run import policy_label


@pytest.mark.parametrize(
    ("policy", "label"),
    [
        ("outputs/runs/x_demo/rft/policy", "rft"),
        ("outputs/runs/x_drift_iw_k3/drift_iw_k3/round2/policy", "drift_iw_k3-round2"),
        ("outputs/cache/reference-0123abcd", "reference-0123abcd"),
        ("/models/my-sft", "my-sft"),
        ("policy", "policy"),
    ],
)
def test_a_policy_is_named_after_its_method(policy, label) -> None:
    assert policy_label(Path(policy)) == label
