"""Disjoint train/val/test splits by a fixed hash of each problem's identity.

A problem is reduced to an integer code (its candidates and clue, its operands...); the code's
pseudo-random percentile decides its split once and for all, so the splits never share a
problem whatever the seed or the number of problems asked for.
"""

from __future__ import annotations

import numpy as np

SPLITS = ("train", "val", "test")
BUCKET_BOUNDS = {"test": (0, 20), "val": (20, 30), "train": (30, 100)}  # percent of problems


def bucket(codes: np.ndarray) -> np.ndarray:
    """A fixed pseudo-random percentile in 0..99 per uint64 code [B] (splitmix64 finaliser)."""
    z = codes.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z % np.uint64(100)).astype(np.int64)


def in_split(codes: np.ndarray, split: str) -> np.ndarray:
    """Boolean mask [B]: which codes belong to ``split``."""
    if split not in BUCKET_BOUNDS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    low, high = BUCKET_BOUNDS[split]
    b = bucket(codes)
    return (b >= low) & (b < high)
