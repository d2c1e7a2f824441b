"""Registration: a call that cannot wait registers nothing; the inline stdlib attach.

``timeout=0`` (or negative) only looks: no done-callback may be left on the
pending inputs (10^5 of them cost about half a second to register on).
The stdlib futures' hubs are attached under the future's condition, in
``register`` itself: the same future listed twice still shares one hub.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest

from futures_settle import (
    Rejected,
    SettleTimeoutError,
    as_settled,
    wait_all,
    wait_any,
    wait_first,
    wait_settled,
)
from futures_settle._core import hub as _hub
from futures_settle._core.scans import scan_records

from helpers.duck import DuckFuture

pytestmark = pytest.mark.timeout(60)

RAISING: list[Callable[..., Any]] = [wait_all, wait_any, wait_first]


def callbacks_of(f: Any) -> list[Any]:
    if isinstance(f, DuckFuture):
        return list(f._callbacks or [])
    return list(f._done_callbacks)  # type: ignore[attr-defined]


def done(value: int) -> Future[int]:
    f: Future[int] = Future()
    f.set_result(value)
    return f


@pytest.mark.parametrize("timeout", [0, -1, 0.0])
@pytest.mark.parametrize("fn", RAISING, ids=lambda f: f.__name__)
def test_timeout_zero_raises_without_registering(
    fn: Callable[..., Any], timeout: float, make: Callable[[], Any]
) -> None:
    """The look finds two of three pending: the timeout, and no callback on either."""
    fs = [make(), make(), done(1) if fn is not wait_any else make()]
    pending = fs if fn is wait_any else fs[:2]
    before = [len(callbacks_of(f)) for f in fs]
    seconds = f"{timeout:g}"
    message = (
        f"{fn.__name__}() timed out after {seconds} s with {len(pending)} of 3 inputs unfinished"
    )
    if fn is wait_first:  # the done one wins: wait_first answers at once
        assert fn(fs, timeout=timeout) == 1
    else:
        with pytest.raises(SettleTimeoutError, match=f"^{re.escape(message)}$"):
            fn(fs, timeout=timeout)
    assert [len(callbacks_of(f)) for f in fs] == before


@pytest.mark.parametrize("timeout", [0, -1])
def test_wait_settled_and_as_settled_at_timeout_zero(
    timeout: float, make: Callable[[], Any]
) -> None:
    """Records for every input, timeouts for the pending ones, and nothing registered."""
    slow = make()
    for fn in (wait_settled, lambda fs, timeout: list(as_settled(fs, timeout=timeout))):
        records = fn([done(1), slow], timeout=timeout)
        assert records[0].value == 1
        assert isinstance(records[1], Rejected)
        assert isinstance(records[1].reason, SettleTimeoutError)
        assert str(records[1].reason) == (
            f"input 1 did not settle within {timeout:g} s (1 of 2 inputs unfinished)"
        )
    assert callbacks_of(slow) == []


def pending_of(fs: list[Any]) -> Any:
    return scan_records(fs, None, "wait_settled")[1]


def test_a_call_that_can_wait_registers(make: Callable[[], Any]) -> None:
    """With time left, every pending input gets a hub; the wait ends when they fire."""
    fs = [make(), make()]
    waiter = _hub.Waiter(_hub.ALL, 2)
    try:
        _hub.register(waiter, pending_of(fs))
        assert [len([c for c in callbacks_of(f) if type(c) is _hub._Hub]) for f in fs] == [1, 1]
        fs[0].set_result(1)
        fs[1].set_result(2)
        assert waiter.wait(time.monotonic() + 30)
    finally:
        waiter.close()


def test_one_hub_for_a_stdlib_future_listed_twice_in_one_chunk() -> None:
    """The hub attached inline is found again by the next occurrence: one hub, three entries."""
    f: Future[int] = Future()
    waiter = _hub.Waiter(_hub.ALL, 3)
    try:
        _hub.register(waiter, pending_of([f, f, f]))
        hubs = [c for c in f._done_callbacks if type(c) is _hub._Hub]  # type: ignore[attr-defined]
        assert len(hubs) == 1
        assert hubs[0].more is not None
        assert len(hubs[0].more) == 2  # the first entry inline, two more
        f.set_result(1)
        assert waiter.wait(time.monotonic() + 30)
        assert waiter.remaining == 0
    finally:
        waiter.close()


def test_a_future_done_as_its_hub_is_attached_notifies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stdlib future that settles between the scan and the attach is seen (hub called)."""
    f: Future[int] = Future()
    real = _hub._Hub.__init__

    def settle_then_init(self: Any, *args: Any) -> None:
        real(self, *args)
        if not f.done():
            f.set_result(5)  # after the scan listed it as pending, before the attach

    monkeypatch.setattr(_hub._Hub, "__init__", settle_then_init)
    assert wait_all([f], timeout=30) == [5]
    assert [c for c in f._done_callbacks if type(c) is _hub._Hub] == []  # type: ignore[attr-defined]
