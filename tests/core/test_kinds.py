"""Kinds of input, told from their types: the bounded cache and the refusals."""

from __future__ import annotations

import inspect
import threading
from concurrent.futures import Future
from types import CoroutineType
from typing import Any
from unittest.mock import Mock

import pytest

from futures_settle._core import kinds as _kinds
from futures_settle._core import state as _state

from helpers.duck import DuckFuture


async def _coroutine() -> None:  # pragma: no cover - never run
    pass


@pytest.mark.parametrize(
    ("t", "kind"),
    [
        (Future, _kinds.FAST),
        (DuckFuture, _kinds.DUCK),
        (int, _kinds.PLAIN),
        (Mock, _kinds.PLAIN),  # a Mock answers any attribute, but not on its class
        (CoroutineType, _kinds.AWAITABLE),
    ],
    ids=["Future", "DuckFuture", "int", "Mock", "coroutine"],
)
def test_compute_kind(t: type, kind: int) -> None:
    assert _kinds.compute_kind(t) == kind


def test_remember_drops_one_entry_at_a_time() -> None:
    """A full cache drops its newest entry: the older ones stay, the size stays bounded."""
    cache: dict[type, Any] = {}
    kept = [type(f"Kept{i}", (), {}) for i in range(_kinds.MAX_TYPES)]
    for t in kept:
        _kinds.remember(cache, t, 1)
    for _ in range(100):
        _kinds.remember(cache, type("OneOff", (), {}), 2)
        assert len(cache) == _kinds.MAX_TYPES
    assert all(cache.get(t) == 1 for t in kept[:-1])


def test_kind_cache_is_bounded_and_keeps_what_it_had() -> None:
    """A flood of new types churns one place: the types already cached stay cached."""
    _state.kind_of(Future(), "f", 0)
    for _ in range(2 * _kinds.MAX_TYPES):
        _state.kind_of(Mock(), "f", 0)
    assert len(_state._KINDS) <= _kinds.MAX_TYPES
    assert _state._KINDS.get(Future) == _kinds.FAST


@pytest.mark.timeout(30)
def test_kind_cache_under_threads(fast_switching: None) -> None:
    """Threads flooding the cache with new types never break one another's lookups."""
    errors: list[BaseException] = []
    go = threading.Barrier(4)

    def flood() -> None:
        try:
            go.wait()
            for _ in range(3000):
                assert _state.kind_of(Mock(), "f", 0) == _kinds.PLAIN
                assert _state.kind_of(Future(), "f", 0) == _kinds.FAST
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _state.kind_of(Mock(), "f", 0)  # any overshoot of racing inserts is taken back
    assert len(_state._KINDS) <= _kinds.MAX_TYPES


def test_close_unstarted_closes_only_coroutines_that_never_ran() -> None:
    created = _coroutine()

    async def suspends() -> None:
        await _Yield()

    started = suspends()
    started.send(None)
    try:
        _kinds.close_unstarted([1, created, started, "x"])
        assert inspect.getcoroutinestate(created) == inspect.CORO_CLOSED
        assert inspect.getcoroutinestate(started) == inspect.CORO_SUSPENDED
    finally:
        started.close()


class _Yield:
    def __await__(self) -> Any:
        yield
