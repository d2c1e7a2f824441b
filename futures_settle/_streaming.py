"""``as_settled``: a record for each input, as it settles."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar, overload

from ._core import STREAM, Waiter, register
from ._errors import input_timeout
from ._inputs import deadline_of, materialize
from ._records import Fulfilled, Rejected
from ._state import (
    OK,
    PENDING,
    read_many,
    scan_outcomes,
)

T = TypeVar("T")

__all__ = ["as_settled"]


@overload
def as_settled(
    fs: Mapping[Any, Future[T]], *, timeout: float | None = None
) -> Iterator[Fulfilled[T] | Rejected]: ...
@overload
def as_settled(
    fs: Mapping[Any, Future[T] | T], *, timeout: float | None = None
) -> Iterator[Fulfilled[T] | Rejected]: ...
@overload
def as_settled(
    fs: Iterable[Future[T]], *, timeout: float | None = None
) -> Iterator[Fulfilled[T] | Rejected]: ...
@overload
def as_settled(
    fs: Iterable[Future[T] | T], *, timeout: float | None = None
) -> Iterator[Fulfilled[T] | Rejected]: ...
def as_settled(
    fs: Iterable[Any] | Mapping[Any, Any], *, timeout: float | None = None
) -> Iterator[Any]:
    """Yield a record for each input as it settles: ``as_completed`` that never raises.

    Inputs already settled when iteration starts come first, in input
    order, then the others in the order they settle. Each record carries
    ``.index``, the input's position (or key, for a mapping), so nothing is
    lost as it is with ``concurrent.futures.as_completed``. At the deadline
    each input not yet yielded is yielded as ``Rejected`` with a
    :class:`SettleTimeoutError`, in input order, and iteration ends.

    Choose it to handle each result as soon as it is ready (progress bars,
    streaming writes) while keeping every failure.

    Don't call it from a task on futures of that task's own pool: once every
    worker waits so, the work they wait for never starts (a deadlock, or a
    ``SettleTimeoutError`` with a timeout). Give that work another pool, or
    submit it from the caller (:func:`map_all` for a big input).

    The input is read and checked by the call itself; the waiting starts
    at the first ``next()``, and the deadline counts from the call.
    Closing the iterator early (``break``) releases everything it holds.

    Args:
        fs: An iterable (or mapping) of futures and plain values. Read once.
        timeout: Seconds for the whole iteration, or ``None`` to wait forever.

    Returns:
        An iterator of :class:`Fulfilled` and :class:`Rejected` records.

    Raises:
        TypeError: ``fs`` is not an iterable of futures, contains asyncio
            futures, or ``timeout`` has the wrong type.
        ValueError: ``timeout`` is NaN.

    Example:
        >>> from concurrent.futures import Future
        >>> failed = Future()
        >>> failed.set_exception(KeyError("b.json"))
        >>> [(r.index, r.status) for r in as_settled(["a.json", failed])]
        [(0, 'fulfilled'), (1, 'rejected')]
    """
    deadline = deadline_of(timeout)
    items, keys = materialize(fs, "as_settled")
    if type(items) is list and items is fs:
        items = tuple(items)  # the caller's list may change before iteration starts
    scan_outcomes(items, "as_settled", keys)  # checks every input now; waiting starts later
    return _as_settled(items, keys, deadline, timeout)


def _record(code: int, payload: Any, index: object) -> Fulfilled[Any] | Rejected:
    return Fulfilled(payload, index) if code == OK else Rejected(payload, index)


def _as_settled(
    items: list[Any] | tuple[Any, ...],
    keys: list[Any] | None,
    deadline: float | None,
    timeout: float | None,
) -> Generator[Fulfilled[Any] | Rejected, None, None]:
    outcomes, pending = scan_outcomes(items, "as_settled", keys)
    total = len(items)
    waiter = Waiter(STREAM, len(pending))
    try:
        register(waiter, pending)
        for position, (code, payload) in enumerate(outcomes):
            if code != PENDING:
                yield _record(code, payload, position if keys is None else keys[position])
        del outcomes
        left = set(pending.positions)
        while left:
            notified = waiter.wait(deadline)
            batch = [(f, position) for f, position in waiter.take() if position in left]
            left.difference_update(position for _, position in batch)
            outcomes = read_many([f for f, _ in batch])
            for (_, position), (code, payload) in zip(batch, outcomes, strict=True):
                yield _record(code, payload, position if keys is None else keys[position])
            del batch, outcomes
            if not notified:
                unfinished = len(left)
                for position in sorted(left):
                    index = position if keys is None else keys[position]
                    yield Rejected(input_timeout(index, timeout, unfinished, total), index)
                return
    finally:
        waiter.close()
