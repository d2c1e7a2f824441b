"""Waiter.nap (a wake-up that is no deadline) and state.any_failed, which the maps' retries use."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Any

import pytest

from futures_settle._core.hub import STREAM, Waiter
from futures_settle._core.state import any_failed
from futures_settle._core.waiter import watch

from conftest import cancelled, done, failed
from helpers.duck import DuckFuture

pytestmark = pytest.mark.timeout(30)


def test_nap_stays_armed() -> None:
    """A nap that times out leaves the waiter notified by a future settling afterwards."""
    waiter = Waiter(STREAM, 0)
    fut: Future[int] = Future()
    watch(waiter, fut, 7)
    assert waiter.nap(time.monotonic() + 0.01) is False
    fut.set_result(1)  # after the nap: wait(deadline) at its deadline would have dropped this
    assert waiter.wait(time.monotonic() + 20) is True
    assert waiter.take() == [(fut, 7)]
    waiter.close()


def test_take_after_a_nap_that_timed_out() -> None:
    """A future settling between a nap's timeout and take(): take() rearms the signal, so that
    the next settling notifies again (it raised 'release unlocked lock' in the executor's
    callback, seen on a retrying map on a process pool at its timeout)."""
    waiter = Waiter(STREAM, 0)
    first: Future[int] = Future()
    second: Future[int] = Future()
    watch(waiter, first, 0)
    watch(waiter, second, 1)
    assert waiter.nap(time.monotonic() - 1) is False
    first.set_result(1)  # after the nap gave up, before the map's loop takes
    assert waiter.take() == [(first, 0)]
    assert waiter.poll() is False  # rearmed: nothing new has come
    second.set_result(2)  # a release of a lock left unlocked raised in this callback
    assert waiter.poll() is True
    assert waiter.take() == [(second, 1)]
    waiter.close()


def test_nap_wakes_when_notified() -> None:
    """A future settling during the nap ends it at once."""
    waiter = Waiter(STREAM, 0)
    fut: Future[int] = Future()
    watch(waiter, fut, 0)
    threading.Timer(0.01, fut.set_result, (1,)).start()
    assert waiter.nap(time.monotonic() + 20) is True
    waiter.close()


def test_nap_past_its_time_only_looks() -> None:
    """A nap whose time has passed does not sleep: it reports a notification already there."""
    waiter = Waiter(STREAM, 0)
    assert waiter.nap(time.monotonic() - 1) is False
    watch(waiter, done(1), 0)
    assert waiter.nap(time.monotonic() - 1) is True
    waiter.close()


@pytest.mark.parametrize(
    ("futures", "expected"),
    [
        ([done(1), done(2)], False),
        ([done(1), failed(KeyError())], True),
        ([cancelled()], True),
        ([], False),
    ],
)
def test_any_failed_stdlib(futures: list[Any], expected: bool) -> None:
    """Failed or cancelled stdlib futures are seen in one pass."""
    assert any_failed([(f, k) for k, f in enumerate(futures)]) is expected


def test_any_failed_duck() -> None:
    """Futures of other engines are read through their engine."""
    ok, bad = DuckFuture(done(1)), DuckFuture(failed(OSError()))
    assert any_failed([(ok, 0)]) is False
    assert any_failed([(ok, 0), (bad, 1)]) is True
