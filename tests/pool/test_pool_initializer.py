"""SupervisedPool: an initializer that hangs is bounded by task_timeout and costs its worker
alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from futures_settle import SupervisedPool

from helpers import pool_edge_tasks as ft
from helpers import pool_tasks as pt

METHODS = ("fork", "forkserver", "spawn")


T = 30  # seconds: a bound on every wait that only a hang would cross


@pytest.mark.parametrize("method", METHODS)
def test_a_hanging_initializer_counts_against_task_timeout(
    make_pool: Callable[..., SupervisedPool], method: str
) -> None:
    """Each worker is killed past task_timeout in its initializer; the pool breaks, clearly."""
    pool = make_pool(2, method=method, initializer=ft.hang_init, task_timeout=0.5, grace=0.2)
    fs = [pool.submit(pow, 2, i) for i in range(3)]
    _, not_done = wait(fs, timeout=T)  # the pool fails them one by one: wait for all
    assert not not_done
    err = fs[0].exception(0)
    assert type(err) is BrokenProcessPool
    assert str(err) == (
        "the pool's workers failed in their initializer 3 times in a row: "
        "TimeoutError: the initializer did not return within task_timeout (0.5 s)"
    )
    assert all(type(f.exception(0)) is BrokenProcessPool for f in fs)
    done = threading.Event()
    threading.Thread(target=lambda: (pool.shutdown(wait=True), done.set()), daemon=True).start()
    assert done.wait(T)


@pytest.mark.parametrize("method", METHODS)
def test_an_initializer_that_hangs_once_costs_its_worker_alone(
    make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
) -> None:
    """Killed past task_timeout and replaced: the waiting tasks run in the new worker."""
    flag = tmp_path / "hung-once"
    pool = make_pool(
        1,
        method=method,
        initializer=ft.hang_once,
        initargs=(str(flag),),
        task_timeout=0.5,
        grace=0.2,
    )
    fs = [pool.submit(pt.pid_of) for _ in range(3)]
    pids = {f.result(T) for f in fs}
    hung = int(flag.read_text())
    assert len(pids) == 1
    assert hung not in pids
    assert hung in pool._worker_pids(ever=True)
    assert pool.submit(pow, 2, 5).result(T) == 32
    done = threading.Event()
    threading.Thread(target=lambda: (pool.shutdown(wait=True), done.set()), daemon=True).start()
    assert done.wait(T)


@pytest.mark.parametrize("order", ["cancel_futures", "terminate"])
def test_a_hanging_initializer_without_task_timeout_is_not_limited(
    make_pool: Callable[..., SupervisedPool], order: str, tmp_path: Path
) -> None:
    """No limit (as ProcessPoolExecutor's): tasks wait; cancel_futures or terminate() end it."""
    flag = tmp_path / "hung-once"
    pool = make_pool(1, initializer=ft.hang_once, initargs=(str(flag),))
    fs = [pool.submit(pow, 2, i) for i in range(3)]
    pt.wait_for(flag, T)  # in its initializer now, for an hour
    assert not any(f.done() for f in fs)
    done = threading.Event()
    if order == "terminate":
        end: Callable[[], None] = pool.terminate
    else:
        end = lambda: pool.shutdown(wait=True, cancel_futures=True)  # noqa: E731
    threading.Thread(target=lambda: (end(), done.set()), daemon=True).start()
    assert done.wait(T)
    assert all(f.cancelled() for f in fs)
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())
