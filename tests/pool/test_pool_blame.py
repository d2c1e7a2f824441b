"""SupervisedPool: every outcome is blamed on the item it belongs to (a death after an item
finished, arguments or outcomes that cannot be unpickled, a task that forks, a forged message).
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import wait
from typing import Any

import pytest

from futures_settle import SupervisedPool, WorkerDiedError, map_settled

from helpers import pool_edge_tasks as ft
from helpers import pool_tasks as pt

METHODS = ("fork", "forkserver", "spawn")


T = 30  # seconds: a bound on every wait that only a hang would cross


@pytest.mark.parametrize("method", METHODS)
def test_a_death_after_the_item_finished_is_blamed_on_it(
    make_pool: Callable[..., SupervisedPool], method: str
) -> None:
    """A worker killed while it sends a finished item's result: that item fails, once."""
    pool = make_pool(2, method=method)
    bad = pool.submit(ft.result_kills_in_pickling, "bad")
    good = [pool.submit(ft.result_kills_in_pickling, i) for i in range(5)]
    _, not_done = wait([bad, *good], timeout=T)
    assert not not_done
    err = bad.exception(0)
    assert type(err) is WorkerDiedError
    assert [f.result(0) for f in good] == list(range(5))
    assert len(pool._worker_pids(ever=True)) <= 3  # the two, and one to replace the dead
    pool.shutdown(wait=True)


@pytest.mark.parametrize("method", METHODS)
def test_an_argument_the_worker_cannot_unpickle_fails_its_item_alone(
    make_pool: Callable[..., SupervisedPool], method: str
) -> None:
    """In a chunk, the other items of the segment run."""
    pool = make_pool(2, method=method)
    items: list[Any] = list(range(20))
    items[5] = ft.WorkerUnpickle(os.getpid())
    records = list(map_settled(ft.first, items, executor=pool, chunksize=10, timeout=T))
    rejected = [
        (r.index, type(r.reason), str(r.reason)) for r in records if r.status != "fulfilled"
    ]
    assert rejected == [(5, ValueError, "cannot rebuild this argument in a worker")]
    assert [r.value for r in records if r.index != 5] == [i for i in range(20) if i != 5]
    pool.shutdown(wait=True)


@pytest.mark.parametrize("raise_it", [True, False])
def test_an_outcome_the_parent_cannot_unpickle_fails_its_item_alone(
    make_pool: Callable[..., SupervisedPool], raise_it: bool
) -> None:
    """A raised exception or a returned value: the other items of its batch keep their values."""
    pool = make_pool(2)
    fn = functools.partial(ft.bad_at_5, pid=os.getpid(), raise_it=raise_it)
    records = list(map_settled(fn, range(20), executor=pool, chunksize=10, timeout=T))
    rejected = [
        (r.index, type(r.reason), str(r.reason)) for r in records if r.status != "fulfilled"
    ]
    assert rejected == [(5, ImportError, "cannot rebuild ParentUnpickle here")]
    assert [r.value for r in records if r.index != 5] == [i for i in range(20) if i != 5]
    pool.shutdown(wait=True)


@pytest.mark.parametrize("how", ["return", "exit", "raise"])
@pytest.mark.parametrize("method", METHODS)
def test_a_fork_of_a_task_never_speaks_for_its_worker(
    make_pool: Callable[..., SupervisedPool], method: str, how: str
) -> None:
    """The task's fork child ends where it leaves the task: the worker alone answers."""
    pool = make_pool(1, method=method)
    code = {"return": 0, "exit": 5, "raise": 1}[how]
    assert pool.submit(ft.forks, how).result(T) == ("parent", code)
    assert [f.result(T) for f in [pool.submit(pow, 2, i) for i in range(20)]] == [
        2**i for i in range(20)
    ]
    assert len(pool._worker_pids(ever=True)) == 1


@pytest.mark.parametrize("method", METHODS)
def test_a_message_for_another_job_is_never_attributed(
    make_pool: Callable[..., SupervisedPool], method: str
) -> None:
    """A result for a job the worker does not hold: the worker is killed, its task fails alone."""
    pool = make_pool(1, method=method)
    f = pool.submit(ft.forges_a_message, 10**6)
    err = f.exception(T)
    assert type(err) is WorkerDiedError
    assert err.__notes__ == [
        "the pool killed the worker: its pipe carried a message for work it did not hold "
        "(a process the task forked, writing on the worker's pipe?)"
    ]
    assert [f.result(T) for f in [pool.submit(pow, 2, i) for i in range(20)]] == [
        2**i for i in range(20)
    ]


def test_a_worker_reaped_twice_gives_its_exit_code_again() -> None:
    """A second reap (a break while a death is handled) reads no closed Process."""
    from futures_settle._pool.handle import Handle

    h = Handle(multiprocessing.get_context("spawn"), None, (), None, False)
    h.kill()
    assert h.reap() == -signal.SIGKILL
    assert h.reap() == -signal.SIGKILL
    assert pt.gone([h.pid])
