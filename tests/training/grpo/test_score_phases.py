"""SCoRe (method=score) on the GRPO trainer: its two phases, the shaped reward's advantages, the
per-attempt KL in the loss, and the config checks."""

from __future__ import annotations

import re

import pytest
import torch
from scripted_engine import ScriptedEngine
from torch.nn.utils.rnn import pad_sequence

from drift.config import ConfigError, EnvConfig, Protocol, RewardConfig, TaskConfig, load_config
from drift.data.embedded import make_split
from drift.data.tokenizer import build_char_tokenizer
from drift.models.config import ModelConfig
from drift.models.factory import build_tiny_model, export_hf, load_policy
from drift.training.grpo import (
    EpisodeRollout,
    TurnCreditGRPOTrainer,
    encode_episodes,
    episode_reward,
    grpo_args,
    prompt_dataset,
    score_phases,
    turn_advantages,
    turn_kl_weights,
)
from drift.training.grpo_config import GRPOSettings, RewardScaling, ScoreSettings
from drift.types import Trajectory, Turn

INTRINSIC = EnvConfig(protocol=Protocol.intrinsic, instruction="Check it.")
TASK = TaskConfig(max_turns=2)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_score_phases_are_the_papers_two_stages():
    settings = GRPOSettings(steps=10, beta=0.01)
    stage1, stage2 = score_phases(ScoreSettings(stage1_steps=4, beta2=0.1, alpha=10.0), settings)
    assert (stage1.steps, stage1.turn_rewards, stage1.shaping_alpha) == (4, (0.0, 1.0), 0.0)
    assert stage1.turn_kl == (0.1, 0.01)  # beta_2 on the first attempt, beta_1 on the second
    assert (stage2.steps, stage2.turn_rewards, stage2.shaping_alpha) == (6, (1.0, 1.0), 10.0)
    assert stage2.turn_kl == (0.01, 0.01)
    # trainer.max_steps cut the run below stage I's length (debug=fast): half each
    capped = score_phases(ScoreSettings(stage1_steps=1000), GRPOSettings(steps=4))
    assert [p.steps for p in capped] == [2, 2]


def scripted_rollout(first: list[bool], second: list[bool], stage1_steps: int = 1):
    """Two prompts, four episodes each (one group per prompt): episode i answers right at
    attempt 1 when ``first[i]`` and at attempt 2 when ``second[i]``."""
    problems = make_split("train", 2, seed=0, num_candidates=4)
    answers = {p.messages[0]["content"]: p.answer for p in problems}
    calls = {1: 0, 3: 0}  # conversation length -> replies given so far (episode order)

    def reply(conv):
        i = calls[len(conv)] % 4
        calls[len(conv)] += 1
        right = answers[conv[0]["content"]]
        ok = (first if len(conv) == 1 else second)[i]
        return f"<answer>{right if ok else int(right) + 1}</answer>"

    settings = GRPOSettings(steps=4, num_generations=4, per_device_train_batch_size=8, beta=0.01)
    phases = score_phases(ScoreSettings(stage1_steps=stage1_steps, alpha=10.0), settings)
    roll = EpisodeRollout(
        problems,
        build_char_tokenizer(),
        TASK,
        RewardConfig(),
        settings,
        0,
        lambda _: ScriptedEngine(reply),
        env=INTRINSIC,
        phases=phases,
    )
    prompts = [p.messages for p in problems for _ in range(4)]
    return roll, prompts


def fake_trainer(step: int):
    acc = type("Acc", (), {"unwrap_model": staticmethod(lambda m: m)})
    state = type("State", (), {"global_step": step})
    return type("Trainer", (), {"accelerator": acc, "model": None, "state": state})


