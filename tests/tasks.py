"""Task functions that executors of every kind can pickle."""

from __future__ import annotations

import os
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
