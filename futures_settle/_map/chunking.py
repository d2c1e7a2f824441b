"""How many items ``map_all``/``map_settled`` send to a worker at once.

A process pool pays a round trip per submitted task (pickling, two queues,
a thread hop on each side): about 100 µs, which dwarfs a task of a few
microseconds. Sending items in chunks amortises it, and the right size
depends on how long an item takes, which only running them tells. So, as
joblib does with its auto batching (``joblib/parallel.py``,
``BatchCompletionCallBack`` and the backends' ``compute_batch_size``), the
chunk size starts at one item, so that the first results come quickly, and
follows the measured time per item toward chunks of about ``TARGET``
seconds of work. Unlike joblib, which measures each batch from dispatch to
completion, the worker times the chunk itself: the figure does not depend
on how many chunks wait in the queue, which is ours to choose.

Growth is at most ``GROWTH`` times the size of the chunk measured (a few
quick items must not make one huge chunk that starves the other workers),
shrinking is immediate, and the size never exceeds ``cap``: at most ``CAP`` items,
and at most half a worker's share of the buffer, so that each worker
keeps at least two chunks in flight.

Only executors that send work to other processes get automatic chunks: a
thread pool's round trip is cheap, and chunking there would run items of
one chunk one after the other that the user expects to overlap (blocking
I/O, items that wait on each other). dask and unknown executors keep one
item per task.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Final

from .._core.engines import pebble_pool

__all__ = [
    "CAP",
    "GROWTH",
    "STRETCH",
    "TARGET",
    "ChunkSizer",
    "Plan",
    "is_process_based",
    "plan",
    "workers",
]

TARGET: Final = 0.005
"""Seconds of work a chunk aims at: 50 round trips' worth, small next to a map's tail."""
CAP: Final = 1024
"""Most items in an automatic chunk: beyond it a process pool's throughput is flat."""
GROWTH: Final = 4
"""Most a chunk grows per measurement."""
_SMOOTHING: Final = 0.2
"""Weight of the newest measurement in the running time per item."""
_UNITS_PER_WORKER: Final = 4
"""Automatic chunks in flight per worker: enough to keep it busy while results travel."""
_PROCESS_MODULES: Final = ("loky", "mpi4py")


class ChunkSizer:
    """The size of the next chunk, from the measured time of the previous ones.

    Feed it each finished chunk's item count and the seconds the worker
    spent on it (:meth:`completed`); read :attr:`size` before each submit.
    It never reads a clock itself, so a test drives it with any figures.

    Example:
        >>> sizer = ChunkSizer(cap=1000)
        >>> sizer.size
        1
        >>> sizer.completed(1, 0.000_001)  # a microsecond an item: grow, 4x at most
        >>> sizer.size
        4
        >>> sizer.completed(4, 0.2)  # much slower now: shrink at once
        >>> sizer.size
        1
    """

    __slots__ = ("_per_item", "cap", "size")

    def __init__(self, cap: int = CAP) -> None:
        if cap < 1:
            raise ValueError(f"cap must be >= 1, got {cap}")
        self.cap = cap
        self.size = 1
        self._per_item: float | None = None

    def completed(self, items: int, seconds: float) -> None:
        """Take one finished chunk's measurement into account."""
        if items < 1 or not 0.0 <= seconds < math.inf:  # nothing learnt (NaN, infinity)
            return
        sample = seconds / items
        per_item = self._per_item
        if per_item is None:
            per_item = sample
        else:
            per_item += _SMOOTHING * (sample - per_item)
        self._per_item = per_item
        ideal = self.cap if per_item * self.cap <= TARGET else int(TARGET / per_item)
        if ideal > self.size:
            # Grow from what was measured: many one-item chunks in flight
            # must not compound into one huge chunk.
            ideal = min(ideal, max(self.size, GROWTH * items))
        self.size = max(1, min(ideal, self.cap))


def workers(executor: object) -> int:
    """How many workers an executor has, or the CPU count when it does not say."""
    n = getattr(executor, "_max_workers", None)
    if n is None and pebble_pool(executor) is not None:
        n = getattr(getattr(executor, "_context", None), "workers", None)
    if isinstance(n, int) and not isinstance(n, bool) and n >= 1:
        return n
    return os.cpu_count() or 1


def is_process_based(executor: object) -> bool:
    """Whether ``executor`` runs its tasks in other processes (by type, nothing imported)."""
    process = sys.modules.get("concurrent.futures.process")
    if process is not None and isinstance(executor, process.ProcessPoolExecutor):
        return True
    if pebble_pool(executor) == "process":
        return True
    if getattr(type(executor), "_settle_process_based", False) is True:  # SupervisedPool
        return True
    module = type(executor).__module__ or ""
    return module.partition(".")[0] in _PROCESS_MODULES or module.startswith(
        "joblib.externals.loky."
    )


STRETCH: Final = 16
"""How far a default buffer grows, at most, while an ordered map's head item blocks."""


class Plan:
    """How one map submits: a fixed chunk size or a sizer, and its bounds.

    ``stretch`` is the most items submitted and not yet handed out while an
    ordered map's first item in order is still running and fewer than
    ``busy`` units are in flight (workers would idle behind it): a slow
    head item must not stop the refill of a thread pool, as it does for
    ``Executor.map(buffersize=)``. It is ``buffersize`` itself when the
    user gave one (a hard bound) and with automatic chunks (whose default
    buffer is already ``CAP`` items per chunk in flight).
    """

    __slots__ = ("buffersize", "busy", "chunked", "chunksize", "max_units", "sizer", "stretch")

    def __init__(
        self,
        chunksize: int,
        sizer: ChunkSizer | None,
        buffersize: int,
        max_units: int,
        stretch: int | None = None,
        busy: int = 0,
    ) -> None:
        self.chunksize = chunksize  # the fixed size, when sizer is None
        self.sizer = sizer
        self.buffersize = buffersize  # most items submitted and not yet handed out
        self.max_units = max_units  # most submitted tasks in flight
        self.chunked = sizer is not None or chunksize > 1  # run through run_chunk
        self.stretch = buffersize if stretch is None else max(stretch, buffersize)
        self.busy = busy  # units in flight that keep the workers busy, with one queued each


def plan(executor: object, chunksize: int | None, buffersize: int | None) -> Plan:
    """The plan for ``executor`` and the (checked) arguments of the call."""
    n = workers(executor)
    if chunksize is None and is_process_based(executor):
        units = _UNITS_PER_WORKER * n
        if buffersize is None:
            buffersize = units * CAP
        cap = max(1, min(CAP, buffersize // (2 * n)))
        return Plan(1, ChunkSizer(cap), buffersize, units)
    size = 1 if chunksize is None else chunksize
    if buffersize is not None:
        return Plan(size, None, buffersize, sys.maxsize)
    # Deep enough that a wake-up finds several items done (waking once
    # per item costs more than the items themselves on a thread pool).
    buffersize = min(max(4 * n, 64) * size, sys.maxsize)
    return Plan(size, None, buffersize, sys.maxsize, min(STRETCH * buffersize, sys.maxsize), 2 * n)
