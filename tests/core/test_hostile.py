"""Hostile engines, races and leaks: the harness that looks for the next defect.

Three parts. Regression tests for engines that bend the rules (callbacks
before ``done()``, no ``cancel()``, one that raises). Reference checks with
the cyclic garbage collector disabled: once the caller drops what a call
gave it, every input, value, exception and task frame is freed. And a
model: hypothesis draws inputs (stdlib, duck and hostile futures, plain
values, the same future at several positions), when each settles (before
the call, from two threads while the call registers, from a thread while
it waits, never) and how (value, exception, cancellation), runs every
combinator under a timeout and checks its answer against a sequential
model of what it may answer.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, InvalidStateError, ThreadPoolExecutor
from concurrent.futures import wait as cf_wait
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from futures_settle import (
    Fulfilled,
    Rejected,
    SettleTimeoutError,
    as_settled,
    map_all,
    map_settled,
    wait_all,
    wait_any,
    wait_first,
    wait_settled,
)
from futures_settle._core import hub as _hub
from futures_settle._core import recheck as _recheck
from futures_settle._core import waiter as _waiter

from conftest import done, failed
from helpers.duck import DuckFuture, Hostile, HostileCancel

# Defect 4 (a future failed with an exception class) is fixed on another
# branch: turn this on once it is merged, and the model also sets classes.
EXCEPTION_CLASSES = True

FUNCS = ("wait_all", "wait_settled", "wait_any", "wait_first", "as_settled")


@pytest.fixture
def on_wait(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[], object]], None]]:
    """Run an action on another thread as the next call is about to block."""
    actions: list[Callable[[], object]] = []
    threads: list[threading.Thread] = []
    real_wait = _waiter.Waiter.wait

    def wait(self: _waiter.Waiter, deadline: float | None) -> bool:
        while actions:
            t = threading.Thread(target=actions.pop(0))
            t.start()
            threads.append(t)
        return real_wait(self, deadline)

    monkeypatch.setattr(_waiter.Waiter, "wait", wait)
    yield actions.append
    for t in threads:
        t.join(10)


# --- Engines that bend the rules ------------------------------------------------------------


class TestCallbacksBeforeDone:
    """An engine that runs callbacks a moment before ``done()`` turns true."""

    @pytest.mark.timeout(30)
    def test_wait_all_value(self, on_wait: Any) -> None:
        """A pending reading is not a failure: the value comes once done() is true."""
        f = Hostile(early=True)
        on_wait(lambda: f.set_result(1))
        assert wait_all([f, "x"], timeout=10) == [1, "x"]

    @pytest.mark.timeout(30)
    def test_wait_all_failure(self, on_wait: Any) -> None:
        f, g = Hostile(early=True), Hostile(early=True)
        error = KeyError("g")
        on_wait(lambda: (f.set_result(1), g.set_exception(error)))
        with pytest.raises(KeyError) as info:
            wait_all([f, g], timeout=10)
        assert info.value is error

    @pytest.mark.timeout(30)
    def test_every_combinator(self, on_wait: Any) -> None:
        error = OSError("down")
        for name in FUNCS:
            f, g = Hostile(early=True), Hostile(early=True)
            on_wait(lambda f=f, g=g: (g.set_exception(error), f.set_result(2)))
            if name == "wait_settled":
                assert wait_settled([f, g], timeout=10) == [Fulfilled(2, 0), Rejected(error, 1)]
            elif name == "as_settled":
                records = sorted(as_settled([f, g], timeout=10), key=lambda r: r.index)
                assert records == [Fulfilled(2, 0), Rejected(error, 1)]
            elif name == "wait_any":
                assert wait_any([g, f], timeout=10) == 2
            elif name == "wait_first":
                with pytest.raises(OSError) as info:
                    wait_first([g, f], timeout=10)
                assert info.value is error
            else:
                with pytest.raises(OSError):
                    wait_all([f, g], timeout=10)

    @pytest.mark.timeout(30)
    def test_done_never_true_costs_the_timeout_not_a_thread(self) -> None:
        """An engine that calls back but never turns done(): the call times out, and the
        thread asking done() again lets go of the future once no call waits on it."""

        class NeverDone(Hostile):
            def done(self) -> bool:
                return False

        f = NeverDone()
        f.set_result(1)  # runs the callbacks registered so far: none
        for call in (wait_all, wait_any, wait_first):
            message = rf"^{call.__name__}\(\) timed out after 0.05 s with 1 of 1 input unfinished$"
            with pytest.raises(SettleTimeoutError, match=message):
                call([f], timeout=0.05)
        records = wait_settled([f], timeout=0.05)
        assert isinstance(records[0].reason, SettleTimeoutError)  # type: ignore[union-attr]
        thread = _recheck._thread
        assert thread is not None
        thread.join(10)
        assert not thread.is_alive()
        assert _hub._HUBS.get(id(f)) is None

    @pytest.mark.timeout(30)
    def test_maps_read_their_futures_once_done(self) -> None:
        """map_all/map_settled on an executor whose futures call back early."""

        class EarlyExecutor:
            def __init__(self, pool: ThreadPoolExecutor) -> None:
                self.pool = pool

            def submit(self, fn: Callable[..., Any], /, *args: Any) -> Hostile:
                f = Hostile(early=True)
                inner = self.pool.submit(fn, *args)
                inner.add_done_callback(
                    lambda i: f.set_result(i.result()) if i.exception() is None else None
                )
                return f

        with ThreadPoolExecutor(2) as pool:
            ex = EarlyExecutor(pool)
            assert list(map_all(abs, [-1, -2, -3], executor=ex, timeout=10)) == [1, 2, 3]
            assert [r.value for r in map_settled(abs, [-4], executor=ex, timeout=10)] == [4]  # type: ignore[union-attr]


class TestHostileFlags:
    """Every combinator, on each way an engine may bend the rules."""

    FLAGS = ("twice", "threaded", "never_if_done", "slow", "early")

    @pytest.mark.timeout(60)
    @pytest.mark.parametrize("flag", FLAGS)
    @pytest.mark.parametrize("name", FUNCS)
    def test_settled_before_during_and_after_registration(
        self, flag: str, name: str, on_wait: Any
    ) -> None:
        options: dict[str, Any] = {"slow": 0.001} if flag == "slow" else {flag: True}
        before, during, late = Hostile(**options), Hostile(**options), Hostile(**options)
        before.set_result("before")
        error = ValueError("late")
        on_wait(lambda: (during.set_result("during"), late.set_exception(error)))
        fs = [before, during, late, during]
        if name == "wait_all":
            with pytest.raises(ValueError) as info:
                wait_all(fs, timeout=10)
            assert info.value is error
            assert wait_all(fs[:2], timeout=10) == ["before", "during"]
        elif name == "wait_settled":
            expected = [Fulfilled("before", 0), Fulfilled("during", 1), Rejected(error, 2)]
            assert wait_settled(fs, timeout=10) == [*expected, Fulfilled("during", 3)]
        elif name == "as_settled":
            records = list(as_settled(fs, timeout=10))
            assert records[0] == Fulfilled("before", 0)
            assert sorted(r.index for r in records) == [0, 1, 2, 3]
        elif name == "wait_any":
            assert wait_any(fs[1:], timeout=10) == "during"
        else:
            assert wait_first(fs, timeout=10) == "before"
            assert wait_first([late, during], timeout=10) in ("during", error)

    @pytest.mark.timeout(30)
    def test_already_done_when_attached_without_a_callback(self) -> None:
        """Settled between the call's scan and its registration, by an engine that never calls
        back a future already done: the call does not rely on the callback."""

        class SettlesAsAttached(Hostile):
            def add_done_callback(self, fn: Callable[[Any], object]) -> None:
                self.set_result("meanwhile")  # another thread, just before
                super().add_done_callback(fn)

        for name in FUNCS:
            fs = [SettlesAsAttached(never_if_done=True)]
            if name == "wait_all":
                got = wait_all(fs, timeout=10)
            elif name == "wait_settled":
                got = [r.value for r in wait_settled(fs, timeout=10)]  # type: ignore[union-attr]
            elif name == "as_settled":
                got = [r.value for r in as_settled(fs, timeout=10)]  # type: ignore[union-attr]
            elif name == "wait_any":
                got = [wait_any(fs, timeout=10)]
            else:
                got = [wait_first(fs, timeout=10)]
            assert got == ["meanwhile"], name


class _HostileExecutor:
    """Runs tasks at once (its futures are done before the map attaches to them), or on a
    pool, and hands out ``Hostile`` futures with the given flags."""

    def __init__(self, pool: ThreadPoolExecutor | None, **flags: Any) -> None:
        self.pool, self.flags = pool, flags

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Hostile:
        f = Hostile(**self.flags)

        def run() -> None:
            try:
                f.set_result(fn(*args))
            except Exception as exc:
                f.set_exception(exc)

        if self.pool is None:
            run()
        else:
            self.pool.submit(run)
        return f


def _inverse(x: int) -> float:
    return 1 / x


@pytest.mark.timeout(60)
@pytest.mark.parametrize("flag", TestHostileFlags.FLAGS)
@pytest.mark.parametrize("where", ["at once", "on a pool"])
def test_maps_on_hostile_engines(flag: str, where: str, thread_pool: ThreadPoolExecutor) -> None:
    """map_all and map_settled on executors whose futures bend the rules."""
    options: dict[str, Any] = {"slow": 0.001} if flag == "slow" else {flag: True}
    ex = _HostileExecutor(None if where == "at once" else thread_pool, **options)
    assert list(map_all(abs, [-1, -2, -3], executor=ex, timeout=10)) == [1, 2, 3]
    records = list(map_settled(_inverse, [1, 0, 2], executor=ex, timeout=10, buffersize=2))
    assert [r.status for r in records] == ["fulfilled", "rejected", "fulfilled"]
    assert isinstance(records[1].reason, ZeroDivisionError)  # type: ignore[union-attr]


class TestCancelPendingBestEffort:
    """``cancel()`` missing or raising never masks the call's answer."""

    @pytest.fixture(params=["no cancel", "cancel raises"])
    def stuck(self, request: pytest.FixtureRequest) -> Callable[[], Hostile]:
        if request.param == "no cancel":
            return Hostile
        return lambda: HostileCancel(refuse=True)

    def test_wait_all_raises_the_real_failure(self, stuck: Callable[[], Hostile]) -> None:
        error = ValueError("the real failure")
        with pytest.raises(ValueError) as info:
            wait_all([stuck(), failed(error)], cancel_pending=True)
        assert info.value is error

    def test_wait_all_timeout(self, stuck: Callable[[], Hostile]) -> None:
        with pytest.raises(
            SettleTimeoutError,
            match=r"^wait_all\(\) timed out after 0 s with 1 of 2 inputs unfinished$",
        ):
            wait_all([stuck(), 1], timeout=0, cancel_pending=True)

    def test_wait_settled_never_raises_for_an_input(self, stuck: Callable[[], Hostile]) -> None:
        records = wait_settled([stuck(), done(1)], timeout=0, cancel_pending=True)
        assert isinstance(records[0], Rejected)
        assert isinstance(records[0].reason, SettleTimeoutError)
        assert records[1] == Fulfilled(1, 1)

    def test_wait_any_and_first_return_the_winner(self, stuck: Callable[[], Hostile]) -> None:
        assert wait_any([stuck(), "x"], cancel_pending=True) == "x"
        assert wait_first([stuck(), "y"], cancel_pending=True) == "y"

    def test_a_working_cancel_still_cancels(self) -> None:
        f = HostileCancel()
        with pytest.raises(SettleTimeoutError):
            wait_any([f], timeout=0, cancel_pending=True)
        assert f.cancelled()


