"""The task group's retries: an executor adapter whose futures settle with the last attempt.

``RetryingSubmitter(executor, policy).submit(fn, *args)`` submits the
first attempt at once and returns a ``RetryFuture``, a stdlib future of
its own that the caller (``TaskGroup``) treats as the task's. When an
attempt fails with an exception the policy retries, the future stays
pending and its next attempt waits in the submitter's heap of due times;
one timer thread of the caller's (started on demand, ending when nothing
waits) submits it when due. No worker holds the backoff.

``cancel()`` on the future stops the retries: a waiting attempt is
dropped and the future cancelled (its record, ``tagged``, is then the
last attempt's failure); a queued one is cancelled with it; a running
one runs to its end and its outcome is the future's, never run again.
So a group that cancels its futures ends every retry at once.

Each attempt's future is read as the group reads its own: a callback run
before ``done()`` is true is asked again once it is (``call_when_done``),
and an attempt done before its callback was added (an engine that drops
such a callback) is read at once; a second reading is ignored.

The executor's future of each attempt is an implementation detail: the
``RetryFuture`` settles with the last attempt's value or exception, and
``record()`` turns it into a record with ``attempts`` and ``earlier``.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import threading
import time
from concurrent.futures import CancelledError, Future, InvalidStateError
from typing import Any

from .._core.engines import cancel_quietly, submitter_of
from .._core.recheck import call_when_done
from .._core.state import OK, read, settled
from .._records import Fulfilled, Rejected, Settled, retried
from .attempt import Attempt
from .policy import Retry

__all__ = ["RetryFuture", "RetryingSubmitter", "dropped", "tagged"]


class _Timer:
    """One thread that starts each due attempt; it ends when no attempt waits."""

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._due: list[tuple[float, int, RetryFuture]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def at(self, due: float, fut: RetryFuture) -> None:
        with self._changed:
            heapq.heappush(self._due, (due, next(self._order), fut))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="futures_settle-retry", daemon=True
                )
                self._thread.start()
            else:
                self._changed.notify()

    def forget(self, fut: RetryFuture) -> None:
        """Drop ``fut``'s waiting attempt (its future was cancelled)."""
        with self._changed:
            kept = [entry for entry in self._due if entry[2] is not fut]
            if len(kept) != len(self._due):
                heapq.heapify(kept)
                self._due = kept
                self._changed.notify()

    def _run(self) -> None:
        changed = self._changed
        while True:
            with changed:
                while True:
                    if not self._due:
                        self._thread = None
                        return
                    left = self._due[0][0] - time.monotonic()
                    if left <= 0:
                        fut = heapq.heappop(self._due)[2]
                        break
                    # Capped: a wait past TIMEOUT_MAX (max_delay=math.inf) raises OverflowError.
                    changed.wait(min(left, threading.TIMEOUT_MAX))
            try:
                fut._start()
            except BaseException as exc:  # the timer must outlive one attempt's surprise
                fut._finish(False, exc)
            del fut


class RetryingSubmitter:
    """An executor's ``submit()`` with ``policy`` applied: what ``TaskGroup(retry=)`` submits to.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> tries = []
        >>> def flaky():
        ...     tries.append(1)
        ...     if len(tries) == 1:
        ...         raise ConnectionResetError("reset")
        ...     return "ok"
        >>> with ThreadPoolExecutor(1) as pool:
        ...     fut = RetryingSubmitter(pool, Retry(ConnectionError, delay=0.001)).submit(flaky)
        ...     fut.result(timeout=10), fut.record(0).attempts
        ('ok', 2)
    """

    def __init__(self, executor: Any, policy: Retry) -> None:
        self.executor = executor
        self.submit_to = submitter_of(executor)  # pebble pools: schedule()
        self.policy = policy
        self.timer = _Timer()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> RetryFuture:
        """Submit the first attempt; the executor's refusal raises, as its ``submit()`` would.

        Raises:
            Exception: What the executor's ``submit()`` raised for the first attempt.
        """
        fut = RetryFuture(self, fn, args, kwargs)
        fut._start(first=True)
        return fut


