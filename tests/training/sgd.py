"""Plain-SGD training and its exact one-step reference, shared by the multi-process tests.

With SGD the parameter update is exactly ``-LR * gradient`` (AdamW's first step is not), so a
Lightning run under any strategy can be compared with one full-batch step taken by hand.
"""

from __future__ import annotations

import os

import torch

from drift.config import Normalize
from drift.training.data import pad_examples
from drift.training.loss import weighted_sft_loss
from drift.training.module import WeightedSFTModule

LR = 0.5


class SGDModule(WeightedSFTModule):
    """:class:`WeightedSFTModule` with plain SGD at ``LR``."""

    def configure_optimizers(self):
        return torch.optim.SGD(self.model.parameters(), lr=LR)


def reference_update(model, examples, normalize):
    """Parameters after one SGD step on the whole batch of ``examples`` in one forward pass,
    and the step's objective."""
    batch = pad_examples(examples, pad_id=0)
    weights = batch["weights"]
    norm = len(examples) if normalize == Normalize.mean else weights.sum()
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    loss = weighted_sft_loss(logits, batch["input_ids"], batch["loss_mask"], weights, norm)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    return [(p - LR * g).detach() for p, g in zip(model.parameters(), grads, strict=True)], loss


def rank_environment(rank: int, world_size: int, port: int) -> None:
    """The variables Lightning reads in a process launched from outside (like torchrun's)."""
    torch.set_num_threads(1)
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world_size),
        NODE_RANK="0",
        LOCAL_RANK=str(rank),
        GLOBAL_RANK=str(rank),
    )
