"""``wait_any`` and ``wait_first``: the first success, or the first to settle."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar, overload

from .._core.hub import ANY, FIRST, give_up, wait_pending
from .._core.hub import cancel_pending as _cancel
from .._core.inputs import check_flag, deadline_of, materialize, need_inputs
from .._core.scans import read_all, scan_first
from .._core.state import OK, check, read
from .._errors import reraise

T = TypeVar("T")

__all__ = ["wait_any", "wait_first"]


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

    Don't call it from a task on futures of that task's own pool: once every
    worker waits so, the work they wait for never starts (a deadlock, or a
    ``SettleTimeoutError`` with a timeout). Give that work another pool, or
    submit it from the caller (:func:`map_all` for a big input).

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
            futures or coroutines, or ``timeout``/``cancel_pending`` have
            the wrong type.

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
    need_inputs("wait_any", items)
    kinds = check(items, "wait_any", keys)
    first, pending = scan_first(items, kinds, fulfilled=True)  # reads only the winner
    if first is not None:
        if cancel_pending:
            _cancel(pending)
        return first[2]
    if pending:
        notified, trigger = wait_pending(ANY, pending, deadline)
        if not notified:
            give_up("wait_any", pending, timeout, len(items), cancel_pending)
        if trigger is not None:
            if cancel_pending:
                _cancel(pending)
            return read(trigger[0])[1]
    outcomes, _ = read_all(items, kinds)  # every input failed: read them all, for the group
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

    Don't call it from a task on futures of that task's own pool: once every
    worker waits so, the work they wait for never starts (a deadlock, or a
    ``SettleTimeoutError`` with a timeout). Give that work another pool, or
    submit it from the caller (:func:`map_all` for a big input).

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
            futures or coroutines, or ``timeout``/``cancel_pending`` have
            the wrong type.

    Example:
        >>> from concurrent.futures import Future
        >>> slow = Future()
        >>> wait_first([slow, "cache data"])
        'cache data'
    """
    deadline = deadline_of(timeout)
    check_flag("cancel_pending", cancel_pending)
    items, keys = materialize(fs, "wait_first")
    need_inputs("wait_first", items)
    kinds = check(items, "wait_first", keys)
    first, pending = scan_first(items, kinds, fulfilled=False)  # reads only the first
    if first is None:
        notified, trigger = wait_pending(FIRST, pending, deadline)
        if not notified:
            give_up("wait_first", pending, timeout, len(items), cancel_pending)
        assert trigger is not None
        first = (trigger[0], *read(trigger[0]))
        del trigger  # the traceback keeps this frame: no cycle through the future
    if cancel_pending:
        _cancel(pending)
    fut, code, payload = first
    del first, pending, items, fs
    if code == OK:
        return payload
    try:
        reraise(payload, fut)
    finally:
        del payload, fut  # the traceback keeps this frame: no cycle through it
