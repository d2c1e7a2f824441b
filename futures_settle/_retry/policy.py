"""``Retry``: which failures run an item again, how many times, and after how long.

A policy only decides; it never sleeps. The map's loop (``schedule``) or
the task group's submitter (``submitter``) keeps the due time of each
retry and submits the item again when it comes, so that no worker of the
pool waits for a backoff.

The defaults follow stamina, the peer that chose them for this very use
(transient network failures in synchronous code), scaled to its smaller
``attempts``; tenacity's defaults (retry every exception, forever, with no
wait) are the ones its README tells users to change, and celery's (180 s
between three retries) are sized for requeued messages, not for a batch
waiting on its items.
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable
from concurrent.futures import CancelledError
from typing import Any, Final, NoReturn

from .._core.inputs import type_phrase

__all__ = ["Retry", "check_retry"]

Predicate = Callable[[BaseException], object]


def _is_exception_class(x: object) -> bool:
    return isinstance(x, type) and issubclass(x, BaseException)


def _seconds(name: str, value: object, low: float = 0.0, infinite: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"Retry() {name} must be a number of seconds, got {value!r} that is "
            f"{type_phrase(value)}"
        )
    seconds = float(value)
    if math.isnan(seconds) or seconds < low or (seconds == math.inf and not infinite):
        bound = f">= {low:g}" + ("" if infinite else " and finite")
        raise ValueError(f"Retry() {name} must be {bound}, got {value!r}")
    return seconds


class Retry:
    """Run an item again when it fails with a transient error: what, how often, how long to wait.

    Give it to ``map_all``, ``map_settled`` or ``TaskGroup`` as ``retry=``.
    An item that fails with an exception ``on`` names runs again, up to
    ``attempts`` runs in all. The wait before the second run is ``delay``
    seconds, multiplied by ``backoff`` before each further one and capped
    at ``max_delay``, with up to ``jitter`` seconds added at random (so
    that items that failed together do not all come back at once; the
    cap holds after it). The map or the group keeps that time: the item is
    submitted again when it is due, and the pool's workers run other items
    meanwhile. No task ever sleeps for a retry.

    ``on`` is required: nothing is retried unless named. An item that is
    not idempotent (it charges a card, appends a row) may have done its
    work before it failed, and running it twice is worse than a failure.
    It is an exception class, a tuple of them, or a predicate called with
    the exception that says whether to retry. A cancellation
    (``concurrent.futures.CancelledError``) is never retried: something
    decided it. The supervised pool's ``WorkerDiedError`` and
    ``TaskTimeoutError`` are retried only when named, like any other class:
    a task whose worker died may have done part of its work.

    A predicate that raises decides nothing: the item fails with the
    predicate's error (its ``__context__`` is the item's own exception), and
    the map or group goes on. (A ``BaseException`` such as Ctrl-C raised by
    the predicate of a map, on the consuming thread, ends the map with it,
    its retries dropped; in a group it is the task's outcome.) It is
    called in the caller's machinery: a
    map's consuming thread, or the thread that reports a group's attempt
    (a pool's worker or its management thread): keep it quick.

    What a record tells after retries: ``attempts`` counts the tries
    submitted (the first included) and ``earlier`` holds the exceptions of
    the tries before the last, oldest first, so ``len(earlier) ==
    attempts - 1``; ``reason`` (or ``value``) is the last try's outcome.
    A try the executor refused counts, its outcome the refusal (final,
    even if ``on`` names it); so does one the deadline cut (its outcome the
    ``SettleTimeoutError``). A retry that waited when the deadline or
    ``cancel()`` came was never tried: the record is the last failure.

    The defaults, and why (stamina's, for the same job: transient I/O
    failures in synchronous code):

    - ``attempts=3``: two retries. stamina's 10 assume one call waiting
      alone; in a batch, an item still failing after three runs is more
      likely broken than unlucky, and its record says so sooner.
    - ``delay=0.1``: stamina's first wait; long enough for a reset
      connection or a 503 to clear, short next to a batch.
    - ``backoff=2.0``: stamina's and celery's base: 0.1, 0.2, 0.4 ... s.
    - ``max_delay=5.0``: stamina's cap; celery's 600 s is for requeued
      messages, not for a caller waiting on its batch.
    - ``jitter=0.1``: up to the first delay again, at random (stamina adds
      up to 1 s, sized for its 10 attempts; on three it would dwarf the
      backoff). A burst of failures at one moment comes back spread.

    Args:
        on: What is retried: an exception class, a tuple of them, or a
            predicate ``Callable[[BaseException], bool]``.
        attempts: Runs in all, the first included; ``1`` never retries.
        delay: Seconds before the second run.
        backoff: Factor applied to the delay before each further run (>= 1).
        max_delay: Most seconds between two runs (``math.inf``: no cap).
        jitter: Most seconds added at random to each delay.

    Raises:
        TypeError: ``on`` is none of the three, or a number is not a number.
        ValueError: ``attempts`` below 1, a negative or NaN delay, a
            ``backoff`` below 1, an empty tuple for ``on``.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> from futures_settle import map_settled
        >>> calls = {}
        >>> def flaky(x):
        ...     calls[x] = calls.get(x, 0) + 1
        ...     if x == 2 and calls[x] == 1:
        ...         raise ConnectionResetError("peer reset")
        ...     return x * 10
        >>> retry = Retry(ConnectionError, attempts=3, delay=0.001, jitter=0)
        >>> with ThreadPoolExecutor(2) as pool:
        ...     records = list(map_settled(flaky, [1, 2, 3], executor=pool, retry=retry))
        >>> [(r.value, r.attempts) for r in records]
        [(10, 1), (20, 2), (30, 1)]
        >>> records[1].earlier
        (ConnectionResetError('peer reset'),)
    """

    __slots__ = ("_classes", "_predicate", "attempts", "backoff", "delay", "jitter", "max_delay")

    _classes: tuple[type[BaseException], ...]
    _predicate: Predicate | None
    attempts: int
    delay: float
    backoff: float
    max_delay: float
    jitter: float

    def __init__(
        self,
        on: type[BaseException] | tuple[type[BaseException], ...] | Predicate,
        *,
        attempts: int = 3,
        delay: float = 0.1,
        backoff: float = 2.0,
        max_delay: float = 5.0,
        jitter: float = 0.1,
    ) -> None:
        classes: tuple[type[BaseException], ...] = ()
        predicate: Predicate | None = None
        if _is_exception_class(on):
            classes = (on,)  # type: ignore[assignment]
        elif isinstance(on, tuple):
            if not on:
                raise ValueError("Retry() on must name at least one exception class, got ()")
            for x in on:
                if not _is_exception_class(x):
                    raise TypeError(
                        f"Retry() on must be a tuple of exception classes, got {x!r} in it "
                        f"that is {type_phrase(x)}"
                    )
            classes = on
        elif callable(on) and not isinstance(on, type):
            predicate = on
        else:
            raise TypeError(
                "Retry() on must be an exception class, a tuple of them or a predicate "
                f"taking the exception, got {on!r} that is {type_phrase(on)}"
            )
        if isinstance(attempts, bool) or not isinstance(attempts, int):
            raise TypeError(
                f"Retry() attempts must be an int >= 1, got {attempts!r} that is "
                f"{type_phrase(attempts)}"
            )
        if attempts < 1:
            raise ValueError(f"Retry() attempts must be >= 1, got {attempts}")
        set_ = object.__setattr__
        set_(self, "_classes", classes)
        set_(self, "_predicate", predicate)
        set_(self, "attempts", attempts)
        set_(self, "delay", _seconds("delay", delay))
        set_(self, "backoff", _seconds("backoff", backoff, low=1.0))
        set_(self, "max_delay", _seconds("max_delay", max_delay, infinite=True))
        set_(self, "jitter", _seconds("jitter", jitter))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Retry is immutable, cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Retry is immutable, cannot delete {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        on = self._predicate if self._predicate is not None else self._classes
        return (
            _rebuild,
            (on, self.attempts, self.delay, self.backoff, self.max_delay, self.jitter),
        )

    def __repr__(self) -> str:
        on: Any = self._predicate
        if on is None:
            names = [c.__qualname__ for c in self._classes]
            on = names[0] if len(names) == 1 else f"({', '.join(names)})"
        else:
            on = repr(on)
        return (
            f"Retry({on}, attempts={self.attempts}, delay={self.delay:g}, "
            f"backoff={self.backoff:g}, max_delay={self.max_delay:g}, jitter={self.jitter:g})"
        )

    def retries(self, exc: BaseException) -> bool:
        """Whether ``exc`` is one that ``on`` names (a cancellation never is).

        Raises:
            Exception: What a predicate ``on`` raised.
        """
        if isinstance(exc, CancelledError):
            return False
        predicate = self._predicate
        if predicate is None:
            return isinstance(exc, self._classes)
        return bool(predicate(exc))

    def wait(self, done: int) -> float:
        """Seconds to wait before the next run, after ``done`` runs (the first wait: ``done=1``)."""
        try:
            base = self.delay * self.backoff ** (done - 1)
        except OverflowError:
            base = math.inf
        spread = random.uniform(0.0, self.jitter) if self.jitter else 0.0
        return min(base + spread, self.max_delay)


def _rebuild(
    on: Any, attempts: int, delay: float, backoff: float, max_delay: float, jitter: float
) -> Retry:
    return Retry(
        on, attempts=attempts, delay=delay, backoff=backoff, max_delay=max_delay, jitter=jitter
    )


NOT_A_RETRY: Final = "expected a Retry or None as retry"


def check_retry(name: str, retry: object) -> Retry | None:
    """``retry`` if it is a ``Retry`` or ``None``; else the ``TypeError`` of ``name()``."""
    if retry is None or isinstance(retry, Retry):
        return retry
    raise TypeError(f"{name}() {NOT_A_RETRY}, got {retry!r} that is {type_phrase(retry)}")
