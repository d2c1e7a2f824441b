"""map_all/map_settled and the wait functions on a SupervisedPool: every item its own record."""

from __future__ import annotations

import functools
import multiprocessing
import time
from pathlib import Path

import pytest

from futures_settle import (
    Fulfilled,
    Rejected,
    SupervisedPool,
    TaskTimeoutError,
    WorkerDiedError,
    map_all,
    map_settled,
)

from helpers import pool_tasks as pt

METHODS = ("fork", "forkserver", "spawn")


def _check(records: list[object], n: int) -> None:
    assert [r.index for r in records] == list(range(n))  # type: ignore[attr-defined]
    for r in records:
        i = r.index  # type: ignore[attr-defined]
        if i == 13:
            assert isinstance(r, Rejected)
            assert isinstance(r.reason, WorkerDiedError)
        elif i == 17:
            assert isinstance(r, Rejected)
            assert isinstance(r.reason, TaskTimeoutError)
        else:
            assert r == Fulfilled(i * i, index=i)


@pytest.mark.parametrize("method", METHODS)
def test_automatic_chunks_give_every_item_its_record(method: str) -> None:
    """The killer: WorkerDiedError; the hung one: TaskTimeoutError; the others their values."""
    ctx = multiprocessing.get_context(method)
    with SupervisedPool(2, mp_context=ctx, task_timeout=0.5, grace=0.5) as pool:
        records = list(map_settled(pt.item, range(300), executor=pool, timeout=60))
    _check(records, 300)
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())


@pytest.mark.parametrize("chunksize", [1, 7, 50])
def test_given_chunksize(chunksize: int) -> None:
    """A given chunksize: the neighbours of the bad items in their chunk keep their own outcomes."""
    with SupervisedPool(2, task_timeout=0.5, grace=0.5) as pool:
        records = list(
            map_settled(pt.item, range(60), executor=pool, chunksize=chunksize, timeout=60)
        )
    _check(records, 60)
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())


def test_items_before_the_killer_are_not_run_again(tmp_path: Path) -> None:
    """In one chunk: items before the killer keep what they returned, items after run elsewhere."""
    log = str(tmp_path / "log")
    with SupervisedPool(1) as pool:
        future = pool._settle_submit_chunk(pt.logged, [(log, i) for i in range(10, 20)])
        values, failures, seconds = future.result(60)
    assert failures is not None
    assert sorted(failures) == [3]
    assert isinstance(failures[3], WorkerDiedError)
    assert values == [i if i != 13 else None for i in range(10, 20)]
    assert seconds >= 0
    runs = [int(x) for x in Path(log).read_text().split()]
    assert sorted(runs) == list(range(10, 20))  # each ran once, the killer too


def test_map_all_raises_the_first_failure() -> None:
    """map_all on the pool raises the killed item's WorkerDiedError, the hung one still running.

    One item a unit: with automatic chunks the sizer may put the killer and the hung item
    (no task_timeout here) in one chunk, whose failure map_all sees only when the chunk
    returns (as documented), 60 s later: it hung the suite once.
    """
    with SupervisedPool(2) as pool, pytest.raises(WorkerDiedError):
        list(map_all(pt.item, range(20), executor=pool, timeout=60, chunksize=1))
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())


def test_task_timeout_is_per_item_in_chunks() -> None:
    """Thirty items of 0.1 s in chunks under a 0.5 s limit: none times out."""
    with SupervisedPool(2, task_timeout=0.5) as pool:
        start = time.monotonic()
        values = list(map_all(pt.sleep_for, [0.1] * 30, range(30), executor=pool, chunksize=10))
    assert values == list(range(30))
    assert time.monotonic() - start < 30


def test_max_tasks_per_worker_counts_items() -> None:
    """max_tasks_per_worker=5 with chunks of 20: no worker runs more than 5 items."""
    with SupervisedPool(2, max_tasks_per_worker=5) as pool:
        pids = list(map_all(pt.pid_of, range(40), executor=pool, chunksize=20))
    assert max(pids.count(p) for p in set(pids)) <= 5
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())


def test_leaving_a_map_early_stops_its_running_items() -> None:
    """A loop that leaves map_settled cancels its chunks: running items stop, the exit is quick."""
    start = time.monotonic()
    with SupervisedPool(2, grace=0.3) as pool:
        for record in map_settled(pt.sleep_for, [0] * 4 + [60] * 40, executor=pool, chunksize=4):
            assert record.index == 0  # the first chunk's: a chunk's records come when it ends
            break
    assert time.monotonic() - start < 20
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())


def test_system_exit_in_an_item_is_its_outcome() -> None:
    """An item raising SystemExit is Rejected(SystemExit); the worker lives on."""
    with SupervisedPool(1) as pool:
        records = list(map_settled(pt.exit_at_one, range(3), executor=pool, chunksize=3))
    assert [r.status for r in records] == ["fulfilled", "rejected", "fulfilled"]
    assert isinstance(records[1].reason, SystemExit)
    assert len(pool._worker_pids(ever=True)) == 1


@pytest.mark.parametrize("method", METHODS)
def test_an_idle_worker_takes_the_items_held_behind_a_slow_one(method: str, tmp_path: Path) -> None:
    """The items after a slow one, in its chunk and in the chunks sent ahead, run elsewhere.

    Item 2000 waits until every other item has run; held behind it, they
    would run only after it gives up (20 s) and returns "expired".
    """
    fn = functools.partial(pt.held, slow=2000, log=str(tmp_path / "ran"), others=2999)
    ctx = multiprocessing.get_context(method)
    with SupervisedPool(2, mp_context=ctx) as pool:
        records = list(map_settled(fn, range(3000), executor=pool, timeout=60))
    assert records == [Fulfilled("released" if i == 2000 else i, index=i) for i in range(3000)]
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())


@pytest.mark.parametrize("method", METHODS)
def test_large_results_travel_whole(method: str) -> None:
    """Batches past the size that travels inside its header (64 KiB), and tasks: every byte."""
    ctx = multiprocessing.get_context(method)
    with SupervisedPool(2, mp_context=ctx) as pool:
        records = list(map_settled(pt.blob_of, range(40), executor=pool, chunksize=4, timeout=60))
        single = pool.submit(pt.blob_of, 7, 3_000_000).result(60)
    assert records == [Fulfilled(pt.blob_of(i), index=i) for i in range(40)]
    assert single == pt.blob_of(7, 3_000_000)
