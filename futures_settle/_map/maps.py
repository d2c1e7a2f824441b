"""``map_all`` and ``map_settled``: bounded, lazy mapping over an executor."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Executor, Future
from itertools import islice
from typing import Any, TypeVar

from .._core.engines import cancel_quietly
from .._core.hub import STREAM, Waiter
from .._core.inputs import check_flag
from .._core.state import looks_like_future
from .._core.waiter import Watch, attach
from .._errors import SettleTimeoutError, as_seconds, reraise
from .._records import Fulfilled, Rejected
from .args import check as _check
from .batches import drain, next_batch, results, take_records, take_values, timed_out
from .chunking import Plan
from .worker import run_chunk

__all__ = ["map_all", "map_settled"]

R = TypeVar("R")


def _notify_progress(
    progress: Callable[[Any], object], records: list[Any], state: list[bool]
) -> None:
    for record in records:
        try:
            progress(record)
        except Exception as exc:  # a progress hook never breaks the aggregation
            if not state[0]:
                state[0] = True
                warnings.warn(
                    f"progress hook raised {exc!r}; the map goes on, further errors are ignored",
                    RuntimeWarning,
                    stacklevel=3,
                )


def _pull(args: Iterator[Any], n: int) -> tuple[list[Any], Exception | None]:
    """Up to ``n`` items of the input, and its own error if it raised after them."""
    chunk: list[Any] = []
    try:
        chunk.extend(islice(args, n))  # the items read before an error stay
    except Exception as exc:
        return chunk, exc
    return chunk, None


def _submit(
    name: str,
    executor: Any,
    fn: Callable[..., Any],
    chunk: list[Any],
    chunked: bool,
    waiter: Waiter,
    position: int,
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
        if not chunked:
            fut = executor.submit(fn, *chunk[0])
        elif (per_item := getattr(executor, "_settle_submit_chunk", None)) is not None:
            fut = per_item(fn, chunk)  # SupervisedPool: each item its own outcome, even a death
        else:
            fut = executor.submit(run_chunk, fn, chunk)
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


def _map(
    name: str,
    fn: Callable[..., Any],
    iterators: list[Iterator[Any]],
    executor: Any,
    how: Plan,
    deadline: float | None,
    timeout: object,
    ordered: bool,
    fail_fast: bool,
    cancel_pending: bool,
    progress: Callable[[Any], object] | None,
) -> Generator[Iterator[Any], None, None]:
    """The engine of both maps: yields batches of values or records, each as an iterator.

    A submitted future (one item, or a chunk) is a unit from submission
    to hand-out: ``in_flight`` and ``ready`` are keyed by the position of
    its first item. The engine runs again only once the consumer has taken
    the whole previous batch, so everything handed out has been consumed.
    """
    args = zip(*iterators)  # noqa: B905 - shortest iterable ends the map, like map()
    waiter = Waiter(STREAM, 0)
    in_flight: dict[int, tuple[Any, int]] = {}  # first position -> (future, items)
    ready: dict[int, list[Any]] = {}  # settled units not yet handed out
    sizer, chunked, chunksize = how.sizer, how.chunked, how.chunksize
    buffersize, max_units = how.buffersize, how.max_units
    limit = max(1, buffersize // 4)  # most items per batch: the workers keep the rest
    pulled = 0  # items taken from the input
    handed = 0  # items handed out (ordered: also the next position to hand out)
    exhausted = False
    input_error: Exception | None = None
    cancel_on_exit = True
    warned = [False]
    try:
        while True:
            while not exhausted and pulled - handed < buffersize and len(in_flight) < max_units:
                size = chunksize if sizer is None else sizer.size
                chunk, broke = _pull(args, min(size, buffersize - (pulled - handed)))
                if broke is not None:  # the input's own error: pull no more
                    exhausted = True
                    if fail_fast:
                        try:
                            raise broke
                        finally:
                            del broke
                    input_error, broke = broke, None  # raised once the pulled items are out
                if not chunk:
                    exhausted = True
                    break
                fut, refused = _submit(name, executor, fn, chunk, chunked, waiter, pulled)
                exhausted = exhausted or refused  # refused, or the input broke: pull no more
                in_flight[pulled] = (fut, len(chunk))
                pulled += len(chunk)
                del fut, chunk
            if pulled == handed:
                break
            if handed in ready if ordered else ready:  # items to hand out: do not sleep
                notified = True
                settled = waiter.take() if waiter.poll() else []
            else:
                notified = waiter.wait(deadline)
                settled = waiter.take()
            if fail_fast:
                failure = take_values(settled, in_flight, ready, sizer, chunked)
                del settled
                if failure is not None:
                    cancel_on_exit = cancel_pending
                    exc, source = failure.exc, failure.source
                    del failure
                    try:
                        reraise(exc, source)
                    finally:
                        del exc, source
            else:
                filed = take_records(
                    settled, in_flight, ready, sizer, chunked, progress is not None
                )
                del settled
                if progress is not None:
                    for records in filed:
                        _notify_progress(progress, records, warned)
                del filed
            parts, count = next_batch(ready, ordered, handed, limit)
            if count:
                handed += count
                out = drain(parts)
                del parts
                yield out
                del out
            if not notified:
                seconds = as_seconds(timeout)  # type: ignore[arg-type]
                if fail_fast:
                    left = sum(n for _, n in in_flight.values())  # not settled yet
                    raise SettleTimeoutError(
                        f"{name}() timed out after {seconds:g} s with {left} items in flight",
                        timeout=seconds,
                        unfinished=left,
                        total=pulled,
                    )
                yield drain([(0, timed_out(ready, in_flight, seconds, pulled))])
                break
        if input_error is not None:
            error, input_error = input_error, None
            try:
                raise error
            finally:
                del error  # this frame, in its traceback, must not hold it
    finally:
        waiter.close()
        if cancel_on_exit:
            for fut, _ in in_flight.values():
                # Best effort, as cancel_pending: an engine's cancel() that
                # raises must neither mask the map's answer nor spare the rest.
                cancel_quietly(fut, keep_done=False)
        in_flight.clear()
        ready.clear()


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
            ``max(4 * workers, 64) * chunksize``, or ``4 * workers * 1024``
            with automatic chunks.
        timeout: Seconds for the whole map, or ``None``.
        ordered: Yield in input order (``True``) or as items complete.
        chunksize: Items sent to a worker at once; each item still
            settles on its own. ``None``: sized automatically for
            process-based executors (one item, then toward about 5 ms of
            work per chunk), one item per task for others.
        cancel_pending: On a failure, cancel the work still queued (whole
            chunks: a running chunk runs to its end).

    Returns:
        An iterator of results. Closing it early (``break``) cancels queued
        work and pulls no more input.

    Raises:
        BaseException: The first item to fail, its exception (in chunks:
            seen when its chunk returns); the error of a ``submit()``
            that the executor refused; or the input iterable's own error.
        SettleTimeoutError: ``timeout`` passed with items in flight.
        TypeError: ``fn`` is not callable, no iterable, ``executor`` has
            no ``submit()``, or an argument has the wrong type.
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
    return results(
        _map(
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
) -> Iterator[Fulfilled[R] | Rejected]:
    """Yield a record per item, at most ``buffersize`` in flight: a lazy ``Promise.allSettled``.

    Each item gives one :class:`Fulfilled` or :class:`Rejected` record
    carrying ``.index``, its position in the input; a failing item never
    stops the others, and in a chunk one failing item is one ``Rejected``
    record, its neighbours are ``Fulfilled``. At the deadline, items in
    flight (every item of an unfinished chunk) are yielded as ``Rejected``
    with a :class:`SettleTimeoutError` and no more input is pulled. Items
    the executor refuses to take (shut down, broken) are ``Rejected`` with
    its error, and the map ends after the items in flight. The items never
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
            ``max(4 * workers, 64) * chunksize``, or ``4 * workers * 1024``
            with automatic chunks.
        timeout: Seconds for the whole map, or ``None``.
        ordered: Yield in input order (``True``) or as items complete.
        chunksize: Items sent to a worker at once. ``None``: sized
            automatically for process-based executors, one item per task
            for others.
        progress: Called with each record as it settles, on the consuming
            thread; its exceptions are reported once as a
            ``RuntimeWarning`` and otherwise ignored.

    Returns:
        An iterator of records. Closing it early (``break``) cancels queued
        work and pulls no more input.

    Raises:
        Exception: The input iterable's own error, once the items read
            before it have been yielded (no more input is pulled).
        TypeError: ``fn`` is not callable, no iterable, ``executor`` has
            no ``submit()``, or an argument has the wrong type.
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
    return results(
        _map(
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
        )
    )
