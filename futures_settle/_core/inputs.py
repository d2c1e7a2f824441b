"""Checking what a call was given, before any waiting starts."""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Mapping
from inspect import GEN_CLOSED, getgeneratorstate
from types import GeneratorType
from typing import Any

from .._errors import as_seconds
from .kinds import close_unstarted
from .state import looks_like_future

__all__ = [
    "check_flag",
    "deadline_of",
    "materialize",
    "need_inputs",
    "not_iterable",
    "refuse_exhausted",
    "type_phrase",
]

_NOT_ITERABLE_INPUTS = (str, bytes, bytearray, memoryview)


def type_phrase(value: object) -> str:
    """Name ``value``'s type with its article, for messages: ``"a str"``, ``"an int"``."""
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in ('a', 'e', 'i', 'o', 'u') else 'a'} {name}"


def deadline_of(timeout: object) -> float | None:
    """Turn ``timeout`` (seconds or ``None``) into a ``time.monotonic()`` deadline.

    A negative timeout is a deadline already passed, as in the stdlib; an
    infinite one (or an int too big for a float) is no deadline.
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise TypeError(
            f"timeout must be a number of seconds or None, "
            f"got {timeout!r} that is {type_phrase(timeout)}"
        )
    seconds = as_seconds(timeout)  # type: ignore[arg-type]  # a Real, Fraction included
    if math.isnan(seconds):
        raise ValueError("timeout must be a number of seconds or None, got nan")
    if seconds == math.inf:
        return None
    return time.monotonic() + seconds


def check_flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r} that is {type_phrase(value)}")


def materialize(fs: object, fn: str) -> tuple[list[Any] | tuple[Any, ...], list[Any] | None]:
    """Consume the input once: ``(items, keys)``, ``keys`` only for a mapping.

    Lists and tuples are used as they are, not copied (a call reads a list
    again by position while it waits: changing it meanwhile is a race), other
    iterables are read into a list (their own errors propagate, ``TypeError``
    included: the very object, not one of ours). A mapping
    gives its values, with its keys in the same order; the keys of a mapping
    that is no dict must be hashable and distinct, as the answer's are.
    ``None``, non-iterables, strings and bytes (a string of futures is
    always a mistake), a bare future and an exhausted generator are refused.
    """
    t = type(fs)
    if t is list or t is tuple:
        return fs, None  # type: ignore[return-value]
    if fs is None or isinstance(fs, _NOT_ITERABLE_INPUTS):
        raise TypeError(f"{fn}() expected an iterable of futures, got {t.__name__}")
    if looks_like_future(fs):
        raise TypeError(
            f"{fn}() expected an iterable of futures, got {t.__name__}; "
            f"wrap a single future in a list: {fn}([future])"
        )
    if isinstance(fs, Mapping):
        pairs = list(fs.items())
        keys = [k for k, _ in pairs]
        if not isinstance(fs, dict):
            _check_keys(keys, fn)  # a dict's keys are distinct and hashable by construction
        return [v for _, v in pairs], keys
    if not_iterable(fs):
        close_unstarted((fs,))  # wait_all(main()): the coroutine would also warn, unawaited
        raise TypeError(f"{fn}() expected an iterable of futures, got {t.__name__}")
    refuse_exhausted(fs, fn)
    return list(fs), None  # type: ignore[call-overload]


def refuse_exhausted(it: object, fn: str) -> None:
    """Refuse a generator that has already finished: read again, it would silently give nothing.

    A generator is read once; the second call over the same one would see
    an empty input and answer for it (``[]``, no records) as if that were
    the user's data. Only a finished (closed) generator is refused: a
    fresh or partly read one gives what it has left, as ``list()`` does.
    Other exhausted iterators cannot be told from empty ones without
    reading them.
    """
    if type(it) is GeneratorType and getgeneratorstate(it) == GEN_CLOSED:
        raise ValueError(
            f"{fn}() got a generator that is already exhausted: a generator can be read "
            f"only once; pass a list, or a new generator"
        )


def _check_keys(keys: list[Any], fn: str) -> None:
    """Refuse a mapping whose keys could not be a dict's: the answer is a dict by those keys."""
    seen: set[Any] = set()
    for key in keys:
        try:
            twice = key in seen
        except TypeError:
            raise TypeError(
                f"{fn}() expected a mapping with hashable keys, "
                f"got key {key!r} that is {type_phrase(key)}"
            ) from None
        if twice:
            raise ValueError(f"{fn}() expected a mapping with distinct keys, got {key!r} twice")
        seen.add(key)


_MISSING = object()


def not_iterable(x: object) -> bool:
    """Whether ``iter(x)`` cannot work at all, told without calling it.

    ``iter()`` raises ``TypeError`` both for an object that is no iterable
    and from inside an ``__iter__`` that fails: catching it would replace
    the iterable's own error with ours. So look at the type as ``iter()``
    does (``__iter__``, which ``None`` disables, or the old ``__getitem__``
    protocol) and let ``iter()`` itself raise whatever it raises.
    """
    t = type(x)
    method = getattr(t, "__iter__", _MISSING)
    if method is _MISSING:
        return getattr(t, "__getitem__", None) is None
    return method is None


def need_inputs(fn: str, items: object) -> None:
    """``wait_any`` and ``wait_first`` have no answer for an empty input."""
    if not items:
        raise ValueError(f"{fn}() needs at least one input, got none")
