"""Tasks for the supervised pool's tests: importable by workers of every start method."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

_HOARD: list[bytes] = []


def _write(path: str, text: str) -> None:
    """Whole or not at all: a reader never sees the file empty."""
    Path(path + ".tmp").write_text(text)
    os.replace(path + ".tmp", path)


def pid_of(_: Any = None) -> int:
    return os.getpid()


def kill_self(sig: int = signal.SIGKILL) -> None:
    os.kill(os.getpid(), sig)


def exit_with(code: int) -> None:
    os._exit(code)


def sleep_for(seconds: float, value: Any = None) -> Any:
    time.sleep(seconds)
    return value


def mark(path: str, text: str = "") -> None:
    with open(path, "a") as f:
        f.write(text)


def started_then_sleep(marker: str, seconds: float, value: Any = None) -> Any:
    _write(marker, str(os.getpid()))
    time.sleep(seconds)
    return value


def hang(marker: str, finally_path: str = "") -> None:
    """Say it started (its pid in ``marker``), then sleep; a ``finally`` writes ``finally_path``."""
    try:
        _write(marker, str(os.getpid()))
        time.sleep(60)
    finally:
        if finally_path:
            _write(finally_path, "ran")


def stubborn(marker: str) -> None:
    """Swallows the soft stop and keeps sleeping: only a kill ends it.

    Everything after the marker's write is inside the ``try``: the stop may
    land anywhere once the marker is there (a test stops it when it sees it).
    """
    deadline = time.monotonic() + 60
    written = False
    while True:
        try:
            if not written:
                _write(marker, str(os.getpid()))
                written = True
            if time.monotonic() >= deadline:
                return
            time.sleep(60)
        except BaseException:
            pass


def hoard(megabytes: int) -> int:
    _HOARD.append(b"x" * (megabytes << 20))  # touched pages: resident
    return os.getpid()


def own_memory() -> int:
    """The worker's own resident bytes, as max_memory_per_worker measures them."""
    from futures_settle._pool.memory import private_bytes, rss_bytes

    own = private_bytes()
    return rss_bytes() if own is None else own


BALLAST: list[bytearray] = []  # filled by a test before it forks workers


def dirty_ballast(pause: float) -> int:
    """Write every page of the inherited ballast (shared until written), then wait."""
    for buf in BALLAST:
        for i in range(0, len(buf), 4096):
            buf[i] = 1
    time.sleep(pause)
    return os.getpid()


def item(x: int) -> int:
    """A chunk item: 13 kills its worker, 17 hangs, others return x * x."""
    if x == 13:
        os.kill(os.getpid(), signal.SIGKILL)
    if x == 17:
        time.sleep(60)
    return x * x


def logged(path: str, x: int) -> int:
    """Log the run, take 5 ms (longer than a result waits in the worker), die at 13."""
    with open(path, "a") as f:
        f.write(f"{x}\n")
    if x == 13:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.005)
    return x


def fail_init(message: str) -> None:
    raise ValueError(message)


def unpicklable_result() -> Any:
    return threading.Lock()


class BadException(Exception):
    def __init__(self) -> None:
        super().__init__("bad")
        self.lock = threading.Lock()


def raise_unpicklable() -> None:
    raise BadException()


def wait_for(path: Path, timeout: float = 30.0) -> str:
    """The file's text once it exists (a bounded wait: only a hang would cross it)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(0.005)
    return path.read_text()


def gone(pids: list[int], parents: set[int] | None = None) -> bool:
    """Whether no process of ``pids`` exists any more (a zombie counts as gone).

    With ``parents``, a live process whose parent is not one of them is a pid
    reused by another process (pids wrap at 32768 here): a long soak starts
    thousands of workers on a machine where other suites start processes too.
    """
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if fields[0] == "Z":
            continue
        if parents is not None and int(fields[1]) not in parents:
            continue
        return False
    return True


def worker_parents() -> set[int]:
    """The processes a pool's workers of this process have as parent: this one, the forkserver."""
    import multiprocessing.forkserver as fs

    server = getattr(fs._forkserver, "_forkserver_pid", None)
    return {os.getpid()} | ({server} if server else set())


def steps_until_cancelled(marker: str) -> str:
    """Mark that it started, then call check_cancelled() in a loop until the group cancels.

    The group's cancel comes twice: the flag check_cancelled() reads, and the
    pool's soft stop (the future is cancelled), which may land anywhere in
    the loop. It keeps going until it has seen both, then says whether
    check_cancelled() raised: after both, nothing can interrupt the write.
    """
    from concurrent.futures import CancelledError

    from futures_settle import check_cancelled

    deadline = time.monotonic() + 60
    raised = stopped = written = False
    while True:
        # The marker's write, the loop's own test: all in here, the soft stop may land
        # anywhere once the marker is there (the parent cancels when it sees it).
        try:
            if not written:
                _write(marker, str(os.getpid()))
                written = True
            while not (raised and stopped) and time.monotonic() < deadline:
                try:
                    if not raised:
                        check_cancelled()
                    time.sleep(0.005)
                except CancelledError:
                    raised = True
            break
        except BaseException:  # the pool's soft stop (once per item), wherever it lands
            stopped = True
    _write(marker + ".how", "check_cancelled" if raised else "never raised")
    raise CancelledError


def check_once(x: int) -> int:
    from futures_settle import check_cancelled

    check_cancelled()
    return x


def exit_at_one(x: int) -> int:
    if x == 1:
        raise SystemExit(3)
    return x


def held(x: int, slow: int, log: str, others: int, limit: float = 20.0) -> Any:
    """Item ``slow`` waits until the ``others`` have run (each writes a byte to ``log``),
    ``limit`` seconds at most: ``"released"``, or ``"expired"``; the others return ``x``."""
    if x != slow:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, b".")
        finally:
            os.close(fd)
        return x
    deadline = time.monotonic() + limit
    while not os.path.exists(log) or os.path.getsize(log) < others:
        if time.monotonic() > deadline:
            return "expired"
        time.sleep(0.005)
    return "released"


def blob_of(x: int, size: int = 150_000) -> bytes:
    """``size`` bytes that say which item made them."""
    return x.to_bytes(4, "big") * (size // 4)


def run_once(path: str, x: int) -> int:
    """Log the run; every twentieth item takes 80 ms (the pool takes back what waits behind it)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{x}\n".encode())
    finally:
        os.close(fd)
    if x % 20 == 0:
        time.sleep(0.08)
    return x
