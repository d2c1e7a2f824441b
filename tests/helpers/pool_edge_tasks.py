"""Tasks for the supervised pool's regression tests: importable by workers of every start method."""

from __future__ import annotations

import os
import signal
import time
from typing import Any


class KillsWhenPickled:
    """A result whose pickling kills its worker (the OOM killer striking while a big result
    is pickled): the item finished, its result never reaches the pool."""

    def __reduce__(self) -> Any:
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(5)
        raise AssertionError("not killed")


def result_kills_in_pickling(x: Any) -> Any:
    return KillsWhenPickled() if x == "bad" else x


def hang_init() -> None:
    time.sleep(3600)


def hang_once(path: str) -> None:
    """The first worker to start (it writes its pid in ``path``) hangs; the others go on."""
    try:
        os.close(os.open(path + ".lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(path + ".tmp", path)  # whole or not at all for a reader
    time.sleep(3600)


class WorkerUnpickle:
    """An argument that pickles in the parent and does not unpickle in a worker."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def __reduce__(self) -> Any:
        return (_rebuild_arg, (self.pid,))


def _rebuild_arg(pid: int) -> WorkerUnpickle:
    if os.getpid() != pid:
        raise ValueError("cannot rebuild this argument in a worker")
    return WorkerUnpickle(pid)


def first(x: Any) -> Any:
    return x


class ParentUnpickle(Exception):
    """Pickles in a worker; unpickling it raises in the parent (whose pid it holds)."""

    def __init__(self, pid: int) -> None:
        super().__init__(pid)
        self.pid = pid

    def __reduce__(self) -> Any:
        return (_rebuild_bad, (self.pid,))


def _rebuild_bad(pid: int) -> ParentUnpickle:
    if os.getpid() == pid:
        raise ImportError("cannot rebuild ParentUnpickle here")
    return ParentUnpickle(pid)


def bad_at_5(x: int, pid: int, raise_it: bool) -> Any:
    if x != 5:
        return x
    if raise_it:
        raise ParentUnpickle(pid)
    return ParentUnpickle(pid)


def c_spin() -> int:
    """A C loop that holds the GIL and never checks for signals (for a very long time)."""
    import itertools

    return sum(itertools.repeat(1, 10**12))


def catches_the_stop(marker: str, then: str, seconds: float = 60.0) -> str:
    """Say it started, sleep; on the pool's soft stop, ``then`` "return" a value or "raise"."""
    from futures_settle._pool.errors import TaskStopped

    with open(marker + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(marker + ".tmp", marker)
    try:
        time.sleep(seconds)
    except TaskStopped:
        if then == "raise":
            raise ValueError("the task's own error after the stop") from None
        return "caught the stop"
    return "slept"


def catches_unless(marker: str, x: int) -> Any:
    """A chunk item: 3 sleeps and returns its own value when the pool stops it."""
    if x == 3:
        return catches_the_stop(marker, "return")
    return x


def forks(how: str) -> tuple[str, int]:
    """Fork; the child ends as ``how`` says (return, SystemExit(5), ValueError) from the task.

    The worker's code below the task must end the child there: it is not the worker.
    Returns what the parent (the worker) saw: its own value and the child's exit code.
    """
    pid = os.fork()
    if pid == 0:
        if how == "exit":
            raise SystemExit(5)
        if how == "raise":
            raise ValueError("in the child")
        return ("child", 0)
    deadline = time.monotonic() + 10  # bounded: a child that lingers is killed
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return ("parent", os.waitstatus_to_exitcode(status))
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return ("parent", -1)


def forges_a_message(job: int) -> None:
    """Write on the worker's pipe a result for a job the worker does not hold, then wait."""
    import sys

    from futures_settle._pool import worker

    frame = sys._getframe()
    while frame.f_code is not worker.main.__code__:  # the worker's loop, up the stack
        frame = frame.f_back  # type: ignore[assignment]
    conn = frame.f_locals["conn"]
    blob = worker.dumps(([f"forged for job {job}"], {}))
    conn.send_bytes(worker.dumps((worker.RESULTS, job, 0, 1, 0.0, blob)))
    time.sleep(60)
