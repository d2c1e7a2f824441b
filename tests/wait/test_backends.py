"""One suite over every engine: threads, processes, loky and duck futures, alone and mixed."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest

from futures_settle import (
    Fulfilled,
    Rejected,
    as_settled,
    wait_all,
    wait_any,
    wait_first,
    wait_settled,
)

from helpers import tasks

pytestmark = pytest.mark.timeout(60)


def test_results_in_input_order(executor: Any) -> None:
    fs = [executor.submit(tasks.square, i) for i in range(20)]
    assert wait_all(fs, timeout=30) == [i * i for i in range(20)]


def test_settled_records(executor: Any) -> None:
    fs = [executor.submit(tasks.identity, "user data"), executor.submit(tasks.fail, "DB error")]
    results = wait_settled(fs, timeout=30)
    assert results[0] == Fulfilled("user data", 0)
    assert isinstance(results[1], Rejected)
    assert isinstance(results[1].reason, ValueError)
    assert str(results[1].reason) == "DB error"
    assert results[1].reason is fs[1].exception()


def test_fail_fast_while_a_task_blocks(executor: Any, event: Any) -> None:
    """wait_all raises the failure without waiting for the blocked task."""
    slow = executor.submit(tasks.block, event, "cache data")
    bad = executor.submit(tasks.fail, "DB error")
    with pytest.raises(ValueError, match="^DB error$"):
        wait_all([slow, bad], timeout=30)
    assert not slow.done()
    event.set()
    assert wait_all([slow], timeout=30) == ["cache data"]


def test_any_first_and_stream(executor: Any, event: Any) -> None:
    slow = executor.submit(tasks.block, event, "slow")
    quick = executor.submit(tasks.identity, "quick")
    assert wait_any([slow, quick], timeout=30) == "quick"
    assert wait_first([slow, quick], timeout=30) == "quick"
    event.set()
    records = list(as_settled([slow, quick], timeout=30))
    assert sorted(r.index for r in records) == [0, 1]


def test_mixed_engines(thread_pool: Any, process_pool: Any, loky_pool: Any) -> None:
    """Futures of threads, processes, loky, a duck and a plain value in one call."""
    from helpers.duck import DuckExecutor

    fs = [
        thread_pool.submit(tasks.identity, "thread"),
        process_pool.submit(tasks.identity, "process"),
        loky_pool.submit(tasks.identity, "loky"),
        DuckExecutor(thread_pool).submit(tasks.identity, "duck"),
        "plain",
    ]
    assert wait_all(fs, timeout=30) == ["thread", "process", "loky", "duck", "plain"]
    assert [r.status for r in wait_settled(fs, timeout=30)] == ["fulfilled"] * 5


def test_broken_process_pool_gives_records(start_method: str) -> None:
    """A worker that dies gives Rejected(BrokenProcessPool) records and never hangs."""
    ctx = multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        fs = [pool.submit(tasks.die), pool.submit(tasks.identity, 1)]
        results = wait_settled(fs, timeout=30)
        with pytest.raises(BrokenProcessPool):
            wait_all(fs, timeout=30)
    assert all(isinstance(r, Rejected) for r in results)
    assert isinstance(results[0].reason, BrokenProcessPool)  # type: ignore[union-attr]


def test_loky_terminated_worker_gives_records() -> None:
    loky = pytest.importorskip("loky", reason="loky is an optional extra")
    from loky.process_executor import TerminatedWorkerError

    pool = loky.ProcessPoolExecutor(1)
    try:
        fs = [pool.submit(tasks.die)]
        results = wait_settled(fs, timeout=30)
    finally:
        pool.shutdown(wait=True)
    assert isinstance(results[0], Rejected)
    assert isinstance(results[0].reason, TerminatedWorkerError)


def test_cancel_pending_on_a_busy_pool(thread_pool: Any) -> None:
    """cancel_pending cancels queued work on a real pool; the running task finishes."""
    from concurrent.futures import ThreadPoolExecutor

    gate = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(tasks.block, gate, "ran")
        queued = [pool.submit(tasks.identity, i) for i in range(5)]
        failing: Future[Any] = Future()
        failing.set_exception(ValueError("stop"))
        with pytest.raises(ValueError):
            wait_all([running, *queued, failing], cancel_pending=True, timeout=30)
        assert all(f.cancelled() for f in queued)
        gate.set()
        assert running.result(30) == "ran"
