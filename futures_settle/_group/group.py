"""``TaskGroup``: the work of a ``with`` block, owned by it, on any executor.

The public face of a group: the block, the checks of its arguments,
``submit()``, ``cancel()``, ``as_settled()`` and ``result()``. How tasks are
counted, cancelled and waited for is ``state``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future
from types import TracebackType
from typing import Any, Generic, Literal, ParamSpec, TypeVar, overload

from .._core.state import DONE_STATES
from .._errors import reraise
from .._records import Settled
from .._retry.policy import Retry
from .answer import ALL, BODY, CANCEL, OUTER, SETTLED, WINNER
from .cancelflag import RemoteTask, running_task
from .opening import check_arguments, claim, forget, forked, open_group, submitter, tick
from .state import EXITING, FINISHED, FORKED, INTERRUPTED, NEW, OPEN, GroupState
from .tasks import (
    LAYOUT,
    call_back,
    cancel_quietly,
    run_in_new_context,
    run_in_thread,
    settle_thread,
)

__all__ = ["TaskGroup"]

R = TypeVar("R")
T = TypeVar("T")
P = ParamSpec("P")

_RUN = contextvars.Context.run


class TaskGroup(GroupState, Generic[R]):
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
    :class:`SettleTimeoutError` (``"all"``: unless running tasks then fail
    on their own, other than by ``CancelledError``; the exit raises the
    ``ExceptionGroup`` of those failures instead). In ``"settled"`` mode a task the deadline
    stopped (cancelled while queued, or ended by ``check_cancelled()``)
    gives ``Rejected(SettleTimeoutError)``; a task that ran on and finished
    gives its own outcome.

    An exception in the body cancels and waits, then the exit raises an
    ``ExceptionGroup`` of the body's exception and the tasks' failures (as
    asyncio's ``TaskGroup``); ``SystemExit`` and ``GeneratorExit`` (a
    generator holding the block was closed) propagate bare after the wait,
    and a ``CancelledError`` (``check_cancelled()`` in a group nested in an
    outer group's task) is a cancellation: the tasks' failures if any, else
    it propagates as it is.
    ``KeyboardInterrupt`` (Ctrl-C in the body or while the exit waits), or
    any exception a signal handler raises while the exit waits, cancels as
    above and propagates at once, **without** waiting for running tasks:
    they finish in the pool on their own.

    A group opened in a task of another group cancels with it (its exit then
    raises ``CancelledError``); tasks run under the nearer of the group's
    deadline and the one it was opened under, which ``remaining()`` reads.

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
        retry: A :class:`Retry`: a failed task runs again when due (no
            worker waits); its future settles with the last attempt, which
            alone counts for the mode. ``cancel()`` and the deadline drop
            waiting retries: such a task's record is its last failure,
            ``attempts`` the runs made (README, "Retries").

    Raises:
        TypeError: ``executor`` has no ``submit()`` or is a class (not an
            executor made from it), ``timeout`` is not a number, or
            ``retry`` is not a ``Retry``.
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
        retry: Retry | None = None,
    ) -> None: ...
    @overload
    def __init__(
        self: TaskGroup[list[Settled[Any]]],
        executor: Any,
        *,
        mode: Literal["settled"],
        timeout: float | None = None,
        retry: Retry | None = None,
    ) -> None: ...
    @overload
    def __init__(
        self: TaskGroup[Any],
        executor: Any,
        *,
        mode: Literal["any", "first"],
        timeout: float | None = None,
        retry: Retry | None = None,
    ) -> None: ...
    def __init__(
        self,
        executor: Any,
        *,
        mode: str = "all",
        timeout: float | None = None,
        retry: Retry | None = None,
    ) -> None:
        super().__init__(executor, check_arguments(executor, mode, timeout, retry), timeout)
        self._submit = submitter(executor, retry)
        self._retrying = retry is not None

    # -- the block ---------------------------------------------------------

    def __enter__(self) -> TaskGroup[R]:
        with self._lock:
            if self._state != NEW:
                raise RuntimeError("TaskGroup entered twice; a group runs once, make a new one")
            claim(self)  # before the state says open: a fork in between marks the copy FORKED
            self._state = OPEN
        try:
            open_group(self)
            return self  # in the try: a Ctrl-C here would leave the group open
        except BaseException:  # a Ctrl-C halfway: no flag file left behind
            self._state = INTERRUPTED
            forget(self)
            if self._flag is not None:
                self._flag.close()
            raise

    def _tick(self, now: float) -> float | None:
        return tick(self, now, FINISHED)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        try:
            if self._state == FORKED:  # a forked child leaving its copy: the parent's tasks
                return False
            if isinstance(exc, KeyboardInterrupt):
                self._interrupt()
                return False
            with self._lock:
                self._state = EXITING
            if exc is not None:
                self._cancel(BODY)
            self._wait(self._all_settled, each=False)
            # In the try: a Ctrl-C while the answer is made leaves none
            # half made (result() then says the group was interrupted).
            self._finish(FINISHED)
            error = self._error = self._exit_error(exc)
        except BaseException:
            # Ctrl-C, or any exception a signal handler raises while the exit
            # waits (SystemExit from a SIGTERM handler, a SIGALRM timeout):
            # cancel, clean up, propagate, as for Ctrl-C.
            self._interrupt()
            raise
        if error is None and exc is None and self._cause == OUTER:
            # Cancelled with the outer group's task it runs in: that task was cancelled.
            error = CancelledError("the task group was cancelled with the group it runs in")
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
            The executor's own future for the task (with ``retry=``, one
            that settles with its last attempt).

        A submit the executor refuses (shut down, broken) raises the
        executor's error and takes no place in the answer; a task another
        thread submitted meanwhile keeps its number, so ``.index`` may skip.

        Raises:
            TypeError: ``fn`` is not callable.
            RuntimeError: The group is not open (not entered yet, or finished).
            Exception: What the executor's ``submit()`` raised.
        """
        if not callable(fn):
            raise TypeError(f"TaskGroup.submit() expected a callable, got {type(fn).__name__}")
        index = -1  # the task's slot, once reserved
        fut: Any = None
        registered = mine = False
        try:
            with self._lock:
                state = self._state
                if state != OPEN and state != EXITING:
                    raise RuntimeError(
                        "TaskGroup.submit() called before the group was entered"
                        if state == NEW
                        else "TaskGroup.submit() called after the group finished"
                        if state != FORKED
                        else forked("submit")
                    )
                slot = len(self._futures)
                try:
                    self._futures.append(None)
                    self._records.append(None)
                    self._pending.add(slot)
                    index = slot
                except BaseException:  # Ctrl-C halfway: nothing stays reserved
                    del self._futures[slot:], self._records[slot:]
                    self._pending.discard(slot)
                    raise
            if self._threads:
                context = contextvars.copy_context()
                if len(context):  # Context.run unbound: no bound method per task
                    fut = self._submit(
                        _RUN, context, run_in_thread, self._ref, index, fn, args, kwargs
                    )
                else:
                    del context  # the worker makes a new one
                    fut = self._submit(run_in_new_context, self._ref, index, fn, args, kwargs)
            else:
                assert self._flag is not None
                token = f"{self._token}-{index}"
                fut = self._submit(
                    RemoteTask(fn, args, kwargs, self._flag, token, self._task_deadline)
                )
            # No lock: _cancel() sets _stopping before it copies the list, so
            # either it sees this future or this reads _stopping as set.
            futures = self._futures
            if index < len(futures):  # else Ctrl-C ended the group meanwhile
                futures[index] = fut
            if self._threads and type(fut) is Future and LAYOUT:
                if fut._state in DONE_STATES:
                    # Settled already: no callback, this is the one count.
                    mine = True
                    settle_thread(self._ref, fut, index)
                elif self._index_of.setdefault(fut, index) == index:  # else another task's
                    # The stdlib future's callback list, appended to without
                    # its lock (atomic): indexed first, as it may run at once.
                    registered = True
                    fut._done_callbacks.append(self._on_done)  # type: ignore[attr-defined]
                    # Settled meanwhile, the future's loop may have passed
                    # over the callback: count it here, if the callback has not.
                    # (A Ctrl-C caught in the body, landing between the turn
                    # taken and the next line, would leave it uncounted.)
                    if fut._state in DONE_STATES and self._index_of.pop(fut, None) is not None:
                        mine = True
                        settle_thread(self._ref, fut, index)
                else:
                    call_back(fut, self._ref, index)
            else:
                call_back(fut, self._ref, index)
        except BaseException as error:
            if index >= 0:
                if fut is None:  # the executor refused the task
                    self._unreserve(index)
                    raise
                # No callback (refused, or Ctrl-C before it was added), or a
                # count of ours cut short: no news of this task will come,
                # count it now, or the exit would wait forever. On the fast
                # path an index left in _index_of says no callback took its turn.
                cancel_quietly(fut)
                if (
                    (mine and index in self._pending)
                    or not (mine or registered)
                    or (registered and self._index_of.pop(fut, None) is not None)
                ):
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
        if self._state == NEW:
            raise RuntimeError("TaskGroup.cancel() called before the group was entered")
        if self._state == FORKED:
            raise RuntimeError(forked("cancel"))
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
        if self._state != OPEN:
            raise RuntimeError(
                "TaskGroup.as_settled() must be called inside the group's body"
                if self._state != FORKED
                else forked("as_settled")
            )
        if running_task() is self._probe:
            raise RuntimeError(
                "TaskGroup.as_settled() called in a task of the group: it would wait for itself"
            )
        return self._stream()

    def result(self) -> R:
        """The group's answer, after the exit (see the modes).

        Raises:
            RuntimeError: The group is open, was never entered, was
                interrupted (``KeyboardInterrupt``, a signal handler's
                exception in the exit), or this is a forked child's copy.
            CancelledError: The group was cancelled before it had an answer.
            BaseException: What the exit raised, for ``"all"``, ``"any"``
                and ``"first"``.
        """
        state = self._state
        if state != FINISHED:
            raise RuntimeError(
                "TaskGroup.result() called before the group was entered"
                if state == NEW
                else "TaskGroup.result(): the group was interrupted before its tasks settled"
                if state == INTERRUPTED
                else forked("result")
                if state == FORKED
                else "TaskGroup.result() called while the group is open; call it after the block"
            )
        records = self._records
        mode = self._mode
        if mode == SETTLED:
            return list(self._answered(records)[0])  # type: ignore[return-value]
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
