"""The semantics of wait_all, wait_settled, wait_any, wait_first and as_settled.

Completion order is forced by settling futures by hand, from a thread that
``on_wait`` starts just as a call is about to block: never by sleeping.
Every test runs on stdlib futures (read directly) and on duck futures that
are not ``concurrent.futures.Future`` (read through public methods, their
callbacks on a thread of their own).
"""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from futures_settle import (
    Fulfilled,
    Rejected,
    SettleTimeoutError,
    as_settled,
    wait_all,
    wait_any,
    wait_first,
    wait_settled,
)
from futures_settle._core import hub as _hub

from conftest import cancelled, done, failed
from helpers.duck import DuckFuture

Make = Callable[[], Any]


@pytest.fixture
def on_wait(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], None]], None]:
    """Run an action on another thread as the next call is about to block."""
    actions: list[Callable[[], None]] = []
    threads: list[threading.Thread] = []
    real_wait = _hub.Waiter.wait

    def wait(self: _hub.Waiter, deadline: float | None) -> bool:
        while actions:
            t = threading.Thread(target=actions.pop(0))
            t.start()
            threads.append(t)
        return real_wait(self, deadline)

    monkeypatch.setattr(_hub.Waiter, "wait", wait)
    yield actions.append  # type: ignore[misc]
    for t in threads:
        t.join(5)


def settle(f: Any, value: object) -> None:
    if isinstance(value, BaseException):
        f.set_exception(value)
    else:
        f.set_result(value)


def in_order(*steps: tuple[Any, object]) -> Callable[[], None]:
    def run() -> None:
        for f, value in steps:
            settle(f, value)

    return run


