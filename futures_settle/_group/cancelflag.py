"""How a running task learns that its group is cancelling: ``check_cancelled``.

A task on a thread pool reads a flag object of its group, in the same
process. A task in another process cannot, so a group on any other
executor owns a flag that crosses to workers: on a dask cluster a
``distributed.Event`` (``daskflag``), on the rest a :class:`CancelFlag`:
one byte in a file under a temporary directory (``/dev/shm`` where
present, so the byte lives in memory), mapped by the group and by each
worker that runs one of its tasks. The group sets the byte; workers read
it, with no server process, no pipe and no resource tracker
(``multiprocessing.shared_memory`` registers attaching processes with the
tracker on 3.11 and 3.12, which warns and may unlink the segment early).

The task wrapper (:class:`RemoteTask`) pickles the flag as its path; the
worker's reader pickles as that path again (a third party may unpickle
and re-pickle a task). A worker maps each flag once and keeps the last few
mapped, so a task costs one dictionary look-up and one byte read. A flag
a worker cannot open (a container with its own ``/dev/shm``, another user,
another machine) never cancels anything: the task runs, and
``check_cancelled`` does not raise in it. The group removes its file when
its tasks have settled; a group interrupted (Ctrl-C) leaves it, set, until
its process exits, so that the tasks a process pool had queued still see
it and do not run.

While a task runs, a context variable names what ``check_cancelled``
reads, with the process id: a worker forked from a thread that was running
a task inherits that thread's context, which must not make it look
cancelled. On thread pools each task runs in a copy of its submitter's
context anyway, so setting the variable there costs no reset.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import mmap
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import CancelledError
from contextvars import ContextVar, Token
from typing import Any, Protocol

from .._core.deadline import Deadline, run_within
from .staleflags import PREFIX, namespace, sweep

__all__ = [
    "CANCELLED",
    "STOPPING",
    "CancelFlag",
    "Flag",
    "RemoteTask",
    "check_cancelled",
    "enclosing_probe",
    "enter_task",
    "leave_task",
    "running_task",
    "set_task",
    "task_probe",
]

_DIR = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
_COUNTER = itertools.count()
_KEEP = 16  # flags a worker keeps mapped: the groups whose tasks it ran last
_MAPPED: OrderedDict[str, _Reader] = OrderedDict()
_MAPPED_LOCK = threading.Lock()
_TASK: ContextVar[tuple[int, Callable[[], bool]] | None] = ContextVar(
    "futures_settle_task", default=None
)


STOPPING = 1  # a task that starts now does not run its function
CANCELLED = 2  # ... and check_cancelled() raises in running ones


class CancelFlag:
    """The group's side of the flag: it creates, sets and removes the file.

    The byte goes up in two steps: ``STOPPING`` before the group cancels its
    queued futures, ``CANCELLED`` after. A cooperative task that stopped at
    the first step would free its worker while queued futures are not yet
    cancelled, and the pool would hand that worker more of them.
    """

    __slots__ = ("_map", "path")

    def __init__(self) -> None:
        import tempfile  # a group on a process pool needs it; importing it costs everyone

        directory = _DIR or tempfile.gettempdir()
        sweep(directory)  # the files of processes killed with a group open
        fd, self.path = tempfile.mkstemp(
            prefix=f"{PREFIX}{os.getpid()}-{namespace()}-{next(_COUNTER)}-",
            suffix=".flag",
            dir=directory,
        )
        try:
            os.write(fd, b"\0")
            self._map: mmap.mmap | None = mmap.mmap(fd, 1)
        except BaseException:
            os.unlink(self.path)
            raise
        finally:
            os.close(fd)

    def set(self, level: int) -> None:
        m = self._map
        if m is not None:
            with contextlib.suppress(ValueError):  # closed meanwhile: the group is over
                m[0] = level

    def stopping(self) -> bool:
        m = self._map
        return m is None or m[0] >= STOPPING

    def cancelled(self) -> bool:
        m = self._map
        return m is None or m[0] >= CANCELLED

    def close(self, keep: bool = False) -> None:
        """Remove the file; workers that mapped it still read the byte as it was.

        ``keep``: leave the file (with its byte) until this process exits, for
        the tasks still queued in a pool to read.
        """
        m, self._map = self._map, None
        if keep:
            _KEPT[self.path] = os.getpid()
        else:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        if m is not None:
            m.close()

    def __reduce__(self) -> tuple[Callable[[str], _Reader], tuple[str]]:
        return (_attach, (self.path,))


# Flag files of interrupted groups (path: the pid that made it), removed at exit.
_KEPT: dict[str, int] = {}


@atexit.register
def _remove_kept() -> None:
    pid = os.getpid()
    for path, owner in list(_KEPT.items()):
        if owner == pid:  # a forked child leaves its parent's files alone
            with contextlib.suppress(OSError):
                os.unlink(path)
            del _KEPT[path]


class Flag(Protocol):
    """What a task wrapper reads: a ``CancelFlag``, a worker's reader, a dask one."""

    def stopping(self) -> bool: ...
    def cancelled(self) -> bool: ...


