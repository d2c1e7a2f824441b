"""Bad input is refused with a clear error, before any waiting or cancelling."""

from __future__ import annotations

import asyncio
import gc
import inspect
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction
from typing import Any

import pytest

from futures_settle import (
    SettleTimeoutError,
    as_settled,
    map_all,
    map_settled,
    wait_all,
    wait_any,
    wait_first,
    wait_settled,
)

from helpers.duck import DuckFuture

FUNCTIONS: list[Callable[..., Any]] = [wait_all, wait_settled, wait_any, wait_first, as_settled]
names = pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)


@names
@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        (None, "NoneType"),
        (3, "int"),
        ("abc", "str"),
        (b"abc", "bytes"),
        (bytearray(b"a"), "bytearray"),
    ],
)
def test_not_an_iterable_of_futures(fn: Callable[..., Any], bad: object, shown: str) -> None:
    """None, numbers, strings and bytes: TypeError naming what arrived."""
    with pytest.raises(
        TypeError, match=f"^{fn.__name__}\\(\\) expected an iterable of futures, got {shown}$"
    ):
        fn(bad)


@names
def test_bare_future(fn: Callable[..., Any]) -> None:
    """A single future instead of a list: TypeError with the fix."""
    f: Future[int] = Future()
    message = (
        f"^{fn.__name__}\\(\\) expected an iterable of futures, got Future; "
        f"wrap a single future in a list: {fn.__name__}\\(\\[future\\]\\)$"
    )
    with pytest.raises(TypeError, match=message):
        fn(f)
    assert not f.cancelled()


@names
def test_asyncio_future_refused(fn: Callable[..., Any]) -> None:
    """asyncio futures would hang a blocking wait: refused before waiting."""
    loop = asyncio.new_event_loop()
    try:
        af = loop.create_future()
        with pytest.raises(
            TypeError, match="cannot wait on asyncio futures in a blocking call, input 1 is Future"
        ):
            fn([1, af])
    finally:
        loop.close()


@names
def test_nan_timeout(fn: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="^timeout must be a number of seconds or None, got nan$"):
        fn([1], timeout=math.nan)


@names
@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        ("1", "'1' that is a str"),
        (True, "True that is a bool"),
        ([1], "[1] that is a list"),
        (..., "Ellipsis that is an ellipsis"),
        (1j, "1j that is a complex"),
    ],
)
def test_timeout_type(fn: Callable[..., Any], bad: object, shown: str) -> None:
    """The message names the type with its article: "a str", "an ellipsis"."""
    with pytest.raises(TypeError) as info:
        fn([1], timeout=bad)
    assert str(info.value) == f"timeout must be a number of seconds or None, got {shown}"


@names
def test_timeout_real_numbers(fn: Callable[..., Any]) -> None:
    """Fractions, negative numbers (already expired) and infinity are accepted."""
    for t in (Fraction(1, 2), -1, math.inf, 0):
        result = fn([1], timeout=t)
        if fn is as_settled:
            result = list(result)
        assert result in (1, [1]) or result[0].value == 1


class PairMapping(Mapping[Any, Any]):
    """A mapping that is no dict: its keys need not be hashable, nor distinct."""

    def __init__(self, pairs: list[tuple[Any, Any]]) -> None:
        self.pairs = pairs

    def __getitem__(self, key: Any) -> Any:
        for k, v in self.pairs:
            if k is key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[Any]:
        return iter([k for k, _ in self.pairs])

    def __len__(self) -> int:
        return len(self.pairs)