# --- References: nothing survives the caller's references, with the cyclic GC off -----------


class _Marker:
    """Lives in a task's frame: freed when the frame is."""


class _TaskFailed(ValueError):
    """A builtin exception cannot be weakly referenced; this one can."""


def _failing_task(go: threading.Event, frames: list[weakref.ref[_Marker]]) -> None:
    marker = _Marker()
    frames.append(weakref.ref(marker))
    go.wait(10)
    raise _TaskFailed("task failed")


def _valued_task(go: threading.Event) -> _Marker:
    go.wait(10)
    return _Marker()


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _run(call: Callable[[list[list[Any]]], Any], box: list[list[Any]]) -> str:
    """Call with the inputs in ``box``, which the call pops: no frame that the call's
    traceback keeps refers to them. Drop whatever it returned or raised; say what it was."""
    try:
        result = call(box)
    except BaseException as exc:  # whatever it raised, drop it
        return type(exc).__name__
    if isinstance(result, Iterator):
        for _ in result:
            pass
    del result
    return "returned"


def _first_then_close(box: list[list[Any]]) -> None:
    it = as_settled(box.pop(), timeout=10)
    next(it)
    it.close()  # type: ignore[attr-defined]


def _ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(self: _waiter.Waiter, deadline: float | None) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(_waiter.Waiter, "wait", interrupted)


