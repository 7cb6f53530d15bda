"""The rollout stage on the tiny model: resumes give the same bytes, keys ignore locations,
resumed runs report the time of every part."""

import random
import time
from pathlib import Path

import pytest

from drift.config import DriftConfig, load_config
from drift.data.sources import load_problems
from drift.pipeline import rollouts as rollout_stage
from drift.pipeline.reference import ensure_reference
from drift.pipeline.rollouts import ensure_rollouts, rollout_path

OVERRIDES = [
    "debug=fast",
    "model.warmup.enabled=false",  # the untrained tiny model: built in a moment
    "num_threads=1",
    "task.num_train=6",
    "task.max_turns=2",
    "objective=acc@2",
    "rollout.num_samples=2",
    "rollout.chunk_prompts=2",
    "rollout.max_new_tokens=6",
]


@pytest.fixture
def stage(compose_cfg) -> tuple[DriftConfig, str, list]:
    cfg = load_config(compose_cfg(OVERRIDES))
    return cfg, ensure_reference(cfg), load_problems(cfg.task, "train")


def test_resume_after_a_cut_at_any_byte_gives_identical_rollouts(stage, tmp_path):
    cfg, policy, problems = stage
    full = tmp_path / "full.jsonl"
    ensure_rollouts(cfg, policy, problems, path=full)
    data = full.read_bytes()
    line_ends = [i + 1 for i, b in enumerate(data) if b == ord("\n")]
    rng = random.Random(0)
    cuts = [rng.randrange(len(data)) for _ in range(3)] + rng.sample(line_ends[:-1], 2)
    for cut in cuts:
        path = tmp_path / f"cut{cut}.jsonl"
        path.with_suffix(".partial.jsonl").write_bytes(data[:cut])  # a run stopped there
        ensure_rollouts(cfg, policy, problems, path=path)
        assert path.read_bytes() == data, f"resumed from byte {cut}"


def test_an_interrupted_run_resumes_and_reports_the_time_of_both_parts(
    stage, tmp_path, monkeypatch
):
    cfg, policy, problems = stage
    path = tmp_path / "r.jsonl"
    ensure_rollouts(cfg, policy, problems, path=tmp_path / "full.jsonl")
    real = rollout_stage.run_episodes
    calls = []

    def slow_then_killed(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("simulated kill")
        time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(rollout_stage, "run_episodes", slow_then_killed)
    with pytest.raises(KeyboardInterrupt):
        ensure_rollouts(cfg, policy, problems, path=path)
    partial = path.with_suffix(".partial.jsonl").read_bytes()
    assert (tmp_path / "full.jsonl").read_bytes().startswith(partial) and partial
    monkeypatch.setattr(rollout_stage, "run_episodes", real)
    start = time.perf_counter()
    resumed = ensure_rollouts(cfg, policy, problems, path=path)
    resumed_seconds = time.perf_counter() - start
    assert path.read_bytes() == (tmp_path / "full.jsonl").read_bytes()
    # the first part slept 3 s in two finished chunks; the resumed part did not sleep
    assert resumed.wall_seconds >= resumed_seconds + 2.5
    assert not list(tmp_path.glob("r.partial*"))


def test_rollout_keys_do_not_depend_on_where_the_cache_is(compose_cfg, tmp_path):
    keys = []
    for root in ("a", "b/c"):
        raw = compose_cfg(OVERRIDES)
        raw.paths.cache_dir = str(tmp_path / root / "cache")
        cfg = load_config(raw)
        policy = Path(cfg.paths.cache_dir) / "reference-0123456789ab"
        policy.mkdir(parents=True)
        keys.append(rollout_path(cfg, str(policy)).name)
        outside = [rollout_path(cfg, str(tmp_path / d / "model")).name for d in ("x", "y")]
        assert outside[0] != outside[1]  # a model outside the cache: keyed by its path
    assert keys[0] == keys[1]


def test_rollout_keys_hold_env_only_under_the_intrinsic_protocol(compose_cfg):
    def key(*overrides: str) -> str:
        return rollout_path(load_config(compose_cfg([*OVERRIDES, *overrides])), "model").name

    oracle = key()
    assert key("env.instruction=x", "env.shaping_alpha=2") == oracle  # unused under oracle
    intrinsic = key("env.protocol=intrinsic")
    assert intrinsic != oracle
    assert key("env.protocol=intrinsic", "env.instruction=x") != intrinsic
    assert key("env.protocol=intrinsic", "env.shaping_alpha=2") != intrinsic


def test_rollout_keys_hold_the_prompt_protocol_only_under_a_drift_format(compose_cfg):
    def key(*overrides: str) -> str:
        return rollout_path(load_config(compose_cfg([*OVERRIDES, *overrides])), "model").name

    plain = key()
    assert key("prompt.max_words=7", "eval.prompt_format=drift_simple") == plain  # unused
    full = key("rollout.prompt_format=drift_full")
    assert full != plain
    assert key("rollout.prompt_format=drift_simple") not in (plain, full)
    assert key("rollout.prompt_format=drift_full", "prompt.max_words=7") != full
    assert key("rollout.prompt_format=drift_full", "prompt.think=false") != full


def test_intrinsic_rollouts_run_every_turn_with_the_instruction(compose_cfg):
    overrides = [
        *OVERRIDES,
        "env.protocol=intrinsic",
        "env.instruction=Check it.",
        "task.num_train=2",
    ]
    cfg = load_config(compose_cfg(overrides))
    problems = load_problems(cfg.task, "train")
    rollouts = ensure_rollouts(cfg, ensure_reference(cfg), problems)
    assert len(rollouts.trajectories) == 2 * cfg.rollout.num_samples
    for traj in rollouts.trajectories:
        assert len(traj.turns) == cfg.task.max_turns and traj.feedback == "Check it."
        assert traj.ret == pytest.approx(
            traj.final_correct - 0.1 * sum(not t.valid for t in traj.turns)
        )


def test_generated_tokens_leave_out_the_prefill(tmp_path):
    from drift.data.tokenizer import build_char_tokenizer
    from drift.types import Trajectory, Turn

    build_char_tokenizer().save_pretrained(tmp_path)
    turns = [Turn("<think>ab", None, False, False), Turn("<think>abc", None, False, False)]
    prefilled = Trajectory("p", 0, [], turns, "f", prefill="<think>")
    plain = Trajectory("p", 1, [], [Turn("<think>ab", None, False, False)], "f")
    # 2 + 3 characters and an eos each; the plain turn's "<think>" is the model's own
    assert rollout_stage.count_generated_tokens(str(tmp_path), [prefilled]) == 2 + 3 + 2
    assert rollout_stage.count_generated_tokens(str(tmp_path), [plain]) == 9 + 1


def test_generated_tokens_are_counted_a_batch_at_a_time(tmp_path, monkeypatch):
    import transformers

    from drift.data.tokenizer import build_char_tokenizer
    from drift.types import Trajectory, Turn

    tok = build_char_tokenizer()
    calls: list[int] = []

    def counting(texts, **kwargs):
        calls.append(len(texts))
        return tok(texts, **kwargs)

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda _: counting)
    trajectories = [
        Trajectory("p", i, [], [Turn("ab", None, False, False)] * 2, "f") for i in range(5)
    ]
    assert rollout_stage.count_generated_tokens("policy", trajectories, batch_size=4) == 10 * 3
    assert calls == [4, 4, 2]
