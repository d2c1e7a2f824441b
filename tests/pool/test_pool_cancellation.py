"""SupervisedPool: cancelled futures are seen by the stdlib waits, and a cancel that races the
start still stops the task.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, as_completed, wait
from pathlib import Path
from typing import Any

import pytest

from futures_settle import SupervisedPool

from helpers import pool_tasks as pt

METHODS = ("fork", "forkserver", "spawn")


T = 30  # seconds: a bound on every wait that only a hang would cross


def _notified(fs: list[Future[Any]]) -> None:
    """The stdlib's waiters see every future of ``fs`` done (cancelled ones once notified)."""
    _, not_done = wait(fs, timeout=T)
    assert not not_done
    assert len(list(as_completed(fs, timeout=T))) == len(fs)


@pytest.mark.parametrize("method", METHODS)
def test_stdlib_waits_see_cancelled_futures(
    make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
) -> None:
    """wait() and as_completed() return for futures cancelled queued, running, or by the pool."""
    pool = make_pool(1, method=method, grace=0.2)
    marker = tmp_path / "started"
    running = pool.submit(pt.started_then_sleep, str(marker), 60)
    queued = pool.submit(pow, 2, 3)
    pt.wait_for(marker, T)
    assert running.cancel()
    assert queued.cancel()
    _notified([running, queued])
    marker.unlink()
    running = pool.submit(pt.started_then_sleep, str(marker), 60)
    queued = pool.submit(pow, 2, 3)
    pt.wait_for(marker, T)
    pool.terminate()
    assert running.cancelled()
    assert queued.cancelled()
    _notified([running, queued])


def test_stdlib_waits_see_futures_cancelled_by_shutdown(
    make_pool: Callable[..., SupervisedPool], tmp_path: Path
) -> None:
    """shutdown(cancel_futures=True): the queued futures it cancels are notified."""
    pool = make_pool(1)
    marker = tmp_path / "started"
    running = pool.submit(pt.started_then_sleep, str(marker), 0.5, "ran")
    queued = [pool.submit(pow, 2, i) for i in range(3)]
    pt.wait_for(marker, T)
    pool.shutdown(wait=True, cancel_futures=True)
    assert running.result(0) == "ran"
    assert all(f.cancelled() for f in queued)
    _notified([running, *queued])


@pytest.mark.parametrize("order", ["shutdown", "terminate"])
def test_shutdown_or_terminate_from_a_done_callback(
    make_pool: Callable[..., SupervisedPool], order: str, tmp_path: Path
) -> None:
    """In the supervisor's thread: shutdown() lets the queue finish; neither raises."""
    pool = make_pool(1)
    gate = tmp_path / "gate"
    first = pool.submit(pt.wait_for, gate, T)
    rest = [pool.submit(pow, 2, i) for i in range(5)]
    seen: list[object] = []
    called = threading.Event()

    def callback(_: Future[Any]) -> None:
        try:
            pool.shutdown(wait=True) if order == "shutdown" else pool.terminate()
            seen.append(threading.current_thread().name)
        except BaseException as exc:
            seen.append(exc)
        called.set()

    first.add_done_callback(callback)
    gate.write_text("go")
    assert called.wait(T)
    assert seen == ["SupervisedPool"]
    _, not_done = wait(rest, timeout=T)
    assert not not_done
    if order == "shutdown":
        assert [f.result(0) for f in rest] == [2**i for i in range(5)]
    pool.shutdown(wait=True)
    assert pool._worker_pids() == []


@pytest.mark.parametrize("method", METHODS)
def test_a_cancelled_task_that_a_race_let_start_is_stopped_all_the_same(
    make_pool: Callable[..., Any], method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cancel() of a task its worker is about to start can lose the race on the slot (seen:
    a map left early, its chunks cancelled while a worker began one after a given-back
    gap, ran its 60 s item and held the pool's exit). The supervisor's loop stops a
    running item whose future is cancelled, whatever ``_cancel`` managed: here ``_cancel``
    only sends its message, the race lost every time."""
    from futures_settle._pool import worker as w_
    from futures_settle._pool.supervisor import Supervisor

    def message_only(self: Any, future: Future[Any]) -> None:
        for h in self.workers:
            for seg in h.segments:
                if seg.job.future is future:
                    h.send(w_.cancel_message(seg.job.id))

    monkeypatch.setattr(Supervisor, "_cancel", message_only)
    pool = make_pool(1, method=method, grace=0.5)
    f = pool.submit(pt.started_then_sleep, str(tmp_path / "m"), 60)
    pt.wait_for(tmp_path / "m")
    start = time.monotonic()
    assert f.cancel()
    pool.shutdown(wait=True)
    assert time.monotonic() - start < 20  # the item sleeps 60 s: only a stop ends it sooner
    assert f.cancelled()
