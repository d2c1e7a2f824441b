"""What kind of input an object is, told from its type; refusing what cannot be waited on.

A call's input mixes futures of any engine and plain values. The kind of
each is worked out once per type and cached (``state`` keeps the cache,
as whether a stdlib future may be read directly is its decision).
Asyncio futures, coroutines and other awaitables, and objects with only
some of the ``Future`` methods are refused with a ``TypeError`` that says
what to do instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future
from types import CoroutineType
from typing import Any, Final, NoReturn

__all__ = [
    "ASYNCIO",
    "AWAITABLE",
    "DUCK",
    "FAST",
    "INCOMPLETE",
    "MAX_TYPES",
    "PLAIN",
    "close_unstarted",
    "compute_kind",
    "refuse",
    "remember",
]

# Kinds of input. Non-zero so that ``cache.get(t) or ...`` works; the kinds
# that can be waited on are the lowest (``kind <= DUCK``).
PLAIN: Final = 1
FAST: Final = 2  # a stdlib future, or a subclass that keeps its methods
DUCK: Final = 3  # any other future: read through its public methods
ASYNCIO: Final = 4
INCOMPLETE: Final = 5
AWAITABLE: Final = 6

# Methods a Future subclass must inherit unchanged to be read directly.
_FAST_METHODS = (
    "done",
    "cancelled",
    "result",
    "exception",
    "cancel",
    "set_result",
    "set_exception",
    "add_done_callback",
    "set_running_or_notify_cancel",
)
_DUCK_METHODS = ("done", "result", "exception")

MAX_TYPES: Final = 4096


def compute_kind(t: type) -> int:
    """The kind of an input of type ``t`` (``FAST`` when it keeps every Future method)."""
    if issubclass(t, Future):
        if all(getattr(t, m) is getattr(Future, m) for m in _FAST_METHODS):
            return FAST
        return DUCK
    if hasattr(t, "_asyncio_future_blocking"):
        return ASYNCIO
    if callable(getattr(t, "add_done_callback", None)):
        if all(callable(getattr(t, m, None)) for m in _DUCK_METHODS):
            return DUCK
        return INCOMPLETE
    if callable(getattr(t, "__await__", None)):  # a coroutine, or another awaitable
        return AWAITABLE
    return PLAIN


def remember(cache: dict[type, Any], t: type, value: Any) -> None:
    """Cache what was worked out for type ``t``, keeping the cache bounded.

    A full cache drops its newest entry, one at a time (``popitem()`` is
    one step, safe against other threads): the types a program uses all
    the time stay cached, a flood of one-off types (each
    ``unittest.mock.Mock`` has a class of its own) churns the last place,
    and no reader ever finds the cache emptied under it. Readers never
    index a cache either: on a miss they work the answer out again.
    """
    while len(cache) >= MAX_TYPES:  # a loop: threads inserting at once may overshoot
        cache.popitem()
    cache[t] = value


def close_unstarted(objs: Iterable[object]) -> None:
    """Close the coroutines among ``objs`` that never started.

    A refused call never runs them, and each would warn "coroutine ... was
    never awaited" when freed, on top of the error that said why (an error,
    under ``-W error``). Closing one that never started runs none of its
    code; one that started (it may belong to a running task) is left alone.
    """
    for x in objs:
        if type(x) is CoroutineType:
            import inspect  # only on this error path

            if inspect.getcoroutinestate(x) == inspect.CORO_CREATED:
                x.close()


def refuse(kind: int, x: object, fn: str, index: object, items: Iterable[object]) -> NoReturn:
    """Raise the TypeError for input ``x`` of a kind no blocking call can wait on.

    The coroutines of the whole input (``items``) that never started are
    closed first: the call runs none of them.
    """
    close_unstarted(items)
    name = type(x).__name__
    if kind == ASYNCIO:
        raise TypeError(
            f"{fn}() cannot wait on asyncio futures in a blocking call, "
            f"input {index!r} is {name}; use asyncio.gather() in async code"
        )
    if kind == AWAITABLE:
        raise TypeError(
            f"{fn}() cannot wait on awaitables in a blocking call, input {index!r} is "
            f"{name}; run it in async code (asyncio.run(), asyncio.gather()), "
            f"or submit a plain function to an executor"
        )
    t = type(x)
    missing = ", ".join(f"{m}()" for m in _DUCK_METHODS if not callable(getattr(t, m, None)))
    raise TypeError(
        f"{fn}() expected futures with add_done_callback(), done(), result() and "
        f"exception(), input {index!r} is {name} without {missing}"
    )
