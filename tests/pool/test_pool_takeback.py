"""SupervisedPool's take-back of work held behind a slow item, under what can happen meanwhile.

Each attack holds a worker with a slow item while the other idles, so that the
pool takes back what the held one has not started, and does something else at
the same time: a cancel, a map left early, a stop caught by the task, SIGKILLs,
recycling, a shutdown, huge results. The checks are the pool's promises:
every item one record, no item run twice (unless its worker died), neighbours
keep their outcomes, every future an outcome, no worker left behind.
"""

from __future__ import annotations

import functools
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import CancelledError, wait
from pathlib import Path
from typing import Any

import pytest

from futures_settle import (
    Fulfilled,
    Rejected,
    SettleTimeoutError,
    SupervisedPool,
    TaskGroup,
    TaskTimeoutError,
    WorkerDiedError,
    map_settled,
)

from helpers import pool_tasks as pt
from helpers import takeback_tasks as at

METHODS = ("fork", "spawn")
T = 60  # seconds: a bound on every wait that only a hang would cross
SLOW = frozenset({5, 40, 41, 90, 150})


def _warm(pool: SupervisedPool) -> None:
    """Both workers up, so that the take-back's idle worker exists from the start."""
    wait([pool.submit(time.sleep, 0.05) for _ in range(4)], timeout=T)


@pytest.mark.parametrize("max_tasks", [None, 7])
@pytest.mark.parametrize("chunksize", [None, 13])
@pytest.mark.parametrize("method", METHODS)
def test_taken_back_items_run_once_and_keep_their_records(
    make_pool: Callable[..., SupervisedPool],
    method: str,
    chunksize: int | None,
    max_tasks: int | None,
    tmp_path: Path,
) -> None:
    """Slow items scattered among quick ones, with recycling: each item one record, one run."""
    pool = make_pool(2, method=method, max_tasks_per_worker=max_tasks)
    log = str(tmp_path / "log")
    fn = functools.partial(at.slow_at, log, SLOW, 0.15)
    records = list(map_settled(fn, range(200), executor=pool, chunksize=chunksize, timeout=T))
    assert records == [Fulfilled(i, index=i) for i in range(200)]
    assert sorted(at.runs(log)) == list(range(200))  # none twice, none skipped


@pytest.mark.parametrize("method", METHODS)
def test_huge_results_taken_back_arrive_whole(
    make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
) -> None:
    """200 kB results (past the pipe's buffer) from chunks cut by a take-back: every byte, once."""
    pool = make_pool(2, method=method)
    _warm(pool)
    log = str(tmp_path / "log")
    fn = functools.partial(at.big_slow_at, log, frozenset({3, 30, 31}), 0.3)
    records = list(map_settled(fn, range(60), executor=pool, chunksize=10, timeout=T))
    assert [r.index for r in records] == list(range(60))
    blobs = [i.to_bytes(4, "big") * 50_000 for i in range(60)]
    assert records == [Fulfilled(b, index=i) for i, b in enumerate(blobs)]
    assert sorted(at.runs(log)) == list(range(60))


@pytest.mark.parametrize("method", METHODS)
def test_a_stop_caught_in_a_held_chunk_is_that_item_alone(
    make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
) -> None:
    """Items that catch the timeout's stop and return at once, while their chunk is taken back."""
    pool = make_pool(2, method=method, task_timeout=0.3, grace=5)
    _warm(pool)
    log = str(tmp_path / "log")
    slow = frozenset({2, 20, 21, 55})
    fn = functools.partial(at.catch_then_return, log, slow)
    records = list(map_settled(fn, range(80), executor=pool, chunksize=8, timeout=T))
    assert [r.index for r in records] == list(range(80))
    for r in records:
        if r.index in slow:
            assert isinstance(r, Rejected), r
            assert type(r.reason) is TaskTimeoutError, r
            assert not r.reason.killed
        else:
            assert r == Fulfilled(r.index, index=r.index)
    assert sorted(at.runs(log)) == list(range(80))
    assert len(pool._worker_pids(ever=True)) == 2  # none killed: each caught its stop


