"""Reliability of the waiting core: wake-ups, threads, leaks, Ctrl-C, clean-up."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
import time
import tracemalloc
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from futures_settle import (
    Fulfilled,
    SettleTimeoutError,
    as_settled,
    wait_all,
    wait_any,
    wait_first,
    wait_settled,
)
from futures_settle._core import hub as _hub
from futures_settle._core import scans as _scans
from futures_settle._core import state as _state
from futures_settle._core import waiter as _waiter
from futures_settle._wait import streaming as _streaming

from conftest import done
from helpers.duck import DuckFuture


@pytest.fixture(autouse=True)
def polls_register(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests poll (``timeout=0``, ``1e-9``) to put hubs on futures and watch them.

    A call whose deadline has passed registers nothing (test_registration.py);
    here polls register as a call with time left does, so that the hubs'
    life under polling is what is tested.
    """
    monkeypatch.setattr(_hub, "expired", lambda deadline: False)
    monkeypatch.setattr(_streaming, "expired", lambda deadline: False)


@pytest.fixture(params=["fast", "generic"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with stdlib futures read directly, and again through public methods."""
    if request.param == "generic":
        monkeypatch.setattr(_state, "FAST_PATH", False)
        monkeypatch.setattr(_state, "_KINDS", {})
    return str(request.param)


def _race_round(call: Callable[[list[Any]], Any], make: Callable[[], Any], n: int) -> Any:
    fs = [make() for _ in range(n)]
    go = threading.Barrier(2)

    def complete() -> None:
        go.wait()
        for i, f in enumerate(fs):
            f.set_result(i)

    t = threading.Thread(target=complete)
    t.start()
    go.wait()
    try:
        return call(fs)
    finally:
        t.join()


CALLS: dict[str, Callable[[list[Any]], Any]] = {
    "wait_all": lambda fs: wait_all(fs, timeout=10),
    "wait_settled": lambda fs: [r.value for r in wait_settled(fs, timeout=10)],  # type: ignore[union-attr]
    "as_settled": lambda fs: sorted(r.value for r in as_settled(fs, timeout=10)),  # type: ignore[union-attr]
    "wait_any": lambda fs: [wait_any(fs, timeout=10)],
    "wait_first": lambda fs: [wait_first(fs, timeout=10)],
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(CALLS))
def test_no_lost_wakeups(name: str, path: str, fast_switching: None) -> None:
    """Futures completing on another thread while the call registers never hang it."""
    call = CALLS[name]
    for _ in range(1500):
        result = _race_round(call, Future, 4)
        if name in ("wait_any", "wait_first"):
            assert result[0] in range(4)
        else:
            assert result == [0, 1, 2, 3]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["wait_all", "wait_settled", "wait_first"])
def test_no_lost_wakeups_duck(name: str, fast_switching: None) -> None:
    """The same race with futures whose callbacks run on a thread of their own."""
    call = CALLS[name]
    for _ in range(400):
        result = _race_round(call, DuckFuture, 3)
        assert result[0] in range(3)


@pytest.mark.timeout(60)
def test_many_threads_wait_on_the_same_futures(path: str, fast_switching: None) -> None:
    fs: list[Future[int]] = [Future() for _ in range(200)]
    results: dict[int, Any] = {}
    start = threading.Barrier(9)

    def waiter(k: int) -> None:
        start.wait()
        if k % 3 == 0:
            results[k] = wait_all(fs, timeout=30)
        elif k % 3 == 1:
            results[k] = [r.value for r in wait_settled(fs, timeout=30)]  # type: ignore[union-attr]
        else:
            results[k] = sorted(r.value for r in as_settled(fs, timeout=30))  # type: ignore[union-attr]

    threads = [threading.Thread(target=waiter, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    start.wait()
    for i, f in enumerate(fs):
        f.set_result(i)
    for t in threads:
        t.join(30)
    assert results == {k: list(range(200)) for k in range(8)}


def _traced_growth(action: Callable[[], None]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        action()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


@pytest.mark.timeout(120)
def test_polling_does_not_leak() -> None:
    """Polls of 1,000 pending futures leave one hub with one entry each, and no memory.

    200 traced polls after a first one: a leak of 10 bytes per future and
    poll (or of 10 KiB per poll) grows traced memory past the 2 MiB bound.
    """
    fs: list[Future[int]] = [Future() for _ in range(1000)]

    def poll() -> None:
        with pytest.raises(SettleTimeoutError):
            wait_all(fs, timeout=0)

    poll()  # the hubs are made once

    def polls() -> None:
        for _ in range(200):
            poll()

    assert _traced_growth(polls) < 2 * 2**20
    for f in fs:
        (hub,) = _hubs_of(f)
        assert f._done_callbacks == [hub]  # type: ignore[attr-defined]
        assert hub.more is None


@pytest.mark.timeout(120)
def test_polling_through_registration_does_not_leak(path: str) -> None:
    """Polls that register on the futures leave one hub each, not one entry per call.

    50 traced calls on 1,000 futures: a leak of 10 bytes per future and call
    grows traced memory past the 512 KiB bound.
    """
    fs: list[Future[int]] = [Future() for _ in range(1000)]
    wait_settled(fs, timeout=1e-9)  # hubs exist from here on

    def poll() -> None:
        for _ in range(25):
            wait_settled(fs, timeout=1e-9)
            with pytest.raises(SettleTimeoutError):
                wait_all(fs, timeout=1e-9)

    growth = _traced_growth(poll)
    assert growth < 2**19, growth
    for f in fs:
        hubs = [h for h in _hubs_of(f)]
        assert len(hubs) == 1
        assert hubs[0].more is None  # the finished calls' entries were replaced, not piled up


def _hubs_of(f: Any) -> list[Any]:
    """The hubs attached to a future, stdlib or duck."""
    callbacks = (f._callbacks or []) if isinstance(f, DuckFuture) else f._done_callbacks
    return [c for c in callbacks if type(c) is _hub._Hub]


@pytest.mark.parametrize("name", ["wait_all", "wait_settled", "as_settled", "wait_any"])
def test_nothing_kept_alive_after_return(name: str, path: str) -> None:
    """Futures and values are freed once the caller drops them, timed out or not."""

    class Value:
        pass

    pending: Future[Any] = Future()
    finished: Future[Any] = Future()
    finished.set_result(Value())
    refs = [weakref.ref(pending), weakref.ref(finished), weakref.ref(finished.result())]
    call: Callable[..., Any] = {
        "wait_all": wait_all,
        "wait_settled": wait_settled,
        "as_settled": lambda fs, timeout: list(as_settled(fs, timeout=timeout)),
        "wait_any": lambda fs, timeout: wait_any([*fs[:1], Future()], timeout=timeout),
    }[name]
    try:
        call([pending, finished], timeout=0.01)
    except SettleTimeoutError:
        pass
    key = id(pending)
    del pending, finished, call
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
    assert key not in _hub._HUBS


def test_duck_hub_leaves_registry_when_future_settles() -> None:
    """Other engines' hubs are found through the registry, and leave it as they fire."""
    f = DuckFuture()
    wait_settled([f], timeout=1e-9)
    assert id(f) in _hub._HUBS
    wait_settled([f], timeout=1e-9)
    assert len(_hubs_of(f)) == 1
    fired = threading.Event()
    f.add_done_callback(lambda _: fired.set())  # runs after the hub: one callback thread, FIFO
    f.set_result(1)
    assert fired.wait(5)
    assert wait_all([f], timeout=5) == [1]
    assert id(f) not in _hub._HUBS


def test_stdlib_hub_is_found_on_the_future() -> None:
    """Stdlib futures need no registry: the hub sits in their callback list."""
    f: Future[int] = Future()
    wait_settled([f], timeout=1e-9)
    assert id(f) not in _hub._HUBS
    assert len(_hubs_of(f)) == 1
    f.set_result(1)
    assert wait_all([f]) == [1]


def test_many_waiters_on_one_hub() -> None:
    """Entries beyond the first go to a list; finished ones are skipped when it fires."""
    f: Future[int] = Future()
    waiters = [_hub.Waiter(_hub.ALL, 1) for _ in range(3)]
    pending = _scans.Pending([f])
    pending.positions.append(0)
    pending.kinds.append(_state.FAST)
    for w in waiters:
        _hub.register(w, pending)
    (hub,) = _hubs_of(f)
    assert hub.first is waiters[0]
    assert [w for w, _ in hub.more] == waiters[1:]
    waiters[1].close()
    late = _hub.Waiter(_hub.ALL, 1)
    _hub.register(late, pending)
    assert [w for w, _ in hub.more] == [waiters[1], waiters[2], late]  # pruned when it grows
    f.set_result(1)
    assert [w.signalled for w in waiters] == [True, False, True]
    assert late.signalled


def test_one_callback_per_future_however_often_waited() -> None:
    f: Future[int] = Future()
    for _ in range(50):
        wait_settled([f], timeout=1e-9)
    assert len(f._done_callbacks) == 1  # type: ignore[attr-defined]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to self is POSIX")
@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "name", ["wait_all", "wait_settled", "wait_any", "wait_first", "as_settled"]
)
def test_ctrl_c_interrupts_wait(name: str) -> None:
    """SIGINT in the main thread interrupts a long wait at once with KeyboardInterrupt."""
    assert threading.current_thread() is threading.main_thread()
    f: Future[int] = Future()
    call: Callable[[], Any] = {
        "wait_all": lambda: wait_all([f], timeout=20),
        "wait_settled": lambda: wait_settled([f], timeout=20),
        "wait_any": lambda: wait_any([f], timeout=20),
        "wait_first": lambda: wait_first([f], timeout=20),
        "as_settled": lambda: list(as_settled([f], timeout=20)),
    }[name]
    real_wait = _hub.Waiter.wait

    def wait_then_interrupt(self: _hub.Waiter, deadline: float | None) -> bool:
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
        return real_wait(self, deadline)

    _hub.Waiter.wait = wait_then_interrupt  # type: ignore[method-assign]
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            call()
    finally:
        _hub.Waiter.wait = real_wait  # type: ignore[method-assign]
    assert time.monotonic() - started < 5
    # The interrupted call left nothing that a later settle would trip on.
    f.set_result(1)
    assert wait_all([f]) == [1]


def test_waiter_ignores_notifications_after_close() -> None:
    w = _hub.Waiter(_hub.ALL, 1)
    w.close()
    hub = _hub._Hub(_state.FAST, w, 0, None)
    hub(done(1))
    assert not w.signalled


def test_fail_fast_ignores_later_entries(path: str) -> None:
    """After the first failure woke the call, registration stops early."""
    bad: Future[int] = Future()
    bad.set_exception(ValueError())
    # The failure is found by the scan; nothing is registered on the rest.
    rest: list[Future[int]] = [Future() for _ in range(1000)]
    with pytest.raises(ValueError):
        wait_all([bad, *rest])
    assert not any(_hubs_of(f) for f in rest)


def _record_values(records: list[Any]) -> Iterator[Any]:
    for r in records:
        assert isinstance(r, Fulfilled)
        yield r.value


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
@pytest.mark.timeout(60)
def test_fork_while_another_thread_holds_the_lock() -> None:
    """A child forked while the core's lock is held starts with a free lock."""
    import multiprocessing

    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with _waiter.LOCK:
            held.set()
            release.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    try:
        ctx = multiprocessing.get_context("fork")
        fork_warning = (
            pytest.warns(DeprecationWarning, match="fork")
            if sys.version_info >= (3, 12)
            else contextlib.nullcontext()
        )
        with fork_warning:
            child = ctx.Process(target=_child_waits)
            child.start()
        child.join(30)
        assert child.exitcode == 0
    finally:
        release.set()
        t.join()


def _child_waits() -> None:
    f: Future[int] = Future()
    try:
        wait_all([f], timeout=0.01)
    except SettleTimeoutError:
        os._exit(0)
    os._exit(1)


class _SettlesOnAttach(Future[Any]):
    """Settles ``other`` as its own done-callback is attached, then itself: another engine
    finishing work between two registration chunks."""

    def __init__(self, other: Future[Any]) -> None:
        super().__init__()
        self.other = other

    def add_done_callback(self, fn: Callable[[Future[Any]], object]) -> None:
        super().add_done_callback(fn)
        self.other.set_result("other")
        self.set_result("self")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", ["wait_all", "wait_settled", "as_settled"])
def test_same_future_settled_between_registration_chunks(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A future listed in two chunks and settled between them wakes both of its entries."""
    monkeypatch.setattr(_hub, "_CHUNK", 2)  # the test hook: chunks of two futures
    woken: list[bool] = []
    real_wait = _waiter.Waiter.wait

    def wait(self: _waiter.Waiter, deadline: float | None) -> bool:
        woken.append(real_wait(self, deadline))
        return woken[-1]

    monkeypatch.setattr(_waiter.Waiter, "wait", wait)
    f: Future[Any] = Future()
    # Chunk one: f and the hook (attached in that order); chunk two: f again.
    fs = [f, _SettlesOnAttach(f), f]
    call: Callable[[list[Any]], list[Any]] = {
        "wait_all": lambda fs: wait_all(fs, timeout=5),
        "wait_settled": lambda fs: list(_record_values(wait_settled(fs, timeout=5))),
        "as_settled": lambda fs: sorted(_record_values(list(as_settled(fs, timeout=5)))),
    }[name]
    result = call(fs)
    assert sorted(result) == ["other", "other", "self"]
    assert all(woken)  # woken by the futures, not by the deadline


@pytest.mark.timeout(30)
def test_polling_beside_a_waiting_call_keeps_entries_bounded() -> None:
    """2,000 polls while another call holds the hub's first two entries leave few entries."""
    f: Future[int] = Future()
    pending = _scans.Pending([f, f])
    pending.positions.extend([0, 1])
    pending.kinds.extend([_state.FAST, _state.FAST])
    waiting = _hub.Waiter(_hub.ALL, 2)  # a call listing f twice, still waiting
    _hub.register(waiting, pending)
    (hub,) = _hubs_of(f)
    sizes = []
    for _ in range(2000):
        assert wait_settled([f], timeout=0)[0].status == "rejected"
        sizes.append(len(hub.more))
    assert max(sizes) <= 16  # pruned whenever the list doubles its live length (8 at least)
    assert hub.first is waiting
    f.set_result(1)
    assert waiting.signalled
    waiting.close()


@pytest.mark.timeout(30)
def test_polling_beside_a_waiting_thread_keeps_entries_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same with a real call on another thread, waiting on the future listed twice."""
    f: Future[int] = Future()
    registered = threading.Event()
    real_wait = _waiter.Waiter.wait

    def wait(self: _waiter.Waiter, deadline: float | None) -> bool:
        registered.set()
        return real_wait(self, deadline)

    monkeypatch.setattr(_waiter.Waiter, "wait", wait)
    result: list[Any] = []
    t = threading.Thread(target=lambda: result.append(wait_all([f, f], timeout=30)))
    t.start()
    assert registered.wait(10)
    monkeypatch.setattr(_waiter.Waiter, "wait", real_wait)
    (hub,) = _hubs_of(f)
    for _ in range(2000):
        with pytest.raises(SettleTimeoutError):
            wait_all([f], timeout=0)
    assert len(hub.more) <= 16
    f.set_result(7)
    t.join(10)
    assert result == [[7, 7]]


class _Wrapper:
    """A thin handle around an inner future, delegating ``add_done_callback`` to it."""

    def __init__(self, inner: Future[Any]) -> None:
        self.inner = inner

    def add_done_callback(self, fn: Callable[[Any], object]) -> None:
        self.inner.add_done_callback(fn)  # fn is called with the inner future

    def done(self) -> bool:
        return self.inner.done()

    def result(self, timeout: float | None = None) -> Any:
        return ("wrapped", self.inner.result(timeout))

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self.inner.exception(timeout)


@pytest.mark.timeout(30)
def test_new_wrapper_at_a_freed_wrappers_address_gets_its_own_hub(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A wrapper freed while its inner future waits leaves nothing to its address's next owner."""
    kept_inner: Future[Any] = Future()  # pending for the whole test: keeps the old hubs alive
    olds = [_Wrapper(kept_inner) for _ in range(200)]
    wait_settled(olds, timeout=0)  # a hub for each, in kept_inner, found by each one's id()
    freed = {id(w) for w in olds}
    del olds
    spare: list[Any] = []
    for _ in range(100_000):  # allocate until a wrapper lands at a freed address
        new = _Wrapper(None)  # type: ignore[arg-type]
        if id(new) in freed:
            break
        spare.append(new)
    else:  # pragma: no cover - allocators reuse freed blocks of the same size
        pytest.fail("no wrapper was allocated at a freed address")
    new.inner = Future()  # its own inner future, allocated once the address is taken
    real_wait = _waiter.Waiter.wait

    def settle_then_wait(self: _waiter.Waiter, deadline: float | None) -> bool:
        new.inner.set_result(1)
        return real_wait(self, deadline)

    monkeypatch.setattr(_waiter.Waiter, "wait", settle_then_wait)
    assert wait_all([new], timeout=5) == [("wrapped", 1)]
    assert wait_first([new], timeout=5) == ("wrapped", 1)
    kept_inner.set_result(0)


def test_registry_drops_a_hub_when_its_future_is_freed() -> None:
    """The registry entry of a duck future leaves with the future, not only when it settles."""
    inner: Future[Any] = Future()
    w = _Wrapper(inner)
    wait_settled([w], timeout=0)
    key = id(w)
    assert key in _hub._HUBS
    del w
    assert key not in _hub._HUBS
    inner.set_result(0)
