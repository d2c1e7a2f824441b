"""Exceptions that futures_settle raises or records, and the one way it re-raises."""

from __future__ import annotations

from types import TracebackType
from typing import NoReturn

__all__ = [
    "SettleTimeoutError",
    "as_exception",
    "as_seconds",
    "call_timeout",
    "input_timeout",
    "reraise",
    "timed_out",
]


class SettleTimeoutError(TimeoutError):
    """The deadline of a futures_settle call passed before an input settled.

    It subclasses the builtin :class:`TimeoutError` (which is also
    ``concurrent.futures.TimeoutError``), so ``except TimeoutError`` catches
    it, while ``except SettleTimeoutError`` tells it apart from a task that
    raised a timeout of its own.

    ``wait_all``, ``wait_any`` and ``wait_first`` raise it; ``wait_settled``
    and ``as_settled`` put one, with the unsettled input's ``index``, in a
    ``Rejected`` record for each input that was still pending.

    Attributes:
        timeout: The timeout given to the call, in seconds.
        unfinished: How many inputs had not settled at the deadline.
        total: How many inputs the call was given.
        index: For a record's reason, the position (or mapping key) of the
            input that did not settle; ``None`` when raised by a call.
    """

    timeout: float
    unfinished: int
    total: int
    index: object

    def __init__(
        self,
        message: str,
        *,
        timeout: float,
        unfinished: int,
        total: int,
        index: object = None,
    ) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.unfinished = unfinished
        self.total = total
        self.index = index

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments: the default exception pickling would call
        # the class with args alone, so rebuild through a helper instead.
        return (
            _rebuild_timeout,
            (self.args[0], self.timeout, self.unfinished, self.total, self.index),
        )


def _rebuild_timeout(
    message: str, timeout: float, unfinished: int, total: int, index: object
) -> SettleTimeoutError:
    return SettleTimeoutError(
        message, timeout=timeout, unfinished=unfinished, total=total, index=index
    )


def as_seconds(timeout: float) -> float:
    """``float(timeout)``, where an int beyond any float is as long (or expired) as infinity."""
    try:
        return float(timeout)
    except OverflowError:
        return float("inf") if timeout > 0 else float("-inf")


def _seconds(timeout: float | None) -> float:
    # Never None when a deadline passed; the type admits it so that callers
    # can pass the argument they were given.
    return float("inf") if timeout is None else as_seconds(timeout)


def timed_out(
    what: str,
    noun: str,
    timeout: float | None,
    unfinished: int,
    total: int,
    index: object = None,
) -> SettleTimeoutError:
    """``"<what> timed out after <s> s with <n> of <total> <noun>s unfinished"``."""
    seconds = _seconds(timeout)
    nouns = noun if total == 1 else f"{noun}s"
    return SettleTimeoutError(
        f"{what} timed out after {seconds:g} s with {unfinished} of {total} {nouns} unfinished",
        timeout=seconds,
        unfinished=unfinished,
        total=total,
        index=index,
    )


def call_timeout(fn: str, timeout: float | None, unfinished: int, total: int) -> SettleTimeoutError:
    """The error a call raises at its deadline."""
    return timed_out(f"{fn}()", "input", timeout, unfinished, total)


def input_timeout(
    index: object, timeout: float | None, unfinished: int, total: int
) -> SettleTimeoutError:
    """The reason of the record of an input still pending at the deadline."""
    seconds = _seconds(timeout)
    return SettleTimeoutError(
        f"input {index!r} did not settle within {seconds:g} s "
        f"({unfinished} of {total} inputs unfinished)",
        timeout=seconds,
        unfinished=unfinished,
        total=total,
        index=index,
    )


def _strip_own_raises(tb: TracebackType | None, source_id: int) -> TracebackType | None:
    """Return the traceback as it was before our first raise from this source.

    Every raise prepends frames to an exception's ``__traceback__``, so
    raising one stored exception again and again (as ``Future.result()``
    does) grows it without bound. Each of our raises leaves a ``reraise``
    frame in the chain whose local ``source_id`` says which future or record
    it raised from; frames below the deepest such frame for this source are
    the exception's own history, frames above are ours, added by an earlier
    call. An exception that passed through a raise from *another* source
    (``wait_all`` inside a task, say) keeps that history whole.
    """
    base = tb
    node = tb
    while node is not None:
        frame = node.tb_frame
        if frame.f_code is _RERAISE_CODE and frame.f_locals.get("source_id") == source_id:
            base = node.tb_next
        node = node.tb_next
    return base


def reraise(exc: BaseException, source: object) -> NoReturn:
    """Raise ``exc``, the very object, without growing its traceback.

    ``source`` is what the exception is stored in (a future or a record):
    raising from the same source again starts from the same traceback.
    """
    source_id = id(source)
    tb = _strip_own_raises(exc.__traceback__, source_id)
    try:
        raise exc.with_traceback(tb)
    finally:
        # The traceback keeps this frame alive: leave nothing in it that
        # refers back to the exception (a cycle) or to the source (a leak).
        del exc, tb, source


_RERAISE_CODE = reraise.__code__


def as_exception(stored: object) -> BaseException:
    """The exception that ``raise stored`` raises: what ``Future.result()`` gives.

    ``Future.set_exception()`` accepts an exception class as well as an
    instance, and ``result()`` raises it, which instantiates the class (a
    new instance each time). Anything else stored there makes ``raise``
    fail with ``TypeError``. Records and re-raises need the instance.
    """
    if isinstance(stored, BaseException):
        return stored
    try:
        raise stored  # type: ignore[misc]
    except BaseException as error:
        # A fresh exception: its traceback is only this frame and its
        # context whatever our caller was handling, of no use to anyone.
        error.__context__ = None
        return error.with_traceback(None)
