"""Turn-level credit: each assistant turn's advantage and KL weight, spread over its tokens.

``method.grpo.advantage: turn`` (the default) gives each assistant turn its own advantage: the
return earned from that turn on, normalised among the group's episodes that reached the turn
(:func:`turn_advantages`). With the episode's advantage on every token (``episode``, plain
GRPO), whatever the model writes after feedback sits only in episodes that missed turn 1, so it
is pushed down on average: on the seed-0 reference's rollouts of the embedded task (groups of 8)
their tokens' mean advantage is -0.77 (-0.21 even in episodes solved later;
``benchmarks/grpo_credit.py``). In a probe (sampling temperature 1.5, 600 steps at lr 1e-4)
every answer after feedback became malformed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence
from trl.trainer.utils import nanstd

from drift.training.grpo_config import RewardScaling


def turn_advantages(
    shares: list[list[float]], num_generations: int, scaling: RewardScaling
) -> torch.Tensor:
    """[N, max_turns] advantage of each turn of N episodes (0 past an episode's last turn).

    Episodes ``g * num_generations`` to ``(g + 1) * num_generations - 1`` are group g (TRL's
    order). Turn t's return-to-go, the sum of ``shares[i][t:]`` (:func:`turn_contributions`),
    is compared with its mean over the group's episodes that reached turn t, and divided by
    their std (``group``), by the std of every return-to-go in the batch (``batch``) or not at
    all (``none``). Turn 1's advantage is the episode's GRPO advantage; an episode alone at its
    depth gets 0.
    """
    lengths = torch.tensor([len(s) for s in shares])  # [N]
    width = int(lengths.max())
    rows = [torch.tensor(s, dtype=torch.float64) for s in shares]
    padded = pad_sequence(rows, batch_first=True)  # [N, turns], 0 past each episode's end
    to_go = padded.flip(1).cumsum(1).flip(1)
    to_go[torch.arange(width) >= lengths[:, None]] = float("nan")
    grouped = to_go.view(-1, num_generations, width)  # [groups, G, turns]
    advantages = grouped - torch.nanmean(grouped, dim=1, keepdim=True)
    if scaling is RewardScaling.group:
        advantages = advantages / (nanstd(grouped, dim=1, keepdim=True) + 1e-4)
    elif scaling is RewardScaling.batch:
        advantages = advantages / (nanstd(to_go) + 1e-4)
    return torch.nan_to_num(advantages.view(len(shares), width), nan=0.0).float()


def token_turns(mask: torch.Tensor) -> torch.Tensor:
    """[B, T] 0-based turn index of each token, from the [B, T] mask of assistant tokens.

    Each assistant turn is one run of 1s; a token outside the runs gets the index of the last
    run before it (or 0), which a loss masked by ``mask`` never reads.
    """
    on = mask.bool()
    starts = on & ~F.pad(on[:, :-1], (1, 0))
    return (starts.long().cumsum(1) - 1).clamp(min=0)


def turn_kl_weights(mask: torch.Tensor, turn_kl: tuple[float, ...]) -> torch.Tensor:
    """[B, T] KL weight of each token: ``turn_kl[t]`` on the tokens of assistant turn t (the
    last weight on turns past the tuple's end), 0 where ``mask`` (assistant tokens) is 0."""
    weights = torch.tensor(turn_kl, dtype=torch.float32, device=mask.device)
    turns = token_turns(mask).clamp(max=len(turn_kl) - 1)
    return weights[turns] * mask


class TokenBeta:
    """TRL's ``beta`` for one loss computation, one value per token: TRL's loss tests
    ``beta != 0.0`` and adds ``beta * per_token_kl``; here the product weighs each token."""

    def __init__(self, weights: torch.Tensor) -> None:
        self.weights = weights

    def __ne__(self, other: object) -> bool:
        return True  # the reference's log-probs are there: TRL computed them for its beta > 0

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]

    def __mul__(self, other: torch.Tensor) -> torch.Tensor:
        return self.weights * other

    __rmul__ = __mul__
