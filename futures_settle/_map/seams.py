"""The narrow questions a map asks the concepts beside it: a journal, limits, its statistics.

The map's engine (``engine.py``) owns its window of work: what it pulled,
what is in flight, what waits to be handed out. The concepts that join a
map never reach into that state; each answers a question or hears of an
event, through the one ``Seams`` object the public functions build:

- ``admit``: a block of items was pulled; which of them run, and which are
  answered at once without running (a journal replaying a stored record,
  a key that cannot be computed). Called before any of them is submitted.
- ``gate``: may these items start now, and when should the map ask again
  (limits per key: no worker ever waits for a slot or a token).
- ``settled``: these records were made (or read back); called before any
  of them is handed out or passed to ``progress``, so that what a
  consumer saw is durable first.
- ``handed``: a batch is being handed out (counts of what the consumer has).
- ``close``: the map has ended, however it ended.

Every seam is optional: a map with none runs exactly the loop it ran
before them, with one ``is None`` test per unit where a seam could act.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

__all__ = ["Admit", "Admitted", "Gate", "Seams", "chain"]

Admitted = tuple[list[tuple[int, Any]], list[tuple[int, list[Any]]]]
"""What ``admit`` answers for a block: ``(answers, runs)``.

``answers`` are ``(position, record)`` pairs handed out without running
(``Fulfilled`` or ``Rejected``, their ``.index`` the position); ``runs``
are ``(first position, items)`` of consecutive positions to submit, in
order. Every position of the block is in exactly one of the two.
"""


Admit = Callable[[int, list[Any]], Admitted | None]
"""``admit(first position, items)``: ``None`` to run the whole block as it is."""


def chain(*admits: Admit | None) -> Admit | None:
    """One ``admit`` that asks each in turn: a later one sees only the runs the earlier left.

    So a journal answers what it stored, and limits then look only at what
    will run. ``None`` entries are skipped; ``None`` when none is left.

    Example:
        >>> def odd(start, items):  # answers the items at odd positions
        ...     at = list(enumerate(items, start))
        ...     answers = [(p, ("answer", x)) for p, x in at if p % 2]
        ...     return answers, [(p, [x]) for p, x in at if not p % 2]
        >>> both = chain(odd, lambda start, items: ([(start, "first")], [(start + 1, items[1:])]))
        >>> both(0, ["a", "b", "c"])
        ([(1, ('answer', 'b')), (0, 'first'), (2, 'first')], [])
    """
    present = [a for a in admits if a is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def chained(start: int, items: list[Any]) -> Admitted | None:
        answers: list[tuple[int, Any]] = []
        runs: list[tuple[int, list[Any]]] = [(start, items)]
        asked = False
        for admit in present:
            later: list[tuple[int, list[Any]]] = []
            for first, block in runs:
                got = admit(first, block)
                if got is None:
                    later.append((first, block))
                else:
                    asked = True
                    answers += got[0]
                    later += [run for run in got[1] if run[1]]
            runs = later
        return (answers, runs) if asked else None

    return chained


class Gate(Protocol):
    """Holds items that may not start yet; the map submits only what it releases.

    Items given to ``offer`` are pulled and not handed out: they count in
    the map's ``buffersize`` as items in flight do.
    """

    def offer(self, start: int, items: list[Any]) -> None:
        """Take a run of consecutive items (``start`` is the first one's position)."""

    def take(self, units: int) -> list[tuple[int, list[Any]]]:
        """Runs that may start now, at most ``units`` of them, each counted as started."""

    def wake_at(self) -> float | None:
        """When (``time.monotonic()``) an item held now may start, or ``None`` if none is held."""

    def finished(self, start: int, count: int, fut: Any) -> None:
        """A unit that ``take`` released has settled (its slots are free again)."""

    def drop(self) -> list[tuple[int, list[Any]]]:
        """Give back every run still held (the map's deadline or end): none will start."""


class Seams:
    """The optional participants of one map: each attribute ``None`` when unused."""

    __slots__ = ("admit", "close", "gate", "handed", "settled")

    def __init__(
        self,
        admit: Admit | None = None,
        gate: Gate | None = None,
        settled: Callable[[Sequence[Sequence[Any]]], None] | None = None,
        handed: Callable[[int], None] | None = None,
        close: Callable[[], None] | None = None,
    ) -> None:
        self.admit = admit
        self.gate = gate
        self.settled = settled
        self.handed = handed
        self.close = close