class TestWaitAll:
    def test_input_order_not_settle_order(self, make: Make, on_wait: Any) -> None:
        """Values come in input order even when the inputs settle in reverse."""
        fs = [make() for _ in range(5)]
        on_wait(in_order(*[(f, i) for i, f in reversed(list(enumerate(fs)))]))
        assert wait_all(fs, timeout=5) == [0, 1, 2, 3, 4]

    def test_new_list_every_time(self) -> None:
        fs = [done(1), done(2)]
        a, b = wait_all(fs), wait_all(fs)
        assert a == b == [1, 2]
        assert a is not b

    def test_seed_quick_example(self, make: Make, on_wait: Any) -> None:
        """p1 resolved, p2 rejected, p3 slow: wait_all raises p2's error, does not wait for p3."""
        p1 = done("user data")
        p2 = make()
        p3 = make()
        err = OSError("DB error")
        on_wait(in_order((p2, err)))
        with pytest.raises(OSError, match="^DB error$") as info:
            wait_all([p1, p2, p3], timeout=5)
        assert info.value is err
        assert not p3.done()

    def test_first_failure_in_time_wins(self, make: Make, on_wait: Any) -> None:
        """Two inputs fail while the call waits: the one that failed first is raised."""
        fs = [make(), make(), make()]
        first, second = ValueError("first"), ValueError("second")
        on_wait(in_order((fs[2], first), (fs[1], second)))
        with pytest.raises(ValueError, match="^first$"):
            wait_all(fs, timeout=5)

    def test_already_failed_earliest_in_input_order(self) -> None:
        """Among inputs failed when checked, the first in input order wins."""
        a, b = ValueError("a"), ValueError("b")
        with pytest.raises(ValueError) as info:
            wait_all([done(1), failed(a), failed(b), Future()], timeout=5)
        assert info.value is a

    def test_others_keep_running(self, make: Make) -> None:
        pending = make()
        with pytest.raises(ValueError):
            wait_all([pending, failed(ValueError())])
        assert not pending.cancelled()

    def test_cancel_pending_on_failure(self, make: Make, on_wait: Any) -> None:
        """cancel_pending cancels what has not started; running work is left alone."""
        queued, running, slow = make(), make(), make()
        assert running.set_running_or_notify_cancel()
        on_wait(in_order((slow, ValueError("x"))))
        with pytest.raises(ValueError):
            wait_all([queued, running, slow], timeout=5, cancel_pending=True)
        assert queued.cancelled()
        assert not running.cancelled()

    def test_cancel_pending_on_timeout(self, make: Make) -> None:
        queued = make()
        with pytest.raises(SettleTimeoutError):
            wait_all([queued], timeout=0.01, cancel_pending=True)
        assert queued.cancelled()

    def test_empty(self) -> None:
        assert wait_all([]) == []
        assert wait_all({}) == {}

    def test_plain_values(self, make: Make, on_wait: Any) -> None:
        """Non-futures count as fulfilled; a future's future is not flattened."""
        f, inner = make(), done(3)
        on_wait(in_order((f, inner)))
        result = wait_all([1, "hello", None, f], timeout=5)
        assert result[:3] == [1, "hello", None]
        assert result[3] is inner

    def test_generator_consumed_once(self, make: Make) -> None:
        consumed = []

        def gen() -> Iterator[Any]:
            for i in range(3):
                consumed.append(i)
                yield done(i)

        assert wait_all(gen()) == [0, 1, 2]
        assert consumed == [0, 1, 2]

    def test_mapping(self, make: Make, on_wait: Any) -> None:
        """A dict gives a dict with the same keys in the same order."""
        user, perms = make(), make()
        on_wait(in_order((perms, ["read"]), (user, "ann")))
        assert list(wait_all({"user": user, "perms": perms}, timeout=5).items()) == [
            ("user", "ann"),
            ("perms", ["read"]),
        ]

    def test_same_future_twice(self, make: Make, on_wait: Any) -> None:
        f = make()
        on_wait(in_order((f, "x")))
        assert wait_all([f, 1, f], timeout=5) == ["x", 1, "x"]

    def test_cancelled_before_running(self) -> None:
        """A future cancelled before any executor picked it up (gh-92001) is a failure."""
        with pytest.raises(CancelledError):
            wait_all([done(1), cancelled()], timeout=5)

    def test_cancelled_while_waiting(self, make: Make, on_wait: Any) -> None:
        f = make()
        on_wait(f.cancel)
        with pytest.raises(CancelledError):
            wait_all([f], timeout=5)

    def test_base_exception_raised(self, make: Make, on_wait: Any) -> None:
        f = make()
        on_wait(in_order((f, SystemExit(3))))
        with pytest.raises(SystemExit):
            wait_all([f], timeout=5)

    def test_timeout_message(self, make: Make) -> None:
        with pytest.raises(
            SettleTimeoutError,
            match="^wait_all\\(\\) timed out after 0.01 s with 2 of 3 inputs unfinished$",
        ) as info:
            wait_all([make(), done(1), make()], timeout=0.01)
        assert (info.value.unfinished, info.value.total, info.value.timeout) == (2, 3, 0.01)
        assert isinstance(info.value, TimeoutError)

    def test_zero_and_negative_timeout(self, make: Make) -> None:
        assert wait_all([done(1), 2], timeout=0) == [1, 2]
        assert wait_all([done(1)], timeout=-1) == [1]
        with pytest.raises(SettleTimeoutError):
            wait_all([make()], timeout=-1)

    def test_one_deadline_for_the_whole_call(self, make: Make) -> None:
        """Inputs settling one by one, each within the timeout, still hit the call's deadline."""
        fs = [make() for _ in range(4)]
        stop = threading.Event()

        def drip() -> None:
            for f in fs:
                if stop.wait(0.15):
                    return
                f.set_result(1)

        t = threading.Thread(target=drip)
        t.start()
        try:
            with pytest.raises(SettleTimeoutError) as info:
                wait_all(fs, timeout=0.25)
            assert info.value.unfinished >= 2
        finally:
            stop.set()
            t.join()


