"""Give memory that a finished stage freed back to the operating system.

glibc keeps the heap pages of freed tensors for reuse: after a SmolLM2 training step's model,
gradients and AdamW state are deleted, the process still holds ~2 GB, and a run that trains one
method after another grew to ~10 GB. ``malloc_trim`` returns them (docs/memory.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from functools import cache


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim  # noqa: B018  (musl has no malloc_trim)
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def release_memory() -> None:
    """Collect garbage, empty the CUDA cache, and trim the C heap (glibc) so that the resident
    size falls back to what is still referenced."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
