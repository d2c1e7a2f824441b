"""Reading futures: kinds, the guarded fast path, and its public-method twin."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest

from futures_settle import _state, wait_all, wait_settled

from conftest import cancelled, done, failed
from duck import DuckFuture


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
