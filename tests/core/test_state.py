"""Reading futures: kinds, the guarded fast path, and its public-method twin."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any
from unittest.mock import Mock

import pytest

from futures_settle import (
    Rejected,
    as_settled,
    map_all,
    map_settled,
    wait_all,
    wait_any,
    wait_first,
    wait_settled,
)
from futures_settle._core import kinds as _kinds
from futures_settle._core import state as _state

from conftest import cancelled, done, failed
from helpers.duck import DuckFuture


class ResultOverride(Future):  # type: ignore[type-arg]
    def result(self, timeout: float | None = None) -> Any:
        return ("wrapped", super().result(timeout))


class Plain(Future):  # type: ignore[type-arg]
    """A subclass that keeps every method: read directly, like loky's."""


def test_probe_passes_on_this_interpreter() -> None:
    assert _state.FAST_PATH is True


@pytest.mark.parametrize(
    ("obj", "kind"),
    [
        (Future(), _state.FAST),
        (Plain(), _state.FAST),
        (ResultOverride(), _state.DUCK),
        (DuckFuture(), _state.DUCK),
        (1, _state.PLAIN),
        ("s", _state.PLAIN),
        (Future, _state.PLAIN),  # the class itself is a plain value
    ],
)
def test_kinds(obj: object, kind: int) -> None:
    assert _state.kind_of(obj, "f", 0) == kind


def test_subclass_with_own_result_goes_through_public_methods() -> None:
    """A subclass that overrides result() gets its own result() called, not _result read."""
    f = ResultOverride()
    f.set_result(1)
    assert wait_all([f]) == [("wrapped", 1)]


def test_loky_future_reads_directly() -> None:
    loky_base = pytest.importorskip("loky._base", reason="loky is an optional extra")
    assert _state.kind_of(loky_base.Future(), "f", 0) == _state.FAST


@pytest.fixture
def generic_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn the fast path off: every future goes through its public methods."""
    monkeypatch.setattr(_state, "FAST_PATH", False)
    monkeypatch.setattr(_state, "_KINDS", {})


def test_both_paths_agree(generic_only: None) -> None:
    assert _state.kind_of(Future(), "f", 0) == _state.DUCK
    err = ValueError()
    inputs = [done(1), failed(err), cancelled(), 4]
    records = wait_settled(inputs)
    assert [r.status for r in records] == ["fulfilled", "rejected", "rejected", "fulfilled"]
    assert records[1].reason is err  # type: ignore[union-attr]


def test_outcome_of_pending_cancelled_and_finished() -> None:
    f: Future[int] = Future()
    assert _state.outcome(f, _state.FAST) == (_state.PENDING, None)
    assert _state.outcome(done(2), _state.FAST) == (_state.OK, 2)
    code, exc = _state.outcome(cancelled(), _state.FAST)
    assert code == _state.FAIL
    assert type(exc).__name__ == "CancelledError"


class Announcing(DuckFuture):
    """Runs ``action`` once, when a done-callback is first added: settles inputs mid-wait."""

    def __init__(self, action: Callable[[], object]) -> None:
        super().__init__()
        self._action: Callable[[], object] | None = action

    def add_done_callback(self, fn: Callable[[Any], object]) -> None:
        super().add_done_callback(fn)
        action, self._action = self._action, None
        if action is not None:
            action()


def _class_failures(make: Callable[[], Any], when: str) -> list[Any]:
    """Two inputs failed with exception classes (ValueError, KeyError), before or mid-wait."""
    f = make()

    def fail_both() -> None:
        f.set_exception(ValueError)
        g.set_exception(KeyError)

    g = Announcing(fail_both)
    if when == "before":
        fail_both()
    return [f, g]


def _group(call: Callable[[], object]) -> list[BaseException]:
    with pytest.raises(BaseExceptionGroup) as info:
        call()
    return list(info.value.exceptions)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("when", ["before", "during"])
@pytest.mark.parametrize(
    ("call", "read"),
    [
        (wait_all, lambda r: [r]),
        (wait_first, lambda r: [r]),
        (wait_settled, lambda r: [rec.reason for rec in r]),
        (lambda fs, **kw: list(as_settled(fs, **kw)), lambda r: [rec.reason for rec in r]),
        (wait_any, list),
    ],
    ids=["wait_all", "wait_first", "wait_settled", "as_settled", "wait_any"],
)
def test_exception_class_reads_as_an_instance(
    make: Callable[[], Any],
    when: str,
    call: Callable[..., Any],
    read: Callable[[Any], list[BaseException]],
) -> None:
    """set_exception(ValueError) is stored as a class; every call sees an instance, as result()."""
    fs = _class_failures(make, when)
    try:
        got = call(fs, timeout=5)
    except BaseExceptionGroup as group:
        got = group.exceptions
    except Exception as exc:
        got = exc
    reasons = read(got)
    assert [type(r) for r in reasons] == [ValueError, KeyError][: len(reasons)]
    assert all(r.args == () for r in reasons)
    if not isinstance(got, Exception):  # recorded, never raised: no traceback of ours
        assert all(r.__traceback__ is None and r.__context__ is None for r in reasons)


def test_exception_class_unwraps_the_recorded_instance() -> None:
    """Within one record the reason is one instance: unwrap() raises the very object."""
    f: Future[Any] = Future()
    f.set_exception(ValueError)
    (record,) = wait_settled([f])
    assert isinstance(record, Rejected)
    with pytest.raises(ValueError) as info:
        record.unwrap()
    assert info.value is record.reason


def test_something_else_stored_as_exception_reads_as_result_raises() -> None:
    """set_exception("oops"): result() raises TypeError, and so the record says."""
    f: Future[Any] = Future()
    f.set_exception("oops")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^exceptions must derive from BaseException$"):
        f.result()
    (record,) = wait_settled([f])
    assert isinstance(record, Rejected)
    assert type(record.reason) is TypeError
    assert str(record.reason) == "exceptions must derive from BaseException"


class ClassFailingExecutor:
    """An engine whose futures fail with an exception class."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        f: Future[Any] = Future()
        f.set_exception(LookupError)
        return f


