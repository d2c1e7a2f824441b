"""TaskGroup on a SupervisedPool: cancelling the group stops its running tasks too."""

from __future__ import annotations

import time
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

import pytest

from futures_settle import SettleTimeoutError, SupervisedPool, TaskGroup, wait_all

from helpers import pool_tasks as pt

T = 30


def test_group_deadline_stops_hung_tasks(tmp_path: Path) -> None:
    """with TaskGroup(pool, timeout=T) ends within T + grace (and a little) whatever tasks do."""
    with SupervisedPool(2, grace=0.3) as pool:
        wait_all([pool.submit(pt.sleep_for, 0.2) for _ in range(2)], timeout=T)  # workers up
        start = time.monotonic()
        futures: list[Any] = []

        def body() -> None:
            with TaskGroup(pool, timeout=1.0) as tg:
                futures.append(tg.submit(pt.stubborn, str(tmp_path / "a")))  # swallows the stop
                futures.append(tg.submit(pt.hang, str(tmp_path / "b"), str(tmp_path / "fin")))
                pt.wait_for(tmp_path / "a")  # both running before the deadline
                pt.wait_for(tmp_path / "b")

        with pytest.raises(SettleTimeoutError):
            body()
        hung, soft = futures
        elapsed = time.monotonic() - start
        assert elapsed < 1.0 + 0.3 + 3
        assert hung.cancelled()
        assert soft.cancelled()
        assert pt.wait_for(tmp_path / "fin") == "ran"  # its finally ran in the worker
        assert pool.submit(pow, 2, 3).result(T) == 8  # the pool replaced the killed worker
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())


def test_failure_cancels_running_siblings(tmp_path: Path) -> None:
    """mode 'all': the first failure stops the running siblings, not only the queued ones."""
    with SupervisedPool(2, grace=0.3) as pool:
        start = time.monotonic()
        futures: list[Any] = []

        def body() -> None:
            with TaskGroup(pool) as tg:
                futures.append(tg.submit(pt.hang, str(tmp_path / "m")))
                pt.wait_for(tmp_path / "m")
                tg.submit(pt.fail_init, "boom")

        with pytest.raises(ExceptionGroup) as info:
            body()
        (sibling,) = futures
        assert time.monotonic() - start < T
        assert [str(e) for e in info.value.exceptions] == ["boom"]
        assert sibling.cancelled()
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())


def test_cancel_stops_running_tasks(tmp_path: Path) -> None:
    """tg.cancel() in the body stops a running task that never checks."""
    with SupervisedPool(1, grace=0.3) as pool:
        with TaskGroup(pool, mode="settled") as tg:
            running = tg.submit(pt.stubborn, str(tmp_path / "m"))
            pt.wait_for(tmp_path / "m")
            tg.cancel()
        assert running.cancelled()
        assert [type(r.reason) for r in tg.result()] == [CancelledError]
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())


def test_check_cancelled_works_in_its_tasks(tmp_path: Path) -> None:
    """check_cancelled() in a group's task on the pool raises once the group cancels, not before."""
    with SupervisedPool(1, grace=10) as pool:
        with TaskGroup(pool, mode="settled") as tg:
            f = tg.submit(pt.steps_until_cancelled, str(tmp_path / "m"))
            pt.wait_for(tmp_path / "m")
            tg.cancel()
        assert f.cancelled()
        assert pt.wait_for(tmp_path / "m.how") == "check_cancelled"
        assert pool.submit(pow, 2, 2).result(T) == 4
        with TaskGroup(pool) as tg:  # not cancelled: it does not raise
            ok = [tg.submit(pt.check_once, i) for i in range(3)]
        assert [f.result() for f in ok] == [0, 1, 2]
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())
