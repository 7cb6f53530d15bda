"""method=drift_iw_if: its settings compose, validate, and bad values name their key."""

import re

import pytest
from config_refusal import refused

from drift.config import InfluenceCombine, MethodFamily, Weighting, load_config


def test_drift_iw_if_composes_with_drift_iw_weights_and_a_drift_if_scorer(compose_cfg):
    method = load_config(compose_cfg(["method=drift_iw_if"])).method
    assert (method.family, method.weighting, method.beta) == (
        MethodFamily.iw,
        Weighting.drift_iw,
        0.1,
    )
    assert method.influence is not None and method.influence.combine == InfluenceCombine.product
    assert method.influence.val_max_turns is None  # task.max_turns
    assert method.scoring is not None and method.scoring.method.value == "drift_if"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("method.influence.combine=sum", "method.influence.combine"),
        ("method.influence.temperature=0", "method.influence.temperature"),
        ("method.influence.num_queries=0", "method.influence.num_queries"),
        ("method.influence.rollouts_per_query=-1", "method.influence.rollouts_per_query"),
        ("method.influence.val_max_turns=0", "method.influence.val_max_turns"),
        ("method.scoring=null", "method.scoring"),
        ("method.scoring.method=less", "method.scoring"),
        ("method.scoring.preconditioner=adam", "method.scoring.preconditioner"),
        ("method.family=attribution", "method.influence"),
        ("task.num_val=0", "task.num_val"),
    ],
)
def test_bad_influence_settings_name_their_key(compose_cfg, override, key):
    with refused(re.escape(key)):
        load_config(compose_cfg(["method=drift_iw_if", override]))