class TestWaitSettled:
    def test_seed_quick_example(self, make: Make, on_wait: Any) -> None:
        """Waits for all three and never raises: the seed's output, ported."""
        p1, p2, p3 = done("user data"), failed(OSError("DB error")), make()
        on_wait(in_order((p3, "cache data")))
        results = wait_settled([p1, p2, p3], timeout=5)
        assert [r.status for r in results] == ["fulfilled", "rejected", "fulfilled"]
        assert results[0] == Fulfilled("user data", 0)
        assert isinstance(results[1], Rejected)
        assert results[1].reason is p2.exception()
        assert results[1].index == 1
        assert results[2] == Fulfilled("cache data", 2)

    def test_input_order(self, make: Make, on_wait: Any) -> None:
        fs = [make() for _ in range(4)]
        on_wait(in_order((fs[3], 3), (fs[0], ValueError("0")), (fs[2], 2), (fs[1], 1)))
        results = wait_settled(fs, timeout=5)
        assert [r.index for r in results] == [0, 1, 2, 3]
        assert [r.status for r in results] == ["rejected", "fulfilled", "fulfilled", "fulfilled"]

    def test_empty(self) -> None:
        assert wait_settled([]) == []

    def test_plain_values_and_duplicates(self) -> None:
        f = done("x")
        assert wait_settled([1, f, f]) == [Fulfilled(1, 0), Fulfilled("x", 1), Fulfilled("x", 2)]

    def test_mapping(self, make: Make, on_wait: Any) -> None:
        a = make()
        err = KeyError("b")
        on_wait(in_order((a, 1)))
        results = wait_settled({"a": a, "b": failed(err)}, timeout=5)
        assert results == {"a": Fulfilled(1, "a"), "b": Rejected(err, "b")}

    def test_cancelled_and_base_exceptions_recorded(self) -> None:
        results = wait_settled([cancelled(), failed(KeyboardInterrupt()), failed(SystemExit(1))])
        assert isinstance(results[0].reason, CancelledError)  # type: ignore[union-attr]
        assert isinstance(results[1].reason, KeyboardInterrupt)  # type: ignore[union-attr]
        assert isinstance(results[2].reason, SystemExit)  # type: ignore[union-attr]

    def test_timeout_gives_full_result(self, make: Make) -> None:
        """At the deadline the unsettled inputs are Rejected with SettleTimeoutError."""
        slow = make()
        results = wait_settled([done(1), slow], timeout=0.01)
        assert results[0] == Fulfilled(1, 0)
        assert isinstance(results[1], Rejected)
        reason = results[1].reason
        assert isinstance(reason, SettleTimeoutError)
        assert str(reason) == "input 1 did not settle within 0.01 s (1 of 2 inputs unfinished)"
        assert reason.index == 1
        assert not slow.cancelled()

    def test_timeout_cancel_pending(self, make: Make) -> None:
        slow = make()
        results = wait_settled([slow], timeout=0.01, cancel_pending=True)
        assert isinstance(results[0].reason, SettleTimeoutError)  # type: ignore[union-attr]
        assert slow.cancelled()

    def test_timeout_zero_on_settled(self) -> None:
        assert wait_settled([done(1)], timeout=0) == [Fulfilled(1, 0)]

    def test_seed_batch_endpoint_index_bug_fixed(self) -> None:
        """The seed filters then takes the index: records carry the input's own index."""
        ids = ["u1", "u2", "u3"]
        results = wait_settled(
            [done("ann"), failed(LookupError("no u2")), failed(LookupError("no u3"))]
        )
        failed_ids = [ids[r.index] for r in results if r.status == "rejected"]
        assert failed_ids == ["u2", "u3"]


