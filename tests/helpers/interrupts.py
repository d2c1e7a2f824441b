"""Helpers for tests that stop a task group at awkward moments: a hang as a result,
a Ctrl-C at a chosen line, an executor whose futures are done before submit() returns."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["DoneFirstPool", "finishes", "interrupt_at", "line_of", "lines_of"]


def finishes(fn: Callable[[], object], seconds: float = 10.0) -> dict[str, Any]:
    """Run ``fn`` in a daemon thread: ``{"done": bool, "value" or "error": ...}``."""
    out: dict[str, Any] = {"done": False}

    def go() -> None:
        try:
            out["value"] = fn()
        except BaseException as error:
            out["error"] = error
        out["done"] = True

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(seconds)
    return out


def lines_of(func: Callable[..., Any]) -> list[int]:
    """The lines of ``func`` where a Ctrl-C can land.

    Not ``try:`` lines: a line tracer fires at their NOP, which no exception
    handler covers (not even an enclosing ``with``), whereas a real signal is
    only handled at a call or a backward jump.
    """
    lines, start = inspect.getsourcelines(func)
    return [start + k for k, text in enumerate(lines) if k and text.strip() != "try:"]


def line_of(func: Callable[..., Any], needle: str) -> int:
    lines, start = inspect.getsourcelines(func)
    return start + next(k for k, text in enumerate(lines) if needle in text)


def interrupt_at(func: Callable[..., Any], lineno: int) -> tuple[Any, list[bool]]:
    """A trace function that raises KeyboardInterrupt once, as ``func`` starts line
    ``lineno`` (what a Ctrl-C arriving there does); ``armed[0]`` false once it fired."""
    code = func.__code__
    armed = [True]

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line" and frame.f_lineno == lineno and armed[0]:
            armed[0] = False
            raise KeyboardInterrupt
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        return local if frame.f_code is code else None

    return tracer, armed


class DoneFirstPool(ThreadPoolExecutor):
    """Returns each task's future once it is done: submit() must count it itself."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut = super().submit(fn, *args, **kwargs)
        fut.exception()
        return fut
