"""Opening a group: its flag, its deadline, and the outer group it may be nested in.

A group opened inside a task of another group (trio's nested nursery,
asyncio's nested ``TaskGroup``) belongs to that task: when the outer group
cancels (a failure, its deadline, ``cancel()``, its body's exception), the
inner one cancels too, and its exit then raises ``CancelledError``, so that
the outer group counts its task as cancelled, not failed. The inner group
learns it from the outer group's probe (what ``check_cancelled`` reads in
the task: a flag of a group in this process, or the byte or event of one
in another), looked at every :data:`NEST_POLL` seconds by the shared
watch thread (``watch``) while the inner group is open.

Deadlines: the tasks of a group run under the nearer of the group's own
deadline and the one the group was opened under (``_core.deadline``), so
``remaining()`` in them never promises more time than the outer group
has. When the outer deadline is the nearer and the group is nested in an
outer group's task, the outer group's cancel at that deadline reaches it
as above; opened under a deadline of something else (an item of a map),
the group cancels at it as at its own.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from .._core.deadline import Deadline, current
from .._core.engines import submitter_of
from .._core.inputs import deadline_of
from .._retry.policy import Retry, check_retry
from .._retry.submitter import RetryingSubmitter
from .answer import DEADLINE, MODES, OUTER
from .cancelflag import CancelFlag, enclosing_probe
from .daskflag import DaskFlag, dask_client
from .watch import watch

__all__ = ["NEST_POLL", "check_arguments", "claim", "forget", "forked", "open_group", "tick"]

NEST_POLL = 0.01  # seconds between two looks of a nested group at its outer group
_FORKED = 5  # state.FORKED (state imports this module)

# The groups open in this process: a forked child marks its copies FORKED.
_OPEN: weakref.WeakSet[Any] = weakref.WeakSet()


def check_arguments(executor: Any, mode: object, timeout: object, retry: object = None) -> int:
    """``TaskGroup()``'s checks, before anything is made; the mode's number."""
    if isinstance(executor, type):
        raise TypeError(
            f"TaskGroup() expected an executor with submit(), got the class "
            f"{executor.__name__}; pass an instance, e.g. {executor.__name__}()"
        )
    if executor is None or not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"TaskGroup() expected an executor with submit(), got {type(executor).__name__}"
        )
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(
            f"TaskGroup() mode must be 'all', 'settled', 'any' or 'first', got {mode!r}"
        )
    deadline_of(timeout)  # refuses a bad timeout now
    check_retry("TaskGroup", retry)
    return MODES.index(mode)


def submitter(executor: Any, retry: Retry | None) -> Callable[..., Any]:
    """What submits a group's task: the executor's own call (pebble pools: ``schedule()``),
    or, with ``retry``, an adapter whose futures span the attempts."""
    if retry is None:
        return submitter_of(executor)
    return RetryingSubmitter(executor, retry).submit


def forked(method: str) -> str:
    """The refusal of ``method`` on a group inherited by a forked child."""
    return (
        f"TaskGroup.{method}() called in a forked child: the group belongs to the "
        f"process that opened it"
    )


def claim(group: Any) -> None:
    """``group`` is this process's from now on (``__enter__``, before its state says open):
    a child forked from here on gets a copy that refuses."""
    _OPEN.add(group)


def forget(group: Any) -> None:
    """``group`` is no longer open here (it finished)."""
    _OPEN.discard(group)


def _after_fork_in_child() -> None:
    # The child's copies of open groups belong to the parent: their exit
    # does nothing (it must not cancel the parent's tasks, set or remove its
    # flag, or wait for tasks the child cannot see), their methods refuse.
    # New locks: a thread of the parent may have held one at the fork.
    for group in list(_OPEN):
        group._state = _FORKED
        group._flag = None
        group._lock = threading.Lock()
        group._changed = threading.Condition(group._lock)
    _OPEN.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def open_group(group: Any) -> None:
    """Make ``group`` ready to take tasks (``__enter__``, once its state is OPEN)."""
    _OPEN.add(group)
    if not group._threads:
        client = dask_client(group._executor)
        group._flag = CancelFlag() if client is None else DaskFlag(client)
        group._token = os.urandom(16).hex()  # what uuid4() is made of, without its import
    group._outer = enclosing_probe()
    own = deadline_of(group._timeout)
    inherited = current()
    if inherited is not None and (own is None or inherited.at < own):
        group._task_deadline = inherited
        if group._outer is None:  # opened under a map item's deadline: as its own
            group._deadline = inherited.at
            group._timeout = max(0.0, inherited.at - time.monotonic())
    elif own is not None:
        group._deadline = own
        group._task_deadline = Deadline(own)
    now = time.monotonic()
    deadline = group._deadline
    if deadline is not None and deadline <= now:
        group._cancel(DEADLINE)
    first = next_look(group, now)
    if first is not None:
        watch(group, first)


def next_look(group: Any, now: float) -> float | None:
    """When the watch thread looks at ``group`` next, if ever."""
    deadline: float | None = group._deadline
    if group._outer is None:
        return deadline
    return now + NEST_POLL if deadline is None else min(deadline, now + NEST_POLL)


def tick(group: Any, now: float, finished: int) -> float | None:
    """The watch thread's look at ``group``: its outer group, its deadline; then when next."""
    if group._state >= finished or group._stopping:
        return None
    outer = group._outer
    if outer is not None:
        try:
            cancelled = outer()
        except Exception:  # a probe that cannot be read never cancels
            cancelled = False
        if cancelled:
            group._cancel(OUTER)
            return None
    deadline = group._deadline
    if deadline is not None and now >= deadline:
        group._expire()
        return None
    return next_look(group, now)
