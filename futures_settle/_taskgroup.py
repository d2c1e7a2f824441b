"""``TaskGroup``: the work of a ``with`` block, owned by it, on any executor.

The group counts its unsettled tasks under one lock; each task's future
gets one done-callback (``_grouptasks.settle``) that counts it down, and the
exit waits until the count is zero. Cancelling marks the group as stopping
(a task that starts now does not run its function), sets the cross-process
flag, cancels every queued future, and only then lets running tasks see it
through ``check_cancelled``: in that order, no worker freed by a
cooperative task can take a queued task that is not cancelled yet.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Generic, Literal, ParamSpec, TypeVar, overload

from ._cancelflag import CANCELLED, STOPPING, CancelFlag, RemoteTask, running_task, task_probe
from ._errors import SettleTimeoutError, reraise
from ._groupanswer import (
    ALL,
    ANY,
    BODY,
    CANCEL,
    DEADLINE,
    FAILURE,
    FIRST,
    INTERRUPT,
    MODES,
    NONE,
    SETTLED,
    WINNER,
    exit_error,
    timeout_error,
)
from ._grouptasks import LAYOUT, Switch, cancel_quietly, read, run_in_thread, settle, settled
from ._inputs import deadline_of
from ._records import Fulfilled, Rejected, Settled

__all__ = ["TaskGroup"]

R = TypeVar("R")
T = TypeVar("T")
P = ParamSpec("P")

# Life of a group: submit() works while OPEN or EXITING (tasks may submit
# while the exit waits for them).
_NEW, _OPEN, _EXITING, _FINISHED, _INTERRUPTED = range(5)
_LONGEST = threading.TIMEOUT_MAX  # a longer wait raises OverflowError


class TaskGroup(Generic[R]):
    """Run tasks on an executor inside a ``with`` block that owns them.

    Nothing submitted through the group outlives the block: the exit waits
    for every task, also after a failure, the deadline or an exception in
    the body. The mode says when the group stops the rest and what it gives:

    - ``"all"`` (``Promise.all``): the first failure cancels the rest; the
      exit raises an ``ExceptionGroup`` of every task's failure (not the
      cancellations the group caused), in submit order; ``result()`` is
      the list of values in submit order.
    - ``"settled"`` (``Promise.allSettled``): a failure cancels nothing and
      the exit never raises for one; ``result()`` is the list of
      ``Fulfilled``/``Rejected`` records, ``.index`` being the submit order.
    - ``"any"`` (``Promise.any``): the first success cancels the rest and is
      ``result()``; if every task fails, the exit raises an
      ``ExceptionGroup`` of their failures in submit order.
    - ``"first"`` (``Promise.race``): the first task to settle cancels the
      rest; ``result()`` is its value, or the exit raises its exception.

    Cancelling (for the mode's reason, at the deadline, by ``cancel()`` or
    an exception in the body) cancels every queued task, so that none runs
    its function after that moment, and makes ``check_cancelled()`` raise
    in running tasks: cooperative ones stop early, the others are waited
    for. On a thread pool the task whose outcome cancels the group does it
    before its worker takes more work. A process pool has already handed up
    to ``max_workers + 1`` tasks to its workers' call queue (loky: ``2 *
    max_workers + 1``): they cannot be cancelled, so they read the group's
    flag when they start and raise ``CancelledError`` without calling the
    function. When the trigger is a task's own outcome, the worker it freed
    may run tasks from that queue before the pool reports the outcome.

    ``timeout`` is one deadline for the group, counted from entering. At it
    the group cancels; ``"all"``, ``"any"`` and ``"first"`` exit with
    :class:`SettleTimeoutError`. In ``"settled"`` mode a task the deadline
    stopped (cancelled while queued, or ended by ``check_cancelled()``)
    gives ``Rejected(SettleTimeoutError)``; a task that ran on and finished
    gives its own outcome.

    An exception in the body cancels and waits, then the exit raises an
    ``ExceptionGroup`` of the body's exception and the tasks' failures (as
    asyncio's ``TaskGroup``); ``SystemExit`` and ``GeneratorExit`` (a
    generator holding the block was closed) propagate bare after the wait.
    ``KeyboardInterrupt`` (Ctrl-C in the body or while the exit waits)
    cancels as above and propagates at once, **without** waiting for running
    tasks: they finish in the pool on their own.

    Each task runs in a copy of the submitter's ``contextvars`` context on
    thread pools (as ``asyncio.to_thread`` does). A task on a thread pool
    may submit more tasks to its group; the group waits for them too. After
    the group cancelled, ``submit()`` still returns a future, cancelled at
    once (the function never runs).

    Args:
        executor: Anything with ``submit()``: a thread or process pool,
            loky's executor, a dask ``Client``.
        mode: ``"all"``, ``"settled"``, ``"any"`` or ``"first"``.
        timeout: Seconds for the whole group, or ``None`` for no deadline.

    Raises:
        TypeError: ``executor`` has no ``submit()``, or ``timeout`` is not
            a number.
        ValueError: An unknown ``mode``, or a NaN ``timeout``.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> with ThreadPoolExecutor() as pool:
        ...     with TaskGroup(pool) as tg:
        ...         user = tg.submit(str.upper, "ann")
        ...         perms = tg.submit(sorted, ["write", "read"])
        >>> user.result(), perms.result(), tg.result()
        ('ANN', ['read', 'write'], ['ANN', ['read', 'write']])
    """

    @overload
    def __init__(
        self: TaskGroup[list[Any]],
        executor: Any,
        *,
        mode: Literal["all"] = "all",
        timeout: float | None = None,
    ) -> None: ...
    @overload
    def __init__(
        self: TaskGroup[list[Settled[Any]]],
        executor: Any,
        *,
        mode: Literal["settled"],
        timeout: float | None = None,
    ) -> None: ...
    @overload
    def __init__(
        self: TaskGroup[Any],
        executor: Any,
        *,
        mode: Literal["any", "first"],
        timeout: float | None = None,
    ) -> None: ...
    def __init__(self, executor: Any, *, mode: str = "all", timeout: float | None = None) -> None:
        if executor is None or not callable(getattr(executor, "submit", None)):
            raise TypeError(
                f"TaskGroup() expected an executor with submit(), got {type(executor).__name__}"
            )
        if not isinstance(mode, str) or mode not in MODES:
            raise ValueError(
                f"TaskGroup() mode must be 'all', 'settled', 'any' or 'first', got {mode!r}"
            )
        deadline_of(timeout)  # refuses a bad timeout now
        self._executor = executor
        self._mode = MODES.index(mode)
        self._timeout = timeout
        self._threads = isinstance(executor, ThreadPoolExecutor)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._watchers = 0  # threads waiting on _changed for each settling (as_settled)
        self._idlers = 0  # ... only for the last one (the exit)
        self._state = _NEW
        self._futures: list[Any] = []
        self._records: list[Any] = []
        self._order: list[int] = []  # indices in the order their tasks settled
        self._counted = bytearray()  # 1 at an index once its task was counted as settled
        self._own: list[int] = []  # tasks that failed on their own
        self._unsettled = 0
        self._stopping = False  # a task starting now does not run
        self._cancelled = Switch()  # on: check_cancelled() raises in thread tasks
        self._cause = NONE
        self._trigger = -1  # the task whose outcome cancelled the group
        self._at_deadline = (0, 0)  # (unsettled, submitted) when it passed
        self._deadline: float | None = None
        self._timer: threading.Timer | None = None
        self._flag: CancelFlag | None = None
        self._token = ""
        self._error: BaseException | None = None
        self._values: list[Any] | None = None  # "all" mode's answer, once complete
        # Futures call back through a weak reference: a future kept by the
        # caller does not keep the group (and every task's result) alive.
        self._ref = weakref.ref(self)
        self._probe = task_probe(self._cancelled)

    # -- the block ---------------------------------------------------------

    def __enter__(self) -> TaskGroup[R]:
        with self._lock:
            if self._state != _NEW:
                raise RuntimeError("TaskGroup entered twice; a group runs once, make a new one")
            self._state = _OPEN
        if not self._threads:
            self._flag = CancelFlag()
            self._token = uuid.uuid4().hex
        self._deadline = deadline_of(self._timeout)
        if self._deadline is not None:
            left = self._deadline - time.monotonic()
            if left <= 0:
                self._cancel(DEADLINE)
            elif left <= _LONGEST:  # longer, a timer overflows; the waits still check
                self._timer = threading.Timer(left, self._expire)
                self._timer.daemon = True
                self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        try:
            if isinstance(exc, KeyboardInterrupt):
                self._interrupt()
                return False
            with self._lock:
                self._state = _EXITING
            if exc is not None:
                self._cancel(BODY)
            self._wait(self._all_settled, each=False)
        except KeyboardInterrupt:
            self._interrupt()
            raise
        self._finish(_FINISHED)
        error = self._error = self._exit_error(exc)
        if error is None or error is exc:
            return False
        try:
            if exc is None:
                # Maybe a task's own exception ("first"): keep its __cause__.
                raise error
            raise error from None  # the body's exception is inside it
        finally:
            del error, exc, self

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Submit ``fn(*args, **kwargs)`` to the executor as a task of the group.

        Returns:
            The executor's own future for the task.

        Raises:
            TypeError: ``fn`` is not callable.
            RuntimeError: The group is not open (not entered yet, or finished).
        """
        if not callable(fn):
            raise TypeError(f"TaskGroup.submit() expected a callable, got {type(fn).__name__}")
        with self._lock:
            state = self._state
            if state != _OPEN and state != _EXITING:
                raise RuntimeError(
                    "TaskGroup.submit() called before the group was entered"
                    if state == _NEW
                    else "TaskGroup.submit() called after the group finished"
                )
            index = len(self._futures)
            self._futures.append(None)
            self._records.append(None)
            self._counted.append(0)
            self._unsettled += 1
        try:
            if self._threads:
                ctx = contextvars.copy_context()
                fut = self._executor.submit(run_in_thread, self, index, ctx, fn, args, kwargs)
            else:
                assert self._flag is not None
                token = f"{self._token}-{index}"
                fut = self._executor.submit(RemoteTask(fn, args, kwargs, self._flag, token))
        except BaseException:
            self._unreserve(index)
            raise
        # No lock: _cancel() sets _stopping before it copies the list, so
        # either it sees this future or this reads _stopping as set.
        futures = self._futures
        if index < len(futures):  # else Ctrl-C ended the group meanwhile
            futures[index] = fut
        try:
            fut.add_done_callback(functools.partial(settle, self._ref, index))
        except BaseException as error:
            # No callback, no news of this task: count it now, or the exit
            # would wait for it forever.
            cancel_quietly(fut)
            self._unreserve(index, error)
            raise
        if self._stopping:  # the cancel loop may have passed this slot while it was empty
            cancel_quietly(fut)
        return fut  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """Cancel the group: queued tasks never run, ``check_cancelled()`` raises.

        The exit still waits for running tasks and does not raise for the
        cancellation; ``result()`` then raises ``CancelledError`` unless the
        answer was complete (``"settled"`` gives the records). Does nothing
        once the group finished.

        Raises:
            RuntimeError: The group was not entered yet.
        """
        if self._state == _NEW:
            raise RuntimeError("TaskGroup.cancel() called before the group was entered")
        self._cancel(CANCEL)

    def as_settled(self) -> Iterator[Settled[Any]]:
        """Yield each task's record as it settles, in the body.

        Tasks submitted during the iteration are yielded too; the iteration
        ends when no task is pending. Records carry the submit order as
        ``.index``. It waits within the group's deadline: at the deadline
        the group cancels, and the records of the stopped tasks follow.

        Raises:
            RuntimeError: Called outside the group's body, or in one of its
                tasks (which would wait for itself).
        """
        if self._state != _OPEN:
            raise RuntimeError("TaskGroup.as_settled() must be called inside the group's body")
        if running_task() is self._probe:
            raise RuntimeError(
                "TaskGroup.as_settled() called in a task of the group: it would wait for itself"
            )
        return self._stream()

    def result(self) -> R:
        """The group's answer, after the exit (see the modes).

        Raises:
            RuntimeError: The group is open, was never entered, or was
                interrupted by ``KeyboardInterrupt``.
            CancelledError: The group was cancelled before it had an answer.
            BaseException: What the exit raised, for ``"all"``, ``"any"``
                and ``"first"``.
        """
        state = self._state
        if state != _FINISHED:
            raise RuntimeError(
                "TaskGroup.result() called before the group was entered"
                if state == _NEW
                else "TaskGroup.result() called while the group is open; call it after the block"
                if state != _INTERRUPTED
                else "TaskGroup.result(): the group was interrupted before its tasks settled"
            )
        records = self._records
        mode = self._mode
        if mode == SETTLED:
            return list(records)  # type: ignore[return-value]
        if self._error is not None:
            try:
                reraise(self._error, self)
            finally:
                # The traceback keeps this frame: the group keeps the error.
                del self, records
        if self._values is not None:
            return list(self._values)  # type: ignore[return-value]
        if mode != ALL and self._cause == WINNER:
            return records[self._trigger].unwrap()  # type: ignore[no-any-return]
        raise CancelledError("the task group was cancelled before it had a result")

    def __reduce__(self) -> Any:
        raise TypeError(
            "a TaskGroup cannot be sent to another process; submit from the body "
            "or from tasks on a thread pool"
        )

    # -- cancelling --------------------------------------------------------

    def _cancel(self, cause: int, trigger: int = -1, again: bool = False) -> None:
        """Cancel for ``cause`` (once); ``again``: redo the work even if cancelled."""
        with self._lock:
            if self._state >= _FINISHED or (self._stopping and not again):
                return
            if not self._stopping:
                self._stopping = True
                self._cause = cause
                self._trigger = trigger
                if cause == DEADLINE:
                    self._at_deadline = (self._unsettled, len(self._futures))
            flag = self._flag
            if flag is not None:
                flag.set(STOPPING)  # before the queue: a task starting meanwhile sees it
            futures = list(self._futures)
        for fut in futures:
            if fut is not None:
                cancel_quietly(fut)
        del futures
        # After the queue: see the module's docstring.
        self._cancelled.on = True
        if flag is not None:
            flag.set(CANCELLED)
        with self._lock:
            if self._watchers or self._idlers:
                self._changed.notify_all()

    def _expire(self) -> None:
        with self._lock:
            # Everything settled while the exit waited: the deadline found
            # nothing to stop.
            done = self._state == _EXITING and not self._unsettled
        if not done:
            self._cancel(DEADLINE)

    def _interrupt(self) -> None:
        # Again: the Ctrl-C may have cut short a cancel that was under way,
        # before the rest of the queue was cancelled and the flag set.
        self._cancel(INTERRUPT, again=True)
        self._finish(_INTERRUPTED)

    def _finish(self, state: int) -> None:
        with self._lock:
            self._state = state
            if state == _FINISHED and self._mode == ALL and not self._own:
                self._values = _values(self._records, self._futures)
            if self._values is None:
                records = self._records
                for index, fut in enumerate(self._futures):
                    if records[index] is None and fut is not None and settled(fut):
                        records[index] = read(fut, index)
            self._futures = []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flag is not None:
            self._flag.close()

    def _all_settled(self) -> bool:
        if self._unsettled:
            return False
        # Under the lock: no submit() gets in between the last task and the end.
        self._state = _FINISHED
        return True

    # -- tasks settling ----------------------------------------------------

    def _finished_task(self, index: int, failed: bool, exc: BaseException | None) -> None:
        """A thread task's function returned (or raised): cancel now if that decides."""
        mode = self._mode
        if mode == ALL:
            if failed and not (self._stopping and isinstance(exc, CancelledError)):
                self._cancel(FAILURE, index)
        elif mode == FIRST or (mode == ANY and not failed):
            self._cancel(WINNER, index)

    def _settle(self, index: int, fut: Any) -> None:
        record = read(fut, index)
        cause = NONE
        with self._lock:
            if self._counted[index]:  # an engine that calls a callback twice
                return
            self._counted[index] = 1
            if type(record) is Rejected:
                if (
                    self._stopping
                    and isinstance(record.reason, CancelledError)
                    and index != self._trigger
                ):
                    if self._cause == DEADLINE:
                        record = Rejected(self._timeout_error(index), index)
                else:
                    self._own.append(index)
                    if not self._stopping and (self._mode == ALL or self._mode == FIRST):
                        cause = FAILURE if self._mode == ALL else WINNER
            elif not self._stopping and (self._mode == ANY or self._mode == FIRST):
                cause = WINNER
            self._records[index] = record
            self._order.append(index)
            self._unsettled -= 1
            if self._watchers or (self._idlers and not self._unsettled):
                self._changed.notify_all()
        if cause:
            self._cancel(cause, index)

    def _unreserve(self, index: int, error: BaseException | None = None) -> None:
        """Give up slot ``index``: the executor refused the task (``error`` None) or
        its future refused a callback (``error``, the future is in the slot)."""
        with self._lock:
            if self._counted[index]:  # the callback was added and ran after all
                return
            self._counted[index] = 1
            self._unsettled -= 1
            if error is None and index == len(self._futures) - 1:
                self._futures.pop()
                self._records.pop()
                self._counted.pop()
            else:  # another submit took a later index meanwhile: keep the slot
                self._records[index] = Rejected(
                    RuntimeError("the executor refused this task") if error is None else error,
                    index,
                )
                self._order.append(index)
            if self._watchers or (self._idlers and not self._unsettled):
                self._changed.notify_all()

    def _wait(self, ready: Callable[[], bool], each: bool) -> None:
        """Wait until ``ready()`` (read under the lock), cancelling at the deadline.

        ``each``: wake at every task that settles, not only at the last one.
        """
        while True:
            with self._lock:
                if ready():
                    return
                deadline = None if self._stopping else self._deadline
                left = None if deadline is None else deadline - time.monotonic()
                if left is None or left > 0:
                    if each:
                        self._watchers += 1
                    else:
                        self._idlers += 1
                    try:
                        self._changed.wait(None if left is None else min(left, _LONGEST))
                    finally:
                        if each:
                            self._watchers -= 1
                        else:
                            self._idlers -= 1
                    continue
            self._cancel(DEADLINE)

    def _stream(self) -> Iterator[Settled[Any]]:
        seen = 0

        def ready() -> bool:
            return seen < len(self._order) or not self._unsettled

        while True:
            self._wait(ready, each=True)
            with self._lock:
                records, futures, values = self._records, self._futures, self._values
                batch = []
                for i in self._order[seen:]:
                    if records[i] is None:  # a value on a thread pool, not read yet
                        # Iterated after the exit, the value is in the answer.
                        records[i] = (
                            read(futures[i], i) if futures else Fulfilled(values[i], i)  # type: ignore[index]
                        )
                    batch.append(records[i])
            if not batch:
                return
            seen += len(batch)
            yield from batch
            del batch

    # -- the answer --------------------------------------------------------

    def _timeout_error(self, index: int | None = None) -> SettleTimeoutError:
        return timeout_error(self._timeout, *self._at_deadline, index)

    def _exit_error(self, body: BaseException | None) -> BaseException | None:
        return exit_error(
            self._mode,
            self._cause,
            self._records,
            self._own,
            self._trigger,
            body,
            self._timeout_error(),
        )


def _values(records: list[Any], futures: list[Any]) -> list[Any] | None:
    """Every task's value in submit order, or ``None`` if one has none.

    Values that thread tasks returned were counted without being read
    (``_grouptasks.settle``): they are read here, without making records.
    """
    values = []
    for index, record in enumerate(records):
        if record is None:
            fut = futures[index]
            if type(fut) is Future and LAYOUT and fut._state == "FINISHED":
                if fut._exception is not None:
                    return None
                values.append(fut._result)
                continue
            record = read(fut, index)
        if type(record) is not Fulfilled:
            return None
        values.append(record.value)
    return values