class _Reader:
    """A worker's view of a flag: the byte, or "never cancelled" when it cannot be read."""

    __slots__ = ("_map", "path")

    def __init__(self, m: mmap.mmap | None, path: str) -> None:
        self._map = m
        self.path = path

    def stopping(self) -> bool:
        m = self._map
        return m is not None and m[0] >= STOPPING

    def cancelled(self) -> bool:
        m = self._map
        return m is not None and m[0] >= CANCELLED

    def __reduce__(self) -> tuple[Callable[[str], _Reader], tuple[str]]:
        # Re-pickled by a third party (dask's scheduler): the path again, never the map.
        return (_attach, (self.path,))


def _attach(path: str) -> _Reader:
    reader = _MAPPED.get(path)
    if reader is not None:
        return reader
    try:
        with open(path, "rb") as f:
            reader = _Reader(mmap.mmap(f.fileno(), 1, access=mmap.ACCESS_READ), path)
    except (OSError, ValueError):
        # Not readable here: another /dev/shm (a container), another user,
        # another machine, or a group that has ended. A flag that cannot be
        # read never cancels: the task runs.
        return _Reader(None, path)
    with _MAPPED_LOCK:
        _MAPPED[path] = reader
        while len(_MAPPED) > _KEEP:
            # Dropped, not closed: a task still running may read it; the map
            # closes with the last reference.
            _MAPPED.popitem(last=False)
    return reader


_PID = os.getpid()


def _after_fork_in_child() -> None:
    global _PID
    _PID = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def enter_task(probe: Callable[[], bool]) -> Token[tuple[int, Callable[[], bool]] | None]:
    """Make ``probe`` what ``check_cancelled`` reads in this context; undo with the token."""
    return _TASK.set((_PID, probe))


def leave_task(token: Token[tuple[int, Callable[[], bool]] | None]) -> None:
    _TASK.reset(token)


def running_task() -> tuple[int, Callable[[], bool]] | None:
    """What ``check_cancelled`` reads here: a group's probe while one of its tasks runs."""
    return _TASK.get()


def enclosing_probe() -> Callable[[], bool] | None:
    """The probe of the group whose task runs here (in this process), or ``None``."""
    task = _TASK.get()
    return task[1] if task is not None and task[0] == _PID else None


def task_probe(probe: Callable[[], bool]) -> tuple[int, Callable[[], bool]]:
    """What ``set_task`` takes: ``probe``, with this process's id."""
    return (_PID, probe)


# Run in a context made for one task alone (thread pools copy the
# submitter's for each task), where nothing needs resetting afterwards.
set_task = _TASK.set


class RemoteTask:
    """A task for an executor that may run it in another process: picklable.

    It reads the flag before calling the function, so a task that a worker
    takes after the group cancelled never runs the function.
    """

    __slots__ = ("args", "deadline", "flag", "fn", "kwargs", "token")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        flag: Flag,
        token: str,
        deadline: Deadline | None = None,
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.flag = flag
        self.token = token
        self.deadline = deadline  # what remaining() reads in the task

    def __call__(self) -> Any:
        flag = self.flag
        if flag.stopping():
            raise CancelledError("the task group was cancelled before this task started")
        token = enter_task(flag.cancelled)
        try:
            if self.deadline is None:
                return self.fn(*self.args, **self.kwargs)
            return run_within(self.deadline, self.fn, self.args, self.kwargs)
        finally:
            leave_task(token)
            del self, flag

    def __dask_tokenize__(self) -> str:
        # dask merges submissions with equal tokens: every task is its own.
        return self.token


def check_cancelled() -> None:
    """Raise ``CancelledError`` if the task group of the running task is cancelling.

    Long tasks call it between steps to stop early when their group no
    longer wants them: after a failure (``mode="all"``), a winner
    (``"any"``, ``"first"``), the deadline, ``tg.cancel()`` or an exception
    in the group's body. It reads a flag, nothing more: cheap enough to call
    in a loop. Outside a task of a :class:`TaskGroup` (in the body, in plain
    ``executor.submit`` work) it does nothing; a group's body that runs in
    a task of another group answers for that other group. It reads the
    task's ``contextvars`` context: in a thread the task starts itself, it
    does nothing unless that thread runs in a copy of the task's context
    (``contextvars.copy_context().run``).

    It works in thread pools, process pools and loky, and on every worker
    of a dask cluster, on other machines too (there it asks the scheduler,
    at most every 50 ms). A worker that cannot read its group's flag (a
    process pool's worker in a container with its own ``/dev/shm``, or
    running as another user) runs the task, and there it never raises.
    The ``CancelledError`` a task lets out counts as a cancellation the
    group caused, not as the task's failure.

    Raises:
        concurrent.futures.CancelledError: The running task's group is cancelling.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> from futures_settle import TaskGroup, check_cancelled
        >>> def steps(n):
        ...     for i in range(n):
        ...         check_cancelled()  # stops here once the group cancels
        ...     return n
        >>> check_cancelled()  # not in a task: nothing happens
        >>> with ThreadPoolExecutor() as pool, TaskGroup(pool) as tg:
        ...     done = tg.submit(steps, 3)
        >>> done.result()
        3
    """
    task = _TASK.get()
    if task is not None and task[0] == _PID and task[1]():
        raise CancelledError("the task group was cancelled")
