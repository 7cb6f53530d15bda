"""Online GRPO: episode encoding (env_mask), the rollout function, turn-level advantages, short
real TRL runs."""

from __future__ import annotations

import json

import pytest
import torch
from scripted_engine import ScriptedEngine
from transformers import AutoModelForCausalLM, AutoTokenizer

from drift.config import EnvConfig, Protocol, RewardConfig, TaskConfig
from drift.data.chat import encode_examples, prompt_ids
from drift.data.embedded import make_split, warmup_examples
from drift.data.tokenizer import build_char_tokenizer
from drift.models.config import ModelConfig
from drift.models.factory import build_tiny_model, export_hf
from drift.training.grpo import (
    EpisodeRollout,
    TurnCreditGRPOTrainer,
    encode_episodes,
    episode_reward,
    token_turns,
    train_grpo,
    turn_advantages,
)
from drift.training.grpo_config import AdvantageLevel, GRPOSettings, RewardScaling
from drift.types import Trajectory, Turn

FEEDBACK = "Incorrect. Please think again."
# Same special tokens, but a newline after each turn's eos (like ChatML): the completion must
# stop at the last assistant eos and the newlines must fall in the feedback (mask 0) spans.
NEWLINE_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: the tiny model gains nothing from two, and on a shared 2-core machine
    two threads per process ran 20x slower here (contention for the cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def runs(mask: list[int], value: int) -> list[tuple[int, int]]:
    """[start, end) spans where ``mask`` equals ``value``."""
    spans, start = [], None
    for i, m in enumerate([*mask, 1 - value]):
        if m == value and start is None:
            start = i
        elif m != value and start is not None:
            spans.append((start, i))
            start = None
    return spans


def trajectory(texts: list[str]) -> Trajectory:
    turns = [Turn(text=t, answer=None, correct=False, valid=True) for t in texts]
    prompt = [{"role": "user", "content": "5 3 2 4 odd"}]
    return Trajectory("train-000001", 0, prompt, turns, FEEDBACK, target="3")


@pytest.fixture(params=["char", "newline"])
def tokenizer(request):
    tok = build_char_tokenizer()
    if request.param == "newline":
        tok.chat_template = NEWLINE_TEMPLATE
    return tok


def test_env_mask_spans_are_exactly_the_feedback_and_the_answers(tokenizer):
    texts = ["<answer>5</answer>", "<answer>2</answer>", "<answer>3</answer>"]
    single = trajectory(texts[:1])
    enc = encode_episodes(tokenizer, [trajectory(texts), single])
    ids, mask = enc["completion_ids"][0], enc["env_mask"][0]
    assert len(ids) == len(mask) and set(mask) == {0, 1}
    assert enc["prompt_ids"][0] == prompt_ids(tokenizer, single.prompt)
    feedback = [tokenizer.decode(ids[a:b], skip_special_tokens=True) for a, b in runs(mask, 0)]
    assert [f.strip("\n") for f in feedback] == [FEEDBACK, FEEDBACK]
    answers = [tokenizer.decode(ids[a:b]) for a, b in runs(mask, 1)]
    assert answers == [f"{t}<|end|>" for t in texts]  # content + the eos the model emits
    assert ids[-1] == tokenizer.eos_token_id and mask[-1] == 1
    assert enc["env_mask"][1] == [1] * len(enc["completion_ids"][1])  # one turn: all model


@pytest.fixture
def rollout():
    problems = make_split("train", 4, seed=0, num_candidates=4)
    settings = GRPOSettings(num_generations=2, per_device_train_batch_size=8)
    task = TaskConfig(max_turns=3, feedback=FEEDBACK)
    wrong_then_right = {p.messages[0]["content"]: p for p in problems}

    def reply(conv):  # wrong, then right: a candidate other than the answer first
        problem = wrong_then_right[conv[0]["content"]]
        other = next(c for c in problem.meta["candidates"] if c != problem.answer)
        return f"<answer>{other if len(conv) == 1 else problem.answer}</answer>"

    engine = ScriptedEngine(reply)
    tok = build_char_tokenizer()
    roll = EpisodeRollout(problems, tok, task, RewardConfig(), settings, 0, lambda _: engine)
    return roll, problems, engine


def test_rollout_func_returns_what_grpo_trainer_expects(rollout):
    roll, problems, engine = rollout
    prompts = [p.messages for p in problems for _ in range(2)]  # TRL repeats each prompt
    played = roll.play(None, prompts)
    assert [t.prompt_id for t in played] == [p.id for p in problems for _ in range(2)]
    fake = type("Acc", (), {"unwrap_model": staticmethod(lambda m: m)})
    trainer = type("Trainer", (), {"accelerator": fake, "model": None})
    out = roll(prompts, trainer)
    assert {"prompt_ids", "completion_ids", "logprobs", "env_mask"} <= out.keys()
    assert out["logprobs"] is None
    n = len(prompts)
    assert all(len(out[k]) == n for k in ("prompt_ids", "completion_ids", "env_mask"))
    assert all(
        len(c) == len(m) for c, m in zip(out["completion_ids"], out["env_mask"], strict=True)
    )
    assert out["episode_return"] == pytest.approx([0.9] * n)  # solved at turn 2
    assert out["solved_turn"] == [2] * n
    assert episode_reward([None] * n, **{k: out[k] for k in ("episode_return", "solved_turn")})
    assert roll.episodes == n  # counted by the rollout function only, not by play()
    assert roll.generated_tokens == n * 2 * 19  # two answers of 18 characters + eos each
    seeds = [params.seed for _, params in engine.calls]
    assert len(set(seeds)) == len(seeds)  # fresh noise on every turn of every call
    with pytest.raises(KeyError, match="not among the training problems"):
        roll([[{"role": "user", "content": "1 2 3 4 odd"}]], trainer)


def warm_up(model, tok, steps: int, batch: int = 32) -> None:
    """A few AdamW steps of single-turn SFT (short sequences: a fast, rough warm-up)."""
    examples = warmup_examples(steps * batch, 0, 4, FEEDBACK, multi_turn_fraction=0.0)
    enc = encode_examples(tok, examples, max_length=64)
    width = max(len(e.input_ids) for e in enc)
    pad = [width - len(e.input_ids) for e in enc]
    ids = torch.tensor(
        [e.input_ids + [tok.pad_token_id] * p for e, p in zip(enc, pad, strict=True)]
    )
    att = torch.tensor([[1] * len(e.input_ids) + [0] * p for e, p in zip(enc, pad, strict=True)])
    labels = torch.where(
        torch.tensor([e.loss_mask + [0] * p for e, p in zip(enc, pad, strict=True)]) == 1, ids, -100
    )
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    for rows in torch.arange(len(enc)).split(batch):
        model(input_ids=ids[rows], attention_mask=att[rows], labels=labels[rows]).loss.backward()
        opt.step()
        opt.zero_grad()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The tiny model after a 2-second warm-up: ~40% well-formed answers, a few right ones."""
    out = tmp_path_factory.mktemp("grpo")
    tok = build_char_tokenizer()
    torch.manual_seed(0)
    model = build_tiny_model(ModelConfig().tiny, tok)
    warm_up(model, tok, steps=60)
    return export_hf(model, tok, out / "reference"), out


class RecordingLogger:
    def __init__(self):
        self.rows = []

    def log_metrics(self, metrics, step=None):
        self.rows.append((step, metrics))


def test_rollout_func_plays_intrinsic_episodes_with_the_shaped_return():
    problems = make_split("train", 2, seed=0, num_candidates=4)
    answers = {p.messages[0]["content"]: p.answer for p in problems}

    def reply(conv):  # right first, then talked out of it
        right = answers[conv[0]["content"]]
        return f"<answer>{right if len(conv) == 1 else int(right) + 1}</answer>"

    settings = GRPOSettings(num_generations=2, per_device_train_batch_size=4)
    env = EnvConfig(protocol=Protocol.intrinsic, instruction="Check it.", shaping_alpha=2.0)
    roll = EpisodeRollout(
        problems,
        build_char_tokenizer(),
        TaskConfig(max_turns=2, feedback=FEEDBACK),
        RewardConfig(),
        settings,
        0,
        lambda _: ScriptedEngine(reply),
        env=env,
    )
    fake = type("Acc", (), {"unwrap_model": staticmethod(lambda m: m)})
    trainer = type("Trainer", (), {"accelerator": fake, "model": None})
    prompts = [p.messages for p in problems for _ in range(2)]
    out = roll(prompts, trainer)
    # r_T + alpha (r_T - r_1) = 0 + 2 (0 - 1): the right first answer was lost
    assert out["episode_return"] == pytest.approx([-2.0] * 4)
    assert out["solved_turn"] == [1] * 4 and out["final_correct"] == [False] * 4
    assert roll.last_shares == [pytest.approx([-2.0, 0.0])] * 4
    user = runs(out["env_mask"][0], 0)
    assert len(user) == 1  # the instruction between the two answers, outside the loss
    start, end = user[0]
    assert "Check it." in roll.tokenizer.decode(out["completion_ids"][0][start:end])


@pytest.mark.parametrize("level", [AdvantageLevel.turn, AdvantageLevel.episode])
def test_train_grpo_updates_and_exports_a_loadable_policy(reference, level):
    ref_dir, out = reference
    out = out / level.value
    settings = GRPOSettings(
        steps=3, num_generations=4, per_device_train_batch_size=16, logging_steps=1, advantage=level
    )
    problems = make_split("train", 16, seed=0, num_candidates=4)
    logger = RecordingLogger()
    policy, stats = train_grpo(
        ModelConfig(),
        TaskConfig(feedback=FEEDBACK, max_turns=3),
        RewardConfig(),
        settings,
        str(ref_dir),
        problems,
        out / "run",
        seed=0,
        loggers=[logger],
    )
    assert stats["cost/optimizer_steps"] == 3
    assert stats["cost/episodes"] == 3 * 16
    assert stats["cost/generated_tokens"] >= stats["cost/episodes"]  # every turn ends in eos
    assert stats["cost/wall_seconds"] > 0
    before = AutoModelForCausalLM.from_pretrained(ref_dir).state_dict()
    after = AutoModelForCausalLM.from_pretrained(policy)
    changed = [k for k, v in after.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, "GRPO left every weight unchanged"
    tok = AutoTokenizer.from_pretrained(policy)
    assert tok.decode(tok("<answer>3</answer>")["input_ids"]) == "<answer>3</answer>"
    lines = (out / "run" / "grpo_log.jsonl").read_text().splitlines()
    assert any("episodes/solve_rate" in json.loads(line) for line in lines)
    assert [step for step, _ in logger.rows][:3] == [1, 2, 3]
    assert "train/reward" in logger.rows[0][1]


def test_turn_advantages_compare_returns_to_go_among_episodes_at_the_same_turn():
    # group 0: solved at turn 1 / at turn 2 / never (2 turns); group 1: one episode per depth
    shares = [[1.0], [0.0, 0.9], [0.0, -0.1], [1.0], [0.0, 0.9]]
    shares += [[0.0, 0.0, 0.81]]
    adv = turn_advantages(shares, num_generations=3, scaling=RewardScaling.none)
    assert adv.shape == (6, 3)
    first = torch.tensor([1.0, 0.9, -0.1])  # turn 1: the episode return, as in plain GRPO
    assert adv[:3, 0] == pytest.approx((first - first.mean()).tolist())
    assert adv[1:3, 1] == pytest.approx([0.5, -0.5])  # turn 2 only against episodes that got there
    assert adv[0, 1:].tolist() == [0.0, 0.0]  # past an episode's end
    assert adv[5, 2] == 0.0  # alone at turn 3: no baseline, no signal
    scaled = turn_advantages(shares, num_generations=3, scaling=RewardScaling.group)
    assert scaled[:3, 0] == pytest.approx(((first - first.mean()) / first.std()).tolist(), rel=1e-3)
    assert scaled[1:3, 1] == pytest.approx([0.7071, -0.7071], rel=1e-3)  # Bessel std of ±0.5
    batch = turn_advantages(shares, num_generations=3, scaling=RewardScaling.batch)
    assert batch[1, 1] / batch[2, 1] == pytest.approx(-1.0)


def test_token_turns_number_the_assistant_runs():
    mask = torch.tensor([[1, 1, 0, 0, 1, 0, 1, 1], [0, 1, 0, 1, 1, 0, 0, 0]])
    assert token_turns(mask).tolist() == [[0, 0, 0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 1, 1, 1]]


@pytest.mark.parametrize(
    "env",
    [EnvConfig(), EnvConfig(protocol=Protocol.intrinsic, shaping_alpha=1.0)],
    ids=["oracle", "intrinsic"],
)
def test_turn_credit_trainer_feeds_turn_advantages_to_the_loss(reference, monkeypatch, env):
    seen = []
    original = TurnCreditGRPOTrainer._compute_loss

    def recording(self, model, inputs):
        seen.append({k: inputs[k].clone() for k in ("advantages", "completion_mask", "tool_mask")})
        return original(self, model, inputs)

    monkeypatch.setattr(TurnCreditGRPOTrainer, "_compute_loss", recording)
    ref_dir, out = reference
    settings = GRPOSettings(steps=2, num_generations=4, per_device_train_batch_size=16)
    problems = make_split("train", 16, seed=0, num_candidates=4)
    task = TaskConfig(feedback=FEEDBACK, max_turns=3)
    train_grpo(
        ModelConfig(),
        task,
        RewardConfig(),
        settings,
        str(ref_dir),
        problems,
        out / f"turn-credit-{env.protocol.value}",
        seed=0,
        env=env,
    )
    assert len(seen) == 2
    multi_turn = differs = 0
    for batch in seen:
        adv, mask = batch["advantages"], batch["completion_mask"] * batch["tool_mask"]
        assert adv.shape == mask.shape  # one advantage per token
        assert torch.all(adv[mask == 0] == 0)
        turns = token_turns(mask)
        for row in range(adv.shape[0]):
            per_turn = [adv[row][(turns[row] == t) & (mask[row] == 1)] for t in range(3)]
            for values in per_turn:
                assert values.numel() == 0 or torch.all(values == values[0])
            if env.protocol == Protocol.intrinsic:  # every episode answers three times
                assert all(values.numel() for values in per_turn)
            if per_turn[1].numel():
                multi_turn += 1
                differs += bool(per_turn[1][0] != per_turn[0][0])
    assert multi_turn > 0, "no episode reached turn 2: the test checks nothing"
    assert differs > 0  # turns of one episode get different advantages


def test_rollout_func_plays_the_drift_formats_and_masks_their_prefills(tokenizer):
    """Under rollout.prompt_format=drift_simple the episodes open in the authors' format and
    every reply starts with the <think> prefill: the prompt ids end with the first prefill, and
    env_mask leaves the later turns' prefills (which the model did not write) out."""
    from drift.config import PromptConfig
    from drift.enums import PromptFormat

    problems = make_split("train", 2, seed=0, num_candidates=4)
    task = TaskConfig(max_turns=2, feedback=FEEDBACK)
    engine = ScriptedEngine(lambda conv: " x</think><answer>1</answer>")
    settings = GRPOSettings(num_generations=2, per_device_train_batch_size=4)
    roll = EpisodeRollout(
        problems,
        tokenizer,
        task,
        RewardConfig(),
        settings,
        0,
        lambda _: engine,
        prompt_format=PromptFormat.drift_simple,
        prompt=PromptConfig(system="S"),
    )
    trajs = roll.play(None, [p.messages for p in problems])
    assert all(t.prefill == "<think>" and len(t.turns) == 2 for t in trajs)
    assert trajs[0].prompt[0] == {"role": "system", "content": "S"}
    enc = encode_episodes(tokenizer, trajs)
    prompt = enc["prompt_ids"][0]
    assert tokenizer.decode(prompt).endswith("<think>")
    assert prompt == prompt_ids(tokenizer, trajs[0].prompt, "<think>")
    ids, mask = enc["completion_ids"][0], enc["env_mask"][0]
    written = [tokenizer.decode(ids[a:b]).removesuffix("<|end|>") for a, b in runs(mask, 1)]
    assert written == [" x</think><answer>1</answer>"] * 2  # the replies, not the prefills
    between = tokenizer.decode(ids[slice(*runs(mask, 0)[0])], skip_special_tokens=True)
    assert between.strip("\n").endswith("<think>") and FEEDBACK in between