@pytest.mark.parametrize("method", METHODS)
def test_random_kills_during_take_backs(
    make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
) -> None:
    """SIGKILLs at random moments while work is taken back: one record per item, one death each."""
    pool = make_pool(2, method=method)
    _warm(pool)
    log = str(tmp_path / "log")
    slow = frozenset(range(0, 400, 17))
    fn = functools.partial(at.slow_at, log, slow, 0.06)
    stop = threading.Event()
    kills = []
    rng = random.Random()

    def killer() -> None:
        while not stop.wait(rng.uniform(0.02, 0.12)):
            pids = pool._worker_pids()
            if pids:
                pid = rng.choice(pids)
                try:
                    os.kill(pid, signal.SIGKILL)
                    kills.append(pid)
                except ProcessLookupError:
                    pass

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        records = list(map_settled(fn, range(400), executor=pool, chunksize=9, timeout=T))
    finally:
        stop.set()
        thread.join(T)
    assert [r.index for r in records] == list(range(400))
    died = [r for r in records if isinstance(r, Rejected)]
    assert all(isinstance(r.reason, WorkerDiedError) for r in died), died[:3]
    assert all(r == Fulfilled(r.index, index=r.index) for r in records if r not in died)
    per_pid = Counter(r.reason.pid for r in died)
    assert all(n == 1 for n in per_pid.values()), per_pid  # a death costs one item
    assert len(died) <= len(kills)
    # Each item ran, or died in its worker: a kill just after the worker marked it
    # started and before the item's first line leaves no log line.
    ran = set(at.runs(log))
    assert ran | {r.index for r in died} == set(range(400))
    assert pool.submit(int, 3).result(T) == 3  # alive after


@pytest.mark.parametrize("what", ["queued", "all", "random"])
@pytest.mark.parametrize("method", METHODS)
def test_cancel_futures_while_their_work_is_taken_back(
    make_pool: Callable[..., SupervisedPool], method: str, what: str, tmp_path: Path
) -> None:
    """cancel() on futures held behind a slow one, sent ahead or given back: each stays cancelled,
    never runs after its cancel() returned, and every other one gets its value, run once."""
    pool = make_pool(2, method=method, grace=0.5)
    _warm(pool)
    log = str(tmp_path / "log")
    quick = functools.partial(at.slow_at, log, frozenset({0}), 30.0)
    wait([pool.submit(quick, 1000 + i) for i in range(100)], timeout=T)  # items look quick
    fs = [pool.submit(quick, i) for i in range(120)]  # 0 holds its worker 30 s
    time.sleep(random.uniform(0.0, 0.15))
    rng = random.Random()
    if what == "queued":
        chosen = set(range(60, 120)) | {0}
    elif what == "all":
        chosen = set(range(120))
    else:
        chosen = {i for i in range(120) if rng.random() < 0.4} | {0}
    cancelled = {i for i in sorted(chosen) if fs[i].cancel()}
    assert 0 in cancelled  # running: cancel() stops it
    wait(fs, timeout=T)
    assert all(f.done() for f in fs)
    for i, f in enumerate(fs):
        if i in cancelled:
            assert f.cancelled(), (i, f)
        else:
            assert f.result(0) == i
    counts = Counter(at.runs(log))
    assert all(counts[i] == 1 for i in range(120) if i not in cancelled), counts
    assert all(counts[i] <= 1 for i in range(120))


@pytest.mark.parametrize("how", ["break", "close"])
@pytest.mark.parametrize("method", METHODS)
def test_leaving_a_map_early_during_a_take_back(
    make_pool: Callable[..., SupervisedPool], method: str, how: str, tmp_path: Path
) -> None:
    """A map left while its long items hold workers and the rest is taken back: a quick exit."""
    pool = make_pool(2, method=method, grace=0.3)
    _warm(pool)
    log = str(tmp_path / "log")
    fn = functools.partial(at.slow_at, log, frozenset({7, 12, 13, 50}), 60.0)
    it = map_settled(fn, range(100), executor=pool, chunksize=5, timeout=T)
    first = next(it)
    assert first == Fulfilled(0, index=0)
    time.sleep(0.2)  # the take-back asked for
    start = time.monotonic()
    if how == "close":
        it.close()
    else:
        del it
    pool.shutdown(wait=True)
    assert time.monotonic() - start < 20  # not the 60 s items
    assert not pool._worker_pids()