class RetryFuture(Future[Any]):
    """A task's future across its attempts: pending until the last one settles."""

    def __init__(
        self, submitter: RetryingSubmitter, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        super().__init__()
        self._submitter = submitter
        self._call: tuple[Any, tuple[Any, ...], dict[str, Any]] | None = (fn, args, kwargs)
        # Re-entrant: an executor may run an attempt, and call back, inside submit().
        self._turn = threading.RLock()
        self._attempt: Any = None  # the attempt submitted last, until it settles or waits
        self._runs = 0
        self._errors: list[BaseException] = []
        self._stopped = False  # cancel() was called: no attempt starts any more
        self._dropped = False  # cancelled while its next attempt waited: see record()

    def _start(self, first: bool = False) -> None:
        """Submit the next attempt (the timer's thread, or ``submit()`` for the first)."""
        with self._turn:
            if self._stopped or self._call is None:
                return
            self._runs += 1
            fn, args, kwargs = self._call
            try:
                # Under the lock: a cancel() meanwhile would report nothing
                # runs while this attempt is on its way to a worker.
                if not first:  # a new submission to engines that merge equal ones (dask)
                    fn = Attempt(fn)
                attempt = self._submitter.submit_to(fn, *args, **kwargs)
            except BaseException as exc:
                if first:
                    raise
                # On the timer's thread no caller would hear of it, a BaseException too
                # (an engine's own stop): the record is the refusal, final.
                refusal: BaseException | None = exc
            else:
                refusal = None
                self._attempt = attempt
        if refusal is not None:
            self._finish(False, refusal)
            return
        try:
            attempt.add_done_callback(self._attempt_done)
        except Exception as exc:  # a future that refuses a callback: no news would come
            cancel_quietly(attempt, keep_done=False)
            self._finish(False, exc)
            return
        # An engine may drop a callback added once its future is done (an attempt run in
        # submit()): if it is done, read it here too; a second reading is ignored.
        try:
            done = settled(attempt)
        except Exception:  # an engine that cannot tell: its callback will
            done = False
        if done:
            self._attempt_done(attempt)

    def _attempt_done(self, attempt: Any) -> None:
        try:
            early = not settled(attempt)
        except Exception:  # an engine that cannot tell: read() meets its error
            early = False
        if early:
            # An engine calling back before its future is done: read now, it is pending.
            # Asked again until done() is true, as long as this future waits for it.
            call_when_done(attempt, self._attempt_done, functools.partial(self._waits, attempt))
            return
        interrupted = False
        try:
            code, payload = read(attempt)
        except Exception as error:  # an engine that cannot tell: its error is the outcome
            code, payload = -1, error
        with self._turn:
            if attempt is not self._attempt or self.done():  # called twice, or cancelled
                return
            if code != OK and not self._stopped and self._runs < self._submitter.policy.attempts:
                try:
                    again = self._submitter.policy.retries(payload)
                except BaseException as error:
                    # Any error of the rule (SystemExit, Ctrl-C too) is the task's outcome: it
                    # must not escape into the executor's thread, which would leave this future
                    # unsettled and its group waiting for ever.
                    if error.__context__ is None and error is not payload:
                        error.__context__ = payload
                    payload, again = error, False
                    interrupted = isinstance(error, KeyboardInterrupt) and (
                        threading.current_thread() is threading.main_thread()
                    )
                if again:
                    self._errors.append(payload)
                    self._attempt = None  # waiting: cancel() may drop it now
                    policy = self._submitter.policy
                    self._submitter.timer.at(time.monotonic() + policy.wait(self._runs), self)
                    return
        if code != OK and isinstance(payload, CancelledError) and attempt.cancelled():
            Future.cancel(self)
        else:
            self._finish(code == OK, payload)
        if interrupted:  # a Ctrl-C that landed in the rule, in the main thread: it goes on
            raise payload

    def _waits(self, attempt: Any) -> bool:
        """Whether this future still waits for the outcome of ``attempt``."""
        return attempt is self._attempt and not self.done()

    def _finish(self, ok: bool, payload: Any) -> None:
        self._call = None  # the function and its arguments are not needed any more
        try:
            if ok:
                self.set_result(payload)
            else:
                self.set_exception(payload)
        except InvalidStateError:  # cancelled first: that is the outcome
            pass

    def cancel(self) -> bool:
        """Stop the retries; True if no attempt is running (the function runs no more)."""
        with self._turn:
            self._stopped = True
            attempt = self._attempt
            if attempt is None:  # waiting for its next attempt, or never started
                self._call = None
                self._submitter.timer.forget(self)
                # Its last attempt failed (that failure is in _errors): the record tells it.
                self._dropped = bool(self._errors) and not self.done()
                return Future.cancel(self)
            try:
                if attempt.done() or not attempt.cancel():
                    return self.cancelled()  # it ran: its outcome will be this future's
            except Exception:  # an engine's cancel() that raises: it may still run
                return False
            return Future.cancel(self)

    def record(self, index: Any) -> Settled[Any]:
        """The record of this settled future, with its attempts (see ``tagged``)."""
        code, payload = read(self)
        record: Settled[Any] = Fulfilled(payload, index) if code == OK else Rejected(payload, index)
        return tagged(record, self)


def tagged(record: Settled[Any], fut: Any) -> Settled[Any]:
    """``record`` (of the settled ``fut``), with the attempts of ``fut`` if it is a ``RetryFuture``.

    ``attempts`` counts the attempts submitted: the one that ran last, one
    the executor refused (its record is the refusal), one cancelled before
    it ran (its record is the cancellation, or the group's timeout).
    ``earlier`` holds the exceptions of the attempts before the last, so
    ``len(earlier) == attempts - 1``. A future cancelled while its next
    attempt waited (the group's ``cancel()`` or deadline) submitted no
    attempt for that: its record is the last attempt's failure, as a map's
    item whose retry its deadline drops.
    """
    if type(fut) is not RetryFuture:
        return record
    runs, errors = fut._runs, fut._errors
    if fut._dropped:
        return retried(Rejected(errors[-1], record.index), runs, tuple(errors[:-1]))
    if runs > 1:
        return retried(record, runs, tuple(errors))
    return record


def dropped(fut: Any) -> bool:
    """Whether ``fut`` is a ``RetryFuture`` cancelled while its next attempt waited."""
    return type(fut) is RetryFuture and fut._dropped
