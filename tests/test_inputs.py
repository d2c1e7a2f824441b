"""Bad input is refused with a clear error, before any waiting or cancelling."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from concurrent.futures import Future
from fractions import Fraction
from typing import Any

import pytest

from futures_settle import as_settled, wait_all, wait_any, wait_first, wait_settled

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
