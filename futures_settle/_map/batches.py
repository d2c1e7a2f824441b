"""From settled units to what the maps hand out: values or records, in batches.

A unit is one submitted future: a single item, or a chunk run by
``run_chunk``. When units settle, the engine of ``map_all``/``map_settled``
files their values (or one record per item) by the position of their first
item, and hands out whatever can go now as one batch. The consumer takes a
batch's items from a C iterator (``_Results``, a ``chain`` of batches that
pop their items as they go), so the engine's Python code runs once per
batch rather than once per item, and nothing handed out stays referenced.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator
from itertools import chain, repeat, starmap
from typing import Any, cast

from .._core.state import OK, read
from .._errors import SettleTimeoutError
from .._records import Fulfilled, Rejected
from .chunking import ChunkSizer

__all__ = [
    "Failure",
    "Values",
    "drain",
    "next_batch",
    "results",
    "take_records",
    "take_values",
    "timed_out",
]


class _Results(chain):  # type: ignore[type-arg]
    """The maps' iterator: hands each batch of settled items out at C speed.

    The engine (a generator) runs once per batch, not once per item: the
    items of a batch come out of a C iterator that pops each from its list,
    so nothing handed out stays referenced here.
    """

    __slots__ = ("_engine",)
    _engine: Generator[Iterator[Any], None, None]

    def close(self) -> None:
        """Stop the map: cancel queued work, pull no more input, drop what is not handed out."""
        self._engine.close()
        deque(self, maxlen=0)  # the rest of the current batch: nothing runs any more


def results(engine: Generator[Iterator[Any], None, None]) -> Iterator[Any]:
    """The iterator a map returns: the items of the batches ``engine`` yields."""
    it = cast(_Results, _Results.from_iterable(engine))
    it._engine = engine
    return it


def drain(parts: list[tuple[int, list[Any]]]) -> Iterator[Any]:
    """Hand out the parts of a batch in order, letting go of each item as it goes.

    A part of ``Values`` becomes its records only as they are handed out.
    """
    iterators: list[Iterator[Any]] = []
    plain: list[Any] = []
    for start, part in parts:
        if isinstance(part, Values):
            if plain:
                iterators.append(_popping(plain))
                plain = []
            iterators += _records(start, part)
        elif plain:
            plain += part
        else:
            plain = part
    if plain or not iterators:
        iterators.append(_popping(plain))
    return iterators[0] if len(iterators) == 1 else chain.from_iterable(iterators)


def _records(start: int, part: Values) -> list[Iterator[Any]]:
    """Iterators over the records of ``part``, built from its items as they are popped."""
    end = start + len(part)
    if not isinstance(part, Mixed):
        return [map(Fulfilled, _popping(part), range(start, end))]
    part.reverse()
    pop = part.pop
    out: list[Iterator[Any]] = []
    position = start
    for offset in part.failed:  # ascending: the exceptions sit at these offsets
        failed = start + offset
        if failed > position:
            out.append(
                map(Fulfilled, starmap(pop, repeat((), failed - position)), range(position, failed))
            )
        out.append(map(Rejected, starmap(pop, repeat((), 1)), (failed,)))
        position = failed + 1
    if end > position:
        out.append(map(Fulfilled, starmap(pop, repeat((), end - position)), range(position, end)))
    return out


def _popping(items: list[Any]) -> Iterator[Any]:
    items.reverse()
    return starmap(items.pop, repeat((), len(items)))


class Values(list[Any]):
    """The values of a chunk whose items all succeeded, each to become a ``Fulfilled`` record.

    Building a record as it is handed out, from C iterators, costs a fifth
    less than building the list of records first.
    """

    __slots__ = ()

    def split(self, at: int) -> Values:
        """Cut the items from ``at`` on out of this part, and return them as a part."""
        rest = Values(self[at:])
        del self[at:]
        return rest


class Mixed(Values):
    """The items of a chunk where some failed: values, and exceptions at the ``failed`` offsets.

    Its records, ``Fulfilled`` or ``Rejected``, are built as they are handed out.
    """

    __slots__ = ("failed",)

    def __init__(self, items: list[Any], failed: list[int]) -> None:
        super().__init__(items)
        self.failed = failed  # ascending

    def split(self, at: int) -> Values:
        failed = [k - at for k in self.failed if k >= at]
        rest = Mixed(self[at:], failed) if failed else Values(self[at:])
        del self[at:]
        self.failed = [k for k in self.failed if k < at]
        return rest


class Failure:
    """What ``take_values`` gives when a unit failed: its first exception, where from, whose."""

    __slots__ = ("exc", "position", "source")

    def __init__(self, exc: BaseException, source: Any, position: int) -> None:
        self.exc = exc
        self.source = source
        self.position = position  # the failed item's


def take_values(
    settled: list[tuple[Any, int]],
    in_flight: dict[int, tuple[Any, int]],
    ready: dict[int, list[Any]],
    sizer: ChunkSizer | None,
    chunked: bool,
    made: list[tuple[int, list[Any]]] | None = None,
) -> Failure | None:
    """``map_all``: file the values of settled units in ``ready``, or return the first failure.

    ``made``, when given, also gets each ``(first position, values)`` filed.
    """
    for fut, start in settled:
        count = in_flight.pop(start)[1]
        code, payload = read(fut)
        if code != OK:
            return Failure(payload, fut, start)
        if not chunked:
            ready[start] = values = [payload]
        else:
            values, failures, seconds = payload
            if sizer is not None:
                sizer.completed(count, seconds)
            if failures:
                first = min(failures)  # a chunk's items run in order
                return Failure(failures[first], fut, start + first)
            ready[start] = values
        if made is not None:
            made.append((start, values))
    return None


def take_records(
    settled: list[tuple[Any, int]],
    in_flight: dict[int, tuple[Any, int]],
    ready: dict[int, list[Any]],
    sizer: ChunkSizer | None,
    chunked: bool,
    eager: bool,
    whole: Callable[[BaseException], None] | None = None,
) -> list[list[Any]]:
    """``map_settled``: file one record per item of each settled unit in ``ready``.

    Returns the records built; unless ``eager``, a chunk is filed as
    ``Values`` (or ``Mixed`` when some of its items failed), whose records
    are built on hand-out. ``whole`` hears of each exception that failed a
    unit as a whole (a dead worker, a refused submit, an unchunked item).
    """
    filed = []
    for fut, start in settled:
        count = in_flight.pop(start)[1]
        code, payload = read(fut)
        if code != OK and whole is not None:
            whole(payload)
        if not chunked:
            records = [Fulfilled(payload, start) if code == OK else Rejected(payload, start)]
        elif code != OK:  # the unit as a whole failed: a dead worker, a refused submit
            records = [Rejected(payload, start + k) for k in range(count)]
        else:
            values, failures, seconds = payload
            if sizer is not None:
                sizer.completed(count, seconds)
            if not eager:
                if failures:
                    for offset, exc in failures.items():
                        values[offset] = exc
                    ready[start] = Mixed(values, sorted(failures))
                else:
                    ready[start] = Values(values)
                continue
            records = list(map(Fulfilled, values, range(start, start + count)))
            if failures:
                for offset, exc in failures.items():
                    records[offset] = Rejected(exc, start + offset)
        ready[start] = records
        filed.append(records)
    return filed


def next_batch(
    ready: dict[int, list[Any]], ordered: bool, position: int, limit: int
) -> tuple[list[tuple[int, list[Any]]], int]:
    """What can be handed out now, at most ``limit`` items: from ``position`` on, or any.

    Returns the parts, ``(first position, items)``, and how many items.
    The engine refills the buffer only between batches, so a batch is kept
    to a part of the buffer: while the consumer works through one, the
    workers still have the rest.
    """
    parts: list[tuple[int, list[Any]]] = []
    count = 0
    while count < limit:
        if ordered:
            start = position + count
            if start not in ready:
                break
        elif ready:
            start = next(iter(ready))
        else:
            break
        part = ready.pop(start)
        room = limit - count
        if len(part) > room:  # split the unit: the rest waits for the next batch
            if isinstance(part, Values):
                ready[start + room] = part.split(room)
            else:
                ready[start + room] = part[room:]
                del part[room:]
        parts.append((start, part))
        count += len(part)
    return parts, count


def timed_out(
    ready: dict[int, list[Any]],
    in_flight: dict[int, tuple[Any, int]],
    seconds: float,
    total: int,
    cut: list[Any],
    held: list[tuple[int, int]] | None = None,
) -> list[Any]:
    """``map_settled`` at its deadline: settled records, then timeouts, by position.

    The timeouts made here (the records of the items the deadline cut) are
    also appended to ``cut``, for the progress hook. ``held``: ``(first
    position, items)`` of runs pulled and never submitted (a gate held
    them): they did not settle either.
    """
    unsettled = {start: entry[1] for start, entry in in_flight.items()}
    unsettled.update(held or ())
    left = sum(unsettled.values())
    out: list[Any] = []
    for start in sorted([*ready, *unsettled]):
        if start in ready:
            part = ready.pop(start)
            out += drain([(start, part)])
            continue
        for position in range(start, start + unsettled[start]):
            error = SettleTimeoutError(
                f"item {position} did not settle within {seconds:g} s ({left} items in flight)",
                timeout=seconds,
                unfinished=left,
                total=total,
                index=position,
            )
            record = Rejected(error, position)
            out.append(record)
            cut.append(record)
    return out
