"""What other engines' futures need beyond the public Future methods.

Every engine's futures work through ``done()``, ``exception()`` and
``result()``. Some engines answer those one network round trip at a time:
dask.distributed's ``Future.result()`` asks the scheduler's event loop, so
reading 10,000 of them one by one takes seconds where ``Client.gather``
takes a fraction of one. For such engines this module reads many settled
futures in one batch, and tells cheaply whether one failed. It recognises
them by their type's module and imports none of them.

It also says how to submit to executors whose ``submit()`` is not the
stdlib's: a pebble ``ProcessPool``'s ``submit(fn, timeout, /, *args)``
would take a task's first argument as its timeout, so the maps (and the
task group) submit to pebble pools through their ``schedule(fn, args=,
kwargs=)``, which every pebble version has.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor, CancelledError
from typing import Any, Final

from .._errors import as_exception

__all__ = [
    "GENERIC",
    "Engine",
    "cancel_quietly",
    "engine_of",
    "executor_broke",
    "pebble_pool",
    "read_one",
    "submitter_of",
]

PENDING: Final = 0
OK: Final = 1
FAIL: Final = 2


def read_one(f: Any) -> tuple[int, Any]:
    """Outcome of a done future through its public methods."""
    try:
        exc = f.exception()
    except CancelledError as cancelled:
        return FAIL, cancelled
    except Exception as error:  # an engine that cannot report: record, never lose
        return FAIL, error
    if exc is not None:
        return FAIL, as_exception(exc)  # an exception class: result() raises an instance
    try:
        return OK, f.result()
    except BaseException as error:  # pragma: no cover - an engine contradicting itself
        return FAIL, error


def executor_broke(error: object) -> bool:
    """Whether ``error`` says the executor itself broke (``BrokenExecutor``: a process pool
    whose worker died, loky's ``TerminatedWorkerError``), not one task's own failure.

    A supervised pool's ``WorkerDiedError`` is a ``BrokenProcessPool`` for
    code written against the stdlib pool, but costs its task alone: its type
    says so with ``_settle_one_task``.
    """
    return (
        isinstance(error, BrokenExecutor)
        and getattr(type(error), "_settle_one_task", False) is not True
    )


def cancel_quietly(f: Any, keep_done: bool = True) -> None:
    """Cancel ``f``, as best effort.

    A future without ``cancel()``, or whose ``done()`` or ``cancel()``
    raises, is left as it is: cancelling must never hide an answer. With
    ``keep_done`` a done future is left alone, for whoever reads it next:
    dask's ``cancel()`` on a finished future throws its result away. (The
    maps pass ``False``: what they cancel is theirs, never handed out.)
    """
    with contextlib.suppress(Exception):
        if not (keep_done and f.done()):
            f.cancel()


class Engine:
    """How to read one engine's settled futures."""

    __slots__ = ("failed", "read_many")

    def __init__(
        self,
        read_many: Callable[[Sequence[Any]], list[tuple[int, Any]]],
        failed: Callable[[Any], bool] | None,
    ) -> None:
        self.read_many = read_many
        # A cheap "did it fail" for a settled future, or None when only
        # reading the outcome can tell.
        self.failed = failed


def _read_each(futures: Sequence[Any]) -> list[tuple[int, Any]]:
    return [read_one(f) for f in futures]


GENERIC = Engine(_read_each, None)


def _dask_read_many(futures: Sequence[Any]) -> list[tuple[int, Any]]:
    """One ``Client.gather`` per client for the finished futures, the rest one by one."""
    out: list[tuple[int, Any]] = [(FAIL, None)] * len(futures)
    groups: dict[int, tuple[Any, list[int]]] = {}
    for k, f in enumerate(futures):
        if f.status == "finished":
            groups.setdefault(id(f.client), (f.client, []))[1].append(k)
        else:
            out[k] = read_one(f)
    for client, positions in groups.values():
        try:
            values = client.gather([futures[k] for k in positions], errors="raise")
        except Exception:  # lost meanwhile, a closed client: ask each one
            for k in positions:
                out[k] = read_one(futures[k])
            continue
        for k, value in zip(positions, values, strict=True):
            out[k] = (OK, value)
    return out


def _dask_failed(f: Any) -> bool:
    return bool(f.status != "finished")


DASK = Engine(_dask_read_many, _dask_failed)


def engine_of(t: type) -> Engine:
    """The engine for futures of type ``t`` (not a stdlib future)."""
    module = getattr(t, "__module__", "") or ""
    if module.partition(".")[0] == "distributed" and t.__name__ == "Future":
        return DASK
    return GENERIC


_PEBBLE_POOLS: Final = {
    ("pebble.pool.process", "ProcessPool"): "process",
    ("pebble.pool.thread", "ThreadPool"): "thread",
}


def pebble_pool(executor: object) -> str | None:
    """``"process"`` or ``"thread"`` for a pebble pool (or a subclass), else ``None``.

    Told by type, without importing pebble.
    """
    for cls in type(executor).__mro__:
        kind = _PEBBLE_POOLS.get((getattr(cls, "__module__", ""), cls.__name__))
        if kind is not None:
            return kind
    return None


def submitter_of(executor: Any) -> Callable[..., Any]:
    """The call that submits ``fn(*args, **kwargs)`` to ``executor`` and returns its future.

    ``executor.submit`` for every executor but pebble pools, whose
    ``schedule(fn, args=args, kwargs=kwargs)`` is used instead, so the
    arguments stay the task's (pebble's ``ProcessPool.submit`` takes its
    timeout first).

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> with ThreadPoolExecutor(1) as pool:
        ...     submitter_of(pool)(pow, 2, 3).result()
        8
    """
    if pebble_pool(executor) is None:
        submit: Callable[..., Any] = executor.submit
        return submit
    schedule = executor.schedule

    def submit_to_pebble(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return schedule(fn, args=args, kwargs=kwargs)

    return submit_to_pebble
