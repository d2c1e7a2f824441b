"""The engine of ``map_all`` and ``map_settled``: a bounded window of work over an executor.

One generator runs the loop: refill the window (pull input, let the
seams admit it, submit units), wait until something settles (or a retry
or a held item is due, or the deadline), file what settled, hand out a
batch. It yields batches, each an iterator the map's iterator drains at
C speed (``batches.results``), so this Python code runs once per batch.

A submitted future (one item, or a chunk of consecutive items) is a unit
from submission to hand-out: ``in_flight`` and ``ready`` are keyed by the
position of its first item. The engine runs again only once the consumer
has taken the whole previous batch, so everything handed out has been
consumed.

An executor that refuses a submit (shut down, broken) or whose futures
fail with ``BrokenExecutor`` (a process pool whose worker died) never ends
the map quietly: every item pulled still gets its record, then the map
raises the executor's error. A loop over ``map_settled`` that ends
normally has answered every input.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from time import monotonic
from typing import Any

from .._core.deadline import Deadline
from .._core.engines import cancel_quietly, executor_broke
from .._core.hub import STREAM, Waiter
from .._errors import SettleTimeoutError, as_seconds, reraise
from .._records import Fulfilled, Rejected
from .._retry.policy import Retry
from .._retry.schedule import MapRetries
from .batches import drain, next_batch, take_records, take_values, timed_out
from .chunking import Plan
from .progress import Hook, notify_progress
from .seams import Seams
from .submit import Target, pull, submit_unit

__all__ = ["run"]


class _Broken:
    """The executor's own error, once seen: raised when every pulled item has its record."""

    __slots__ = ("error",)

    def __init__(self) -> None:
        self.error: BaseException | None = None

    def refused(self, fut: Any) -> None:
        """A submit was refused: ``fut`` is the failed future that stands for it."""
        if self.error is None:
            self.error = fut.exception()

    def saw(self, error: BaseException | None) -> None:
        """A unit failed as a whole with ``error``: a ``BrokenExecutor`` is the executor's."""
        if self.error is None and executor_broke(error):
            self.error = error


