"""What a worker measures of its own memory, for ``max_memory_per_worker``."""

from __future__ import annotations

import os
import sys
from time import perf_counter

__all__ = ["MemoryGauge", "private_bytes", "rss_bytes"]


def rss_bytes() -> int:
    """This process's resident memory, in bytes (its peak where /proc is missing)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def private_bytes() -> int | None:
    """Resident bytes this process alone maps (Private_* of smaps_rollup); None without it."""
    try:
        with open("/proc/self/smaps_rollup", "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    total = 0
    for line in lines:
        if line.startswith(b"Private_"):
            total += int(line.split()[1]) << 10  # kB
    return total


class MemoryGauge:
    """Whether this worker's own resident memory is past a limit, read cheaply after each item.

    A forked worker's resident size counts the pages it still shares with
    the parent it was forked from: a 2 GB parent would make every worker
    "over" a 1 GB limit from its first item. So the gauge reads the cheap
    resident size (``statm``, ~5 µs) after every item, and only when that is
    past the limit the worker's own share (``smaps_rollup``'s private
    pages, ~1 ms for 300 MB): the bytes shared at that reading are then
    subtracted from later cheap readings, and the own share read again when
    the estimate crosses the limit or a second has passed (pages a worker
    writes stop being shared without changing its resident size).
    """

    __slots__ = ("limit", "read_at", "shared")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.shared = 0  # resident bytes found shared at the last exact reading
        self.read_at = 0.0

    def over(self) -> bool:
        rss = rss_bytes()
        if rss - self.shared <= self.limit and (
            not self.shared or perf_counter() - self.read_at < 1.0
        ):
            return False
        own = private_bytes()
        if own is None:  # no smaps_rollup: the resident size is all there is
            return rss > self.limit
        self.shared, self.read_at = max(rss - own, 0), perf_counter()
        return own > self.limit
