"""Step-aware batching for weighted SFT: every micro-batch carries its optimiser step's normaliser.

A :class:`StepBatchSampler` cuts a seeded shuffle into optimiser steps of
``effective_batch_size`` examples, computes each step's normaliser over the whole global step,
shards the step across ranks and splits each shard into ``accumulate_grad_batches``
micro-batches. Its batches are lists of ``(index, normalizer)`` keys; :class:`SFTDataset` turns a
key into an :class:`SFTItem` and :func:`collate` pads items into tensors (right padding, explicit
attention mask, per-example weights kept).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from functools import partial
from typing import NamedTuple

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset, Sampler

from drift.config import Normalize
from drift.data.chat import EncodedExample
from drift.data.token_store import TokenStore

log = logging.getLogger(__name__)

StepKey = tuple[int, float]
"""A dataset key: ``(example index, normaliser of the optimiser step it belongs to)``."""


class SFTItem(NamedTuple):
    """One encoded example and the normaliser of the optimiser step that draws it."""

    example: EncodedExample
    normalizer: float


class SFTDataset(Dataset):
    """Encoded examples, indexed by :data:`StepKey` as yielded by :class:`StepBatchSampler`.

    They are kept in a :class:`~drift.data.token_store.TokenStore` (flat token arrays): one
    given is used as is (a memory-mapped one stays on disk), a list is copied into one.
    """

    def __init__(self, examples: Sequence[EncodedExample]) -> None:
        if not isinstance(examples, TokenStore):
            examples = TokenStore.from_examples(examples)
        self.examples: TokenStore = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, key: StepKey) -> SFTItem:
        index, normalizer = key
        return SFTItem(self.examples[index], normalizer)


def step_normalizer(weights: np.ndarray, normalize: Normalize) -> float:
    """Normaliser of one global step with example ``weights[n]``: ``n`` or ``sum(weights)``."""
    if normalize == Normalize.mean:
        return float(len(weights))
    total = float(weights.sum())
    return total if total > 0 else 1.0


class SeededShuffle(Sampler[int]):
    """A permutation of ``range(n)`` drawn from ``seed + epoch``, identical on every rank."""

    def __init__(self, n: int, seed: int, shuffle: bool = True) -> None:
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.n))
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=gen).tolist())


class StepBatchSampler(Sampler[list[StepKey]]):
    """Yields this rank's micro-batches, ``accumulate_grad_batches`` per optimiser step.

    Each step takes ``effective_batch_size`` indices of a seeded shuffle (the last step may be
    smaller: it is split into the same number of micro-batches, or dropped with a log line if it
    has fewer examples than the ``world_size * accumulate_grad_batches`` micro-batches of a step).
    With ``lengths``, a step's examples are sorted by length before splitting (less padding)
    and dealt to ranks round-robin (balanced work). Lightning calls ``sampler.set_epoch``.
    """

    def __init__(
        self,
        weights: Sequence[float],
        effective_batch_size: int,
        accumulate_grad_batches: int,
        normalize: Normalize,
        seed: int,
        world_size: int = 1,
        rank: int = 0,
        lengths: Sequence[int] | None = None,
        shuffle: bool = True,
    ) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(self.weights) | (self.weights < 0))
        if bad.size:
            raise ValueError(f"example {bad[0]} has weight {self.weights[bad[0]]}: need >= 0")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        self.effective_batch_size = effective_batch_size
        self.accumulate_grad_batches = accumulate_grad_batches
        self.normalize = Normalize(normalize)
        self.world_size, self.rank = world_size, rank
        self.lengths = None if lengths is None else np.asarray(lengths)
        self.sampler = SeededShuffle(len(self.weights), seed, shuffle)
        self.num_steps = self._count_steps()

    def _count_steps(self) -> int:
        full, rest = divmod(len(self.weights), self.effective_batch_size)
        parts = self.world_size * self.accumulate_grad_batches
        if 0 < rest < parts:
            log.info(
                "dropping the last %d example(s) of each epoch: fewer than the %d micro-batches "
                "of an optimiser step",
                rest,
                parts,
            )
            return full
        return full + (rest > 0)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return self.num_steps * self.accumulate_grad_batches

    def __iter__(self) -> Iterator[list[StepKey]]:
        order = np.fromiter(self.sampler, dtype=np.int64, count=len(self.weights))
        for start in range(
            0, self.num_steps * self.effective_batch_size, self.effective_batch_size
        ):
            yield from self._micro_batches(order[start : start + self.effective_batch_size])

    def _micro_batches(self, step: np.ndarray) -> Iterator[list[StepKey]]:
        """This rank's ``accumulate_grad_batches`` micro-batches of one global step."""
        norm = step_normalizer(self.weights[step], self.normalize)
        if self.lengths is not None:
            step = step[np.argsort(self.lengths[step], kind="stable")]
        parts = np.array_split(step, self.world_size * self.accumulate_grad_batches)
        for part in parts[self.rank :: self.world_size]:
            yield [(int(i), norm) for i in part]


