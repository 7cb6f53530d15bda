"""Where GRPO's credit goes: mean advantage per token of first answers and of answers written
after feedback, with episode-level advantages (TRL's GRPO) and turn-level ones (drift's default).

    .venv/bin/python benchmarks/grpo_credit.py outputs/cache/rollouts-<hash>.jsonl

The rollout file is one of the cached reference rollout sets (the demo writes them under
``paths.cache_dir``); each prompt's samples are cut into GRPO groups of ``--group`` episodes and
their returns recomputed with the default reward (``conf/reward/default.yaml``). Token counts are
characters + eos per answer (exact for the character tokenizer).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import torch

from drift.config import RewardConfig
from drift.reward.returns import turn_contributions
from drift.rollout.store import read_trajectories
from drift.training.grpo import turn_advantages
from drift.training.grpo_config import RewardScaling
from drift.types import Trajectory


def grouped(trajectories: list[Trajectory], size: int) -> list[Trajectory]:
    """Episodes reordered into whole groups of ``size`` samples of one prompt (rest dropped)."""
    by_prompt: dict[str, list[Trajectory]] = defaultdict(list)
    for t in trajectories:
        by_prompt[t.prompt_id].append(t)
    out = []
    for samples in by_prompt.values():
        samples.sort(key=lambda t: t.sample_id)
        out += samples[: len(samples) // size * size]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rollouts", type=Path, help="a rollouts-<hash>.jsonl file")
    parser.add_argument("--group", type=int, default=8, help="episodes per GRPO group")
    args = parser.parse_args()

    episodes = grouped(read_trajectories(args.rollouts), args.group)
    shares = [turn_contributions(t.turns, RewardConfig()) for t in episodes]
    by_turn = turn_advantages(shares, args.group, RewardScaling.group)  # [N, turns]
    by_episode = by_turn[:, :1].expand_as(by_turn)  # turn 1's advantage is the episode's
    width = by_turn.shape[1]
    tokens = torch.zeros(len(episodes), width)  # [N, turns] characters + eos per answer
    for i, t in enumerate(episodes):
        tokens[i, : len(t.turns)] = torch.tensor([len(turn.text) + 1.0 for turn in t.turns])
    solved = torch.tensor([t.solved_turn is not None for t in episodes])[:, None]  # [N, 1]
    later = torch.arange(width)[None, :] >= 1
    spans = {
        "first answers": ~later.expand_as(tokens),
        "after feedback": later.expand_as(tokens),
        "after feedback, solved later": later & solved,
        "after feedback, never solved": later & ~solved,
    }
    print(f"{len(episodes)} episodes in groups of {args.group} from {args.rollouts.name}")
    print(f"{'tokens':<30} {'count':>9} {'episode-level':>14} {'turn-level':>11}")
    for name, span in spans.items():
        weight = tokens * span
        count = weight.sum()
        ep, tu = ((adv * weight).sum() / count for adv in (by_episode, by_turn))
        print(f"{name:<30} {int(count):>9} {ep:>14.3f} {tu:>11.3f}")


if __name__ == "__main__":
    main()
