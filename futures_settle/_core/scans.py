"""One pass over a call's whole input: what is settled already, and what it still waits on.

Each wait function starts with a scan: it checks every input's kind,
reads what has settled (stdlib futures directly, other engines' in one
batch per engine) and lists the rest in a ``Pending``, the set of inputs
the waiting core registers on.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError
from typing import Any

from .._errors import as_exception
from .._records import Fulfilled, Rejected
from . import state as _state
from .layout import CANCELLED as _CANCELLED
from .layout import CANCELLED_AND_NOTIFIED as _CANCELLED_AND_NOTIFIED
from .layout import FINISHED as _FINISHED
from .state import (
    FAST,
    OK,
    PENDING,
    PLAIN,
    cheap_failed,
    fast_failed,
    is_done,
    kind_of,
    outcome,
    read_kinds,
    read_many,
)

__all__ = ["Pending", "read_all", "read_pending", "scan_first", "scan_records", "scan_values"]


class Pending:
    """The inputs a call still waits on: ``(position, future, kind)`` triples.

    Kept as two flat arrays over the input sequence rather than an object
    per input, so that dropping it at the end of a call frees two buffers
    instead of touching ``n`` futures: a failing ``wait_all`` raises as soon
    as it wakes, however many inputs it was waiting on.
    """

    __slots__ = ("items", "kinds", "positions")

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = items
        self.positions = array("q")
        self.kinds = bytearray()

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, j: int) -> tuple[int, Any, int]:
        position = self.positions[j]
        return position, self.items[position], self.kinds[j]

    def __iter__(self) -> Iterator[tuple[int, Any, int]]:
        items = self.items
        for position, kind in zip(self.positions, self.kinds, strict=True):
            yield position, items[position], kind

    def futures(self) -> Iterator[Any]:
        items = self.items
        return (items[position] for position in self.positions)


def read_pending(pending: Pending) -> list[tuple[int, Any]]:
    """``read_many`` of a call's pending inputs, whose kinds are already known."""
    return read_kinds(list(pending.futures()), pending.kinds)


def scan_values(
    items: Sequence[Any] | list[Any], fn: str
) -> tuple[list[Any], Pending, tuple[Any, BaseException] | None]:
    """One pass for ``wait_all``: values so far, pending inputs, first failure.

    Returns the list of values (``None`` where pending), the pending inputs
    as ``(position, future, kind)``, and ``(future, exception)`` of the
    first input in input order found failed, or ``None``. The whole input
    is checked even after a failure, so that bad input is always reported.
    """
    values: list[Any] = []
    append = values.append
    pending = Pending(items)
    add_position, add_kind = pending.positions.append, pending.kinds.append
    failure: tuple[Any, BaseException] | None = None
    failure_at = -1
    deferred: list[int] = []  # settled futures of other engines, read in one batch
    kinds = _state._KINDS  # read per call: tests swap the cache
    for i, x in enumerate(items):
        kind = kinds.get(type(x)) or kind_of(x, fn, i, items)
        if kind == FAST:
            state = x._state
            if state is _FINISHED:
                exc = x._exception
                if exc is None:
                    append(x._result)
                    continue
            elif state is not _CANCELLED and state is not _CANCELLED_AND_NOTIFIED:
                append(None)
                add_position(i)
                add_kind(kind)
                continue
            else:
                exc = CancelledError()
        elif kind == PLAIN:
            append(x)
            continue
        else:
            append(None)
            if x.done():
                deferred.append(i)
            else:
                add_position(i)
                add_kind(kind)
            continue
        append(None)
        if failure is None:
            failure, failure_at = (x, as_exception(exc)), i
    if deferred:
        for i, (code, payload) in zip(
            deferred, read_many([items[i] for i in deferred], settled=True), strict=True
        ):
            if code == OK:
                values[i] = payload
            elif failure is None or i < failure_at:
                failure, failure_at = (items[i], payload), i
    return values, pending, failure


def scan_records(
    items: Sequence[Any] | list[Any], keys: Sequence[Any] | None, fn: str
) -> tuple[list[Any], Pending, list[int]]:
    """One pass for ``wait_settled``: records so far (``None`` where pending), pending inputs,
    and the positions of the settled inputs read through their engine (not stdlib futures)."""
    records: list[Any] = []
    append = records.append
    pending = Pending(items)
    deferred: list[int] = []  # settled futures of other engines, read in one batch
    kinds = _state._KINDS  # read per call: tests swap the cache
    for i, x in enumerate(items):
        kind = kinds.get(type(x)) or kind_of(x, fn, i if keys is None else keys[i], items)
        if kind == FAST:
            state = x._state
            if state is _FINISHED:
                exc = x._exception
                if exc is None:
                    append(Fulfilled(x._result, i if keys is None else keys[i]))
                else:
                    append(Rejected(as_exception(exc), i if keys is None else keys[i]))
                continue
            if state is _CANCELLED or state is _CANCELLED_AND_NOTIFIED:
                append(Rejected(CancelledError(), i if keys is None else keys[i]))
                continue
            append(None)
            pending.positions.append(i)
            pending.kinds.append(kind)
            continue
        if kind == PLAIN:
            append(Fulfilled(x, i if keys is None else keys[i]))
            continue
        append(None)
        if x.done():
            deferred.append(i)
        else:
            pending.positions.append(i)
            pending.kinds.append(kind)
    if deferred:
        for i, (code, payload) in zip(
            deferred, read_many([items[i] for i in deferred], settled=True), strict=True
        ):
            index = i if keys is None else keys[i]
            records[i] = Fulfilled(payload, index) if code == OK else Rejected(payload, index)
    return records, pending, deferred


def read_all(items: Sequence[Any], kinds: Sequence[int]) -> tuple[list[tuple[int, Any]], Pending]:
    """Read every input, its kind known: ``(outcomes, pending)``.

    ``outcomes[i]`` is ``outcome()`` of input ``i``; ``pending`` lists the
    inputs still pending as ``(position, future, kind)``.
    """
    outcomes = read_kinds(items, kinds)
    pending = Pending(items)
    for i, (code, _) in enumerate(outcomes):
        if code == PENDING:
            pending.positions.append(i)
            pending.kinds.append(kinds[i])
    return outcomes, pending


def scan_first(
    items: Sequence[Any], kinds: Sequence[int], fulfilled: bool
) -> tuple[tuple[Any, int, Any] | None, Pending]:
    """The first input in input order already settled, or already ``fulfilled``, and the rest.

    Returns ``(input, code, payload)`` of that input (``None`` if there is
    none) and the inputs still pending. Reading an outcome may be a round
    trip (dask), so only that input's is read, plus, when ``fulfilled``,
    those of settled inputs before it whose engine cannot tell a failure
    without reading one.
    """
    pending = Pending(items)
    add_position, add_kind = pending.positions.append, pending.kinds.append
    first: tuple[Any, int, Any] | None = None
    for i, x in enumerate(items):
        kind = kinds[i]
        if not is_done(x, kind):
            add_position(i)
            add_kind(kind)
        elif first is None and not (fulfilled and _cheaply_failed(x, kind)):
            code, payload = outcome(x, kind)
            if code == OK or not fulfilled:
                first = (x, code, payload)
    return first, pending


def _cheaply_failed(x: Any, kind: int) -> bool:
    """Whether a settled input failed, when that is known without reading it, else False."""
    if kind == FAST:
        return fast_failed(x)
    if kind == PLAIN:
        return False
    return bool(cheap_failed(x))
