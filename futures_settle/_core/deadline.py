"""The deadline a task runs under, and ``remaining()``, which reads it from inside the task.

A map or a task group with a ``timeout`` hands each task its deadline, so
that blocking calls inside it can be given the time left
(``urlopen(url, timeout=remaining())``): blocking I/O cannot be
interrupted, but it can be told when to give up.

The deadline travels with the task as a :class:`Deadline`. In the process
that made it, it is a ``time.monotonic()`` instant. Pickled for another
process it becomes the wall-clock instant (``time.time()``) it stands for,
and unpickled it is turned back into that process's monotonic clock: so it
means the same moment on a worker process, on another machine whose clock
is in step, and after a third party (dask's scheduler) unpickles and
pickles it again.

While the task runs, a context variable holds the nearest deadline of the
task and of whatever it runs in (a task of a group nested in an outer
group's task keeps the outer deadline if that one is nearer, as trio's
``current_effective_deadline()`` does). On thread pools each task runs in
its own context, so nothing leaks from one task to the next; ``within``
resets the variable when the task returns anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

__all__ = ["Deadline", "UnderDeadline", "current", "nearer", "remaining", "run_within", "within"]

T = TypeVar("T")

_monotonic = time.monotonic


class Deadline:
    """A moment by which a task's work is due, that keeps its meaning across processes."""

    __slots__ = ("at",)

    at: float  # time.monotonic() of this process

    def __init__(self, at: float) -> None:
        self.at = at

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """The deadline ``seconds`` from now."""
        return cls(_monotonic() + seconds)

    def left(self) -> float:
        """Seconds until the deadline, clamped at 0."""
        return max(0.0, self.at - _monotonic())

    def __reduce__(self) -> tuple[Callable[[float], Deadline], tuple[float]]:
        # The monotonic clock means nothing in another process: cross as wall-clock time.
        return (_from_wall, (time.time() + (self.at - _monotonic()),))

    def __repr__(self) -> str:
        return f"Deadline(in {self.at - _monotonic():.3f} s)"


def _from_wall(wall: float) -> Deadline:
    return Deadline(_monotonic() + (wall - time.time()))


_CURRENT: ContextVar[Deadline | None] = ContextVar("futures_settle_deadline", default=None)


def current() -> Deadline | None:
    """The deadline the running task is under, or ``None``."""
    return _CURRENT.get()


def nearer(a: Deadline | None, b: Deadline | None) -> Deadline | None:
    """The earlier of two deadlines, either of which may be absent."""
    if a is None:
        return b
    if b is None:
        return a
    return a if a.at <= b.at else b


@contextmanager
def within(deadline: Deadline | None) -> Iterator[Deadline | None]:
    """Run the block under ``deadline``, or under the one already in force if that is nearer."""
    effective = nearer(deadline, _CURRENT.get())
    token = _CURRENT.set(effective)
    try:
        yield effective
    finally:
        _CURRENT.reset(token)


def run_within(
    deadline: Deadline | None, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    """``fn(*args, **kwargs)`` under ``deadline``: what a task wrapper calls in the worker."""
    with within(deadline):
        return fn(*args, **kwargs)


class UnderDeadline:
    """``fn`` that runs under ``deadline`` when called: a function for each item of a chunk.

    Picklable (by value, with the deadline crossing as wall-clock time) where ``fn`` is.
    """

    __slots__ = ("deadline", "fn")

    def __init__(self, deadline: Deadline | None, fn: Callable[..., Any]) -> None:
        self.deadline = deadline
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with within(self.deadline):
            return self.fn(*args, **kwargs)

    def __reduce__(self) -> tuple[type[UnderDeadline], tuple[Any, ...]]:
        return (UnderDeadline, (self.deadline, self.fn))


def remaining() -> float | None:
    """Seconds left until the deadline of the task that calls it, or ``None`` if it has none.

    Inside a task of a ``TaskGroup`` with a ``timeout``, or inside an item
    of ``map_all``/``map_settled`` with a ``timeout``, it is the number of
    seconds left until that deadline, clamped at 0: on thread workers and
    process workers alike. Where there is no deadline (outside any group or
    map, or in a group or map without ``timeout``) it is ``None``. Blocking
    I/O cannot be interrupted, so give it the time left:
    ``urlopen(url, timeout=remaining())`` waits no longer than the group or
    map would, and passing ``None`` means "no timeout" to most blocking
    calls of the standard library. Groups nested in a task give the nearer
    of their own deadline and the outer one.

    Returns:
        The seconds left (a float ``>= 0``), or ``None`` without a deadline.

    Example:
        >>> from futures_settle import remaining
        >>> remaining() is None  # not inside a task with a deadline
        True
    """
    deadline = _CURRENT.get()
    return None if deadline is None else deadline.left()
