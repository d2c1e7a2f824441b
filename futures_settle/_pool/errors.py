"""What a supervised pool's futures fail with when a worker, not the task, decides.

``WorkerDiedError`` is a ``BrokenProcessPool`` (so that ``except
BrokenProcessPool`` written for the stdlib pool still catches it) that
names the one worker and the one task it cost; ``TaskTimeoutError`` is a
``TimeoutError`` for a task that ran past ``task_timeout``, distinct from a
wait's ``SettleTimeoutError`` and from the task's own ``TimeoutError``.
``TaskStopped`` is what a stopped task sees raised inside it, in its worker.

Importing this module imports ``concurrent.futures.process`` (for the base
class): the package's ``__init__`` loads it only when a name is asked for.
"""

from __future__ import annotations

import signal
from concurrent.futures.process import BrokenProcessPool
from pickle import loads
from typing import Any

__all__ = [
    "GARBLED",
    "TaskStopped",
    "TaskTimeoutError",
    "WorkerDiedError",
    "crash_loop",
    "describe_exit",
    "initializer_timeout",
    "unpickled",
]

GARBLED = (  # the note of a WorkerDiedError whose worker the pool killed for its pipe
    "the pool killed the worker: its pipe carried a message for work it did not hold "
    "(a process the task forked, writing on the worker's pipe?)"
)


def describe_exit(exitcode: int | None) -> str:
    """``-9`` -> ``"killed by SIGKILL"``, ``3`` -> ``"exited with code 3"``."""
    if exitcode is None:
        return "vanished without an exit code"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"killed by {name}"
    return f"exited with code {exitcode}"


def crash_loop(times: int, cause: BaseException | None, last_exit: str) -> BrokenProcessPool:
    """The pool's error when its workers fail to start ``times`` in a row.

    ``cause``: the initializer's exception (its worker's traceback as its own
    cause), or None when they died before it reported one (``last_exit`` says how).
    """
    if cause is None:
        return BrokenProcessPool(
            f"the pool's workers died before they were ready {times} times in a row "
            f"(the last {last_exit})"
        )
    err = BrokenProcessPool(
        f"the pool's workers failed in their initializer {times} times in a row: "
        f"{type(cause).__name__}: {cause}"
    )
    err.__cause__ = cause
    return err


class WorkerDiedError(BrokenProcessPool):
    """The worker process running this task died (a crash, a kill, the OOM killer).

    Only the task the worker was running gets it; the tasks it had not
    started run in other workers, and the pool replaces the worker.

    Attributes:
        pid: The dead worker's process id.
        exitcode: As ``multiprocessing.Process.exitcode``: negative for a
            signal (``-9`` for ``SIGKILL``), else the exit status.

    Example:
        >>> err = WorkerDiedError(4242, -9)
        >>> str(err), err.pid, err.exitcode
        ('worker 4242 died running the task: killed by SIGKILL', 4242, -9)
    """

    # A BrokenProcessPool for code written against ProcessPoolExecutor, but
    # the pool is not broken: the maps and the group read this and go on.
    _settle_one_task = True

    def __init__(self, pid: int, exitcode: int | None) -> None:
        super().__init__(f"worker {pid} died running the task: {describe_exit(exitcode)}")
        self.pid = pid
        self.exitcode = exitcode

    def __reduce__(self) -> tuple[type[WorkerDiedError], tuple[int, int | None]]:
        return type(self), (self.pid, self.exitcode)


class TaskTimeoutError(TimeoutError):
    """The task ran past the pool's ``task_timeout`` and was stopped.

    Stopped softly first (``TaskStopped`` raised inside it, so that its
    ``finally`` blocks run), its worker killed if it had not returned
    ``grace`` seconds later. Not a ``SettleTimeoutError``: that is a wait's
    own deadline.

    Attributes:
        timeout: The limit, in seconds.
        pid: The worker that ran the task.
        killed: Whether the worker had to be killed (the soft stop did not
            end the task within ``grace``).

    Example:
        >>> err = TaskTimeoutError(0.5, 4242)
        >>> str(err), err.timeout, err.pid
        ('the task ran past its task_timeout of 0.5 s in worker 4242 and was stopped', 0.5, 4242)
    """

    def __init__(self, timeout: float, pid: int, killed: bool = False) -> None:
        how = "killed with its worker" if killed else "stopped"
        super().__init__(
            f"the task ran past its task_timeout of {timeout:g} s in worker {pid} and was {how}"
        )
        self.timeout = timeout
        self.pid = pid
        self.killed = killed

    def __reduce__(self) -> tuple[type[TaskTimeoutError], tuple[float, int, bool]]:
        return type(self), (self.timeout, self.pid, self.killed)


class TaskStopped(BaseException):
    """Raised inside a task that its supervised pool stops (past its limit, or cancelled).

    A ``BaseException``, as ``KeyboardInterrupt``: an ``except Exception``
    in the task does not swallow it, and its ``finally`` blocks run. The
    task's future never sees it: it fails with ``TaskTimeoutError`` or is
    cancelled, even if the task catches it and then returns or raises
    something else (the pool asked first: the stop is the outcome).
    """


def unpickled(blob: bytes, parts: int) -> tuple[Any, ...]:
    """An error the worker sent, or the error of unpickling it (``parts`` fields)."""
    try:
        value = loads(blob)
        return tuple(value) if parts > 1 else (value,)
    except BaseException as exc:  # a class the parent cannot import
        return (exc, "")[:parts] if parts > 1 else (exc,)


def initializer_timeout(limit: float) -> TimeoutError:
    """The cause of a failed start whose initializer ran past ``task_timeout``."""
    return TimeoutError(f"the initializer did not return within task_timeout ({limit} s)")
