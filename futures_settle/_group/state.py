"""The inside of a task group: its tasks counted, cancelled, waited for.

The group keeps the indices of its unsettled tasks (``_pending``); each
task's future has a done-callback that takes its index out, once, and the
exit waits until none is left. That happens under the group's lock, except
for a value on a thread pool, counted without it
(``tasks.settle_thread``): waiters say so before they look
(``_wait``), so that such a task either sees them and wakes them or is
seen. Cancelling marks the group as stopping
(a task that starts now does not run its function), sets the cross-process
flag, cancels every queued future, and only then lets running tasks see it
through ``check_cancelled``: in that order, no worker freed by a
cooperative task can take a queued task that is not cancelled yet.

``TaskGroup`` (``group``) is the public face on top: the block, the
checks of its arguments, ``submit()`` and the answer.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, CancelledError, ThreadPoolExecutor
from typing import Any

from .._core.deadline import Deadline
from .._errors import SettleTimeoutError
from .._records import Fulfilled, Rejected, Settled
from .._retry.submitter import dropped, tagged
from .answer import (
    ALL,
    ANY,
    DEADLINE,
    FAILURE,
    FIRST,
    INTERRUPT,
    NONE,
    SETTLED,
    WINNER,
    exit_error,
    timeout_error,
)
from .cancelflag import CANCELLED, STOPPING, CancelFlag, set_task, task_probe
from .daskflag import DaskFlag
from .opening import forget
from .tasks import Switch, cancel_quietly, read, settle_thread, settled
from .values import values_of

__all__ = ["EXITING", "FINISHED", "FORKED", "INTERRUPTED", "LONGEST", "NEW", "OPEN", "GroupState"]

# Life of a group: submit() works while OPEN or EXITING (tasks may submit
# while the exit waits for them). FORKED: the copy in a forked child of a
# group open at the fork; it belongs to the parent, the child leaves it alone.
NEW, OPEN, EXITING, FINISHED, INTERRUPTED, FORKED = range(6)
LONGEST = threading.TIMEOUT_MAX  # a longer wait raises OverflowError


class GroupState:
    """A group's bookkeeping under one lock; ``TaskGroup`` adds the public methods."""

    def __init__(self, executor: Any, mode: int, timeout: float | None) -> None:
        self._executor = executor
        self._mode = mode
        self._timeout = timeout
        self._threads = isinstance(executor, ThreadPoolExecutor)
        self._retrying = False  # submits go through a RetryingSubmitter (TaskGroup sets it)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._watchers = 0  # threads waiting on _changed for each settling (as_settled)
        self._idlers = 0  # ... only for the last one (the exit)
        self._state = NEW
        self._futures: list[Any] = []
        self._records: list[Any] = []
        self._refused: set[int] = set()  # slots whose submit the executor refused
        self._order: list[int] = []  # indices in the order their tasks settled
        self._own: list[int] = []  # tasks that failed on their own
        # Indices of the tasks not counted as settled yet. Removing one is
        # what counts a task, once: under the lock, or without it on the
        # thread fast path (tasks.settle_thread), which appends to
        # _order first, so an empty set means _order is complete.
        self._pending: set[int] = set()
        # A thread task's value decides nothing in these modes: counted
        # without the lock (tasks.settle_thread).
        self._quiet_values = mode in (ALL, SETTLED)
        self._stopping = False  # a task starting now does not run
        # A task ended with BrokenExecutor: the pool fails every future of
        # its own, and the group cancels none of them. (Python 3.11's process
        # pool fails them one by one in its manager thread, whose callbacks
        # run the group's; a future cancelled meanwhile raises
        # InvalidStateError there, the manager dies and its workers outlive
        # shutdown().)
        self._broken = False
        self._cancelled = Switch()  # on: check_cancelled() raises in thread tasks
        self._cause = NONE
        self._trigger = -1  # the task whose outcome cancelled the group
        # ... and, on a thread pool, the exception it raised: the task's
        # future may end with another (an executor that ran it again after
        # the group stopped gets the group's CancelledError).
        self._trigger_error: BaseException | None = None
        self._at_deadline = (0, 0)  # (unsettled, submitted) when it passed
        self._deadline: float | None = None  # when the group cancels by itself
        self._task_deadline: Deadline | None = None  # what remaining() reads in its tasks
        # What check_cancelled() reads in the task of an outer group this
        # group's body runs in (opening.py watches it), or None.
        self._outer: Callable[[], bool] | None = None
        self._flag: CancelFlag | DaskFlag | None = None
        self._token = ""
        self._error: BaseException | None = None
        self._values: list[Any] | None = None  # "all" mode's answer, once complete
        # Futures call back through a weak reference: a future kept by the
        # caller does not keep the group (and every task's result) alive.
        self._ref = weakref.ref(self)
        # Thread tasks' stdlib futures: one shared callback, which finds a
        # task's index here.
        self._index_of: dict[Any, int] = {}
        self._on_done = functools.partial(settle_thread, self._ref)
        self._probe = task_probe(self._cancelled)
        # What a thread task submitted from an empty context runs in a copy of.
        self._template = contextvars.Context()
        self._template.run(set_task, self._probe)

    # -- cancelling --------------------------------------------------------

    def _cancel(
        self,
        cause: int,
        trigger: int = -1,
        again: bool = False,
        error: BaseException | None = None,
    ) -> None:
        """Cancel for ``cause`` (once); ``again``: redo the work even if cancelled.

        ``trigger``: the task whose outcome cancels, ``error`` its exception.
        """
        with self._lock:
            if self._state >= FINISHED or (self._stopping and not again):
                return
            if not self._stopping:
                self._stopping = True
                self._cause = cause
                self._trigger = trigger
                self._trigger_error = error
                if cause == DEADLINE:
                    self._at_deadline = (len(self._pending), self._submitted())
            flag = self._flag
            if flag is not None:
                flag.set(STOPPING)  # before the queue: a task starting meanwhile sees it
            futures = list(self._futures)
        if not self._broken:
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
            done = self._state == EXITING and not self._pending
        if not done:
            self._cancel(DEADLINE)

    def _interrupt(self) -> None:
        # Again: the Ctrl-C may have cut short a cancel that was under way,
        # before the rest of the queue was cancelled and the flag set.
        self._cancel(INTERRUPT, again=True)
        self._finish(INTERRUPTED)

    def _finish(self, state: int) -> None:
        try:
            with self._lock:
                self._state = state
                if state == FINISHED and self._mode == ALL and not self._own:
                    self._values = values_of(*self._answered(self._records, self._futures))
                if self._values is None:
                    records = self._records
                    for index, fut in enumerate(self._futures):
                        if records[index] is None and fut is not None and settled(fut):
                            records[index] = read(fut, index)
                self._futures = []
                self._index_of = {}
                forget(self)
        except BaseException:  # a Ctrl-C while the answer is made: no half answer
            self._state = INTERRUPTED
            raise
        finally:
            if self._flag is not None:
                # Interrupted: tasks a pool queued still read it (and do not run).
                self._flag.close(keep=state == INTERRUPTED)

    def _all_settled(self) -> bool:
        if self._pending:
            return False
        # Under the lock: no submit() gets in between the last task and the end.
        self._state = FINISHED
        return True

    # -- tasks settling ----------------------------------------------------

    def _finished_task(self, index: int, failed: bool, exc: BaseException | None) -> None:
        """A thread task's function returned (or raised): cancel now if that decides."""
        if failed and self._retrying:  # maybe not the last attempt: its future decides
            return
        mode = self._mode
        if mode == ALL:
            if failed and not (self._stopping and isinstance(exc, CancelledError)):
                self._cancel(FAILURE, index, error=exc)
        elif mode == FIRST or (mode == ANY and not failed):
            self._cancel(WINNER, index, error=exc)

    def _settle(self, index: int, fut: Any) -> None:
        try:
            record = read(fut, index)
            cause = NONE
            with self._lock:
                if index not in self._pending:  # an engine that calls a callback twice
                    return
                if type(record) is Rejected:
                    if isinstance(record.reason, BrokenExecutor):
                        self._broken = True  # before the cancel below
                    if (
                        index == self._trigger
                        and self._trigger_error is not None
                        and record.reason is not self._trigger_error
                        and isinstance(record.reason, CancelledError)
                    ):
                        # Its task failed and cancelled the group; the executor
                        # ran it again and the group refused: report the failure.
                        record = Rejected(self._trigger_error, index)
                    if (
                        self._stopping
                        and (isinstance(record.reason, CancelledError) or dropped(fut))
                        and index != self._trigger
                    ):
                        # Stopped by the group. A retry dropped while it waited keeps its
                        # last failure as its record (tagged); a cut attempt gets the timeout.
                        if self._cause == DEADLINE and not dropped(fut):
                            record = tagged(Rejected(self._timeout_error(index), index), fut)
                    else:
                        self._own.append(index)
                        if not self._stopping and (self._mode == ALL or self._mode == FIRST):
                            cause = FAILURE if self._mode == ALL else WINNER
                elif not self._stopping and (self._mode == ANY or self._mode == FIRST):
                    cause = WINNER
                self._records[index] = record
                self._order.append(index)
                self._pending.discard(index)
                if self._watchers or (self._idlers and not self._pending):
                    self._changed.notify_all()
            if cause:
                self._cancel(cause, index)
        except BaseException as error:
            # A Ctrl-C in the thread counting (the body's, when it cancelled a
            # queued future) before the count: count the task now, or nothing
            # ever will. After the count it is a no-op.
            self._unreserve(index, error)
            raise

    def _unreserve(self, index: int, error: BaseException | None = None) -> None:
        """Give up slot ``index``: the executor refused the task (``error`` None), or
        count it with ``error`` as its record (its future refused a callback, or a
        Ctrl-C cut its count short); nothing if it was counted already."""
        with self._lock:
            if index not in self._pending:  # the callback was added and ran after all
                return
            self._pending.discard(index)
            if error is None:  # refused: no place in the answer, as if never submitted
                if index == len(self._futures) - 1:
                    self._futures.pop()
                    self._records.pop()
                else:  # another submit took a later index meanwhile: its number stays
                    self._refused.add(index)
            else:
                self._records[index] = Rejected(error, index)
                if index not in self._order:  # a count cut short by Ctrl-C may have put it there
                    self._order.append(index)
            if self._watchers or (self._idlers and not self._pending):
                self._changed.notify_all()

    def _wait(self, ready: Callable[[], bool], each: bool) -> None:
        """Wait until ``ready()`` (read under the lock), cancelling at the deadline.

        ``each``: wake at every task that settles, not only at the last one.
        """
        while True:
            with self._lock:
                # Counted as waiting before ready() is read: the thread fast
                # path counts a task without the lock and then reads these
                # counts to decide whether to wake anyone. In that order on
                # both sides, either it sees this waiter or ready() sees its task.
                if each:
                    self._watchers += 1
                else:
                    self._idlers += 1
                try:
                    if ready():
                        return
                    deadline = None if self._stopping else self._deadline
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is None or left > 0:
                        self._changed.wait(None if left is None else min(left, LONGEST))
                        continue
                finally:
                    if each:
                        self._watchers -= 1
                    else:
                        self._idlers -= 1
            self._cancel(DEADLINE)

    def _stream(self) -> Iterator[Settled[Any]]:
        seen = 0

        def ready() -> bool:
            return seen < len(self._order) or not self._pending

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
        unsettled, submitted = self._at_deadline
        # Tasks submitted after the deadline never ran: unfinished too.
        late = max(0, self._submitted() - submitted)
        return timeout_error(self._timeout, unsettled + late, submitted + late, index)

    def _submitted(self) -> int:
        """How many tasks were submitted: every slot but those of refused submits."""
        return len(self._records) - len(self._refused)

    def _answered(self, *slots: list[Any]) -> list[list[Any]]:
        """``slots`` (lists by index) without the slots of refused submits."""
        refused = self._refused
        if not refused:
            return list(slots)
        return [[x for i, x in enumerate(items) if i not in refused] for items in slots]

    def _exit_error(self, body: BaseException | None) -> BaseException | None:
        return exit_error(
            self._mode,
            self._cause,
            self._records,
            self._submitted(),
            self._own,
            self._trigger,
            body,
            self._timeout_error(),
        )
