"""Functions for the retry tests that run in worker processes too (importable by name).

An item's runs are counted with marker files in a directory the test owns,
so a process pool's workers count them as a thread pool's do.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from futures_settle import Retry


def runs(folder: str, x: Any) -> int:
    """How many times item ``x`` ran."""
    return len([n for n in os.listdir(folder) if n.split(".")[0] == str(x)])


def _mark(folder: str, x: Any) -> int:
    """Record one run of ``x``; return which run this is (1 for the first)."""
    k = 1
    while True:
        try:
            fd = os.open(os.path.join(folder, f"{x}.{k}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            k += 1
            continue
        os.close(fd)
        return k


def flaky(x: int, folder: str, bad: frozenset[int] = frozenset(), fails: int = 1) -> int:
    """``x * 10``; an item in ``bad`` raises ``ConnectionResetError`` on its first ``fails``."""
    run = _mark(folder, x)
    if x in bad and run <= fails:
        raise ConnectionResetError(f"item {x} run {run}")
    return x * 10


def always_fails(x: int, folder: str) -> int:
    """Fail every run of every item, counting the runs."""
    run = _mark(folder, x)
    raise ConnectionResetError(f"item {x} run {run}")


def folder_of(tmp_path: Path) -> str:
    path = tmp_path / "runs"
    path.mkdir(exist_ok=True)
    return str(path)


def die_first(x: int, folder: str, bad: frozenset[int] = frozenset()) -> int:
    """``x * 10``; an item in ``bad`` kills its own worker (SIGKILL) on its first run."""
    import signal

    if _mark(folder, x) == 1 and x in bad:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * 10


def hang_first(x: int, folder: str, bad: frozenset[int] = frozenset()) -> int:
    """``x * 10``; an item in ``bad`` sleeps far past any test's task_timeout on its first run."""
    import time

    if _mark(folder, x) == 1 and x in bad:
        time.sleep(60)
    return x * 10


def slow_unless_bad(x: int, bad: int, seconds: float) -> int:
    """``x``, after ``seconds``; item ``bad`` raises ``ConnectionResetError`` at once."""
    import time

    if x == bad:
        raise ConnectionResetError(f"item {x}")
    time.sleep(seconds)
    return x


FAST = Retry(ConnectionError, attempts=3, delay=0.001, jitter=0)
"""A quick policy for connection errors: three attempts, 1 ms apart."""


class FailsFirst:
    """A callable whose items fail with ConnectionResetError on their first ``fails`` runs."""

    def __init__(self, bad: set[int], fails: int = 1) -> None:
        self.bad, self.fails = bad, fails
        self.runs: dict[int, int] = {}
        self._lock = threading.Lock()

    def __call__(self, x: int) -> int:
        with self._lock:
            run = self.runs[x] = self.runs.get(x, 0) + 1
        if x in self.bad and run <= self.fails:
            raise ConnectionResetError(f"item {x} run {run}")
        return x * 10