def test_stage2_advantages_use_the_shaped_reward():
    # (r_1, r_2) per episode of a group: (1, 1), (0, 1), (1, 0), (0, 0)
    roll, prompts = scripted_rollout([True, False, True, False], [True, True, False, False])
    out = roll(prompts, fake_trainer(step=1))  # step 1 of 4: stage II (stage I is step 0)
    assert roll.phase.name == "stage2" and out["phase"] == [2] * 8
    # r_1 + r_2 + 10 (r_2 - r_1): 2, 11, -9, 0; shares (r_1 - 10 r_1, 11 r_2)
    assert out["episode_return"] == pytest.approx([2.0, 11.0, -9.0, 0.0] * 2)
    assert roll.last_shares[:4] == [
        pytest.approx(s) for s in ([-9.0, 11.0], [0.0, 11.0], [-9.0, 0.0], [0.0, 0.0])
    ]
    adv = turn_advantages(roll.last_shares, 4, RewardScaling.none)
    # turn 1: the return against the group's mean 1; turn 2: 11 r_2 against its mean 5.5
    assert adv[:4, 0].tolist() == pytest.approx([1.0, 10.0, -10.0, -1.0])
    assert adv[:4, 1].tolist() == pytest.approx([5.5, 5.5, -5.5, -5.5])
    torch.testing.assert_close(adv[4:], adv[:4])  # the second prompt's group
    log = {}
    episode_reward(None, **out, log_metric=log.__setitem__)
    assert log["phase"] == 2.0


def test_stage1_rewards_the_second_attempt_alone():
    roll, prompts = scripted_rollout([True, False, True, False], [True, True, False, False])
    out = roll(prompts, fake_trainer(step=0))
    assert roll.phase.name == "stage1" and roll.phase.turn_kl == (0.1, 0.01)
    assert out["episode_return"] == pytest.approx([1.0, 1.0, 0.0, 0.0] * 2)  # r_2
    adv = turn_advantages(roll.last_shares, 4, RewardScaling.none)
    assert adv[:4, 0].tolist() == adv[:4, 1].tolist() == pytest.approx([0.5, 0.5, -0.5, -0.5])


def test_turn_kl_weights_put_beta2_on_first_attempt_tokens_only():
    # two assistant runs with the instruction (0s) between; padding at the end of row 2
    mask = torch.tensor([[1, 1, 1, 0, 0, 1, 1], [1, 1, 0, 0, 1, 0, 0]])
    weights = turn_kl_weights(mask, (0.1, 0.01))
    want = torch.tensor([[0.1, 0.1, 0.1, 0, 0, 0.01, 0.01], [0.1, 0.1, 0, 0, 0.01, 0, 0]])
    torch.testing.assert_close(weights, want)


def episode(texts: list[str]) -> Trajectory:
    turns = [Turn(text=t, answer=None, correct=False, valid=True) for t in texts]
    prompt = [{"role": "user", "content": "5 3 2 4 odd"}]
    return Trajectory("train-000001", 0, prompt, turns, "Check it.", target="3")


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    """A TurnCreditGRPOTrainer in SCoRe's phases around an untrained tiny model."""
    out = tmp_path_factory.mktemp("score")
    tok = build_char_tokenizer()
    torch.manual_seed(0)
    ref = export_hf(build_tiny_model(ModelConfig().tiny, tok), tok, out / "reference")
    model, tok = load_policy(ModelConfig(), path=str(ref))
    settings = GRPOSettings(steps=2, num_generations=2, per_device_train_batch_size=2, beta=0.1)
    phases = score_phases(ScoreSettings(stage1_steps=1, beta2=0.1), settings)
    problems = make_split("train", 2, seed=0, num_candidates=4)
    roll = EpisodeRollout(
        problems, tok, TASK, RewardConfig(), settings, 0, env=INTRINSIC, phases=phases
    )
    trainer = TurnCreditGRPOTrainer(
        model=model,
        reward_funcs=episode_reward,
        args=grpo_args(settings, out / "grpo", 0),
        train_dataset=prompt_dataset(roll.problems),
        processing_class=tok,
        rollout=roll,
        settings=settings,
    )
    trainer.model.eval()  # TRL's eval mode: no accumulation divisor in the loss
    return trainer, tok


def hand_batch(tok):
    """Two intrinsic episodes as TRL's loss reads them (right-padded), with their [B, T] mask of
    assistant tokens."""
    enc = encode_episodes(
        tok,
        [
            episode(["<answer>5</answer>", "<answer>3</answer>"]),
            episode(["<answer>13</answer>", "<answer>1</answer>"]),
        ],
    )

    def pad(rows, value=0):
        return pad_sequence([torch.tensor(r) for r in rows], batch_first=True, padding_value=value)

    completion = pad(enc["completion_ids"], tok.pad_token_id)
    completion_mask = pad([[1] * len(r) for r in enc["completion_ids"]])
    tool_mask = pad(enc["env_mask"])
    batch = {
        "prompt_ids": pad(enc["prompt_ids"]),
        "prompt_mask": pad([[1] * len(r) for r in enc["prompt_ids"]]),
        "completion_ids": completion,
        "completion_mask": completion_mask,
        "tool_mask": tool_mask,
        "advantages": torch.zeros(completion.shape),  # the loss is the KL term alone
    }
    return batch, completion_mask * tool_mask