class TestWaitAny:
    def test_first_success_in_time(self, make: Make, on_wait: Any) -> None:
        fs = [make(), make(), make()]
        on_wait(in_order((fs[0], ValueError()), (fs[2], "c"), (fs[1], "b")))
        assert wait_any(fs, timeout=5) == "c"

    def test_already_fulfilled_earliest_in_input_order(self) -> None:
        assert wait_any([failed(ValueError()), done("a"), done("b")]) == "a"

    def test_plain_value_wins(self, make: Make) -> None:
        assert wait_any([make(), 7]) == 7

    def test_all_fail_group_in_input_order(self, make: Make, on_wait: Any) -> None:
        fs = [make(), make()]
        e0, e1 = ValueError("0"), KeyError("1")
        on_wait(in_order((fs[1], e1), (fs[0], e0)))
        with pytest.raises(
            ExceptionGroup, match="^wait_any\\(\\) got no value: all 2 inputs failed"
        ) as info:
            wait_any(fs, timeout=5)
        assert info.value.exceptions == (e0, e1)

    def test_base_exception_group(self) -> None:
        with pytest.raises(BaseExceptionGroup) as info:
            wait_any([failed(KeyboardInterrupt()), cancelled()])
        assert not isinstance(info.value, ExceptionGroup)
        assert isinstance(info.value.exceptions[1], CancelledError)

    def test_timeout(self, make: Make) -> None:
        with pytest.raises(
            SettleTimeoutError, match="^wait_any\\(\\) timed out after 0.01 s with 1 of 2"
        ):
            wait_any([failed(ValueError()), make()], timeout=0.01)

    def test_cancel_pending_after_winner(self, make: Make, on_wait: Any) -> None:
        fs = [make(), make()]
        on_wait(in_order((fs[1], "b")))
        assert wait_any(fs, timeout=5, cancel_pending=True) == "b"
        assert fs[0].cancelled()

    def test_mapping(self) -> None:
        assert wait_any({"a": failed(ValueError()), "b": done(2)}) == 2


class TestWaitFirst:
    def test_first_settled_value(self, make: Make, on_wait: Any) -> None:
        fs = [make(), make()]
        on_wait(in_order((fs[1], "b"), (fs[0], "a")))
        assert wait_first(fs, timeout=5) == "b"

    def test_first_settled_failure_raises(self, make: Make, on_wait: Any) -> None:
        fs = [make(), make()]
        err = ValueError("first")
        on_wait(in_order((fs[1], err), (fs[0], "a")))
        with pytest.raises(ValueError) as info:
            wait_first(fs, timeout=5)
        assert info.value is err

    def test_already_settled_earliest_in_input_order(self, make: Make) -> None:
        err = ValueError()
        with pytest.raises(ValueError) as info:
            wait_first([make(), failed(err), done(1)])
        assert info.value is err

    def test_cancel_pending_after_winner(self, make: Make) -> None:
        slow = make()
        assert wait_first([slow, "cache data"], cancel_pending=True) == "cache data"
        assert slow.cancelled()

    def test_timeout(self, make: Make) -> None:
        with pytest.raises(
            SettleTimeoutError,
            match="^wait_first\\(\\) timed out after 0.01 s with 1 of 1 input unfinished$",
        ):
            wait_first([make()], timeout=0.01)