# name -> (call, when the tasks settle, expected outcome); the call's inputs are two tasks
# of a thread pool, the first failing, the second returning a value, and a future never done.
_LEAK_CASES: dict[str, tuple[Callable[[list[list[Any]]], Any], str, str]] = {
    "wait_all fails before": (lambda box: wait_all(box.pop(), timeout=10), "before", "_TaskFailed"),
    "wait_all fails during": (lambda box: wait_all(box.pop(), timeout=10), "during", "_TaskFailed"),
    "wait_all times out": (
        lambda box: wait_all(box.pop()[1:], timeout=0.01),
        "during",
        "SettleTimeoutError",
    ),
    "wait_all ctrl-c": (lambda box: wait_all(box.pop(), timeout=10), "ctrl-c", "KeyboardInterrupt"),
    "wait_first fails before": (
        lambda box: wait_first(box.pop(), timeout=10),
        "before",
        "_TaskFailed",
    ),
    "wait_first fails during": (
        lambda box: wait_first(box.pop()[::2], timeout=10),
        "during",
        "_TaskFailed",
    ),
    "wait_first times out": (
        lambda box: wait_first(box.pop()[2:], timeout=0.01),
        "during",
        "SettleTimeoutError",
    ),
    "wait_any group before": (
        lambda box: wait_any(box.pop()[:1], timeout=10),
        "before",
        "ExceptionGroup",
    ),
    "wait_any group during": (
        lambda box: wait_any(box.pop()[:1], timeout=10),
        "during",
        "ExceptionGroup",
    ),
    "wait_any value during": (lambda box: wait_any(box.pop(), timeout=10), "during", "returned"),
    "wait_any ctrl-c": (lambda box: wait_any(box.pop(), timeout=10), "ctrl-c", "KeyboardInterrupt"),
    "wait_settled": (lambda box: wait_settled(box.pop(), timeout=0.01), "during", "returned"),
    "wait_settled before": (
        lambda box: wait_settled(box.pop(), timeout=0.01),
        "before",
        "returned",
    ),
    "as_settled": (lambda box: as_settled(box.pop(), timeout=0.01), "during", "returned"),
    "as_settled break": (_first_then_close, "before", "returned"),
    "as_settled ctrl-c": (
        lambda box: list(as_settled(box.pop(), timeout=10)),
        "ctrl-c",
        "KeyboardInterrupt",
    ),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(_LEAK_CASES))
