"""Encoded training examples as flat arrays, in memory or memory-mapped from files.

A :class:`TokenStore` holds N examples as one token array ``input_ids`` int32 [T], one
``loss_mask`` uint8 [T] and ``offsets`` int64 [N+1] (example i is ``[offsets[i],
offsets[i+1])``), with ``weights`` float64 [N] and the example ids: about 5 bytes per token
instead of a Python ``list[int]`` per example (8 bytes per token for the list alone, and the
tokenizer's per-token objects while a whole dataset is tokenised at once). Indexing gives back
the :class:`~drift.data.chat.EncodedExample` the list path made, so batches are unchanged.

:func:`encode_to_store` encodes examples ``chunk_size`` at a time into a :class:`TokenWriter`,
so peak memory is one chunk's tokenisation plus the store (or, with a ``directory``, the store's
offsets and weights only: the tokens go to files that are then memory-mapped).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import overload

import numpy as np
from transformers import PreTrainedTokenizerBase

from drift.data.chat import EncodedExample, encode_examples
from drift.enums import Truncation
from drift.types import TrainExample

IDS_FILE, MASK_FILE = "input_ids.int32", "loss_mask.uint8"
_INT32_MAX = np.iinfo(np.int32).max


class TokenStore(Sequence[EncodedExample]):
    """N encoded examples in flat arrays (module doc); a read-only sequence of examples."""

    def __init__(
        self,
        input_ids: np.ndarray,
        loss_mask: np.ndarray,
        offsets: np.ndarray,
        weights: np.ndarray,
        ids: Sequence[str],
    ) -> None:
        n = len(ids)
        if offsets.shape != (n + 1,) or weights.shape != (n,):
            raise ValueError(f"{n} ids need offsets [{n + 1}] and weights [{n}]")
        if offsets[0] != 0 or offsets[-1] != len(input_ids) or np.any(np.diff(offsets) < 0):
            raise ValueError("offsets must rise from 0 to the number of tokens")
        if loss_mask.shape != input_ids.shape:
            raise ValueError(f"{len(input_ids)} tokens but {len(loss_mask)} mask entries")
        self.input_ids, self.loss_mask = input_ids, loss_mask
        self.offsets, self.weights, self.ids = offsets, weights, list(ids)

    @classmethod
    def from_examples(cls, examples: Iterable[EncodedExample]) -> TokenStore:
        """A store in memory holding ``examples``."""
        writer = TokenWriter()
        writer.add(list(examples))
        return writer.finish()

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per example, int64 [N]."""
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> EncodedExample: ...

    @overload
    def __getitem__(self, index: slice) -> list[EncodedExample]: ...

    def __getitem__(self, index: int | slice) -> EncodedExample | list[EncodedExample]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]  # negative indices; IndexError out of range
        start, stop = int(self.offsets[i]), int(self.offsets[i + 1])
        return EncodedExample(
            self.ids[i],
            self.input_ids[start:stop].tolist(),
            self.loss_mask[start:stop].tolist(),
            float(self.weights[i]),
        )

    def __iter__(self) -> Iterator[EncodedExample]:
        return (self[i] for i in range(len(self)))


class TokenWriter:
    """Builds a :class:`TokenStore` chunk by chunk: tokens appended to files in ``directory``
    (memory-mapped by :meth:`finish`), or kept in memory without one."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = None if directory is None else Path(directory)
        self._chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._lengths: list[int] = []
        self._weights: list[float] = []
        self._ids: list[str] = []
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._files = [(self.directory / name).open("wb") for name in (IDS_FILE, MASK_FILE)]

    def add(self, examples: Sequence[EncodedExample]) -> None:
        """Append ``examples``; ValueError for an example whose mask and tokens differ in length
        or with a token id outside int32."""
        for e in examples:
            if len(e.input_ids) != len(e.loss_mask):
                raise ValueError(
                    f"example {e.id}: {len(e.input_ids)} tokens but {len(e.loss_mask)} mask"
                )
        ids = np.fromiter(
            itertools.chain.from_iterable(e.input_ids for e in examples), dtype=np.int64
        )
        if ids.size and (ids.min() < 0 or ids.max() > _INT32_MAX):
            raise ValueError(f"token ids must fit int32: lie in [0, {_INT32_MAX}]")
        mask = np.fromiter(
            itertools.chain.from_iterable(e.loss_mask for e in examples), dtype=np.uint8
        )
        self._lengths.extend(len(e.input_ids) for e in examples)
        self._weights.extend(e.weight for e in examples)
        self._ids.extend(e.id for e in examples)
        if self.directory is None:
            self._chunks.append((ids.astype(np.int32), mask))
            return
        for fh, array in zip(self._files, (ids.astype(np.int32), mask), strict=True):
            fh.write(array.tobytes())

    def finish(self) -> TokenStore:
        """The store of everything added (its files closed and memory-mapped read-only)."""
        offsets = np.zeros(len(self._lengths) + 1, dtype=np.int64)
        np.cumsum(self._lengths, out=offsets[1:])
        weights = np.asarray(self._weights, dtype=np.float64).reshape(-1)
        if self.directory is None:
            ids = np.concatenate([c[0] for c in self._chunks] or [np.zeros(0, np.int32)])
            mask = np.concatenate([c[1] for c in self._chunks] or [np.zeros(0, np.uint8)])
            self._chunks = []
            return TokenStore(ids, mask, offsets, weights, self._ids)
        for fh in self._files:
            fh.close()
        ids, mask = (
            _map(self.directory / name, dtype)
            for name, dtype in ((IDS_FILE, np.int32), (MASK_FILE, np.uint8))
        )
        return TokenStore(ids, mask, offsets, weights, self._ids)


def _map(path: Path, dtype: type) -> np.ndarray:
    """The array in ``path``, memory-mapped read-only (an empty file: an empty array)."""
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def encode_to_store(
    tokenizer: PreTrainedTokenizerBase,
    examples: Iterable[TrainExample],
    max_length: int,
    directory: Path | None = None,
    chunk_size: int = 1024,
    truncation: Truncation = Truncation.right,
) -> TokenStore:
    """:func:`~drift.data.chat.encode_examples` of ``examples``, ``chunk_size`` at a time, into
    a :class:`TokenStore` (memory-mapped from files in ``directory`` if given)."""
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be > 0, got {chunk_size}")
    writer = TokenWriter(directory)
    it = iter(examples)
    while chunk := list(itertools.islice(it, chunk_size)):
        writer.add(encode_examples(tokenizer, chunk, max_length, truncation))
    return writer.finish()
