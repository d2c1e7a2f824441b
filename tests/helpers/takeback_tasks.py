"""Tasks for the tests of SupervisedPool's take-back of held work (test_pool_takeback.py)."""

from __future__ import annotations

import os
import time
from typing import Any


def _log(path: str, x: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{x}\n".encode())
    finally:
        os.close(fd)


def slow_at(path: str, slow: frozenset[int], seconds: float, x: int) -> int:
    """Log the run; the items in ``slow`` sleep ``seconds`` (what waits behind is taken back)."""
    _log(path, x)
    if x in slow:
        time.sleep(seconds)
    return x


def big_slow_at(path: str, slow: frozenset[int], seconds: float, x: int) -> bytes:
    """As slow_at, returning 200 kB that say which item made them (past the pipe's buffer)."""
    _log(path, x)
    if x in slow:
        time.sleep(seconds)
    return x.to_bytes(4, "big") * 50_000


def catch_then_return(path: str, slow: frozenset[int], x: int) -> Any:
    """Log the run; the items in ``slow`` sleep until the pool's stop, catch it, return at once."""
    from futures_settle._pool.errors import TaskStopped

    _log(path, x)
    if x in slow:
        try:
            time.sleep(60)
        except TaskStopped:
            return "caught"
    return x


def runs(path: str) -> list[int]:
    try:
        with open(path) as f:
            return [int(line) for line in f.read().split()]
    except FileNotFoundError:
        return []


def slow_blob(path: str, slow: frozenset[int], seconds: float, blob: bytes) -> int:
    """As slow_at for an item of 100 kB that starts with its number; returns its number."""
    x = int.from_bytes(blob[:4], "big")
    assert len(blob) == 100_000
    return slow_at(path, slow, seconds, x)


def held_through_stop(log: str, verdict: str, others: int, x: int) -> Any:
    """Item 0 waits, through the pool's stop (caught), until the ``others`` have run (each
    logs a line), 20 s at most; it writes ``released`` or ``expired`` to ``verdict``."""
    from futures_settle._pool.errors import TaskStopped

    if x != 0:
        _log(log, x)
        return x
    deadline = time.monotonic() + 20
    outcome = "expired"
    while time.monotonic() < deadline:
        try:
            if len(runs(log)) >= others:
                outcome = "released"
                break
            time.sleep(0.005)
        except TaskStopped:
            pass
    with open(verdict, "w") as f:
        f.write(outcome)
    return outcome


def stubborn_at(path: str, slow: frozenset[int], x: int) -> int:
    """Log the run; the items in ``slow`` swallow every stop and sleep on (killed after grace)."""
    from futures_settle._pool.errors import TaskStopped

    _log(path, x)
    if x in slow:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                time.sleep(0.01)
            except TaskStopped:
                pass
    return x
