"""``map_all`` and ``map_settled``: bounded, lazy mapping over an executor."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Executor
from time import monotonic
from typing import Any, TypeVar

from .._core.deadline import Deadline
from .._core.engines import cancel_quietly
from .._core.hub import STREAM, Waiter
from .._core.inputs import check_flag
from .._errors import SettleTimeoutError, as_seconds, reraise
from .._records import Fulfilled, Rejected
from .._retry.policy import Retry, check_retry
from .._retry.schedule import MapRetries
from .args import check as _check
from .batches import drain, next_batch, results, take_records, take_values, timed_out
from .chunking import Plan
from .progress import Hook, notify_progress
from .submit import Target, pull, submit_unit

__all__ = ["map_all", "map_settled"]

R = TypeVar("R")


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
    retry: Retry | None = None,
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
    stretch, busy = how.stretch, how.busy  # how far the buffer grows while the head blocks
    limit = max(1, buffersize // 4)  # most items per batch: the workers keep the rest
    pulled = 0  # items taken from the input
    handed = 0  # items handed out (ordered: also the next position to hand out)
    exhausted = False
    input_error: Exception | None = None
    cancel_on_exit = True
    hook = None if progress is None else Hook(progress)
    target = Target(executor)
    task_deadline = None if deadline is None else Deadline(deadline)  # what items run under
    retries = None if retry is None else MapRetries(retry, fn, deadline, sizer, chunked, fail_fast)
    sent = None if retries is None else retries.sent  # each unit's arguments, for its retries

    def again(
        fn: Callable[..., Any], chunk: list[Any], chunked: bool, waiter: Waiter, position: int
    ) -> tuple[Any, bool]:  # a due retry: its item alone, under the map's deadline
        return submit_unit(name, target, fn, chunk, chunked, waiter, position, task_deadline)

    try:
        late = False  # the consumer came back from a batch after the deadline: no more input
        while True:
            if retries is not None:  # due retries first: their items count in the buffer
                exhausted = (
                    retries.resubmit(again, chunked, waiter, in_flight, max_units) or exhausted
                )
            while not exhausted and not late and len(in_flight) < max_units:
                room = buffersize - (pulled - handed)
                if room <= 0:
                    # Full. If the head item in order still runs and the
                    # workers would idle, stretch: a slow head must not
                    # stop the others (a user's buffersize never stretches).
                    if not (ordered and len(in_flight) < busy and handed not in ready):
                        break
                    room = stretch - (pulled - handed)
                    if room <= 0:
                        break
                size = chunksize if sizer is None else sizer.size
                chunk, broke = pull(args, min(size, room))
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
                fut, refused = submit_unit(
                    name, target, fn, chunk, chunked, waiter, pulled, task_deadline
                )
                exhausted = exhausted or refused  # refused, or the input broke: pull no more
                in_flight[pulled] = (fut, len(chunk))
                if sent is not None and not refused:  # a refused unit is final as it is
                    sent[pulled] = chunk
                pulled += len(chunk)
                del fut, chunk
            if pulled == handed and not (late and not exhausted):
                break  # else the input was not all pulled by the deadline: its end below
            if handed in ready if ordered else ready:  # items to hand out: do not sleep
                notified = True
                settled = waiter.take() if waiter.poll() else []
            else:
                notified = (
                    waiter.wait(deadline)
                    if retries is None
                    else retries.wait(waiter, deadline, len(in_flight) >= max_units)
                )
                settled = waiter.take()
            extra: list[list[Any]] = []
            if retries is not None:
                settled, extra = retries.sift(settled, in_flight, ready)
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
                if hook is not None and (filed or extra):
                    yield notify_progress(hook, [*filed, *extra])
                    hook.raise_interrupt()
                del filed
            parts, count = next_batch(ready, ordered, handed, limit)
            if count:
                handed += count
                out = drain(parts)
                del parts
                yield out
                del out
                late = deadline is not None and monotonic() >= deadline
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
                # The records the deadline makes: its items' under retry, then the cut ones'.
                cut = [] if retries is None else retries.expire(ready, in_flight, seconds, pulled)
                last = timed_out(ready, in_flight, seconds, pulled, cut)
                if hook is not None and cut:  # progress sees them too, before they are handed out
                    yield notify_progress(hook, [cut])
                    hook.raise_interrupt()
                del cut
                yield drain([(0, last)])
                break
        if input_error is not None:
            error, input_error = input_error, None
            try:
                raise error
            finally:
                del error  # this frame, in its traceback, must not hold it
    finally:
        waiter.close()
        if retries is not None:
            retries.close()  # nothing runs again once the map has ended
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
            that the executor refused; or the input iterable's own error.
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
            before it have been yielded (no more input is pulled).
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
            retry,
        )
    )
