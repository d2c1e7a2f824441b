"""Benchmarks of TaskGroup's per-task overhead against plain ``submit()`` + ``wait_all``.

Both sides run the same no-op tasks on the same executor, interleaved
repetition by repetition; the row's time is for the whole batch, so the
ratio is the group's cost per task relative to the plain way (goal <= 1.3).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from futures_settle import TaskGroup, wait_all

from .cases import Row


def noop(x: int) -> int:
    return x


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def overhead(
    executor: Any, name: str, n: int, rounds: int, notes: list[str] | None = None
) -> list[Row]:
    def group() -> object:
        with TaskGroup(executor) as tg:
            for i in range(n):
                tg.submit(noop, i)
        return tg.result()

    def plain() -> object:
        return wait_all([executor.submit(noop, i) for i in range(n)])

    plain()  # warm the workers up
    group()
    t_group, t_plain = [], []
    for _ in range(rounds):
        t_plain.append(_timed(plain))
        t_group.append(_timed(group))
    if notes is not None:
        ratios = sorted(g / p for g, p in zip(t_group, t_plain, strict=True))
        notes.append(
            f"task group: {name}: {rounds} interleaved rounds, ratio of each round's pair: "
            f"median {statistics.median(ratios):.2f}, range {ratios[0]:.2f}-{ratios[-1]:.2f}"
        )
    return [
        Row(
            f"task group: {name}",
            n,
            "TaskGroup + result()",
            min(t_group),
            "submit + wait_all",
            min(t_plain),
            "s",
        )
    ]


# Rounds for the thread pool: 4 workers on 2 cores make one round's time
# swing by a third (the GIL's hand-offs), so its best of 5 is mostly luck.
THREAD_ROUNDS = 25


def run_all(
    quick: bool,
    reps: int,
    thread_pool: Executor,
    process_pool: Executor,
    loky_pool: Any,
    notes: list[str] | None = None,
) -> list[Row]:
    threads = 10**3 if quick else 10**4
    rows = overhead(thread_pool, "threads", threads, reps if quick else THREAD_ROUNDS, notes)
    small = 10**2 if quick else 10**3
    rows += overhead(process_pool, "processes", small, reps, notes)
    if loky_pool is not None:
        rows += overhead(loky_pool, "loky", small, reps, notes)
    return rows
