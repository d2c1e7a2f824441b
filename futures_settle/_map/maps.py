"""``map_all`` and ``map_settled``: bounded, lazy mapping over an executor.

The public functions check their arguments at the call, before any input
is read or work submitted, and hand the loop to ``engine.run``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

from .._core.inputs import check_flag
from .._records import Fulfilled, Rejected
from .._retry.policy import Retry, check_retry
from .args import check as _check
from .batches import results
from .engine import run

__all__ = ["map_all", "map_settled"]

R = TypeVar("R")


def map_all(
    fn: Callable[..., R],
    /,
    *iterables: Iterable[Any],
    executor: Executor,
    buffersize: int | None = None,
    timeout: float | None = None,
    ordered: bool = True,
    chunksize: int | None = None,
    cancel_pending: bool = True,
    retry: Retry | None = None,
) -> Iterator[R]:
    """Yield ``fn(*args)`` for each item, at most ``buffersize`` in flight: a lazy ``Promise.all``.

    Unlike ``Executor.map``, the input is pulled only as slots free up (an
    infinite generator works, memory stays bounded), and the first failure
    *in time* raises at once, not when iteration reaches it; then no more
    input is pulled and, with ``cancel_pending`` (the default), work still
    queued is cancelled. Running work is never interrupted.

    Choose it for a batch where every result is needed, too big to submit
    at once; use :func:`map_settled` to keep going past failures.

    Args:
        fn: The function to run on the executor (picklable for processes).
        *iterables: Argument iterables, zipped like ``map()``. Read lazily.
        executor: A ``concurrent.futures.Executor`` (threads, processes,
            loky, or any object with ``submit()`` returning futures).
        buffersize: Most items submitted and not yet consumed; default
            ``max(4 * workers, 64) * chunksize`` (which, in input order,
            stretches up to 16x while the first item in order blocks and
            workers would idle), or ``4 * workers * 1024`` with automatic
            chunks. A value given is a hard bound.
        timeout: Seconds for the whole map, or ``None``. Each item runs
            under this deadline: inside it, ``remaining()`` gives the
            seconds left (``None`` without a timeout), for blocking calls.
        ordered: Yield in input order (``True``) or as items complete.
        chunksize: Items sent to a worker at once; each item still
            settles on its own. ``None``: sized automatically for
            process-based executors (one item, then toward about 5 ms of
            work per chunk), one item per task for others.
        cancel_pending: On a failure, cancel the work still queued (whole
            chunks: a running chunk runs to its end).
        retry: A :class:`Retry`: an item failing as it names runs again,
            alone, when due (no worker waits); its failure raises after
            its last attempt.

    Returns:
        An iterator of results. Closing it early (``break``) cancels queued
        work and pulls no more input.

    Raises:
        BaseException: The first item to fail, its exception (in chunks:
            seen when its chunk returns); the error of a ``submit()``
            that the executor refused, or its ``BrokenExecutor``; or the
            input iterable's own error.
        SettleTimeoutError: ``timeout`` passed with items in flight, or
            before the input was all pulled (a loop body that held an item
            past it: no input is pulled after the deadline).
        TypeError: ``fn`` is not callable, no iterable, ``executor`` has
            no ``submit()``, ``retry`` is not a ``Retry``, or an argument
            has the wrong type.
        ValueError: ``buffersize`` or ``chunksize`` below 1 or above
            ``sys.maxsize``, NaN timeout.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> with ThreadPoolExecutor(2) as pool:
        ...     list(map_all(pow, [2, 3, 4], [2, 2, 2], executor=pool, buffersize=2))
        [4, 9, 16]
    """
    deadline, how, iterators = _check(
        "map_all", fn, iterables, executor, buffersize, timeout, ordered, chunksize
    )
    check_flag("cancel_pending", cancel_pending)
    check_retry("map_all", retry)
    return results(
        run(
            "map_all",
            fn,
            iterators,
            executor,
            how,
            deadline,
            timeout,
            bool(ordered),
            True,
            cancel_pending,
            None,
            retry,
        )
    )


def map_settled(
    fn: Callable[..., R],
    /,
    *iterables: Iterable[Any],
    executor: Executor,
    buffersize: int | None = None,
    timeout: float | None = None,
    ordered: bool = True,
    chunksize: int | None = None,
    progress: Callable[[Fulfilled[R] | Rejected], object] | None = None,
    retry: Retry | None = None,
) -> Iterator[Fulfilled[R] | Rejected]:
    """Yield a record per item, at most ``buffersize`` in flight: a lazy ``Promise.allSettled``.

    Each item gives one :class:`Fulfilled` or :class:`Rejected` record
    carrying ``.index``, its position in the input; a failing item never
    stops the others, and in a chunk one failing item is one ``Rejected``
    record, its neighbours are ``Fulfilled``. At the deadline, items in
    flight (every item of an unfinished chunk) are yielded as ``Rejected``
    with a :class:`SettleTimeoutError` and no more input is pulled (nor
    when a loop body held a record past the deadline). Items
    the executor refuses to take (shut down, broken), or that fail with
    its ``BrokenExecutor``, are ``Rejected`` with its error; the map then
    pulls no more input, yields the records of the items in flight, and
    raises that error: a loop that ends normally answered every input.
    The items never
    pulled get no record, so ``tqdm(..., total=n)`` ends short of ``n``
    (the indexes missing from the records are the items that never ran).

    Choose it for batches where partial failure is fine: bulk file reads,
    uploads, per-row processing. For a progress bar, wrap it:
    ``for r in tqdm(map_settled(...), total=n)``, or pass ``progress``.

    Args:
        fn: The function to run on the executor (picklable for processes).
        *iterables: Argument iterables, zipped like ``map()``. Read lazily.
        executor: A ``concurrent.futures.Executor`` or anything with
            ``submit()`` returning futures.
        buffersize: Most items submitted and not yet consumed; default
            ``max(4 * workers, 64) * chunksize`` (which, in input order,
            stretches up to 16x while the first item in order blocks and
            workers would idle), or ``4 * workers * 1024`` with automatic
            chunks. A value given is a hard bound.
        timeout: Seconds for the whole map, or ``None``. Each item runs
            under this deadline: inside it, ``remaining()`` gives the
            seconds left (``None`` without a timeout), for blocking calls.
        ordered: Yield in input order (``True``) or as items complete.
        chunksize: Items sent to a worker at once. ``None``: sized
            automatically for process-based executors, one item per task
            for others.
        progress: Called with each record as it settles, on the consuming
            thread; its exceptions are reported once as a
            ``RuntimeWarning`` and otherwise ignored. Each item is
            reported once, with its final record: a retried item after
            its last attempt, an item the ``timeout`` cut with its
            ``SettleTimeoutError``, before the map hands it out.
        retry: A :class:`Retry`: an item failing as it names runs again,
            alone, when due (no worker waits); its record tells
            ``.attempts`` and the ``.earlier`` exceptions.

    Returns:
        An iterator of records. Closing it early (``break``) cancels queued
        work and pulls no more input.

    Raises:
        Exception: The input iterable's own error, once the items read
            before it have been yielded (no more input is pulled); or the
            executor's own error (``BrokenProcessPool``, loky's
            ``TerminatedWorkerError``, ``RuntimeError`` after a shutdown)
            once every item pulled has its record. A supervised pool's
            ``WorkerDiedError`` costs its item alone and raises nothing.
        TypeError: ``fn`` is not callable, no iterable, ``executor`` has
            no ``submit()``, ``retry`` is not a ``Retry``, or an argument
            has the wrong type.
        ValueError: ``buffersize`` or ``chunksize`` below 1 or above
            ``sys.maxsize``, NaN timeout.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> with ThreadPoolExecutor(2) as pool:
        ...     [(r.index, r.status) for r in map_settled(int, ["1", "x", "3"], executor=pool)]
        [(0, 'fulfilled'), (1, 'rejected'), (2, 'fulfilled')]
    """
    deadline, how, iterators = _check(
        "map_settled", fn, iterables, executor, buffersize, timeout, ordered, chunksize
    )
    if progress is not None and not callable(progress):
        raise TypeError(
            f"map_settled() expected a callable or None as progress, got {type(progress).__name__}"
        )
    check_retry("map_settled", retry)
    return results(
        run(
            "map_settled",
            fn,
            iterators,
            executor,
            how,
            deadline,
            timeout,
            bool(ordered),
            False,
            False,
            progress,
            retry,
        )
    )