class Same:
    """Every instance equals every other one."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "Same()"


@names
def test_mapping_keys_unhashable(fn: Callable[..., Any]) -> None:
    """Refused at the call, before waiting on the pending input (the answer is a dict)."""
    pending: Future[Any] = Future()
    with pytest.raises(TypeError) as info:
        fn(PairMapping([([1], pending), ([2], 2)]), timeout=0.5)
    name = fn.__name__
    assert str(info.value) == (
        f"{name}() expected a mapping with hashable keys, got key [1] that is a list"
    )
    assert not pending.done()


@names
def test_mapping_keys_equal(fn: Callable[..., Any]) -> None:
    """Two keys that compare equal would share one place in the answer: refused."""
    pending: Future[Any] = Future()
    with pytest.raises(ValueError) as info:
        fn(PairMapping([(Same(), pending), (Same(), 2)]), timeout=0.5)
    name = fn.__name__
    assert str(info.value) == f"{name}() expected a mapping with distinct keys, got Same() twice"


@names
def test_timeout_beyond_float(fn: Callable[..., Any]) -> None:
    """An int too big for a float waits like infinity; its negative is already expired."""
    result = fn([1], timeout=10**400)
    if fn is as_settled:
        result = list(result)
    assert result in (1, [1]) or result[0].value == 1
    pending: Future[Any] = Future()
    if fn is as_settled:
        [record] = as_settled([pending], timeout=-(10**400))
        assert (
            str(record.reason) == "input 0 did not settle within -inf s (1 of 1 inputs unfinished)"
        )
        return
    if fn is wait_settled:
        [record] = wait_settled([pending], timeout=-(10**400))
        assert (
            str(record.reason) == "input 0 did not settle within -inf s (1 of 1 inputs unfinished)"
        )
        return
    with pytest.raises(SettleTimeoutError) as info:
        fn([pending], timeout=-(10**400))
    name = fn.__name__
    assert str(info.value) == f"{name}() timed out after -inf s with 1 of 1 input unfinished"


def test_map_timeout_beyond_float() -> None:
    """The maps take an int too big for a float as a timeout, either sign."""
    gate = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        assert list(map_all(abs, [-1], executor=pool, timeout=10**400)) == [1]
        pool.submit(gate.wait, 30)  # the worker is busy: the item cannot settle
        try:
            [record] = map_settled(abs, [-1], executor=pool, timeout=-(10**400))
            with pytest.raises(SettleTimeoutError) as info:
                list(map_all(abs, [-1], executor=pool, timeout=-(10**400)))
        finally:
            gate.set()
    assert str(record.reason) == "item 0 did not settle within -inf s (1 items in flight)"
    assert str(info.value) == "map_all() timed out after -inf s with 1 items in flight"


@pytest.mark.parametrize(
    "fn", [wait_all, wait_settled, wait_any, wait_first], ids=lambda f: f.__name__
)
def test_cancel_pending_type(fn: Callable[..., Any]) -> None:
    with pytest.raises(TypeError, match="^cancel_pending must be a bool, got 1 that is an int$"):
        fn([1], cancel_pending=1)


@pytest.mark.parametrize(
    "fn", [wait_all, wait_settled, wait_any, wait_first], ids=lambda f: f.__name__
)
def test_bad_item_reported_before_failure_raised(fn: Callable[..., Any]) -> None:
    """A failure early in the input does not hide bad input later; nothing is cancelled."""
    bad: Future[int] = Future()
    bad.set_exception(ValueError("x"))
    pending: Future[int] = Future()
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(TypeError):
            fn([bad, pending, loop.create_future()], cancel_pending=True)
    finally:
        loop.close()
    assert not pending.cancelled()


def test_incomplete_future_like() -> None:
    """An object with add_done_callback() but not the rest is named as such."""

    class Half:
        def add_done_callback(self, fn: object) -> None:  # pragma: no cover
            pass

    message = (
        "^wait_all\\(\\) expected futures with add_done_callback\\(\\), done\\(\\), "
        "result\\(\\) and exception\\(\\), "
        "input 0 is Half without done\\(\\), result\\(\\), exception\\(\\)$"
    )
    with pytest.raises(TypeError, match=message):
        wait_all([Half()])


@pytest.mark.parametrize("fn", [wait_any, wait_first], ids=lambda f: f.__name__)
def test_empty_refused(fn: Callable[..., Any]) -> None:
    """JavaScript's race([]) hangs forever: we say why instead."""
    with pytest.raises(
        ValueError, match=f"^{fn.__name__}\\(\\) needs at least one input, got none$"
    ):
        fn([])


def test_iterator_error_propagates() -> None:
    def gen() -> Any:
        yield 1
        raise RuntimeError("input broke")

    with pytest.raises(RuntimeError, match="^input broke$"):
        wait_all(gen())