def test_stage1_loss_puts_beta2_on_the_first_attempt_and_beta1_on_the_second(trainer):
    trainer, tok = trainer
    model = trainer.model
    batch, mask = hand_batch(tok)
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1)
    attention = torch.cat([batch["prompt_mask"], batch["completion_mask"]], 1)
    width = batch["completion_ids"].shape[1]
    with torch.no_grad():
        logps, _, _ = trainer._get_per_token_logps_and_entropies(model, ids, attention, width)
    torch.manual_seed(1)
    ref = logps + 0.5 * torch.randn(logps.shape)  # a reference that differs on every token
    turns = (torch.cumsum(mask * (1 - torch.nn.functional.pad(mask[:, :-1], (1, 0))), 1)).long()
    first, second = (turns == 1) & (mask == 1), (turns == 2) & (mask == 1)
    assert first.any(1).all() and second.any(1).all()

    def trainer_loss(turn_kl):
        inputs = {**batch, "ref_per_token_logps": ref, "kl_weights": turn_kl_weights(mask, turn_kl)}
        model.zero_grad()
        loss = trainer._compute_loss(model, inputs)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    def manual_loss(beta_first, beta_second):
        lp, _, _ = trainer._get_per_token_logps_and_entropies(model, ids, attention, width)
        kl = torch.exp(ref - lp) - (ref - lp) - 1  # TRL's k3 estimator
        if getattr(trainer.args, "use_bias_correction_kl", False):  # TRL 1.x's default
            kl = kl * torch.exp(lp - lp.detach())  # 1, whose gradient is the unbiased KL's
        weights = beta_first * first + beta_second * second
        loss = ((weights * kl * mask).sum(-1) / mask.sum(-1)).mean()  # loss_type grpo
        model.zero_grad()
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    got, got_grads = trainer_loss((0.1, 0.01))
    want, want_grads = manual_loss(0.1, 0.01)
    assert got.item() == pytest.approx(want.item(), rel=1e-5)
    for g, w in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-7)
    assert isinstance(trainer.beta, float)  # TRL's scalar is back after the loss
    # the first attempt's KL alone moves with beta_2
    only_second, _ = trainer_loss((0.0, 0.01))
    only_first, _ = manual_loss(0.1, 0.0)
    assert (got - only_second).item() == pytest.approx(only_first.item(), rel=1e-5)
    assert only_first.item() > 0


def test_score_requires_two_intrinsic_attempts(compose_cfg):
    intrinsic = ["env.protocol=intrinsic", "task.max_turns=2"]
    cfg = load_config(compose_cfg(["method=score", *intrinsic]))
    score = cfg.method
    assert (score.name, score.family.value, score.grpo.beta) == ("score", "grpo", 0.01)
    assert (score.score.beta2, score.score.alpha, score.score.stage1_steps) == (0.1, 10.0, 1000)
    for overrides in (["method=score"], ["method=score", "env.protocol=intrinsic"]):
        with pytest.raises(ConfigError, match=re.escape("env.protocol=intrinsic task.max_turns=2")):
            load_config(compose_cfg(overrides))
    bad = [
        (["method.grpo.advantage=episode"], "method.grpo.advantage must be turn"),
        (["method.score.stage1_steps=2000"], "method.score.stage1_steps"),
        (["method.score.beta2=-1"], "method.score.beta2"),
    ]
    for extra, key in bad:
        with pytest.raises(ConfigError, match=key):
            load_config(compose_cfg(["method=score", *intrinsic, *extra]))
    # a comparison may leave SCoRe out and run other turn counts
    demo = ["experiment=intrinsic_demo", "task.max_turns=3", "~compare.score"]
    assert "score" not in load_config(compose_cfg(demo)).methods()
