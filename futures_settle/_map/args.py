"""The maps' arguments: checked at the call, before any input is read or work submitted."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any

from .._core.inputs import check_flag, deadline_of, not_iterable, refuse_exhausted, type_phrase
from .chunking import Plan, plan

__all__ = ["check"]


def _check_int(fn: str, name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{fn}() {name} must be an int >= 1 or None, got {value!r} that is {type_phrase(value)}"
        )
    if value < 1:
        raise ValueError(f"{fn}() {name} must be >= 1, got {value}")
    if value > sys.maxsize:
        raise ValueError(f"{fn}() {name} must be <= sys.maxsize ({sys.maxsize}), got {value}")
    return value


def check(
    name: str,
    fn: object,
    iterables: tuple[Iterable[Any], ...],
    executor: object,
    buffersize: object,
    timeout: object,
    ordered: object,
    chunksize: object,
) -> tuple[float | None, Plan, list[Iterator[Any]]]:
    if not callable(fn):
        raise TypeError(f"{name}() expected a callable as fn, got {type(fn).__name__}")
    if not iterables:
        raise TypeError(f"{name}() needs at least one iterable of arguments")
    if not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"{name}() expected an executor with submit(), got {type(executor).__name__}"
        )
    deadline = deadline_of(timeout)
    check_flag("ordered", ordered)
    chunk = _check_int(name, "chunksize", chunksize)
    size = _check_int(name, "buffersize", buffersize)
    iterators = []
    for it in iterables:
        if isinstance(it, (str, bytes, bytearray)) or it is None or not_iterable(it):
            raise TypeError(f"{name}() expected iterables of arguments, got {type(it).__name__}")
        refuse_exhausted(it, name)
        iterators.append(iter(it))  # an iterable's own errors propagate, TypeError included
    return deadline, plan(executor, chunk, size), iterators
