"""An ordered map's default buffer stretches while its head item blocks, up to a cap.

No timing: the executors here settle items in ``submit()`` or by hand, so
how far the engine refills before it waits is exact.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest

from futures_settle import Fulfilled, SettleTimeoutError, map_all, map_settled
from futures_settle._map.chunking import STRETCH

from helpers import tasks

pytestmark = pytest.mark.timeout(60)

WORKERS = 2
DEFAULT = max(4 * WORKERS, 64)  # the default buffersize for this many workers
CAP = STRETCH * DEFAULT


class HeadsPending:
    """Runs items in submit(), except the first ``held`` ones, which wait to be settled by hand.

    Counts what is submitted, and sets ``at_cap`` once ``cap`` items are.
    """

    _max_workers = WORKERS

    def __init__(self, held: int = 1, cap: int = CAP) -> None:
        self.held = held
        self.cap = cap
        self.heads: list[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = []
        self.submitted = 0
        self.at_cap = threading.Event()

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        f: Future[Any] = Future()
        if len(self.heads) < self.held:
            self.heads.append((f, fn, args))
        else:
            f.set_result(fn(*args))
        self.submitted += 1
        if self.submitted >= self.cap:
            self.at_cap.set()
        return f

    def release(self) -> None:
        for f, fn, args in self.heads:
            f.set_result(fn(*args))


def test_stretches_to_the_cap_and_no_further() -> None:
    """The head pending, the rest done: the refill goes on to STRETCH x the default buffer."""
    ex = HeadsPending()
    records = list(map_settled(tasks.identity, range(5 * CAP), executor=ex, timeout=0))
    assert ex.submitted == CAP
    assert [r.index for r in records] == list(range(CAP))  # in order, nothing more pulled
    assert isinstance(records[0].reason, SettleTimeoutError)  # type: ignore[union-attr]
    assert records[1:] == [Fulfilled(k, k) for k in range(1, CAP)]


@pytest.mark.parametrize("buffersize", [1, 64, 100])
def test_a_given_buffersize_is_a_hard_bound(buffersize: int) -> None:
    """A buffersize the user gives never stretches."""
    ex = HeadsPending()
    records = list(
        map_settled(tasks.identity, range(CAP), executor=ex, timeout=0, buffersize=buffersize)
    )
    assert ex.submitted == buffersize
    assert [r.index for r in records] == list(range(buffersize))


def test_no_stretch_while_the_workers_are_busy() -> None:
    """With 2 units per worker in flight (none idle), the default buffer stays as it is."""
    ex = HeadsPending(held=2 * WORKERS)
    records = list(map_settled(tasks.identity, range(CAP), executor=ex, timeout=0))
    assert ex.submitted == DEFAULT
    assert [r.index for r in records] == list(range(DEFAULT))


def test_unordered_maps_do_not_stretch() -> None:
    """Without order there is no head to wait for: settled items go out, the buffer holds."""
    ex = HeadsPending()
    seen = 0
    widest = 0
    for _ in map_settled(tasks.identity, range(5 * DEFAULT), executor=ex, ordered=False):
        seen += 1
        widest = max(widest, ex.submitted - seen)
        if seen == 5 * DEFAULT - 1:  # all but the head: it settles now
            ex.release()
    assert seen == 5 * DEFAULT
    assert widest < DEFAULT


@pytest.mark.parametrize("fn", [map_all, map_settled], ids=lambda f: f.__name__)
@pytest.mark.parametrize("chunksize", [1, 3])
def test_order_kept_and_the_cap_held_once_the_head_settles(
    fn: Callable[..., Any], chunksize: int
) -> None:
    """Every item, in order; the window (submitted, not consumed) never passes the cap."""
    cap = STRETCH * DEFAULT * chunksize
    ex = HeadsPending(cap=cap // chunksize)  # units of chunksize items
    n = 2 * cap + 5
    releaser = threading.Thread(target=lambda: ex.at_cap.wait(30) and ex.release())
    releaser.start()
    try:
        seen: list[Any] = []
        widest = 0
        for out in fn(tasks.identity, range(n), executor=ex, chunksize=chunksize):
            seen.append(out if fn is map_all else out.value)
            widest = max(widest, ex.submitted * chunksize - len(seen))
    finally:
        ex.at_cap.set()
        releaser.join(30)
    assert seen == list(range(n))
    assert widest <= cap
    assert widest > DEFAULT * chunksize  # it did stretch while the head blocked
