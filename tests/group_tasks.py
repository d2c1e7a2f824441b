"""Task functions for the TaskGroup tests that process workers can import."""

from __future__ import annotations

import os
import time
from concurrent.futures import CancelledError
from typing import Any

from futures_settle import check_cancelled


def touch(directory: str, name: str) -> str:
    """Leave a file behind: proof that the function ran."""
    path = os.path.join(directory, name)
    with open(path, "w"):
        pass
    return name


def spin(started: Any) -> str:
    """A cooperative task: say it started, then run until its group cancels (30 s at most)."""
    started.set()
    end = time.monotonic() + 30
    while time.monotonic() < end:
        check_cancelled()
        time.sleep(0.001)  # a step of work
    return "never cancelled"


def fail_when(event: Any, message: str) -> Any:
    event.wait(30)
    raise ValueError(message)


def return_when(event: Any, value: Any) -> Any:
    event.wait(30)
    return value


def cancelled_now() -> bool:
    """Whether check_cancelled() raises here."""
    try:
        check_cancelled()
    except CancelledError:
        return True
    return False


def pid() -> int:
    return os.getpid()


def hold(started: Any, gate: Any, value: Any) -> Any:
    """A task that ignores its group: say it started, wait for the gate, return value."""
    started.set()
    gate.wait(30)
    return value


def report_cancel(started: Any, saw: Any) -> str:
    """Say it started, run until check_cancelled() raises (30 s at most), then set ``saw``."""
    started.set()
    end = time.monotonic() + 30
    try:
        while time.monotonic() < end:
            check_cancelled()
            time.sleep(0.001)
    except CancelledError:
        saw.set()
        raise
    return "never cancelled"
