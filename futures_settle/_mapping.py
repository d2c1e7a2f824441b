"""``map_all`` and ``map_settled``: bounded, lazy mapping over an executor."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Executor
from itertools import islice
from typing import Any, TypeVar

from ._core import STREAM, Waiter, watch
from ._errors import SettleTimeoutError, reraise
from ._inputs import check_flag, deadline_of, not_iterable, type_phrase
from ._records import Fulfilled, Rejected
from ._state import OK, read

__all__ = ["map_all", "map_settled"]

R = TypeVar("R")


def _run_chunk(
    fn: Callable[..., Any], chunk: list[tuple[Any, ...]]
) -> tuple[list[Any], dict[int, Exception]]:
    """Run a chunk in a worker, each item on its own: ``(values, {offset: exception})``.

    Values travel back as a plain list, as ``Executor.map`` sends them;
    the rare failures ride beside them.
    """
    values: list[Any] = []
    failures: dict[int, Exception] = {}
    append = values.append
    for offset, args in enumerate(chunk):
        try:
            append(fn(*args))
        except Exception as exc:
            append(None)
            failures[offset] = exc
    return values, failures


def _check_int(fn: str, name: str, value: object, default: int | None = None) -> int | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{fn}() {name} must be an int >= 1 or None, got {value!r} that is {type_phrase(value)}"
        )
    if value < 1:
        raise ValueError(f"{fn}() {name} must be >= 1, got {value}")
    return value


def _default_buffersize(executor: Executor, chunksize: int) -> int:
    workers = getattr(executor, "_max_workers", None)
    if not isinstance(workers, int) or workers < 1:
        workers = os.cpu_count() or 1
    # Deep enough that a wake-up finds several items done (waking once per
    # item costs more than the items themselves on a thread pool).
    return max(4 * workers, 64) * chunksize


def _check(
    name: str,
    fn: object,
    iterables: tuple[Iterable[Any], ...],
    executor: object,
    buffersize: object,
    timeout: object,
    ordered: object,
    chunksize: object,
) -> tuple[float | None, int, int, list[Iterator[Any]]]:
    if not callable(fn):
        raise TypeError(f"{name}() expected a callable as fn, got {type(fn).__name__}")
    if not iterables:
        raise TypeError(f"{name}() needs at least one iterable of arguments")
    if not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"{name}() expected an executor with submit(), got {type(executor).__name__}"
        )
    deadline = deadline_of(timeout)
    check_flag("ordered", ordered)
    chunk = _check_int(name, "chunksize", chunksize, 1)
    assert chunk is not None
    size = _check_int(name, "buffersize", buffersize)
    if size is None:
        size = _default_buffersize(executor, chunk)  # type: ignore[arg-type]
    iterators = []
    for it in iterables:
        if isinstance(it, (str, bytes, bytearray)) or it is None or not_iterable(it):
            raise TypeError(f"{name}() expected iterables of arguments, got {type(it).__name__}")
        iterators.append(iter(it))  # an iterable's own errors propagate, TypeError included
    return deadline, size, chunk, iterators


def _notify_progress(
    progress: Callable[[Any], object] | None, record: Any, state: list[bool]
) -> None:
    if progress is None:
        return
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


class _Failure:
    """What ``_values`` gives for a unit that failed: its first exception."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _map(
    name: str,
    fn: Callable[..., Any],
    iterators: list[Iterator[Any]],
    executor: Any,
    buffersize: int,
    deadline: float | None,
    timeout: object,
    ordered: bool,
    chunksize: int,
    fail_fast: bool,
    cancel_pending: bool,
    progress: Callable[[Any], object] | None,
) -> Generator[Any, None, None]:
    """The engine of both maps. A submitted future (one item, or a chunk) is a unit
    from submission to yield: ``in_flight`` and ``ready`` are keyed by the
    position of its first item."""
    args = zip(*iterators)  # noqa: B905 - shortest iterable ends the map, like map()
    waiter = Waiter(STREAM, 0)
    in_flight: dict[int, tuple[Any, int]] = {}  # first position -> (future, items)
    ready: dict[int, list[Any]] = {}  # ordered: settled batches not yet yielded
    pulled = 0  # items taken from the input
    yielded = 0  # items handed out (ordered: also the next position to yield)
    exhausted = False
    cancel_on_exit = True
    warned = [False]
    try:
        while True:
            while not exhausted and pulled - yielded < buffersize:
                chunk = list(islice(args, min(chunksize, buffersize - (pulled - yielded))))
                if not chunk:
                    exhausted = True
                    break
                if chunksize == 1:
                    fut = executor.submit(fn, *chunk[0])
                else:
                    fut = executor.submit(_run_chunk, fn, chunk)
                in_flight[pulled] = (fut, len(chunk))
                watch(waiter, fut, pulled)
                pulled += len(chunk)
            if pulled == yielded:
                return
            notified = waiter.wait(deadline)
            for fut, start in waiter.take():
                _, count = in_flight.pop(start)
                if fail_fast:
                    batch = _values(fut, chunksize > 1)
                    if type(batch) is _Failure:
                        cancel_on_exit = cancel_pending
                        exc = batch.exc
                        del batch
                        try:
                            reraise(exc, fut)
                        finally:
                            del exc, fut
                else:
                    batch = _records(fut, start, count, chunksize > 1)
                    if progress is not None:
                        for record in batch:
                            _notify_progress(progress, record, warned)
                if ordered:
                    ready[start] = batch  # type: ignore[assignment]
                else:
                    yielded += len(batch)  # type: ignore[arg-type]
                    yield from batch  # type: ignore[misc]
            while yielded in ready:
                batch = ready.pop(yielded)
                yielded += len(batch)
                yield from batch
            if not notified:
                left = sum(n for _, n in in_flight.values())  # not settled yet
                seconds = float(timeout)  # type: ignore[arg-type]
                if fail_fast:
                    raise SettleTimeoutError(
                        f"{name}() timed out after {seconds:g} s with {left} items in flight",
                        timeout=seconds,
                        unfinished=left,
                        total=pulled,
                    )
                # Settled batches (ordered mode) and then timeouts, by position.
                units = sorted([*ready, *in_flight])
                for start in units:
                    if start in ready:
                        yield from ready.pop(start)
                        continue
                    _, count = in_flight[start]
                    for position in range(start, start + count):
                        error = SettleTimeoutError(
                            f"item {position} did not settle within "
                            f"{seconds:g} s ({left} items in flight)",
                            timeout=seconds,
                            unfinished=left,
                            total=pulled,
                            index=position,
                        )
                        yield Rejected(error, position)
                return
    finally:
        waiter.close()
        if cancel_on_exit:
            for fut, _ in in_flight.values():
                fut.cancel()