@pytest.mark.parametrize("ending", ["cancel_futures", "terminate"])
@pytest.mark.parametrize("method", METHODS)
def test_ending_the_pool_during_a_take_back(
    make_pool: Callable[..., SupervisedPool], method: str, ending: str, tmp_path: Path
) -> None:
    """shutdown(cancel_futures=True) or terminate() while work is being taken back: every
    future an outcome, quickly; a value only for work that ran (once)."""
    pool = make_pool(2, method=method, grace=0.3, task_timeout=20)
    _warm(pool)
    log = str(tmp_path / "log")
    fn = functools.partial(at.slow_at, log, frozenset({0, 1}), 60.0)
    wait([pool.submit(fn, 1000 + i) for i in range(100)], timeout=T)
    fs = [pool.submit(fn, i) for i in range(200)]
    time.sleep(random.uniform(0.03, 0.2))
    start = time.monotonic()
    if ending == "terminate":
        pool.terminate()
    else:
        pool.shutdown(wait=True, cancel_futures=True)
    assert time.monotonic() - start < 20 + 0.3 + 10  # never past task_timeout + grace
    assert all(f.done() for f in fs)
    counts = Counter(at.runs(log))
    for i, f in enumerate(fs):
        if not f.cancelled() and f.exception(0) is None:
            assert f.result(0) == i
            assert counts[i] == 1
    assert all(counts[i] <= 1 for i in range(200)), counts
    assert not pool._worker_pids()


@pytest.mark.parametrize("method", METHODS)
def test_a_group_deadline_during_a_take_back(
    make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
) -> None:
    """A TaskGroup's deadline lands while quick tasks are taken back from a held worker."""
    pool = make_pool(2, method=method, grace=0.3)
    _warm(pool)
    log = str(tmp_path / "log")
    fn = functools.partial(at.catch_then_return, log, frozenset({0, 1}))
    wait([pool.submit(fn, 1000 + i) for i in range(100)], timeout=T)
    futures: list[Any] = []
    start = time.monotonic()
    with pytest.raises(SettleTimeoutError), TaskGroup(pool, timeout=0.5) as tg:
        futures.extend(tg.submit(fn, i) for i in range(150))
    assert time.monotonic() - start < 0.5 + 0.3 + 10
    assert futures[0].cancelled()
    assert futures[1].cancelled()
    counts = Counter(at.runs(log))
    for i, f in enumerate(futures):
        assert f.done()
        if f.cancelled():
            continue
        if isinstance(f.exception(0), CancelledError):  # the group's: never started
            assert counts[i] == 0
        else:
            assert f.result(0) == i
            assert counts[i] == 1
    assert all(counts[i] <= 1 for i in range(150)), counts


@pytest.mark.parametrize("method", METHODS)
def test_memory_recycling_after_every_item_during_take_backs(
    make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
) -> None:
    """max_memory_per_worker below any worker's size: each worker retires after one item, while
    slow items get their chunks taken back. Every item once, one record each."""
    pool = make_pool(2, method=method, max_memory_per_worker=1)
    log = str(tmp_path / "log")
    fn = functools.partial(at.slow_at, log, frozenset({1, 8, 9}), 0.2)
    records = list(map_settled(fn, range(24), executor=pool, chunksize=6, timeout=T))
    assert records == [Fulfilled(i, index=i) for i in range(24)]
    assert sorted(at.runs(log)) == list(range(24))


@pytest.mark.parametrize("method", METHODS)
def test_huge_arguments_held_behind_a_slow_item(
    make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
) -> None:
    """Items of 100 kB (segments past the pipe's buffer) taken back and sent again: no send
    blocks the supervisor on a worker's full pipe, each item runs once."""
    pool = make_pool(2, method=method)
    _warm(pool)
    log = str(tmp_path / "log")
    fn = functools.partial(at.slow_blob, log, frozenset({2, 21, 22}), 0.3)
    items = [i.to_bytes(4, "big") * 25_000 for i in range(50)]
    records = list(map_settled(fn, items, executor=pool, chunksize=3, timeout=T))
    assert records == [Fulfilled(i, index=i) for i in range(50)]
    assert sorted(at.runs(log)) == list(range(50))


