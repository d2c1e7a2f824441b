"""Benchmarks of TaskGroup's per-task overhead against plain ``submit()`` + ``wait_all``.

Both sides run the same no-op tasks on the same executor, interleaved
repetition by repetition; the row's time is for the whole batch, so the
ratio is the group's cost per task relative to the plain way (goal <= 1.3).
"""

from __future__ import annotations

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


def overhead(executor: Any, name: str, n: int, reps: int) -> list[Row]:
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
    for _ in range(reps):
        t_plain.append(_timed(plain))
        t_group.append(_timed(group))
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


def run_all(
    quick: bool, reps: int, thread_pool: Executor, process_pool: Executor, loky_pool: Any
) -> list[Row]:
    rows = overhead(thread_pool, "threads", 10**3 if quick else 10**4, reps)
    small = 10**2 if quick else 10**3
    rows += overhead(process_pool, "processes", small, reps)
    if loky_pool is not None:
        rows += overhead(loky_pool, "loky", small, reps)
    return rows