def _values(fut: Any, chunked: bool) -> list[Any] | _Failure:
    """``map_all``: the values of a settled unit, or its first failure."""
    code, payload = read(fut)
    if code != OK:
        return _Failure(payload)
    if not chunked:
        return [payload]
    values, failures = payload
    if failures:
        return _Failure(failures[min(failures)])  # a chunk's items run in order
    return values  # type: ignore[no-any-return]


def _records(fut: Any, start: int, count: int, chunked: bool) -> list[Fulfilled[Any] | Rejected]:
    """``map_settled``: one record per item of a settled unit."""
    code, payload = read(fut)
    if not chunked:
        return [Fulfilled(payload, start) if code == OK else Rejected(payload, start)]
    if code != OK:  # the chunk as a whole failed (a dead worker, an unpicklable result)
        return [Rejected(payload, start + k) for k in range(count)]
    values, failures = payload
    records: list[Fulfilled[Any] | Rejected] = list(
        map(Fulfilled, values, range(start, start + count))
    )
    for offset, exc in failures.items():
        records[offset] = Rejected(exc, start + offset)
    return records


def map_all(
    fn: Callable[..., R],
    /,
    *iterables: Iterable[Any],
    executor: Executor,
    buffersize: int | None = None,
    timeout: float | None = None,
    ordered: bool = True,
    chunksize: int = 1,
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
        buffersize: Most items submitted and not yet yielded; default
            ``max(4 * workers, 64) * chunksize``.
        timeout: Seconds for the whole map, or ``None``.
        ordered: Yield in input order (``True``) or as items complete.
        chunksize: Items sent to a worker at once (for process pools);
            each item still settles on its own.
        cancel_pending: On a failure, cancel the work still queued.

    Returns:
        An iterator of results. Closing it early (``break``) cancels queued
        work and pulls no more input.

    Raises:
        BaseException: The first item to fail, its exception.
        SettleTimeoutError: ``timeout`` passed with items in flight.
        TypeError: ``fn`` is not callable, no iterable, ``executor`` has
            no ``submit()``, or an argument has the wrong type.
        ValueError: ``buffersize`` or ``chunksize`` below 1, NaN timeout.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> with ThreadPoolExecutor(2) as pool:
        ...     list(map_all(pow, [2, 3, 4], [2, 2, 2], executor=pool, buffersize=2))
        [4, 9, 16]
    """
    deadline, size, chunk, iterators = _check(
        "map_all", fn, iterables, executor, buffersize, timeout, ordered, chunksize
    )
    check_flag("cancel_pending", cancel_pending)
    return _map(
        "map_all",
        fn,
        iterators,
        executor,
        size,
        deadline,
        timeout,
        bool(ordered),
        chunk,
        True,
        cancel_pending,
        None,
    )


def map_settled(
    fn: Callable[..., R],
    /,
    *iterables: Iterable[Any],
    executor: Executor,
    buffersize: int | None = None,
    timeout: float | None = None,
    ordered: bool = True,
    chunksize: int = 1,
    progress: Callable[[Fulfilled[R] | Rejected], object] | None = None,
) -> Iterator[Fulfilled[R] | Rejected]:
    """Yield a record per item, at most ``buffersize`` in flight: a lazy ``Promise.allSettled``.

    Each item gives one :class:`Fulfilled` or :class:`Rejected` record
    carrying ``.index``, its position in the input; a failing item never
    stops the others, and with ``chunksize > 1`` one failing item in a
    chunk is one ``Rejected`` record, its neighbours are ``Fulfilled``. At
    the deadline, items in flight are yielded as ``Rejected`` with a
    :class:`SettleTimeoutError` and no more input is pulled: the items never
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
        buffersize: Most items submitted and not yet yielded; default
            ``max(4 * workers, 64) * chunksize``.
        timeout: Seconds for the whole map, or ``None``.
        ordered: Yield in input order (``True``) or as items complete.
        chunksize: Items sent to a worker at once (for process pools).
        progress: Called with each record as it settles, on the consuming
            thread; its exceptions are reported once as a
            ``RuntimeWarning`` and otherwise ignored.

    Returns:
        An iterator of records. Closing it early (``break``) cancels queued
        work and pulls no more input.

    Raises:
        TypeError: ``fn`` is not callable, no iterable, ``executor`` has
            no ``submit()``, or an argument has the wrong type.
        ValueError: ``buffersize`` or ``chunksize`` below 1, NaN timeout.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> with ThreadPoolExecutor(2) as pool:
        ...     [(r.index, r.status) for r in map_settled(int, ["1", "x", "3"], executor=pool)]
        [(0, 'fulfilled'), (1, 'rejected'), (2, 'fulfilled')]
    """
    deadline, size, chunk, iterators = _check(
        "map_settled", fn, iterables, executor, buffersize, timeout, ordered, chunksize
    )
    if progress is not None and not callable(progress):
        raise TypeError(
            f"map_settled() expected a callable or None as progress, got {type(progress).__name__}"
        )
    return _map(
        "map_settled",
        fn,
        iterators,
        executor,
        size,
        deadline,
        timeout,
        bool(ordered),
        chunk,
        False,
        False,
        progress,
    )