@pytest.mark.parametrize("method", METHODS)
def test_items_ending_at_their_limit_in_taken_back_chunks(
    make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
) -> None:
    """Items that take exactly task_timeout among quick ones: each its value or
    TaskTimeoutError (not killed: the stop met a return), the quick ones their values, once."""
    pool = make_pool(2, method=method, task_timeout=0.1, grace=10)
    _warm(pool)
    log = str(tmp_path / "log")
    slow = frozenset(range(0, 120, 7))
    fn = functools.partial(at.slow_at, log, slow, 0.1)
    records = list(map_settled(fn, range(120), executor=pool, chunksize=6, timeout=T))
    assert [r.index for r in records] == list(range(120))
    for r in records:
        if isinstance(r, Rejected):
            assert r.index in slow, r
            assert type(r.reason) is TaskTimeoutError, r
            assert not r.reason.killed
        else:
            assert r == Fulfilled(r.index, index=r.index)
    assert sorted(at.runs(log)) == list(range(120))
    assert len(pool._worker_pids(ever=True)) == 2


@pytest.mark.parametrize("method", METHODS)
def test_work_held_behind_an_item_being_stopped_is_taken_back(
    make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
) -> None:
    """An item past its task_timeout that catches the stop and runs on through its grace holds
    the items behind it in its chunk: they are taken back to the idle worker all the same."""
    pool = make_pool(2, method=method, task_timeout=0.01, grace=30)
    _warm(pool)
    log, verdict = str(tmp_path / "log"), tmp_path / "verdict"
    fn = functools.partial(at.held_through_stop, log, str(verdict), 9)
    records = list(map_settled(fn, range(10), executor=pool, chunksize=10, timeout=T))
    assert type(records[0].reason) is TaskTimeoutError
    assert records[1:] == [Fulfilled(i, index=i) for i in range(1, 10)]
    assert pt.wait_for(verdict, T) == "released"  # not held for its 20 s


@pytest.mark.parametrize("method", METHODS)
def test_items_killed_after_their_grace_while_taken_back(
    make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
) -> None:
    """Items that swallow their stop are killed after grace, while what is behind them was
    taken back: each of them TaskTimeoutError(killed), every other item its value, once."""
    pool = make_pool(2, method=method, task_timeout=0.05, grace=0.3)
    _warm(pool)
    log = str(tmp_path / "log")
    slow = frozenset({1, 14, 15, 40})
    fn = functools.partial(at.stubborn_at, log, slow)
    records = list(map_settled(fn, range(60), executor=pool, chunksize=6, timeout=T))
    assert [r.index for r in records] == list(range(60))
    for r in records:
        if r.index in slow:
            assert isinstance(r, Rejected), r
            assert type(r.reason) is TaskTimeoutError, r
            assert r.reason.killed
        else:
            assert r == Fulfilled(r.index, index=r.index)
    counts = Counter(at.runs(log))
    assert set(counts) == set(range(60))
    # The items before a killed one in its chunk run twice (the xfail below); no other does.
    before = {i for s in slow for i in range(s - s % 6, s)} - slow
    assert {i for i, n in counts.items() if n > 1} <= before, counts


@pytest.mark.parametrize("method", METHODS)
def test_an_item_before_one_killed_for_its_timeout_does_not_run_again(
    make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
) -> None:
    """One worker, a chunk [0, 1]: 1 swallows its stop and is killed 0.35 s after 0 returned."""
    pool = make_pool(1, method=method, task_timeout=0.05, grace=0.3)
    log = str(tmp_path / "log")
    fn = functools.partial(at.stubborn_at, log, frozenset({1}))
    records = list(map_settled(fn, range(2), executor=pool, chunksize=2, timeout=T))
    assert records[0] == Fulfilled(0, index=0)
    assert type(records[1].reason) is TaskTimeoutError
    assert at.runs(log) == [0, 1]