class TestAsSettled:
    def test_settled_on_entry_first_then_completion_order(self, make: Make, on_wait: Any) -> None:
        a, c = make(), make()
        b, d = done("b"), failed(ValueError("d"))
        on_wait(in_order((c, "c"), (a, "a")))
        records = list(as_settled([a, b, c, d], timeout=5))
        assert [r.index for r in records] == [1, 3, 2, 0]
        assert [r.status for r in records] == ["fulfilled", "rejected", "fulfilled", "fulfilled"]

    def test_empty(self) -> None:
        assert list(as_settled([])) == []

    def test_timeout_yields_the_rest(self, make: Make) -> None:
        slow1, slow2 = make(), make()
        records = list(as_settled([slow1, done(1), slow2], timeout=0.01))
        assert [r.index for r in records] == [1, 0, 2]
        assert all(isinstance(r.reason, SettleTimeoutError) for r in records[1:])  # type: ignore[union-attr]

    def test_mapping_indexes_are_keys(self) -> None:
        records = list(as_settled({"a.json": done(1), "b.json": failed(OSError())}))
        assert [r.index for r in records] == ["a.json", "b.json"]

    def test_duplicates(self, make: Make, on_wait: Any) -> None:
        f = make()
        on_wait(in_order((f, 1)))
        assert sorted(r.index for r in as_settled([f, f], timeout=5)) == [0, 1]

    def test_checks_input_at_call(self) -> None:
        with pytest.raises(TypeError):
            as_settled([1, object.__new__(_HalfFuture)])

    def test_close_early_releases_waiter(self, make: Make) -> None:
        f = make()
        it = as_settled([done(1), f])
        assert next(it).index == 0
        it.close()  # type: ignore[attr-defined]
        f.set_result(2)  # notifies nothing, raises nothing


class _HalfFuture:
    def add_done_callback(self, fn: object) -> None:  # pragma: no cover
        pass


# --- A model of every combinator, checked on generated inputs -------------------------------

_spec = st.one_of(
    st.tuples(st.just("value"), st.integers(0, 9)),
    st.tuples(st.just("error"), st.integers(0, 9)),
    st.tuples(st.just("cancelled"), st.just(0)),
    st.tuples(st.just("plain"), st.integers(0, 9)),
    st.tuples(st.just("later value"), st.integers(0, 9)),
    st.tuples(st.just("later error"), st.integers(0, 9)),
)


class _Model:
    """Builds inputs from specs; ``later`` ones settle, in a drawn order, while the call waits."""

    def __init__(self, specs: list[tuple[str, int]], order: list[int], make: Make) -> None:
        self.specs = specs
        self.errors = {i: ValueError(f"e{i}") for i in range(len(specs))}
        self.inputs: list[Any] = []
        self.later: list[int] = []
        for i, (kind, v) in enumerate(specs):
            if kind == "value":
                self.inputs.append(done(v))
            elif kind == "error":
                self.inputs.append(failed(self.errors[i]))
            elif kind == "cancelled":
                self.inputs.append(cancelled())
            elif kind == "plain":
                self.inputs.append(v)
            else:
                self.inputs.append(make())
                self.later.append(i)
        rank = {i: order.index(k) for k, i in enumerate(self.later)} if self.later else {}
        self.settle_order = sorted(self.later, key=lambda i: rank[i])

    def settle_all(self) -> None:
        for i in self.settle_order:
            kind, v = self.specs[i]
            settle(self.inputs[i], self.errors[i] if kind == "later error" else v)

    def outcome(self, i: int) -> tuple[str, Any]:
        kind, v = self.specs[i]
        if kind in ("error", "later error"):
            return "rejected", self.errors[i]
        if kind == "cancelled":
            return "rejected", CancelledError
        return "fulfilled", v


def _check_record(record: Any, expected: tuple[str, Any], index: int) -> None:
    assert record.status == expected[0]
    assert record.index == index
    if expected[0] == "fulfilled":
        assert record.value == expected[1]
    elif expected[1] is CancelledError:
        assert isinstance(record.reason, CancelledError)
    else:
        assert record.reason is expected[1]


_model_settings = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_specs = st.lists(_spec, max_size=6)
_orders = st.permutations(range(6))


