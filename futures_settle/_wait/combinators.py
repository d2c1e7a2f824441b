"""``wait_all`` and ``wait_settled``: every value in order, or every outcome."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar, overload

from .._core.hub import ALL, FAIL_FAST, give_up, wait_pending
from .._core.hub import cancel_pending as _cancel
from .._core.inputs import check_flag, deadline_of, materialize
from .._core.scans import Pending, read_pending, scan_records, scan_values
from .._core.state import DUCK, FAIL, OK, PENDING, read
from .._errors import input_timeout, reraise
from .._records import Fulfilled, Rejected
from .._retry.submitter import RetryFuture, tagged

__all__ = ["wait_all", "wait_settled"]

T = TypeVar("T")
K = TypeVar("K")


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

    Don't call it from a task on futures of that task's own pool: once every
    worker waits so, the work they wait for never starts (a deadlock, or a
    ``SettleTimeoutError`` with a timeout). Give that work another pool, or
    submit it from the caller (:func:`map_all` for a big input).

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
            number, a string, a bare future), contains asyncio futures or
            coroutines, or ``timeout``/``cancel_pending`` have the wrong type.
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
            give_up("wait_all", pending, timeout, len(items), cancel_pending)
        if trigger is None:
            outcomes = read_pending(pending)
            for position, (code, payload) in zip(pending.positions, outcomes, strict=True):
                if code == FAIL:  # a failure the hub could not see (an engine's race)
                    failure = (items[position], payload)
                    break
                if code == PENDING:  # pragma: no cover - its engine said done, then not done
                    raise RuntimeError(f"wait_all() input {position} settled, then was pending")
                values[position] = payload
            del outcomes
        else:
            fut = trigger[0]
            del trigger  # the traceback keeps this frame: no cycle through the future
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
    timeout: float | None,
) -> None:
    """Fill the records of the pending inputs; at a timeout, those still pending are timeouts."""
    outcomes = read_pending(pending)
    unfinished = 0 if notified else sum(1 for code, _ in outcomes if code == PENDING)
    total = len(records)
    for (position, x, kind), (code, payload) in zip(pending, outcomes, strict=True):
        index = position if keys is None else keys[position]
        if code == OK:
            records[position] = Fulfilled(payload, index)
        elif code == FAIL:
            records[position] = Rejected(payload, index)
        else:
            error = input_timeout(index, timeout, unfinished, total)
            records[position] = Rejected(error, index)
            continue
        if kind == DUCK and type(x) is RetryFuture:
            records[position] = tagged(records[position], x)


def _tag_settled(records: list[Any], items: Sequence[Any], positions: list[int]) -> None:
    """The records of a retrying group's futures among ``positions``, with their attempts."""
    for position in positions:
        x = items[position]
        if type(x) is RetryFuture:
            records[position] = tagged(records[position], x)


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

    Don't call it from a task on futures of that task's own pool: once every
    worker waits so, the work they wait for never starts (a deadlock, or a
    ``SettleTimeoutError`` with a timeout). Give that work another pool, or
    submit it from the caller (:func:`map_all` for a big input).

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
            number, a string, a bare future), contains asyncio futures or
            coroutines, or ``timeout``/``cancel_pending`` have the wrong type.
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
    records, pending, others = scan_records(items, keys, "wait_settled")
    if others:  # only inputs read through their engine may be a retrying group's futures
        _tag_settled(records, items, others)
    if pending:
        notified, _ = wait_pending(ALL, pending, deadline)
        _settle_pending(records, pending, keys, notified, timeout)
        if not notified and cancel_pending:
            _cancel(pending)
    if keys is None:
        return records
    return dict(zip(keys, records, strict=True))
