"""release_memory: freed heap pages go back to the system."""

import sys

import pytest

from drift.utils.memory import release_memory


def _rss_kb() -> int:
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_tensors_leave_the_resident_set():
    torch = pytest.importorskip("torch")
    # many mid-sized tensors (under glibc's mmap threshold, so they live on the heap), freed
    chunks = [torch.ones(16_000) for _ in range(20_000)]  # ~1.3 GB
    del chunks
    before = _rss_kb()
    release_memory()
    assert _rss_kb() < before - 500_000  # more than 0.5 GB returned
