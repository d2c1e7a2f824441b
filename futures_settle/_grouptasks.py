"""How the tasks of a group run and report back: the thread wrapper, the done-callback.

On a thread pool a task's own wrapper decides whether its outcome cancels
the group, and cancels before it returns, so the worker that ran it finds
the queue already cancelled (a done-callback added after the task finished
would run in the submitter's thread, too late). Elsewhere the done-callback
decides: process pools and loky run it in the thread that feeds their
workers.
"""

from __future__ import annotations

import contextvars
import functools
import weakref
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any

from ._cancelflag import set_task
from ._engines import OK, PENDING, cancel_quietly, read_one
from ._errors import as_exception
from ._groupanswer import ALL
from ._records import Fulfilled, Rejected, Settled
from ._state import FAST, FAST_PATH, is_done, settled
from ._state import read as read_outcome

__all__ = [
    "LAYOUT",
    "Switch",
    "ThreadTask",
    "call_back",
    "cancel_quietly",
    "read",
    "settle",
    "settle_stdlib",
    "settled",
]


class Switch:
    """The in-thread flag, apart from the group so that tasks hold no cycle."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = False

    def __call__(self) -> bool:
        return self.on


class ThreadTask:
    """A task on a thread pool, and then its stdlib future's done-callback.

    One object for both (``call_back`` appends it to the future's
    callbacks): a task costs one object, not a wrapper's arguments plus a
    callback. Run with no argument, it runs the function in the submitter's
    context copy and decides in its worker whether its outcome cancels the
    group; called back with the future, it reports to the group and lets
    go of the context and the function's arguments, so that a future kept
    by the caller keeps none of them. A run keeps them: an executor may
    call what it was given again (a retry), and the function then runs
    again. It reaches its group only through a weak reference: the group
    waits for its tasks, and a failure whose traceback holds the task (in
    an executor's own frames) must not hold the group.
    """

    __slots__ = ("args", "context", "fn", "index", "kwargs", "ref")

    def __init__(
        self,
        group: Any,
        index: int,
        context: contextvars.Context,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.ref: weakref.ref[Any] = group._ref
        self.index = index
        self.context: contextvars.Context | None = context
        self.fn: Callable[..., Any] | None = fn
        self.args: tuple[Any, ...] | None = args
        self.kwargs: dict[str, Any] | None = kwargs

    def __call__(self, fut: Future[Any] | None = None) -> Any:
        if fut is not None:  # the future's done-callback: the task is over
            self.context = self.fn = self.args = self.kwargs = None
            settle_stdlib(self.ref, self.index, fut)
            return None
        group, context, fn, args, kwargs = self.ref(), self.context, self.fn, self.args, self.kwargs
        index = self.index
        del self  # this frame stays in a failure's traceback
        try:
            # A group that is gone (Ctrl-C left it) no longer wants the task.
            if group is None or group._stopping:
                raise CancelledError("the task group was cancelled before this task started")
            try:
                # One run of the context for both: entering a context costs.
                value = context.run(_in_task, group._probe, fn, args, kwargs)  # type: ignore[union-attr, arg-type]
            except BaseException as exc:
                group._finished_task(index, True, exc)
                raise
            if group._mode != ALL:
                group._finished_task(index, False, None)
            return value
        finally:
            # This frame stays in a failure's traceback: no path back to the group.
            del group, context, fn, args, kwargs


def _in_task(
    probe: Any, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """In the task's own context: make ``check_cancelled`` read ``probe``, call ``fn``."""
    set_task(probe)
    try:
        return fn(*args, **kwargs)
    finally:
        del fn, args, kwargs  # this frame stays in a failure's traceback


def settle(ref: weakref.ref[Any], index: int, fut: Any) -> None:
    """The done-callback of a task's future; a group that is gone needs no news."""
    group = ref()
    if group is None:
        return
    try:
        early = not settled(fut)
    except Exception:  # an engine that cannot tell: read() records what it can
        early = False
    if early:
        # An engine calling back before its future is done: the call that
        # matters is the one after.
        return
    group._settle(index, fut)


def settle_stdlib(ref: weakref.ref[Any], index: int, fut: Future[Any]) -> None:
    """``settle`` for a stdlib future (``call_back``): it is done, its layout known."""
    group = ref()
    if group is None:
        return
    if group._threads and fut._state == "FINISHED" and fut._exception is None:
        # A value on a thread pool: its task already decided whether it
        # cancels the group (run_in_thread); its record is made when read,
        # from the future while the group keeps it (else _settle makes it).
        with group._lock:
            if group._futures:
                if not group._counted[index]:
                    group._counted[index] = 1
                    group._order.append(index)
                    group._unsettled -= 1
                    if group._watchers or (group._idlers and not group._unsettled):
                        group._changed.notify_all()
                return
    group._settle(index, fut)


# Stdlib futures are read through their attributes, and their callback
# list appended to without its lock, only where the waiting core's probe
# found that layout (and a GIL that orders it).
LAYOUT = FAST_PATH


def read(fut: Any, index: int) -> Settled[Any]:
    """The record of a settled future, read as the wait functions read it.

    Stdlib futures (loky's too) directly, other engines' through their
    engine (one round trip for dask); an engine that called back before
    its future was done is waited for through ``exception()``, and one
    that fails to tell gives a record of its error.
    """
    try:
        code, payload = read_outcome(fut)
        if code == PENDING:
            code, payload = read_one(fut)
    except BaseException as error:
        return Rejected(as_exception(error), index)
    return Fulfilled(payload, index) if code == OK else Rejected(payload, index)


def call_back(fut: Any, ref: weakref.ref[Any], index: int, task: ThreadTask | None = None) -> None:
    """Have ``fut`` report to the group (``ref``) as task ``index`` once it settles.

    A stdlib future (a thread pool's) gets the callback (``task`` itself,
    when given) appended to its list, without the lock
    ``add_done_callback`` takes: the append is atomic, and a future that
    settled meanwhile may have passed over it, so it is called here when
    the future is done. It may thus run twice: the group counts a task once.
    """
    if type(fut) is Future and LAYOUT:
        callback = functools.partial(settle_stdlib, ref, index) if task is None else task
        fut._done_callbacks.append(callback)  # type: ignore[attr-defined]
        if is_done(fut, FAST):
            callback(fut)
    else:
        fut.add_done_callback(functools.partial(settle, ref, index))
