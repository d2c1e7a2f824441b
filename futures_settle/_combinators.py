"""``wait_all``, ``wait_settled``, ``wait_any``, ``wait_first`` and ``as_settled``."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future
from typing import Any, NoReturn, TypeVar, overload

from ._core import ALL, ANY, FAIL_FAST, FIRST, STREAM, Waiter, register, still_pending, wait_pending
from ._core import cancel_pending as _cancel
from ._errors import SettleTimeoutError, reraise
from ._inputs import check_flag, deadline_of, materialize
from ._records import Fulfilled, Rejected
from ._state import (
    FAIL,
    OK,
    PENDING,
    Pending,
    read,
    read_many,
    scan_outcomes,
    scan_records,
    scan_values,
)

__all__ = ["as_settled", "wait_all", "wait_any", "wait_first", "wait_settled"]

T = TypeVar("T")
K = TypeVar("K")


def _seconds(timeout: object) -> str:
    return f"{float(timeout):g}"  # type: ignore[arg-type]


def _timeout_error(fn: str, timeout: object, unfinished: int, total: int) -> SettleTimeoutError:
    noun = "input" if total == 1 else "inputs"
    return SettleTimeoutError(
        f"{fn}() timed out after {_seconds(timeout)} s with "
        f"{unfinished} of {total} {noun} unfinished",
        timeout=float(timeout),  # type: ignore[arg-type]
        unfinished=unfinished,
        total=total,
    )


def _record_timeout(
    index: object, timeout: object, unfinished: int, total: int
) -> SettleTimeoutError:
    return SettleTimeoutError(
        f"input {index!r} did not settle within {_seconds(timeout)} s "
        f"({unfinished} of {total} inputs unfinished)",
        timeout=float(timeout),  # type: ignore[arg-type]
        unfinished=unfinished,
        total=total,
        index=index,
    )


def _give_up(fn: str, pending: Pending, timeout: object, total: int, cancel: bool) -> NoReturn:
    unfinished = still_pending(pending)
    if cancel:
        _cancel(pending)
    raise _timeout_error(fn, timeout, unfinished, total)


def _need_inputs(fn: str, items: object) -> None:
    if not items:
        raise ValueError(f"{fn}() needs at least one input, got none")


# Overloads: all futures first (mypy solves ``Future[T] | T`` to Never when
# every item is a future), mappings before iterables (a mapping is also an
# iterable of its keys, hence the overlap ignores).
@overload
def wait_all(  # type: ignore[overload-overlap]
    fs: Mapping[K, Future[T]], *, timeout: float | None = None, cancel_pending: bool = False
) -> dict[K, T]: ...
@overload
def wait_all(  # type: ignore[overload-overlap]
    fs: Mapping[K, Future[T] | T], *, timeout: float | None = None, cancel_pending: bool = False
) -> dict[K, T]: ...
@overload
def wait_all(
    fs: Iterable[Future[T]], *, timeout: float | None = None, cancel_pending: bool = False
) -> list[T]: ...
@overload
def wait_all(
    fs: Iterable[Future[T] | T], *, timeout: float | None = None, cancel_pending: bool = False
) -> list[T]: ...
def wait_all(
    fs: Iterable[Any] | Mapping[Any, Any],
    *,
    timeout: float | None = None,
    cancel_pending: bool = False,
) -> list[Any] | dict[Any, Any]:
    """Wait for every input and return their values in input order: ``Promise.all``.

    Fails fast: as soon as any input fails, raises that input's exception
    (the very object) without waiting for the others. Among inputs that
    had already failed when the call looked at them, the first in input
    order wins. The other inputs keep running unless ``cancel_pending``.

    Choose it when every result is needed and one failure makes the batch
    useless (the data for every widget of a dashboard). When partial
    results are fine, use :func:`wait_settled`.

    Args:
        fs: An iterable of futures (of any engine with the ``Future``
            methods) and plain values, which count as already fulfilled.
            Read once. A mapping gives a dict with the same keys.
        timeout: Seconds for the whole call, or ``None`` to wait forever.
            Zero or negative: only look, never wait.
        cancel_pending: When the call ends early (a failure or the
            timeout), cancel the inputs that have not started yet.
            Running work is never interrupted.

    Returns:
        A new list of the values in input order, or a dict for a mapping.

    Raises:
        BaseException: The exception of the first input to fail; a
            cancelled input raises ``concurrent.futures.CancelledError``.
        SettleTimeoutError: A ``TimeoutError``, when ``timeout`` passed
            first; it says how many inputs were unfinished.
        TypeError: ``fs`` is not an iterable of futures (``None``, a
            number, a string, a bare future), contains asyncio futures,
            or ``timeout``/``cancel_pending`` have the wrong type.
        ValueError: ``timeout`` is NaN.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> with ThreadPoolExecutor() as pool:
        ...     user, perms = wait_all([pool.submit(str.upper, "ann"), "admin"])
        >>> user, perms
        ('ANN', 'admin')
    """
    deadline = deadline_of(timeout)
    check_flag("cancel_pending", cancel_pending)
    items, keys = materialize(fs, "wait_all")
    values, pending, failure = scan_values(items, "wait_all")
    if failure is None and pending:
        notified, trigger = wait_pending(FAIL_FAST, pending, deadline)
        if not notified:
            _give_up("wait_all", pending, timeout, len(items), cancel_pending)
        if trigger is None:
            outcomes = read_many(list(pending.futures()))
            for position, (code, payload) in zip(pending.positions, outcomes, strict=True):
                if code != OK:  # a failure the hub could not see (an engine's race)
                    failure = (items[position], payload)
                    break
                values[position] = payload
            del outcomes
        else:
            fut = trigger[0]
            failure = (fut, read(fut)[1])
    if failure is not None:
        if cancel_pending:
            _cancel(pending)
        fut, exc = failure
        del values, pending, items, failure, fs
        try:
            reraise(exc, fut)
        finally:
            del exc, fut  # the traceback keeps this frame: no cycle through it
    if keys is None:
        return values
    return dict(zip(keys, values, strict=True))


def _settle_pending(
    records: list[Any],
    pending: Pending,
    keys: list[Any] | None,
    notified: bool,
    timeout: object,
) -> None:
    """Fill the records of the pending inputs; at a timeout, those still pending are timeouts."""
    outcomes = read_many(list(pending.futures()))
    unfinished = 0 if notified else sum(1 for code, _ in outcomes if code == PENDING)
    total = len(records)
    for (position, _, _), (code, payload) in zip(pending, outcomes, strict=True):
        index = position if keys is None else keys[position]
        if code == OK:
            records[position] = Fulfilled(payload, index)
        elif code == FAIL:
            records[position] = Rejected(payload, index)
        else:
            error = _record_timeout(index, timeout, unfinished, total)
            records[position] = Rejected(error, index)


@overload
def wait_settled(  # type: ignore[overload-overlap]
    fs: Mapping[K, Future[T]], *, timeout: float | None = None, cancel_pending: bool = False
) -> dict[K, Fulfilled[T] | Rejected]: ...
@overload
def wait_settled(  # type: ignore[overload-overlap]
    fs: Mapping[K, Future[T] | T], *, timeout: float | None = None, cancel_pending: bool = False
) -> dict[K, Fulfilled[T] | Rejected]: ...
@overload
def wait_settled(
    fs: Iterable[Future[T]], *, timeout: float | None = None, cancel_pending: bool = False
) -> list[Fulfilled[T] | Rejected]: ...
@overload
def wait_settled(
    fs: Iterable[Future[T] | T], *, timeout: float | None = None, cancel_pending: bool = False
) -> list[Fulfilled[T] | Rejected]: ...
def wait_settled(
    fs: Iterable[Any] | Mapping[Any, Any],
    *,
    timeout: float | None = None,
    cancel_pending: bool = False,
) -> list[Any] | dict[Any, Any]:
    """Wait for every input and return how each settled, in input order: ``Promise.allSettled``.

    Never raises because an input failed: each input gets a
    :class:`Fulfilled` record (``.value``) or a :class:`Rejected` record
    (``.reason``, the exception itself), both with ``.index``, the input's
    position (or key, for a mapping). Cancelled inputs are ``Rejected``
    with ``concurrent.futures.CancelledError``. At the deadline the call
    still returns a full list, where each input not settled by then is
    ``Rejected`` with a :class:`SettleTimeoutError`.

    Choose it when partial failure is acceptable and every outcome must be
    reported: batch uploads, health checks, bulk file reads, an endpoint
    that must always answer.

    Args:
        fs: An iterable of futures (of any engine with the ``Future``
            methods) and plain values, which count as already fulfilled.
            Read once. A mapping gives a dict with the same keys.
        timeout: Seconds for the whole call, or ``None`` to wait forever.
        cancel_pending: At the deadline, cancel the inputs that have not
            started yet (their records still say they timed out).

    Returns:
        A new list of records in input order, or a dict for a mapping.

    Raises:
        TypeError: ``fs`` is not an iterable of futures (``None``, a
            number, a string, a bare future), contains asyncio futures,
            or ``timeout``/``cancel_pending`` have the wrong type.
        ValueError: ``timeout`` is NaN.

    Example:
        >>> from concurrent.futures import Future
        >>> failed = Future()
        >>> failed.set_exception(OSError("DB error"))
        >>> for r in wait_settled(["user data", failed]):
        ...     print(r.index, r.status, r.value if r.status == "fulfilled" else r.reason)
        0 fulfilled user data
        1 rejected DB error
    """
    deadline = deadline_of(timeout)
    check_flag("cancel_pending", cancel_pending)
    items, keys = materialize(fs, "wait_settled")
    records, pending = scan_records(items, keys, "wait_settled")
    if pending:
        notified, _ = wait_pending(ALL, pending, deadline)
        _settle_pending(records, pending, keys, notified, timeout)
        if not notified and cancel_pending:
            _cancel(pending)
    if keys is None:
        return records
    return dict(zip(keys, records, strict=True))


@overload
def wait_any(
    fs: Mapping[Any, Future[T]], *, timeout: float | None = None, cancel_pending: bool = False
) -> T: ...
@overload
def wait_any(
    fs: Mapping[Any, Future[T] | T], *, timeout: float | None = None, cancel_pending: bool = False
) -> T: ...
@overload
def wait_any(
    fs: Iterable[Future[T]], *, timeout: float | None = None, cancel_pending: bool = False
) -> T: ...
@overload
def wait_any(
    fs: Iterable[Future[T] | T], *, timeout: float | None = None, cancel_pending: bool = False
) -> T: ...
def wait_any(
    fs: Iterable[Any] | Mapping[Any, Any],
    *,
    timeout: float | None = None,
    cancel_pending: bool = False,
) -> Any:
    """Return the value of the first input to succeed: ``Promise.any``.

    Failures are skipped while any input may still succeed. If every input
    fails, raises an ``ExceptionGroup`` of their exceptions in input order
    (a ``BaseExceptionGroup`` if one of them is not an ``Exception``).
    Among inputs already fulfilled when the call looked, the first in input
    order wins; plain values count as fulfilled.

    Choose it for redundant sources (mirrors, replicas, fallbacks) where
    one good answer is enough.

    Args:
        fs: An iterable (or mapping) of futures and plain values. Read once.
        timeout: Seconds for the whole call, or ``None`` to wait forever.
        cancel_pending: When a winner is found or the timeout passes,
            cancel the inputs that have not started yet.

    Returns:
        The first value.

    Raises:
        ExceptionGroup: Every input failed.
        SettleTimeoutError: A ``TimeoutError``, when ``timeout`` passed
            before any input succeeded.
        ValueError: ``fs`` is empty (JavaScript's ``Promise.any([])``
            rejects too), or ``timeout`` is NaN.
        TypeError: ``fs`` is not an iterable of futures, contains asyncio
            futures, or ``timeout``/``cancel_pending`` have the wrong type.

    Example:
        >>> from concurrent.futures import Future
        >>> down = Future()
        >>> down.set_exception(ConnectionError("mirror 1 down"))
        >>> wait_any([down, "mirror 2 data"])
        'mirror 2 data'
    """
    deadline = deadline_of(timeout)
    check_flag("cancel_pending", cancel_pending)
    items, keys = materialize(fs, "wait_any")
    _need_inputs("wait_any", items)
    outcomes, pending = scan_outcomes(items, "wait_any", keys)
    for code, payload in outcomes:
        if code == OK:
            if cancel_pending:
                _cancel(pending)
            return payload
    if pending:
        notified, trigger = wait_pending(ANY, pending, deadline)
        if not notified:
            _give_up("wait_any", pending, timeout, len(items), cancel_pending)
        if trigger is not None:
            if cancel_pending:
                _cancel(pending)
            return read(trigger[0])[1]
        late = read_many(list(pending.futures()))
        for position, result in zip(pending.positions, late, strict=True):
            outcomes[position] = result
    for code, payload in outcomes:
        if code == OK:  # one the hub could not see succeed (an engine's race)
            return payload
    errors = [payload for _, payload in outcomes]
    noun = "input" if len(errors) == 1 else f"all {len(errors)} inputs"
    raise BaseExceptionGroup(f"wait_any() got no value: {noun} failed", errors)


@overload
def wait_first(
    fs: Mapping[Any, Future[T]], *, timeout: float | None = None, cancel_pending: bool = False
) -> T: ...
@overload
def wait_first(
    fs: Mapping[Any, Future[T] | T], *, timeout: float | None = None, cancel_pending: bool = False
) -> T: ...
@overload
def wait_first(
    fs: Iterable[Future[T]], *, timeout: float | None = None, cancel_pending: bool = False
) -> T: ...
@overload
def wait_first(
    fs: Iterable[Future[T] | T], *, timeout: float | None = None, cancel_pending: bool = False
) -> T: ...
def wait_first(
    fs: Iterable[Any] | Mapping[Any, Any],
    *,
    timeout: float | None = None,
    cancel_pending: bool = False,
) -> Any:
    """Return the value, or raise the exception, of the first input to settle: ``Promise.race``.

    Among inputs already settled when the call looked, the first in input
    order wins; plain values count as settled.

    Choose it to race a task against another (a primary and a fallback,
    work and a watchdog future you fail yourself); to bound a wait by
    time, ``timeout`` is simpler.

    Args:
        fs: An iterable (or mapping) of futures and plain values. Read once.
        timeout: Seconds for the whole call, or ``None`` to wait forever.
        cancel_pending: When the first input settles or the timeout
            passes, cancel the inputs that have not started yet.

    Returns:
        The value of the first input to settle.

    Raises:
        BaseException: The first input to settle failed: its exception.
        SettleTimeoutError: A ``TimeoutError``, when ``timeout`` passed
            before any input settled.
        ValueError: ``fs`` is empty (JavaScript's ``Promise.race([])``
            waits forever: this refuses), or ``timeout`` is NaN.
        TypeError: ``fs`` is not an iterable of futures, contains asyncio
            futures, or ``timeout``/``cancel_pending`` have the wrong type.

    Example:
        >>> from concurrent.futures import Future
        >>> slow = Future()
        >>> wait_first([slow, "cache data"])
        'cache data'
    """
    deadline = deadline_of(timeout)
    check_flag("cancel_pending", cancel_pending)
    items, keys = materialize(fs, "wait_first")
    _need_inputs("wait_first", items)
    outcomes, pending = scan_outcomes(items, "wait_first", keys)
    first: Any = None
    for position, (code, payload) in enumerate(outcomes):
        if code != PENDING:
            first = (items[position], code, payload)
            break
    if first is None:
        notified, trigger = wait_pending(FIRST, pending, deadline)
        if not notified:
            _give_up("wait_first", pending, timeout, len(items), cancel_pending)
        assert trigger is not None
        first = (trigger[0], *read(trigger[0]))
    if cancel_pending:
        _cancel(pending)
    fut, code, payload = first
    del first, outcomes, pending, items, fs
    if code == OK:
        return payload
    try:
        reraise(payload, fut)
    finally:
        del payload, fut  # the traceback keeps this frame: no cycle through it


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
    timeout: object,
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
        left = {position: fut for position, fut, _ in pending}
        while left:
            notified = waiter.wait(deadline)
            batch = [(f, position) for f, position in waiter.take() if left.pop(position, None)]
            outcomes = read_many([f for f, _ in batch])
            for (_, position), (code, payload) in zip(batch, outcomes, strict=True):
                yield _record(code, payload, position if keys is None else keys[position])
            del batch, outcomes
            if not notified:
                unfinished = len(left)
                for position in sorted(left):
                    index = position if keys is None else keys[position]
                    yield Rejected(_record_timeout(index, timeout, unfinished, total), index)
                return
    finally:
        waiter.close()