def test_nothing_survives_the_callers_references(
    case: str, on_wait: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inputs, values, exceptions and the failed task's frames are freed by reference counts
    alone once the caller drops them: no reference cycle, nothing kept by the library."""
    call, when, expected = _LEAK_CASES[case]
    with _no_cyclic_gc():
        go = threading.Event()
        frames: list[weakref.ref[_Marker]] = []
        pool = ThreadPoolExecutor(2)
        bad = pool.submit(_failing_task, go, frames)
        good = pool.submit(_valued_task, go)
        never: Future[Any] = Future()
        if when == "before":
            go.set()
            cf_wait([bad, good])
        elif when == "ctrl-c":
            _ctrl_c(monkeypatch)
        else:
            on_wait(go.set)
        assert _run(call, [[bad, good, never]]) == expected
        monkeypatch.undo()
        go.set()
        pool.shutdown(wait=True)  # its threads let go of the tasks
        refs = [weakref.ref(x) for x in (bad, good, never, bad.exception(), good.result())]
        refs += frames
        del bad, good, never
        assert [r() for r in refs] == [None] * len(refs)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["map_all", "map_settled"])
@pytest.mark.parametrize("how", ["to the end", "break", "failure", "timeout", "ctrl-c"])
def test_maps_leave_nothing_behind(name: str, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The maps free their inputs, results and futures once iteration ends or is broken off."""
    with _no_cyclic_gc():
        values = [_Marker() for _ in range(6)]
        refs = [weakref.ref(v) for v in values]
        third = refs[2]
        go = threading.Event()

        def work(v: _Marker) -> _Marker:
            if v is third():
                if how == "failure":
                    raise _TaskFailed("item 2")
                if how == "timeout":
                    go.wait(10)
            return v

        if how == "ctrl-c":
            _ctrl_c(monkeypatch)
        pool = ThreadPoolExecutor(2)
        fn = map_all if name == "map_all" else map_settled
        it = fn(work, values, executor=pool, timeout=0.2 if how == "timeout" else 10)
        try:
            for k, _ in enumerate(it):
                if how == "break" and k == 1:
                    break
        except (_TaskFailed, SettleTimeoutError, KeyboardInterrupt):
            pass
        _ = None  # the last item it gave
        it.close()  # type: ignore[attr-defined]
        monkeypatch.undo()
        go.set()
        pool.shutdown(wait=True)
        del it, values, work, fn
        assert [r() for r in refs] == [None] * len(refs)


# --- The model ------------------------------------------------------------------------------

# How a future's engine calls back: "sync" engines call back on the thread that settles the
# future (or the one that attaches to a settled future) before that call returns.
_ENGINES: dict[str, tuple[Callable[[], Any], bool]] = {
    "stdlib": (Future, True),
    "duck": (DuckFuture, False),
    "twice": (lambda: Hostile(twice=True), True),
    "threaded": (lambda: Hostile(threaded=True), True),
    "never_if_done": (lambda: Hostile(never_if_done=True), True),
    "slow": (lambda: Hostile(slow=0.0005), True),
    "early": (lambda: Hostile(early=True, twice=True), False),
    "no cancel": (lambda: Hostile(threaded=True, never_if_done=True), True),
    "cancel raises": (lambda: HostileCancel(refuse=True), True),
}
_WHEN = ("before", "registering", "waiting")
_ERRORS = (ValueError, KeyError, OSError)


class _Input:
    """One future of a drawn case: its engine, its outcome, when it settles."""

    def __init__(self, k: int, engine: str, how: str, when: str, cls_index: int) -> None:
        self.k, self.engine, self.how, self.when = k, engine, how, when
        self.fut = _ENGINES[engine][0]()
        self.sync = _ENGINES[engine][1]
        self.value = f"v{k}"
        self.cls = _ERRORS[cls_index]
        self.error = self.cls(f"e{k}")

    @property
    def ok(self) -> bool:
        return self.how == "value"

    def settle(self) -> None:
        f = self.fut
        with contextlib.suppress(InvalidStateError):  # cancel_pending got there first
            if self.how == "value":
                f.set_result(self.value)
            elif self.how == "error":
                f.set_exception(self.error)
            elif self.how == "class":
                f.set_exception(self.cls)
            elif isinstance(f, Hostile):
                f.cancel_now()
            else:
                f.cancel()

    def matches(self, exc: BaseException) -> bool:
        """Whether ``exc`` is this input's failure."""
        if self.how == "error":
            return exc is self.error
        if self.how == "class":
            return type(exc) is self.cls
        return self.how == "cancel" and isinstance(exc, CancelledError)


_HOWS = ("value", "error", "cancel", *(("class",) if EXCEPTION_CLASSES else ()))


@st.composite
def _cases(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 5))
    never = draw(st.integers(0, 6)) == 0  # some cases have inputs that never settle
    whens = (*_WHEN, "never") if never else _WHEN
    specs = [
        (
            draw(st.sampled_from(list(_ENGINES))),
            draw(st.sampled_from(_HOWS)),
            draw(st.sampled_from(whens)),
            draw(st.integers(0, len(_ERRORS) - 1)),
        )
        for _ in range(n)
    ]
    # Every future at least once, some again (far apart when chunks are small), some plain values.
    again = draw(st.lists(st.integers(0, n - 1), max_size=5))
    plain = draw(st.lists(st.tuples(st.just("plain")), max_size=2))
    layout = draw(st.permutations([*range(n), *again, *plain]))
    return {
        "specs": specs,
        "layout": layout,
        "order": draw(st.permutations(range(n))),
        "split": draw(st.integers(0, n)),
        "chunk": draw(st.sampled_from([1, 2, 3, 256])),
        "cancel_pending": draw(st.booleans()),
    }