class TestModel:
    @_model_settings
    @given(specs=_specs, order=_orders)
    def test_wait_settled(self, make: Make, on_wait: Any, specs: Any, order: Any) -> None:
        """Every input gets its own record, in input order, whatever settles when."""
        m = _Model(specs, list(order), make)
        on_wait(m.settle_all)
        records = wait_settled(m.inputs, timeout=5)
        assert len(records) == len(specs)
        for i, r in enumerate(records):
            _check_record(r, m.outcome(i), i)

    @_model_settings
    @given(specs=_specs, order=_orders)
    def test_wait_all(self, make: Make, on_wait: Any, specs: Any, order: Any) -> None:
        """Values in order, or the first failure: done ones by input order, then by time."""
        m = _Model(specs, list(order), make)
        on_wait(m.settle_all)
        already = [i for i, (k, _) in enumerate(specs) if k in ("error", "cancelled")]
        later = [i for i in m.settle_order if specs[i][0] == "later error"]
        expected = already[0] if already else later[0] if later else None
        if expected is None:
            assert wait_all(m.inputs, timeout=5) == [m.outcome(i)[1] for i in range(len(specs))]
            return
        with pytest.raises((ValueError, CancelledError)) as info:
            wait_all(m.inputs, timeout=5)
        if specs[expected][0] == "cancelled":
            assert isinstance(info.value, CancelledError)
        else:
            assert info.value is m.errors[expected]

    @_model_settings
    @given(specs=_specs.filter(bool), order=_orders)
    def test_wait_any_and_first(self, make: Make, on_wait: Any, specs: Any, order: Any) -> None:
        m = _Model(specs, list(order), make)
        done_ok = [i for i, (k, _) in enumerate(specs) if k in ("value", "plain")]
        later_ok = [i for i in m.settle_order if specs[i][0] == "later value"]
        on_wait(m.settle_all)
        if done_ok or later_ok:
            winner = done_ok[0] if done_ok else later_ok[0]
            assert wait_any(m.inputs, timeout=5) == specs[winner][1]
        else:
            with pytest.raises(BaseExceptionGroup) as info:
                wait_any(m.inputs, timeout=5)
            assert len(info.value.exceptions) == len(specs)
        m = _Model(specs, list(order), make)
        on_wait(m.settle_all)
        settled = [i for i, (k, _) in enumerate(specs) if not k.startswith("later")]
        first = settled[0] if settled else m.settle_order[0]
        status, payload = m.outcome(first)
        if status == "fulfilled":
            assert wait_first(m.inputs, timeout=5) == payload
        else:
            with pytest.raises((ValueError, CancelledError)):
                wait_first(m.inputs, timeout=5)

    @_model_settings
    @given(specs=_specs, order=_orders)
    def test_as_settled(self, make: Make, on_wait: Any, specs: Any, order: Any) -> None:
        """Settled on entry in input order, then the rest in the order they settled."""
        m = _Model(specs, list(order), make)
        on_wait(m.settle_all)
        records = list(as_settled(m.inputs, timeout=5))
        early = [i for i, (k, _) in enumerate(specs) if not k.startswith("later")]
        assert [r.index for r in records] == early + m.settle_order
        for r in records:
            _check_record(r, m.outcome(r.index), r.index)


def test_as_settled_snapshots_a_list_at_the_call() -> None:
    """The iterator answers for the inputs given, though the caller's list changes before next()."""
    fs: list[Any] = [done(1), done(2)]
    it = as_settled(fs)
    fs.clear()
    assert [r.value for r in it] == [1, 2]  # type: ignore[union-attr]


class Box:
    """A value that a weak reference can watch."""


class Oops(Exception):
    """An exception that a weak reference can watch (builtin ones cannot be)."""


def _settle_by_hand(f: Future[Any], outcome: object) -> None:
    if isinstance(outcome, BaseException):
        f.set_exception(outcome)
    else:
        f.set_result(outcome)


