"""How the map hands one unit (an item, or a chunk) to the executor, and pulls the next.

Every item pulled gets an outcome: an executor that refuses a unit, or
gives back something that is no future, yields a future failed with that
error instead of an exception out of the map's loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from itertools import islice
from typing import Any

from .._core.deadline import Deadline, UnderDeadline, run_within
from .._core.engines import submitter_of
from .._core.state import looks_like_future
from .._core.waiter import Waiter, Watch, attach
from .worker import run_chunk

__all__ = ["Target", "pull", "submit_unit"]

_NO_KWARGS: dict[str, Any] = {}  # run_within unpacks it: never changed


class Target:
    """Where a map sends its units: the executor's submit (a pebble pool's ``schedule()``)
    and, for chunks, a supervised pool's per-item submission, where each item of a chunk
    gets its own outcome even when one kills its worker."""

    __slots__ = ("per_item", "submit")

    def __init__(self, executor: Any) -> None:
        self.submit = submitter_of(executor)
        self.per_item: Callable[..., Any] | None = getattr(executor, "_settle_submit_chunk", None)


def pull(args: Iterator[Any], n: int) -> tuple[list[Any], Exception | None]:
    """Up to ``n`` items of the input, and its own error if it raised after them."""
    chunk: list[Any] = []
    try:
        chunk.extend(islice(args, n))  # the items read before an error stay
    except Exception as exc:
        return chunk, exc
    return chunk, None


def submit_unit(
    name: str,
    target: Target,
    fn: Callable[..., Any],
    chunk: list[Any],
    chunked: bool,
    waiter: Waiter,
    position: int,
    deadline: Deadline | None,
) -> tuple[Any, bool]:
    """Submit one unit and watch its future for ``waiter``: ``(future, refused)``.

    An executor that refuses (shut down, broken), returns something that
    is no future, or whose future refuses a done-callback gives a future
    failed with that error: each item pulled from the input still gets its
    outcome, once (the one ``Watch`` notifies at most once, whichever
    future calls it first).
    """
    callback = Watch(waiter, position)
    try:
        submit = target.submit
        if chunked:
            if target.per_item is not None:  # each item its own outcome, even a worker's death
                fut = target.per_item(
                    fn if deadline is None else UnderDeadline(deadline, fn), chunk
                )
            elif deadline is None:
                fut = submit(run_chunk, fn, chunk)
            else:
                fut = submit(run_chunk, fn, chunk, deadline)
        elif deadline is None:
            fut = submit(fn, *chunk[0])
        else:  # the item runs under the map's deadline: remaining() reads it
            fut = submit(run_within, deadline, fn, chunk[0], _NO_KWARGS)
        if not looks_like_future(fut):
            raise TypeError(
                f"{name}() expected executor.submit() to return a future, got {type(fut).__name__}"
            )
        attach(callback, fut)
        return fut, False
    except Exception as exc:
        # Built in another frame: this one is in the error's traceback, and
        # must not refer to the future that holds the error (a cycle).
        return _failed(exc, callback), True


def _failed(exc: Exception, callback: Watch) -> Future[Any]:
    f: Future[Any] = Future()
    f.set_exception(exc)
    callback(f)
    return f
