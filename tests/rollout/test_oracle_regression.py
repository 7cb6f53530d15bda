"""The oracle protocol (the default) gives the episodes, returns, weights and metrics that the
code before ``env.protocol`` gave, byte for byte.

The golden values were computed with that code (commit 9133dfc, whose ``run_episodes`` took
``feedback, max_turns`` where it now takes an :class:`Environment`) on the same hash-scripted
episodes: a deterministic engine whose replies (right, wrong, malformed, echoing the feedback)
depend on the conversation, the turn's seed and the position in the batch. That code judged a
malformed turn's answer (``Incorrect. <answer>2</answer>`` could be right), which
``reward.score_malformed=true`` keeps.
"""

import hashlib
import json

from drift.config import EnvConfig, RewardConfig, TaskConfig
from drift.evaluation.multiturn import episode_metrics
from drift.reward.verifiers import exact_match
from drift.rollout.driver import run_episodes
from drift.rollout.engine import SamplingParams
from drift.rollout.env import Environment
from drift.types import Problem
from drift.weighting.trajectory import trajectory_weights

REPLIES = [
    "<answer>1</answer>",
    "<answer>2</answer>",
    "<answer>3</answer>",
    "<answer>4</answer>",
    "oops",
    "Incorrect. <answer>2</answer>",
]
TRAJECTORIES_SHA256 = "1c34073a1f9867d1c11dfa55880148cdc05152cf0c01832b5215ba44d7be6d31"
WEIGHTS_SHA256 = {
    "uniform": "d44fa0757d4ee971d2850ec5b460d156ebab34efb460a276afd2c4be191fe7d7",
    "rft": "2ae2d3229d6edf866c04bef32505856655da74761e43b5c7ee906c7d9da3241b",
    "drift_iw": "5b4eb452f8a292b4761febe52fc4865e6b1826138cb1a3eb6baf60e7b8887f57",
}
METRICS = {
    "acc@1": 0.19444444444444445,
    "acc@2": 0.2777777777777778,
    "acc@3": 0.5555555555555556,
    "acc@4": 0.6388888888888888,
    "correction_rate": 0.22535211267605634,
    "echo_rate": 0.23943661971830985,
    "mean_return": 0.3825092592592593,
    "mean_turns": 2.9722222222222223,
    "repeat_rate": 0.25396825396825395,
    "valid_rate": 0.6448598130841121,
}


class HashEngine:
    def generate(self, conversations, params):
        out = []
        for i, conv in enumerate(conversations):
            key = f"{params.seed}|{params.temperature}|{i}|{json.dumps(conv)}"
            out.append(REPLIES[hashlib.sha256(key.encode()).digest()[0] % len(REPLIES)])
        return out


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_oracle_protocol_reproduces_the_pre_protocol_episodes_byte_for_byte():
    problems = [
        Problem(id=f"p{k}", messages=[{"role": "user", "content": f"question {k}"}], answer=a)
        for k, a in enumerate(str(1 + k % 4) for k in range(12))
    ]
    task = TaskConfig(feedback="Incorrect. Please think again.", max_turns=4)
    # the intrinsic-only keys do nothing under the oracle protocol
    env = Environment.from_config(task, EnvConfig(instruction="unused", shaping_alpha=3.0))
    params = SamplingParams(1.0, 1.0, 8, 11)
    reward = RewardConfig(score_malformed=True)
    trajs = run_episodes(HashEngine(), problems, 3, params, env, exact_match, reward)
    assert sum(len(t.turns) for t in trajs) == 107 and sum(t.final_correct for t in trajs) == 23
    lines = "".join(json.dumps(t.to_dict()) + "\n" for t in trajs)
    assert _sha256(lines) == TRAJECTORIES_SHA256
    for weighting, digest in WEIGHTS_SHA256.items():
        weights = trajectory_weights(trajs, weighting, 0.1).round(12).tolist()
        assert _sha256(json.dumps(weights)) == digest, weighting
    metrics = episode_metrics(trajs, 4)
    assert {k: metrics[k] for k in METRICS} == METRICS  # exactly, not approximately
    assert [metrics[f"acc@t{k}"] for k in range(1, 5)] == [metrics[f"acc@{k}"] for k in range(1, 5)]
    assert metrics["delta_c2i"] == 0.0