def run(
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
    seams: Seams | None = None,
) -> Generator[Iterator[Any], None, None]:
    """Yield batches of values (``fail_fast``) or records, each as an iterator."""
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
    broken = _Broken()
    cancel_on_exit = True
    hook = None if progress is None else Hook(progress)
    target = Target(executor)
    task_deadline = None if deadline is None else Deadline(deadline)  # what items run under
    retries = None if retry is None else MapRetries(retry, fn, deadline, sizer, chunked, fail_fast)
    sent = None if retries is None else retries.sent  # each unit's arguments, for its retries
    seams = seams or _NONE
    admit, gate, observe, handed_hook = seams.admit, seams.gate, seams.settled, seams.handed
    eager = progress is not None or observe is not None  # records built when filed
    answered: list[list[Any]] = []  # records the seams gave at pull time, for progress

    def again(
        fn: Callable[..., Any], chunk: list[Any], chunked: bool, waiter: Waiter, position: int
    ) -> tuple[Any, bool]:  # a due retry: its item alone, under the map's deadline
        fut, refused = submit_unit(
            name, target, fn, chunk, chunked, waiter, position, task_deadline
        )
        if refused:
            broken.refused(fut)
        return fut, refused

    try:
        late = False  # the consumer came back from a batch after the deadline: no more input
        while True:
            if retries is not None:  # due retries first: their items count in the buffer
                exhausted = (
                    retries.resubmit(again, chunked, waiter, in_flight, max_units) or exhausted
                )
            if gate is not None and len(in_flight) < max_units and not late:
                exhausted = (
                    _send(
                        gate.take(max_units - len(in_flight)),
                        name,
                        target,
                        fn,
                        chunked,
                        waiter,
                        task_deadline,
                        in_flight,
                        sent,
                        broken,
                    )
                    or exhausted
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
                start = pulled
                pulled += len(chunk)
                if admit is None and gate is None:  # the plain map: one unit, at once
                    fut, refused = submit_unit(
                        name, target, fn, chunk, chunked, waiter, start, task_deadline
                    )
                    in_flight[start] = (fut, len(chunk))
                    if refused:
                        broken.refused(fut)
                        exhausted = True  # refused: pull no more
                    elif sent is not None:  # a refused unit is final as it is
                        sent[start] = chunk
                    del fut, chunk
                    continue
                units = [(start, chunk)]
                del chunk
                if admit is not None:
                    admitted = admit(start, units[0][1])
                    if admitted is not None:
                        answers, units = admitted
                        del admitted
                        _answer(answers, fail_fast, ready, answered)
                        del answers
                if gate is not None:
                    for start, items in units:
                        gate.offer(start, items)
                    units = gate.take(max_units - len(in_flight))
                exhausted = (
                    _send(
                        units,
                        name,
                        target,
                        fn,
                        chunked,
                        waiter,
                        task_deadline,
                        in_flight,
                        sent,
                        broken,
                    )
                    or exhausted
                )
                del units
            if pulled == handed and not (late and not exhausted):
                break  # else the input was not all pulled by the deadline: its end below
            if handed in ready if ordered else ready:  # items to hand out: do not sleep
                notified = True
                settled = waiter.take() if waiter.poll() else []
            else:
                wake = None if gate is None else gate.wake_at()
                if wake is not None and (deadline is None or wake < deadline):
                    waiter.nap(wake)  # a held item may start then: not the deadline
                    notified = True
                elif retries is None:
                    notified = waiter.wait(deadline)
                else:
                    notified = retries.wait(waiter, deadline, len(in_flight) >= max_units)
                settled = waiter.take()
            if gate is not None:
                for fut, start in settled:
                    gate.finished(start, in_flight[start][1], fut)
            extra: list[list[Any]] = []
            if retries is not None:
                settled, extra = retries.sift(settled, in_flight, ready)
            if answered:
                extra += answered
                answered.clear()
            if fail_fast:
                made: list[tuple[int, list[Any]]] | None = [] if observe is not None else None
                failure = take_values(settled, in_flight, ready, sizer, chunked, made)
                del settled
                if observe is not None:
                    records = [*extra, *_fulfilled(made)]
                    if failure is not None:
                        records.append([Rejected(failure.exc, failure.position)])
                    if records:
                        observe(records)
                    del records
                if failure is not None:
                    cancel_on_exit = cancel_pending
                    exc, source = failure.exc, failure.source
                    del failure
                    try:
                        reraise(exc, source)
                    finally:
                        del exc, source
            else:
                filed = take_records(settled, in_flight, ready, sizer, chunked, eager, broken.saw)
                del settled
                if filed or extra:
                    if observe is not None:
                        observe([*filed, *extra])
                    if hook is not None:
                        yield notify_progress(hook, [*filed, *extra])
                        hook.raise_interrupt()
                del filed
            del extra
            parts, count = next_batch(ready, ordered, handed, limit)
            if count:
                handed += count
                if handed_hook is not None:
                    handed_hook(count)
                out = drain(parts)
                del parts
                yield out
                del out
                late = deadline is not None and monotonic() >= deadline
            if not notified:
                seconds = as_seconds(timeout)  # type: ignore[arg-type]
                held = [] if gate is None else [(s, len(items)) for s, items in gate.drop()]
                if fail_fast:
                    left = sum(n for _, n in in_flight.values()) + sum(n for _, n in held)
                    raise SettleTimeoutError(
                        f"{name}() timed out after {seconds:g} s with {left} items in flight",
                        timeout=seconds,
                        unfinished=left,
                        total=pulled,
                    )
                # The records the deadline makes: its items' under retry, then the cut ones'.
                cut = [] if retries is None else retries.expire(ready, in_flight, seconds, pulled)
                last = timed_out(ready, in_flight, seconds, pulled, cut, held)
                if cut:  # progress sees them too, before they are handed out
                    if observe is not None:
                        observe([cut])
                    if hook is not None:
                        yield notify_progress(hook, [cut])
                        hook.raise_interrupt()
                del cut
                if handed_hook is not None:
                    handed_hook(len(last))
                yield drain([(0, last)])
                break
        if input_error is not None:
            error, input_error = input_error, None
            try:
                raise error
            finally:
                del error  # this frame, in its traceback, must not hold it
        if broken.error is not None:
            refusal, broken.error = broken.error, None
            try:
                raise refusal
            finally:
                del refusal
    finally:
        waiter.close()
        if retries is not None:
            retries.close()  # nothing runs again once the map has ended
        if gate is not None:
            gate.drop()
        if cancel_on_exit:
            for fut, _ in in_flight.values():
                # Best effort, as cancel_pending: an engine's cancel() that
                # raises must neither mask the map's answer nor spare the rest.
                cancel_quietly(fut, keep_done=False)
        in_flight.clear()
        ready.clear()
        if seams.close is not None:
            seams.close()


_NONE = Seams()


# Functions of their own, not closures: a name a closure shares becomes a cell,
# slower to read in the engine's every loop.


def _send(
    units: list[tuple[int, list[Any]]],
    name: str,
    target: Target,
    fn: Callable[..., Any],
    chunked: bool,
    waiter: Waiter,
    deadline: Deadline | None,
    in_flight: dict[int, tuple[Any, int]],
    sent: dict[int, list[Any]] | None,
    broken: _Broken,
) -> bool:
    """Submit units (runs of consecutive items); True if the executor refused one."""
    refused_any = False
    for start, items in units:
        fut, refused = submit_unit(name, target, fn, items, chunked, waiter, start, deadline)
        in_flight[start] = (fut, len(items))
        if refused:
            broken.refused(fut)
            refused_any = True
        elif sent is not None:  # a refused unit is final as it is
            sent[start] = items
        del fut
    return refused_any


def _answer(
    answers: list[tuple[int, Any]],
    fail_fast: bool,
    ready: dict[int, list[Any]],
    answered: list[list[Any]],
) -> None:
    """File records the seams gave without running their items (a journal's replay)."""
    records: list[Any] = []
    for position, record in answers:
        if fail_fast and type(record) is Rejected:  # map_all raises it, as a failed item
            reason = record.reason
            del record, records, answers
            try:
                reraise(reason, None)
            finally:
                del reason
        ready[position] = [record.value if fail_fast else record]
        records.append(record)
    if records:
        answered.append(records)


def _fulfilled(made: list[tuple[int, list[Any]]] | None) -> list[list[Any]]:
    """The records of ``map_all``'s filed values, for a seam that hears of them."""
    if not made:
        return []
    return [[Fulfilled(v, start + k) for k, v in enumerate(values)] for start, values in made]
