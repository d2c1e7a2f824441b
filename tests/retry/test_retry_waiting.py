"""How a due retry is waited for: no busy loop in the map, no dying timer thread in the group."""

from __future__ import annotations

import itertools
import math
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from futures_settle import (
    Fulfilled,
    Rejected,
    Retry,
    TaskGroup,
    map_settled,
)
from futures_settle._core.waiter import Waiter

from helpers import retry_tasks
from helpers.retry_tasks import FAST

pytestmark = pytest.mark.timeout(60)


class _Stop(BaseException):
    """A BaseException an engine may raise (as trio's Cancelled or gevent's GreenletExit)."""


def _until_the_timer_waits(fut: Future[Any]) -> None:
    """Return once ``fut``'s next attempt waits in its group's timer, and the timer's thread
    sleeps on it (inside ``Condition.wait``) or has ended."""
    give_up = time.monotonic() + 10
    while fut._attempt is not None:  # type: ignore[attr-defined]
        assert time.monotonic() < give_up
        time.sleep(0.001)
    while True:
        timers = [t for t in threading.enumerate() if t.name == "futures_settle-retry"]
        frames = sys._current_frames()
        sleeping = [t for t in timers if t.ident in frames and _in_wait(frames[t.ident])]
        if len(sleeping) == len(timers):
            return
        assert time.monotonic() < give_up
        time.sleep(0.001)


def _in_wait(frame: Any) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "wait" and frame.f_code.co_filename == threading.__file__:
            return True
        frame = frame.f_back
    return False


class TestMapLoop:
    def test_a_due_retry_with_every_unit_in_flight_does_not_spin(
        self, process_pool: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Automatic chunks on a process pool cap the units in flight: a retry due while they
        are all taken waits for one to settle, without waking the map over and over."""
        naps = 0
        nap = Waiter.nap

        def counted(self: Waiter, until: float) -> bool:
            nonlocal naps
            naps += 1
            return nap(self, until)

        monkeypatch.setattr(Waiter, "nap", counted)
        retry = Retry(ConnectionError, attempts=2, delay=0.01, jitter=0)
        n = 2 * 8 + 1  # more slow items than the 8 units two workers may have in flight
        records = list(
            map_settled(
                retry_tasks.slow_unless_bad,
                range(n),
                itertools.repeat(0),
                itertools.repeat(0.3),
                executor=process_pool,
                retry=retry,
            )
        )
        assert [(r.index, r.attempts) for r in records] == [(0, 2), *((i, 1) for i in range(1, n))]
        assert naps < 100  # one per due time or settling would do; a spin makes thousands


class TestGroupTimer:
    def test_a_backoff_beyond_timeout_max(self, thread_pool: ThreadPoolExecutor) -> None:
        """max_delay=math.inf (allowed: no cap) and a backoff that grows past
        threading.TIMEOUT_MAX: one task's long wait must not stop another's short one."""
        policy = Retry(ValueError, attempts=3, delay=0.001, backoff=1e13, max_delay=math.inf)
        assert policy.wait(2) > threading.TIMEOUT_MAX
        runs = {"long": 0, "short": 0}
        waits_long = threading.Event()

        def task(name: str) -> str:
            runs[name] += 1
            if name == "long":
                if runs[name] == 2:
                    waits_long.set()
                raise ValueError(name)
            if runs[name] == 1:
                raise ValueError(name)
            return name

        with TaskGroup(thread_pool, mode="settled", timeout=5, retry=policy) as tg:
            long = tg.submit(task, "long")
            assert waits_long.wait(10)
            _until_the_timer_waits(long)  # on the long wait (or died of it)
            short = tg.submit(task, "short")
            assert short.result(timeout=5) == "short"
            tg.cancel()
        assert [(type(r), r.attempts) for r in tg.result()] == [(Rejected, 2), (Fulfilled, 2)]

    def test_a_retry_submit_raising_a_base_exception(self) -> None:
        """An engine whose submit() raises a BaseException for a retry (on the timer's thread):
        the task's record is that refusal, and the next task's retry still runs."""
        stop = _Stop("engine stopped")
        calls: list[int] = []

        class Refusing:  # a's first run fails, its retry is refused; b fails once, then "b"
            def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
                calls.append(len(calls) + 1)
                if len(calls) == 2:
                    raise stop
                f: Future[Any] = Future()
                if len(calls) in (1, 3):
                    f.set_exception(ConnectionResetError(len(calls)))
                else:
                    f.set_result("b")
                return f

        with TaskGroup(Refusing(), mode="settled", timeout=5, retry=FAST) as tg:
            a = tg.submit(str, "a")
            with pytest.raises(_Stop):
                a.result(timeout=5)
            b = tg.submit(str, "b")
            assert b.result(timeout=5) == "b"
        first, second = tg.result()
        assert (first.reason, first.attempts) == (stop, 2)  # type: ignore[union-attr]
        assert (second.value, second.attempts) == ("b", 2)  # type: ignore[union-attr]
