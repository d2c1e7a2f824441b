"""``as_settled``: a record for each input, as it settles."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future
from typing import Any, Final, TypeVar, overload

from .._core.engines import read_one
from .._core.hub import STREAM, Waiter, expired, register
from .._core.inputs import deadline_of, materialize
from .._core.scans import read_all
from .._core.state import DUCK, OK, PENDING, check, read_kinds
from .._errors import input_timeout
from .._records import Fulfilled, Rejected
from .._retry.submitter import RetryFuture, tagged

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

    The input is read and checked by the call itself; outcomes are read
    and the waiting starts at the first ``next()``, and the deadline counts
    from the call. Once a record is yielded the iterator keeps no reference
    to it, its value or its future. Closing the iterator early (``break``)
    releases everything it holds.

    Args:
        fs: An iterable (or mapping) of futures and plain values. Read once.
        timeout: Seconds for the whole iteration, or ``None`` to wait forever.

    Returns:
        An iterator of :class:`Fulfilled` and :class:`Rejected` records.

    Raises:
        TypeError: ``fs`` is not an iterable of futures, contains asyncio
            futures, coroutines or other awaitables, or ``timeout`` has the
            wrong type.
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
    kinds = check(items, "as_settled", keys)  # every input checked now, no outcome read
    # A list of its own: the caller's may change before iteration starts,
    # and each input is dropped from it once its record is yielded.
    own = items if isinstance(items, list) and items is not fs else list(items)
    return _as_settled(own, kinds, keys, deadline, timeout)


_YIELDED: Final = (PENDING, None)


def _pop(
    items: list[Any], outcomes: list[tuple[int, Any]], keys: list[Any] | None, position: int
) -> Fulfilled[Any] | Rejected:
    """The record of a settled input; the input and its outcome are forgotten.

    Once a record is handed out the iterator keeps no reference to it, its
    value or its future, as ``as_completed`` (``test_free_reference``).
    """
    code, payload = outcomes[position]
    outcomes[position] = _YIELDED
    items[position] = None
    index = position if keys is None else keys[position]
    return Fulfilled(payload, index) if code == OK else Rejected(payload, index)


def _pop_tagged(
    items: list[Any], outcomes: list[tuple[int, Any]], keys: list[Any] | None, position: int
) -> Fulfilled[Any] | Rejected:
    """``_pop`` where a retrying group's future may be an input: its record tells its attempts."""
    x = items[position]
    record = _pop(items, outcomes, keys, position)
    return tagged(record, x) if type(x) is RetryFuture else record


def _read_into(
    outcomes: list[tuple[int, Any]], items: list[Any], kinds: bytearray, positions: list[int]
) -> None:
    """Read the inputs at ``positions``, settled together, in one batch per engine."""
    read = read_kinds([items[p] for p in positions], bytes(kinds[p] for p in positions))
    for position, result in zip(positions, read, strict=True):
        outcomes[position] = result


def _wait_out(x: Any, deadline: float | None) -> tuple[int, Any]:
    """Read an input that notified before ``done()`` turned true (an engine's race).

    Its engine said it settled and will say so through ``done()`` in a
    moment: wait for that through the future's own ``exception()``, within
    the deadline, then read it. ``PENDING`` when the deadline came first.
    """
    left = None if deadline is None else max(0.0, deadline - time.monotonic())
    try:
        x.exception(left)
    except TimeoutError:
        return PENDING, None
    except Exception:  # cancelled, or the engine's own error: read_one() records it
        pass
    return read_one(x)


def _as_settled(
    items: list[Any],
    kinds: bytearray,
    keys: list[Any] | None,
    deadline: float | None,
    timeout: float | None,
) -> Generator[Fulfilled[Any] | Rejected, None, None]:
    outcomes, pending = read_all(items, kinds)
    total = len(items)
    # A retrying group's futures are read through their methods: none among stdlib futures.
    pop = _pop_tagged if DUCK in kinds else _pop
    waiter = Waiter(STREAM, len(pending))
    try:
        if not expired(deadline):  # past it, the call only looks: nothing to register
            register(waiter, pending)
        left = set(pending.positions)
        del pending
        for position in range(total):
            if position not in left:
                yield pop(items, outcomes, keys, position)
        while left:
            notified = waiter.wait(deadline)
            positions = [position for _, position in waiter.take() if position in left]
            left.difference_update(positions)
            _read_into(outcomes, items, kinds, positions)
            for position in positions:
                if outcomes[position][0] == PENDING:  # its callbacks came before done()
                    outcomes[position] = _wait_out(items[position], deadline)
                    if outcomes[position][0] == PENDING:  # the deadline came first
                        left.add(position)
                        continue
                yield pop(items, outcomes, keys, position)
            if not notified:
                unfinished = len(left)
                for position in sorted(left):
                    items[position] = None
                    index = position if keys is None else keys[position]
                    yield Rejected(input_timeout(index, timeout, unfinished, total), index)
                return
    finally:
        waiter.close()