@pytest.mark.timeout(10)
def test_as_settled_forgets_what_it_yielded() -> None:
    """Once a record is handed out the iterator holds no reference to it, its value or its
    future (CPython's test_free_reference for as_completed), the cyclic GC off."""
    gc.collect()
    gc.disable()
    try:
        fs: list[Future[Any]] = [Future() for _ in range(6)]
        outcomes: list[object] = [Box(), Oops("x"), Box(), Box(), Oops("y"), Box()]
        future_refs = [weakref.ref(f) for f in fs]
        outcome_refs = [weakref.ref(o) for o in outcomes]
        _settle_by_hand(fs[0], outcomes[0])
        _settle_by_hand(fs[1], outcomes[1])
        it = as_settled(fs, timeout=5)
        waiting = list(zip(fs[2:], outcomes[2:], strict=True))  # settled one per record
        del fs, outcomes
        seen = []
        for record in it:
            index = record.index
            seen.append(index)
            del record  # records take no weak references: the outcome they hold stands in
            assert future_refs[index]() is None
            assert outcome_refs[index]() is None
            if waiting:
                _settle_by_hand(*waiting.pop(0))
        assert seen == [0, 1, 2, 3, 4, 5]
    finally:
        gc.enable()


def test_as_settled_forgets_an_input_it_gave_up_on() -> None:
    """At the deadline, a pending input's timeout record is the last the iterator holds of it."""
    gc.collect()
    gc.disable()
    try:
        f: Future[Any] = Future()
        ref = weakref.ref(f)
        it = as_settled([f, done(1)], timeout=0)
        del f
        assert next(it).index == 1
        record = next(it)
        assert isinstance(record.reason, SettleTimeoutError)  # type: ignore[union-attr]
        del record
        assert ref() is None
        assert list(it) == []
    finally:
        gc.enable()


class EarlyCallbacks:
    """An engine's future that runs its done-callbacks before done() turns true (a race)."""

    def __init__(self) -> None:
        self._inner: Future[Any] = Future()
        self._callbacks: list[Callable[[Any], object]] = []
        self.asked = threading.Event()  # set when exception() is called

    def add_done_callback(self, fn: Callable[[Any], object]) -> None:
        self._callbacks.append(fn)

    def fire(self) -> None:
        for fn in self._callbacks:
            fn(self)

    def done(self) -> bool:
        return self._inner.done()

    def result(self, timeout: float | None = None) -> Any:
        return self._inner.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self.asked.set()
        return self._inner.exception(timeout)

    def cancel(self) -> bool:  # pragma: no cover - not used here
        return self._inner.cancel()


@pytest.mark.timeout(10)
def test_as_settled_waits_out_callbacks_that_come_before_done(on_wait: Any) -> None:
    """A notification that comes before done() turns true is never read as a record of
    nothing: the call waits until the engine's done() turns true, then reads the outcome."""
    f = EarlyCallbacks()

    def engine() -> None:
        f.fire()  # every callback has run, done() is still false
        f._inner.set_result("late")  # this engine never runs its callbacks again

    on_wait(engine)
    assert list(as_settled([f, "now"], timeout=5)) == [Fulfilled("now", 1), Fulfilled("late", 0)]


@pytest.mark.timeout(10)
def test_as_settled_early_callbacks_still_bounded_by_the_deadline(on_wait: Any) -> None:
    """An engine that notifies and never settles gets a timeout record at the deadline."""
    f = EarlyCallbacks()
    on_wait(f.fire)
    (record,) = as_settled([f], timeout=0.05)
    assert isinstance(record, Rejected)
    assert isinstance(record.reason, SettleTimeoutError)


class DropsResultOnCancel(DuckFuture):
    """Like a dask future: cancel() on a finished one throws its result away."""

    dropped = False

    def cancel(self) -> None:
        if self.done():
            self.dropped = True
        super().cancel()


@pytest.mark.timeout(10)
def test_cancel_pending_leaves_inputs_finished_meanwhile_alone(on_wait: Any) -> None:
    """An input that settled after the call looked and before it cancels is not cancelled."""
    failing, finished = DropsResultOnCancel(), DropsResultOnCancel()

    def engine() -> None:
        finished.set_result(1)
        failing.set_exception(ValueError("boom"))

    on_wait(engine)
    with pytest.raises(ValueError, match="^boom$"):
        wait_all([failing, finished], timeout=5, cancel_pending=True)
    assert not finished.dropped
    assert finished.result() == 1