class _Run:
    """A drawn case, built: the inputs, when they settle, and the call's phases."""

    def __init__(self, case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
        self.inputs = [_Input(k, *spec) for k, spec in enumerate(case["specs"])]
        # position -> the _Input there, or None for a plain value (its position's string)
        self.at: list[_Input | None] = [
            self.inputs[x] if isinstance(x, int) else None for x in case["layout"]
        ]
        self.items = [a.fut if a is not None else f"p{p}" for p, a in enumerate(self.at)]
        order = [self.inputs[k] for k in case["order"]]
        self.registering = [a for a in order if a.when == "registering"]
        self.waiting = [a for a in order if a.when == "waiting"]
        self.split = case["split"]
        self.cancel_pending = case["cancel_pending"]
        used = {id(a) for a in self.at if a is not None}
        self.never = any(a.when == "never" and id(a) in used for a in self.inputs)
        # A hang guard, or a deadline that other settles may miss under load (the model then
        # accepts a timeout for them).
        self.timeout = 0.05 if self.never else 30.0
        for a in self.inputs:
            if a.when == "before":
                a.settle()
        self.threads: list[threading.Thread] = []
        monkeypatch.setattr(_hub, "_CHUNK", case["chunk"])
        real_attach, real_wait = _hub._attach, _waiter.Waiter.wait

        def attach(pairs: list[Any]) -> None:
            if not self.threads:  # the first chunk is registered: settle from two threads
                halves = self.registering[: self.split], self.registering[self.split :]
                for half in halves:
                    self._start(lambda half=half: [a.settle() for a in half])
            real_attach(pairs)

        def wait(waiter: _waiter.Waiter, deadline: float | None) -> bool:
            if len(self.threads) == 2:  # registered: settle the rest in order
                first = list(self.threads)
                self._start(lambda: ([t.join() for t in first], [a.settle() for a in self.waiting]))
            return real_wait(waiter, deadline)

        monkeypatch.setattr(_hub, "_attach", attach)
        monkeypatch.setattr(_waiter.Waiter, "wait", wait)

    def _start(self, target: Callable[[], object]) -> None:
        t = threading.Thread(target=target)
        self.threads.append(t)
        t.start()

    def finish(self) -> None:
        """Settle whatever is left and join every thread: nothing outlives the example."""
        for t in self.threads:
            t.join(10)
            assert not t.is_alive()
        for a in self.inputs:
            a.settle()

    # The model. "At scan" inputs were settled when the call looked; the others settle
    # later, all of the registering ones before any of the waiting ones.
    def at_scan(self, a: _Input | None) -> bool:
        return a is None or a.when == "before"

    def later(self, good: bool | None) -> list[_Input]:
        """Inputs that may be the first to settle later (successes, failures or any):
        with engines that call back at once, one of the registering ones, else the first of
        the waiting ones; with any other engine among them, any of them."""
        used = {id(a): a for a in self.at if a is not None and not self.at_scan(a)}
        kept = [a for a in used.values() if a.when != "never" and good in (None, a.ok)]
        if not all(a.sync for a in kept):
            return kept
        registering = [a for a in kept if a.when == "registering"]
        if registering:
            return registering
        waiting = [a for a in self.waiting if a in kept]
        return waiting[:1]


def _record_ok(record: Any, a: _Input | None, position: int, may_time_out: bool) -> None:
    assert record.index == position
    if a is None:
        assert record == Fulfilled(f"p{position}", position)
    elif isinstance(record, Rejected) and isinstance(record.reason, SettleTimeoutError):
        assert may_time_out
        assert a.when != "before"
    elif a.ok:
        assert record == Fulfilled(a.value, position)
    else:
        assert isinstance(record, Rejected)
        assert a.matches(record.reason), (record, a.how)


def _check(name: str, run: _Run) -> None:
    kw: dict[str, Any] = {"timeout": run.timeout}
    if name != "as_settled":
        kw["cancel_pending"] = run.cancel_pending
    items, at = run.items, run.at
    scan = [(p, a) for p, a in enumerate(at) if run.at_scan(a)]
    if name == "wait_settled":
        records = wait_settled(items, **kw)
        assert len(records) == len(items)
        for p, (r, a) in enumerate(zip(records, at, strict=True)):
            never = a is not None and a.when == "never"
            if never:
                assert isinstance(r, Rejected)
                assert isinstance(r.reason, SettleTimeoutError)
            _record_ok(r, a, p, run.never)
        return
    if name == "as_settled":
        records = list(as_settled(items, **kw))
        assert sorted(r.index for r in records) == list(range(len(items)))
        head = records[: len(scan)]
        assert [r.index for r in head] == [p for p, _ in scan]
        for r in records:
            _record_ok(r, at[r.index], r.index, run.never)
        if not run.never and all(a.sync for a in run.inputs):
            rest = [at[r.index] for r in records[len(scan) :]]
            seen = list(dict.fromkeys(id(a) for a in rest if a is not None))
            waiting = [id(a) for a in run.waiting if id(a) in seen]
            assert seen[len(seen) - len(waiting) :] == waiting  # registering ones first
        return
    if (name in ("wait_any", "wait_first")) and not items:
        with pytest.raises(ValueError):
            (wait_any if name == "wait_any" else wait_first)(items, **kw)
        return
    call = {"wait_all": wait_all, "wait_any": wait_any, "wait_first": wait_first}[name]
    try:
        got: Any = ("value", call(items, **kw))
    except BaseException as exc:  # compared with the model below
        got = ("raised", exc)
    kind, payload = got
    timed_out = kind == "raised" and isinstance(payload, SettleTimeoutError)
    if name == "wait_all":
        first_failed = [a for _, a in scan if a is not None and not a.ok]
        if first_failed:
            assert kind == "raised", got
            assert first_failed[0].matches(payload), got
        elif kind == "value":
            assert not run.never or all(a is None or a.when != "never" for a in at)
            assert payload == [f"p{p}" if a is None else a.value for p, a in enumerate(at)]
            assert all(a is None or a.ok for a in at)
        elif timed_out:
            assert run.never
        else:
            candidates = run.later(good=False)
            if run.never:
                candidates = [a for a in at if a is not None and not a.ok]
            assert any(a.matches(payload) for a in candidates), (got, run.later(False))
    elif name == "wait_any":
        firsts = [p for p, a in scan if a is None or a.ok]
        if firsts:
            p = firsts[0]
            assert got == ("value", items[p] if at[p] is None else at[p].value)  # type: ignore[union-attr]
        elif kind == "value":
            candidates = run.later(good=True)
            if run.never:
                candidates = [a for a in at if a is not None and a.ok]
            assert payload in [a.value for a in candidates], (got, candidates)
        elif timed_out:
            assert run.never
        else:
            assert isinstance(payload, BaseExceptionGroup), got
            assert not any(a is None or a.ok for a in at)
            assert len(payload.exceptions) == len(items)
            for exc, a in zip(payload.exceptions, at, strict=True):
                assert a is not None
                assert a.matches(exc)
    else:
        if scan:
            p, a = scan[0]
            if a is None:
                assert got == ("value", items[p])
            elif a.ok:
                assert got == ("value", a.value)
            else:
                assert kind == "raised", got
                assert a.matches(payload), got
        elif timed_out:
            assert run.never
        else:
            candidates = run.later(good=None)
            if run.never:
                candidates = [a for a in at if a is not None]
            if kind == "value":
                assert payload in [a.value for a in candidates if a.ok], got
            else:
                assert any(a.matches(payload) for a in candidates if not a.ok), got


_model = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", FUNCS)
@_model
@given(case=_cases())
def test_model(
    name: str, case: dict[str, Any], monkeypatch: pytest.MonkeyPatch, fast_switching: None
) -> None:
    """Each combinator answers what the sequential model allows, under hostile engines,
    completions racing registration and one future at positions in different chunks."""
    with monkeypatch.context() as m:
        run = _Run(case, m)
        event(f"inputs that never settle: {run.never}")
        positions = [x for x in case["layout"] if isinstance(x, int)]
        event(f"a future at several positions: {len(set(positions)) < len(positions)}")
        event(f"settled while registering: {bool(run.registering)}")
        try:
            _check(name, run)
        finally:
            m.undo()
            run.finish()


# --- A stateful model: calls polling and waiting on shared futures while they settle ---------


_POOL_ENGINES = ("stdlib", "duck", "twice", "early", "threaded", "never_if_done")


class _Shared(RuleBasedStateMachine):
    """Futures shared by many calls over time: polls with ``timeout=0``, calls waiting on
    other threads, settles. Polls answer exactly from what had settled; every waiting call
    ends with the model's records; a hub's entries stay bounded however often it is polled."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[_Input] = []
        self.settled: set[int] = set()
        self.waiting: list[tuple[threading.Thread, list[int], list[Any]]] = []

    @initialize(engines=st.lists(st.sampled_from(_POOL_ENGINES), min_size=1, max_size=4))
    def make(self, engines: list[str]) -> None:
        for k, engine in enumerate(engines):
            self.inputs.append(_Input(k, engine, "value", "waiting", 0))

    @rule(k=st.integers(0, 3), how=st.sampled_from(["value", "error", "cancel"]))
    def settle(self, k: int, how: str) -> None:
        a = self.inputs[k % len(self.inputs)]
        if id(a) not in self.settled:
            a.how = how
            a.settle()
            self.settled.add(id(a))

    def _items(self, picks: list[int]) -> list[_Input]:
        return [self.inputs[k % len(self.inputs)] for k in picks]

    @rule(picks=st.lists(st.integers(0, 3), min_size=1, max_size=6), polls=st.integers(1, 200))
    def poll(self, picks: list[int], polls: int) -> None:
        chosen = self._items(picks)
        fs = [a.fut for a in chosen]
        for _ in range(polls):
            records = wait_settled(fs, timeout=0)
        # Settled before the polls: its outcome, read as the poll looked; else a timeout.
        for p, (r, a) in enumerate(zip(records, chosen, strict=True)):
            if id(a) in self.settled:
                _record_ok(r, a, p, may_time_out=False)
            else:
                assert isinstance(r, Rejected)
                assert isinstance(r.reason, SettleTimeoutError)

    @rule(picks=st.lists(st.integers(0, 3), min_size=1, max_size=6))
    def wait_in_background(self, picks: list[int]) -> None:
        chosen = [k % len(self.inputs) for k in picks]
        fs = [self.inputs[k].fut for k in chosen]
        out: list[Any] = []
        t = threading.Thread(target=lambda: out.append(wait_settled(fs, timeout=30)))
        t.start()
        self.waiting.append((t, chosen, out))

    @invariant()
    def entries_stay_bounded(self) -> None:
        # A hub prunes its finished entries when full, then lets the list grow to twice
        # what was left: the positions of the calls that may still wait, and of the
        # poll that pruned (up to 6 each).
        live = 6 * (len(self.waiting) + 1)
        for a in self.inputs:
            for hub in _hubs_of(a.fut):
                assert len(hub.more or ()) <= max(_hub._PRUNE_AT, 2 * live)

    def teardown(self) -> None:
        for a in self.inputs:
            if id(a) not in self.settled:
                a.settle()
        for t, chosen, out in self.waiting:
            t.join(30)
            assert not t.is_alive()
            (records,) = out
            for p, (r, k) in enumerate(zip(records, chosen, strict=True)):
                _record_ok(r, self.inputs[k], p, may_time_out=False)


def _hubs_of(f: Any) -> list[Any]:
    """The hubs attached to a future of any engine here."""
    if isinstance(f, Future):
        callbacks = f._done_callbacks  # type: ignore[attr-defined]
    elif isinstance(f, DuckFuture):
        callbacks = f._callbacks or []
    else:
        callbacks = f._callbacks
    return [c for c in callbacks if type(c) is _hub._Hub]


_Shared.TestCase.settings = settings(
    max_examples=40, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck)
)
TestShared = pytest.mark.timeout(120)(_Shared.TestCase)