@pytest.mark.parametrize("chunksize", [1, 2])
def test_maps_read_exception_classes_as_instances(chunksize: int) -> None:
    records = list(map_settled(str, range(3), executor=ClassFailingExecutor(), chunksize=chunksize))
    assert [type(r.reason) for r in records] == [LookupError] * 3  # type: ignore[union-attr]
    with pytest.raises(LookupError):
        list(map_all(str, range(3), executor=ClassFailingExecutor(), chunksize=chunksize))


def _calls() -> list[Callable[[list[Any]], Any]]:
    return [
        lambda fs: wait_first(fs, timeout=5),
        lambda fs: wait_any(fs, timeout=5),
        lambda fs: list(as_settled(fs, timeout=5)),
        lambda fs: wait_settled(fs, timeout=5),
        lambda fs: wait_all(fs, timeout=5),
    ]


CALL_IDS = ["wait_first", "wait_any", "as_settled", "wait_settled", "wait_all"]


def _settled_when_registered() -> list[Any]:
    """Two pending inputs that settle when a call registers on the second (no sleep)."""
    late: Future[Any] = Future()

    def settle() -> None:
        late.set_result("late")
        announcing.set_result("announcing")

    announcing = Announcing(settle)
    return [late, announcing]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("call", _calls(), ids=CALL_IDS)
def test_more_types_than_the_kind_cache_holds(call: Callable[[list[Any]], Any]) -> None:
    """5,000 Mocks (a class each) in one input: the per-type cache overflows mid-call."""
    late, announcing = _settled_when_registered()
    call([late, *(Mock() for _ in range(5000)), announcing])
    assert len(_state._KINDS) <= _kinds.MAX_TYPES


class Churning(DuckFuture):
    """Runs another call over 5,000 new types whenever asked done(): a busy program."""

    def done(self) -> bool:
        wait_settled([Mock() for _ in range(5000)])
        return super().done()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("call", _calls(), ids=CALL_IDS)
def test_kind_cache_churned_by_another_call_meanwhile(call: Callable[[list[Any]], Any]) -> None:
    """Another call fills the cache while this one is between checking and reading its input."""
    churning = Churning()
    churning.set_result(1)
    late, announcing = _settled_when_registered()
    call([late, churning, announcing])
