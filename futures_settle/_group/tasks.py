"""How the tasks of a group run and report back: the thread wrapper, the done-callback.

On a thread pool a task's own wrapper (``run_in_thread``) decides whether
its outcome cancels the group, and cancels before it returns, so the worker
that ran it finds the queue already cancelled (a done-callback added after
the task finished would run in the submitter's thread, too late); the
group's one shared callback (``settle_thread``) then counts it. Elsewhere
each future's own done-callback decides: process pools and loky run it in
the thread that feeds their workers.
"""

from __future__ import annotations

import contextvars
import functools
import weakref
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any

from .._core.deadline import run_within
from .._core.engines import OK, PENDING, cancel_quietly, read_one
from .._core.recheck import call_when_done
from .._core.state import FAST, FAST_PATH, is_done, settled
from .._core.state import read as read_outcome
from .._records import Fulfilled, Rejected, Settled
from .._retry.submitter import tagged
from .answer import ALL
from .cancelflag import set_task

__all__ = [
    "LAYOUT",
    "Switch",
    "call_back",
    "cancel_quietly",
    "read",
    "run_in_new_context",
    "run_in_thread",
    "settle",
    "settle_stdlib",
    "settle_thread",
    "settled",
]


class Switch:
    """The in-thread flag, apart from the group so that tasks hold no cycle."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = False

    def __call__(self) -> bool:
        return self.on


def run_in_thread(
    ref: weakref.ref[Any],
    index: int,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    probe_set: bool = False,
) -> Any:
    """What a thread pool runs for task ``index``, in the submitter's context copy.

    Submitted as ``Context.run(context, run_in_thread, ...)``: one frame of
    ours per task. It makes ``check_cancelled`` read the group's probe (in this
    task's own context, so nothing needs resetting), calls ``fn``, and
    decides in its worker whether the outcome cancels the group, so that
    the worker finds the queue already cancelled before it takes more. It
    reaches the group only through a weak reference: the group waits for
    its tasks, and a failure whose traceback holds this frame must not hold
    the group. The executor drops these arguments once the task has run; an
    executor that runs it again (a retry) runs the function again.
    """
    group = ref()
    try:
        # A group that is gone (Ctrl-C left it) no longer wants the task.
        if group is None or group._stopping:
            raise CancelledError("the task group was cancelled before this task started")
        if not probe_set:
            set_task(group._probe)
        deadline = group._task_deadline
        try:
            if deadline is None:
                value = fn(*args, **kwargs)
            else:  # remaining() reads it in the task's own context: no reset needed either
                value = run_within(deadline, fn, args, kwargs)
        except BaseException as exc:
            group._finished_task(index, True, exc)
            raise
        if group._mode != ALL:
            group._finished_task(index, False, None)
        return value
    finally:
        # This frame stays in a failure's traceback: no path back to the
        # group, the function or its arguments.
        del group, fn, args, kwargs


def run_in_new_context(
    ref: weakref.ref[Any],
    index: int,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """``run_in_thread`` for a task submitted from an empty context.

    A copy of an empty context is a new empty one: made here, in the
    worker, it is not one more object per queued task for the garbage
    collector. It is a copy of the group's ``_template``, empty but for
    ``check_cancelled``'s probe, which saves setting it.
    """
    group = ref()
    if group is None:  # run_in_thread says why the task does not run
        return contextvars.Context().run(run_in_thread, ref, index, fn, args, kwargs)
    template = group._template
    del group  # this frame stays in a failure's traceback
    return template.copy().run(run_in_thread, ref, index, fn, args, kwargs, True)


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
        # An engine calling back before its future is done: it may call back
        # again once it is, or never: the waiting core asks done() again
        # until it is true, then calls this again (the group counts a task once).
        call_when_done(
            fut, functools.partial(settle, ref, index), functools.partial(_wanted, ref, index)
        )
        return
    group._settle(index, fut)


def _wanted(ref: weakref.ref[Any], index: int) -> bool:
    """Whether the group ``ref`` still waits for task ``index``."""
    group = ref()
    return group is not None and index in group._pending


def settle_stdlib(ref: weakref.ref[Any], index: int, fut: Future[Any]) -> None:
    """``settle`` for a stdlib future (``call_back``): it is done, its layout known."""
    group = ref()
    if group is not None:
        group._settle(index, fut)


def settle_thread(ref: weakref.ref[Any], fut: Future[Any], index: int = -1) -> None:
    """Count a task of the group ``ref`` on a thread pool, whose stdlib future is done.

    The one done-callback of a group's stdlib futures on a thread pool (the
    group's ``_on_done``), which finds the task's index by its future: a
    task costs no callback object of its own, which every future would
    keep. Taking the index out of ``_index_of`` is this task's turn, once;
    ``submit`` passes ``index`` for a future that settled before it had a
    callback, or whose turn it took itself.

    A value that decides nothing (its task already decided whether it
    cancels the group, in ``run_in_thread``; in "any" and "first" a value
    the executor set without running the task decides, under the lock) is
    counted without the lock, as ``GroupState._wait`` expects: appended to
    ``_order`` first, then taken out of ``_pending``, then the waiters are
    read. Its record is made when read, from the future.
    """
    group = ref()
    if group is None:
        return
    try:
        if index < 0:
            index = group._index_of.pop(fut, -1)
            if index < 0:  # counted already, or the group finished
                return
        if (
            fut._state == "FINISHED"
            and fut._exception is None
            and (group._quiet_values or group._stopping)
        ):
            group._order.append(index)
            pending = group._pending
            pending.discard(index)
            if group._watchers or (group._idlers and not pending):
                with group._lock:
                    group._changed.notify_all()
            return
        group._settle(index, fut)
    except BaseException as error:
        # A Ctrl-C in the thread that runs this (the body's, which cancelled
        # the future or submitted it) after the turn was taken: count the
        # task now, or nothing ever will.
        if index < 0:  # cut before its turn: take it, this call was the one
            index = group._index_of.pop(fut, -1)
        if index >= 0:
            group._unreserve(index, error)
        raise


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
    except Exception as error:  # a Ctrl-C while reading is the caller's, not the task's
        return Rejected(error, index)
    record = Fulfilled(payload, index) if code == OK else Rejected(payload, index)
    return tagged(record, fut)  # with its attempts, after retries


def call_back(fut: Any, ref: weakref.ref[Any], index: int) -> None:
    """Have ``fut`` report to the group (``ref``) as task ``index`` once it settles.

    (Thread pools' stdlib futures get the group's shared callback in
    ``TaskGroup.submit``.) A stdlib future (a process pool's) gets its
    callback appended to its list, without the lock
    ``add_done_callback`` takes: the append is atomic, and a future that
    settled meanwhile may have passed over it, so it is called here when
    the future is done. It may thus run twice: the group counts a task once.
    Another engine's future is looked at the same way after its callback is
    added (one that drops callbacks for a future already done).
    """
    if type(fut) is Future and LAYOUT:
        callback = functools.partial(settle_stdlib, ref, index)
        fut._done_callbacks.append(callback)  # type: ignore[attr-defined]
        if is_done(fut, FAST):
            callback(fut)
    else:
        callback = functools.partial(settle, ref, index)
        fut.add_done_callback(callback)
        # An engine may drop a callback added once its future is done (or
        # run it on a thread of its own later): if it is done, count it here
        # too; the group counts a task once.
        try:
            done = settled(fut)
        except Exception:  # an engine that cannot tell: its callback will
            done = False
        if done:
            callback(fut)
