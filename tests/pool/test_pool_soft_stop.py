"""SupervisedPool: a task that catches the soft stop keeps the outcome the stop gave it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest

from futures_settle import SupervisedPool, TaskTimeoutError, map_settled

from helpers import pool_edge_tasks as ft
from helpers import pool_tasks as pt

METHODS = ("fork", "forkserver", "spawn")


T = 30  # seconds: a bound on every wait that only a hang would cross


@pytest.mark.parametrize("then", ["return", "raise"])
@pytest.mark.parametrize("method", METHODS)
def test_a_task_that_catches_the_stop_still_times_out(
    make_pool: Callable[..., SupervisedPool], method: str, then: str, tmp_path: Path
) -> None:
    """It returns or raises after the stop: TaskTimeoutError all the same; its worker lives on."""
    pool = make_pool(1, method=method, task_timeout=0.3, grace=5)
    f = pool.submit(ft.catches_the_stop, str(tmp_path / "m"), then)
    err = f.exception(T)
    assert type(err) is TaskTimeoutError
    assert (err.timeout, err.killed) == (0.3, False)
    assert pool.submit(pt.pid_of).result(T) == err.pid


@pytest.mark.parametrize("then", ["return", "raise"])
def test_a_cancelled_task_that_catches_the_stop_stays_cancelled(
    make_pool: Callable[..., SupervisedPool], then: str, tmp_path: Path
) -> None:
    """cancel() on it: cancelled, whatever it does next; the next task runs in its worker."""
    pool = make_pool(1, grace=5)
    marker = tmp_path / "m"
    f = pool.submit(ft.catches_the_stop, str(marker), then)
    pid = int(pt.wait_for(marker, T))
    assert f.cancel()
    assert pool.submit(pt.pid_of).result(T) == pid
    assert f.cancelled()


def test_a_chunk_item_that_catches_the_stop_times_out_alone(
    make_pool: Callable[..., SupervisedPool], tmp_path: Path
) -> None:
    """In a map's chunk: that item Rejected(TaskTimeoutError), its neighbours their values."""
    pool = make_pool(1, task_timeout=0.3, grace=5)
    fn = functools.partial(ft.catches_unless, str(tmp_path / "m"))
    records = list(map_settled(fn, range(6), executor=pool, chunksize=6, timeout=T))
    assert [type(r.reason) for r in records if r.status != "fulfilled"] == [TaskTimeoutError]
    assert [r.index for r in records if r.status != "fulfilled"] == [3]
    assert [r.value for r in records if r.index != 3] == [0, 1, 2, 4, 5]


def test_a_stop_that_meets_the_return_gives_one_of_the_two_outcomes(
    make_pool: Callable[..., SupervisedPool], tmp_path: Path
) -> None:
    """Tasks that end about at their limit: each its value or TaskTimeoutError, none killed.

    Whichever comes first, the return or the pool's stop, decides: never what the task does
    after the stop (here a value of its own), and never a kill for a stop that met a return.
    """
    pool = make_pool(1, task_timeout=0.05, grace=10)
    fs = [
        pool.submit(ft.catches_the_stop, str(tmp_path / f"m{i}"), "return", 0.05) for i in range(40)
    ]
    outcomes = [f.exception(T) or f.result(0) for f in fs]
    assert {o if isinstance(o, str) else type(o) for o in outcomes} <= {"slept", TaskTimeoutError}
    assert not any(isinstance(o, TaskTimeoutError) and o.killed for o in outcomes)
    assert len(pool._worker_pids(ever=True)) == 1