class Poisoned:
    """An iterable whose ``__iter__`` (or ``__next__``) raises a TypeError of its own."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.error = TypeError(f"poisoned {where}")

    def __iter__(self) -> Poisoned:
        if self.where == "__iter__":
            raise self.error
        return self

    def __next__(self) -> Any:
        raise self.error


class OldSequence:
    """Iterable through the old __getitem__ protocol only."""

    def __getitem__(self, i: int) -> int:
        if i >= 2:
            raise IndexError(i)
        return i


class IterDisabled(OldSequence):
    """``__iter__ = None`` says: not iterable, even with __getitem__."""

    __iter__ = None  # type: ignore[assignment]


@names
@pytest.mark.parametrize("where", ["__iter__", "__next__"])
def test_iterables_own_type_error_propagates(fn: Callable[..., Any], where: str) -> None:
    """A TypeError raised by the iterable itself comes out, the very object (test262's poisoned
    iterators), not replaced by "expected an iterable"."""
    bad = Poisoned(where)
    with pytest.raises(TypeError) as info:
        fn(bad)
    assert info.value is bad.error


@names
def test_old_sequence_protocol_and_disabled_iter(fn: Callable[..., Any]) -> None:
    """__getitem__ alone is iterable, as for iter(); __iter__ = None is not."""
    got = fn(OldSequence())
    if fn in (wait_any, wait_first):
        assert got == 0
    else:
        assert [getattr(r, "value", r) for r in got] == [0, 1]
    with pytest.raises(
        TypeError, match=f"^{fn.__name__}\\(\\) expected an iterable of futures, got IterDisabled$"
    ):
        fn(IterDisabled())


@pytest.mark.parametrize("fn", [map_all, map_settled], ids=lambda f: f.__name__)
@pytest.mark.parametrize("where", ["__iter__", "__next__"])
def test_maps_let_an_iterables_own_type_error_propagate(fn: Callable[..., Any], where: str) -> None:
    """The maps' argument check refuses non-iterables, never an iterable's own TypeError."""
    bad = Poisoned(where)
    pool = ThreadPoolExecutor(1)
    try:
        with pytest.raises(TypeError) as info:
            list(fn(str, [1], bad, executor=pool))
        assert info.value is bad.error
        with pytest.raises(
            TypeError, match=f"^{fn.__name__}\\(\\) expected iterables of arguments, got object$"
        ):
            fn(str, object(), executor=pool)
        assert list(fn(str, OldSequence(), executor=pool)) != []
    finally:
        pool.shutdown()


async def fetch() -> str:
    return "user data"


class Awaitable:
    """An awaitable that is not a future."""

    def __await__(self) -> Any:  # pragma: no cover - never awaited
        yield
        return 1


def _awaitable_refused(fn: Callable[..., Any], index: int, name: str) -> str:
    return (
        f"^{fn.__name__}\\(\\) cannot wait on awaitables in a blocking call, input {index} is "
        f"{name}; run it in async code \\(asyncio.run\\(\\), asyncio.gather\\(\\)\\), "
        f"or submit a plain function to an executor$"
    )


@names
def test_coroutines_refused_and_closed(fn: Callable[..., Any]) -> None:
    """A coroutine is no future: refused before waiting, and every unstarted coroutine of the
    input closed, so no 'never awaited' warning (an error here) follows the TypeError."""
    first, second = fetch(), fetch()
    pending: Future[int] = Future()
    kwargs = {} if fn is as_settled else {"cancel_pending": True}
    with pytest.raises(TypeError, match=_awaitable_refused(fn, 1, "coroutine")):
        fn([pending, first, second], **kwargs)
    assert inspect.getcoroutinestate(first) == inspect.CORO_CLOSED
    assert inspect.getcoroutinestate(second) == inspect.CORO_CLOSED
    assert not pending.cancelled()


@names
def test_coroutines_from_a_generator_leave_no_warning(fn: Callable[..., Any]) -> None:
    """Coroutines only the call held (a generator's): freed after the error, never warning."""
    with pytest.raises(TypeError, match=_awaitable_refused(fn, 0, "coroutine")):
        fn(fetch() for _ in range(3))
    gc.collect()


@names
def test_other_awaitables_refused(fn: Callable[..., Any]) -> None:
    with pytest.raises(TypeError, match=_awaitable_refused(fn, 0, "Awaitable")):
        fn([Awaitable()])


@names
def test_started_coroutine_is_left_alone(fn: Callable[..., Any]) -> None:
    """A coroutine that started may belong to a running task: refused, never closed."""

    async def suspends() -> None:
        await asyncio.sleep(0)

    coro = suspends()
    coro.send(None)  # now suspended at its await
    try:
        with pytest.raises(TypeError, match=_awaitable_refused(fn, 0, "coroutine")):
            fn([coro])
        assert inspect.getcoroutinestate(coro) == inspect.CORO_SUSPENDED
    finally:
        coro.close()


@names
def test_bare_coroutine_refused_and_closed(fn: Callable[..., Any]) -> None:
    coro = fetch()
    with pytest.raises(
        TypeError, match=f"^{fn.__name__}\\(\\) expected an iterable of futures, got coroutine$"
    ):
        fn(coro)
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


def test_awaitable_futures_are_futures() -> None:
    """A future that is also awaitable (dask's are) is waited on as a future."""

    class AwaitableDuck(DuckFuture):
        def __await__(self) -> Any:  # pragma: no cover - never awaited
            yield
            return 1

    f = AwaitableDuck()
    f.set_result("dask-like")
    assert wait_all([f], timeout=5) == ["dask-like"]
