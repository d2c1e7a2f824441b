"""Task functions that executors of every kind can pickle."""

from __future__ import annotations

import os
import threading
from typing import Any


def identity(x: Any) -> Any:
    return x


def fail(message: str) -> Any:
    raise ValueError(message)


def block(event: Any, value: Any = None) -> Any:
    """Wait for an event (a threading.Event or a Manager's proxy), then return value."""
    event.wait(30)
    return value


def die() -> None:
    os._exit(1)


def square(x: int) -> int:
    return x * x


def fail_on(x: int, bad: int) -> int:
    if x == bad:
        raise ValueError(f"bad item {x}")
    return x * x


def die_on(x: int, bad: int) -> int:
    """Kill the worker process at item ``bad``: the pool breaks."""
    if x == bad:
        os._exit(1)
    return x


def exit_on(x: int, bad: int) -> int:
    """Raise ``SystemExit`` (a BaseException) at item ``bad``."""
    if x == bad:
        raise SystemExit(f"exit at item {x}")
    return x


def unpicklable_on(x: int, bad: int) -> Any:
    """Return a result that cannot be pickled (a lock) at item ``bad``."""
    if x == bad:
        return threading.Lock()
    return x


def time_left_at(x: Any) -> tuple[Any, float | None]:
    """The item, and ``remaining()`` as the item runs (a map's deadline reaches it)."""
    from futures_settle import remaining

    return x, remaining()


def pid_and_pow(x: int, y: int) -> tuple[int, int]:
    """The worker's pid, and ``x ** y``: which process ran an item, and that its arguments came."""
    return os.getpid(), x**y