def pad_examples(examples: Sequence[EncodedExample], pad_id: int) -> dict[str, Tensor]:
    """Right-pad examples into ``input_ids``, ``attention_mask``, ``loss_mask`` ``[B, T]`` and
    ``weights`` ``[B]``. The attention mask comes from the lengths, never from pad ids."""
    ids = [torch.as_tensor(e.input_ids, dtype=torch.long) for e in examples]
    masks = [torch.as_tensor(e.loss_mask, dtype=torch.long) for e in examples]
    lengths = torch.tensor([len(t) for t in ids])  # [B]
    bad = torch.nonzero(lengths != torch.tensor([len(m) for m in masks])).flatten()
    if bad.numel():
        e = examples[int(bad[0])]
        raise ValueError(f"example {e.id}: {len(e.input_ids)} tokens but {len(e.loss_mask)} mask")
    input_ids = pad_sequence(ids, batch_first=True, padding_value=pad_id)
    positions = torch.arange(input_ids.shape[1])
    return {
        "input_ids": input_ids,
        "attention_mask": (positions < lengths[:, None]).long(),
        "loss_mask": pad_sequence(masks, batch_first=True, padding_value=0),
        "weights": torch.tensor([e.weight for e in examples], dtype=torch.float32),
    }


def collate(items: Sequence[SFTItem], pad_id: int) -> dict[str, Tensor]:
    """:func:`pad_examples` plus the step's ``normalizer`` (a 0-d float32 tensor)."""
    norms = torch.tensor([it.normalizer for it in items], dtype=torch.float64)
    if not torch.all(norms == norms[0]):
        raise ValueError("a micro-batch mixes examples of different optimiser steps")
    batch = pad_examples([it.example for it in items], pad_id)
    batch["normalizer"] = norms[0].float()
    return batch


class SFTDataModule(pl.LightningDataModule):
    """Training data for :class:`~drift.training.module.WeightedSFTModule`.

    Reads world size, rank and gradient accumulation from the trainer at setup, so every rank
    gets a disjoint shard of each step with the same global normaliser. ``shuffle=False`` keeps
    the examples' order (every epoch): steps of consecutive examples.
    """

    def __init__(
        self,
        examples: Sequence[EncodedExample],
        effective_batch_size: int,
        normalize: Normalize,
        seed: int,
        pad_id: int,
        num_workers: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__()
        if not examples:
            raise ValueError("no training examples")
        self.dataset = SFTDataset(examples)
        self.effective_batch_size = effective_batch_size
        self.normalize = Normalize(normalize)
        self.seed, self.pad_id, self.num_workers = seed, pad_id, num_workers
        self.shuffle = shuffle
        self.sampler: StepBatchSampler | None = None

    def setup(self, stage: str) -> None:
        examples = self.dataset.examples
        self.sampler = StepBatchSampler(
            weights=examples.weights,
            effective_batch_size=self.effective_batch_size,
            accumulate_grad_batches=self.trainer.accumulate_grad_batches,
            normalize=self.normalize,
            seed=self.seed,
            world_size=self.trainer.world_size,
            rank=self.trainer.global_rank,
            lengths=examples.lengths,
            shuffle=self.shuffle,
        )
        if self.sampler.num_steps == 0:
            raise ValueError(
                f"{len(examples)} examples make no optimiser step of {self.effective_batch_size}"
            )

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.dataset,
            batch_sampler=self.sampler,
            collate_fn=partial(collate, pad_id=self.pad_id),
            num_workers=self.num_workers,
        )
