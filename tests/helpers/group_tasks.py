"""Task functions for the TaskGroup tests that process workers can import."""

from __future__ import annotations

import os
import time
from concurrent.futures import CancelledError, ThreadPoolExecutor
from typing import Any

from futures_settle import TaskGroup, check_cancelled, remaining


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


def left() -> float | None:
    """What remaining() says in the task."""
    return remaining()


def nested(depth: int, started: Any, spread: int = 1) -> str:
    """Open a group of its own on a thread pool, ``depth`` groups deep in all (this one
    included); the deepest group's ``spread`` tasks spin until cancelled (30 s at most)."""
    with ThreadPoolExecutor(spread) as pool, TaskGroup(pool) as tg:
        for _ in range(spread):
            if depth <= 1:
                tg.submit(spin, started)
            else:
                tg.submit(nested, depth - 1, started, spread)
    return "never cancelled"


def nested_on_processes(depth: int, started: Any, method: str) -> str:
    """As ``nested``, each group on a process pool of its own (one worker, ``method``):
    the deepest task spins in a process two pools down until cancelled (30 s at most)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context(method)
    with ProcessPoolExecutor(1, mp_context=ctx) as pool, TaskGroup(pool) as tg:
        if depth <= 1:
            tg.submit(spin, started)
        else:
            tg.submit(nested_on_processes, depth - 1, started, method)
    return "never cancelled"


def nested_left(timeout: float | None) -> tuple[float | None, float | None]:
    """remaining() here (before) and in a task of a group of ``timeout`` opened here."""
    before = remaining()
    with ThreadPoolExecutor(1) as pool, TaskGroup(pool, timeout=timeout) as tg:
        inner = tg.submit(left)
    return before, inner.result()


def cancelled_when(started: Any, gate: Any) -> bool:
    """Say it started, wait for the gate, then tell whether check_cancelled() raises."""
    started.set()
    gate.wait(30)
    return cancelled_now()


def nested_report(started: Any) -> str:
    """In a dask task: a group on threads whose task spins until cancelled; once the
    nested group has ended as cancelled, set the event '<outer event name>-done'."""
    from distributed import Event, get_client

    from futures_settle._group.cancelflag import running_task

    task = running_task()
    assert task is not None
    name = task[1].__self__.name  # type: ignore[attr-defined]  # the outer group's DaskReader
    try:
        with ThreadPoolExecutor(1) as pool, TaskGroup(pool) as tg:
            tg.submit(spin, started)
    except CancelledError:
        Event(f"{name}-done", client=get_client()).set()
        raise
    return "never cancelled"
