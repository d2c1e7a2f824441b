"""Benchmarks of SupervisedPool against ProcessPoolExecutor and pebble.

Rows: ``submit()`` + ``wait_all`` of no-op tasks; ``map_settled`` over
tiny items with the defaults, and over items that return a small
dataclass (the best of each pool, and the round whose ratio is the
median); the faulty batch (one item kills its worker, one hangs past the
limit) against pebble's ``schedule(timeout=)`` + ``as_settled``; the time
from a worker's death to its task's error (median), against the stdlib
pool's ``BrokenProcessPool``; the time to a replacement worker for each
start method. Two workers everywhere; best of the repetitions, interleaved.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from futures_settle import SupervisedPool, as_settled, map_settled, wait_all, wait_settled

from .cases import Row

WORKERS = 2


def noop(x: int) -> int:
    return x


def faulty(x: int) -> int:
    """Item 7 kills its worker, item 11 hangs; the others return at once."""
    if x == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    if x == 11:
        time.sleep(3600)
    return x


def hang(marker: str) -> None:
    Path(marker).write_text(str(os.getpid()))
    time.sleep(3600)


def _best(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _pebble() -> Any:
    try:
        import pebble  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return pebble


def submit_rows(n: int, reps: int, ctx: Any) -> list[Row]:
    pebble = _pebble()
    with (
        ProcessPoolExecutor(WORKERS, mp_context=ctx) as std,
        SupervisedPool(WORKERS, mp_context=ctx) as ours,
    ):
        for pool in (std, ours):
            wait_all([pool.submit(noop, i) for i in range(100)])  # warm up
        t_ours = _best(lambda: wait_all([ours.submit(noop, i) for i in range(n)]), reps)
        t_std = _best(lambda: wait_all([std.submit(noop, i) for i in range(n)]), reps)
    rows = [Row("pool: submit+wait_all", n, "SupervisedPool", t_ours, "ProcessPool", t_std, "s")]
    if pebble is not None:
        with pebble.ProcessPool(WORKERS, context=ctx) as peb:
            wait_all([peb.schedule(noop, (i,)) for i in range(100)])
            t_peb = _best(lambda: wait_all([peb.schedule(noop, (i,)) for i in range(n)]), reps)
        rows.append(
            Row("pool: submit+wait_all", n, "SupervisedPool", t_ours, "pebble.schedule", t_peb, "s")
        )
    return rows


@dataclass
class Point:
    """A result that is not of a builtin type: pickled on its own, item by item."""

    x: int
    y: int


def point(x: int) -> Point:
    return Point(x, -x)


def map_rows(n: int, reps: int, ctx: Any, fn: Callable[[int], object] = noop) -> list[Row]:
    """The same map on both pools, interleaved: the best of each, and the median round."""
    with (
        ProcessPoolExecutor(WORKERS, mp_context=ctx) as std,
        SupervisedPool(WORKERS, mp_context=ctx) as ours,
    ):
        for pool in (std, ours):
            list(map_settled(fn, range(1000), executor=pool))
        t_ours, t_std = [], []
        for _ in range(reps):
            t_std.append(_best(lambda: list(map_settled(fn, range(n), executor=std)), 1))
            t_ours.append(_best(lambda: list(map_settled(fn, range(n), executor=ours)), 1))
    name = "pool: map_settled tiny" if fn is noop else "pool: map_settled -> dataclass"
    ratios = sorted(range(reps), key=lambda i: t_ours[i] / t_std[i])
    mid = ratios[len(ratios) // 2]  # the round whose ratio is the median
    return [
        Row(name, n, "SupervisedPool", min(t_ours), "ProcessPool", min(t_std), "s"),
        Row(f"{name}, median", n, "SupervisedPool", t_ours[mid], "ProcessPool", t_std[mid], "s"),
    ]


def faulty_rows(n: int, limit: float, ctx: Any) -> list[Row]:
    """The batch with one kill and one hang: every outcome, ours against pebble + as_settled."""
    start = time.perf_counter()
    with SupervisedPool(WORKERS, mp_context=ctx, task_timeout=limit, grace=0.5) as ours:
        records = list(map_settled(faulty, range(n), executor=ours))
    t_ours = time.perf_counter() - start
    assert len(records) == n
    assert sum(r.status == "rejected" for r in records) == 2
    pebble = _pebble()
    if pebble is None:
        return [Row("pool: faulty batch", n, "SupervisedPool+map_settled", t_ours, "n/a", 0, "s")]
    start = time.perf_counter()
    with pebble.ProcessPool(WORKERS, context=ctx) as peb:
        futures = [peb.schedule(faulty, (i,), timeout=limit) for i in range(n)]
        theirs = list(as_settled(futures))
    t_peb = time.perf_counter() - start
    assert len(theirs) == n
    return [
        Row(
            "pool: faulty batch",
            n,
            "SupervisedPool+map_settled",
            t_ours,
            "pebble+as_settled",
            t_peb,
            "s",
        )
    ]


def _kill_latency(pool: Any, tmp: Path, i: int) -> float:
    marker = tmp / f"m{i}"
    future = pool.submit(hang, str(marker))
    deadline = time.monotonic() + 30
    while not marker.exists() or not marker.read_text():
        if time.monotonic() > deadline:
            raise TimeoutError("the task did not start")
        time.sleep(0.001)
    pid = int(marker.read_text())
    start = time.perf_counter()
    os.kill(pid, signal.SIGKILL)
    wait_settled([future], timeout=30)
    return time.perf_counter() - start


def death_rows(kills: int, ctx: Any, tmp: Path) -> list[Row]:
    with SupervisedPool(WORKERS, mp_context=ctx) as ours:
        ours.submit(noop, 0).result(30)
        t_ours = [_kill_latency(ours, tmp, i) for i in range(kills)]
    t_std = []
    for i in range(max(3, kills // 4)):  # the stdlib pool breaks: a new one each time
        with ProcessPoolExecutor(WORKERS, mp_context=ctx) as std:
            std.submit(noop, 0).result(30)
            t_std.append(_kill_latency(std, tmp, 1000 + i))
    return [
        Row(
            "pool: death to error (median)",
            kills,
            "WorkerDiedError",
            statistics.median(t_ours),
            "BrokenProcessPool",
            statistics.median(t_std),
            "s",
        )
    ]


def replacement_rows(kills: int, tmp: Path) -> list[Row]:
    """Time from a worker's SIGKILL to a new worker ready, for each start method (median)."""
    rows = []
    for method in ("fork", "forkserver", "spawn"):
        ctx = multiprocessing.get_context(method)
        times = []
        with SupervisedPool(1, mp_context=ctx) as pool:
            pool.submit(noop, 0).result(30)
            for _ in range(kills):
                (old,) = pool._worker_pids()
                start = time.perf_counter()
                os.kill(old, signal.SIGKILL)
                deadline = time.monotonic() + 30
                while pool._worker_pids() in ([], [old]):
                    if time.monotonic() > deadline:
                        raise TimeoutError("no replacement")
                    time.sleep(0.0005)
                times.append(time.perf_counter() - start)
        rows.append(
            Row(
                f"pool: replacement ({method})",
                kills,
                "median",
                statistics.median(times),
                "n/a",
                0,
                "s",
            )
        )
    return rows


def run_all(quick: bool, reps: int) -> list[Row]:
    import tempfile

    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    rows = submit_rows(500 if quick else 10**4, reps, ctx)
    rows += map_rows(2000 if quick else 10**5, max(reps, 3 if quick else 11), ctx)
    rows += map_rows(2000 if quick else 10**5, max(reps, 3 if quick else 11), ctx, point)
    rows += faulty_rows(200 if quick else 2000, 0.3 if quick else 1.0, ctx)
    with tempfile.TemporaryDirectory() as tmp:
        rows += death_rows(3 if quick else 20, ctx, Path(tmp))
        rows += replacement_rows(2 if quick else 10, Path(tmp))
    return rows
