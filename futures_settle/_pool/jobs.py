"""The parent's record of submitted work: a job per future, cut into segments.

A job is what one future answers for: a plain task (one item, its
future gets the value or the exception) or a chunk (many items, its future
gets ``(values, failures or None, seconds)``, the shape ``_map``'s
``run_chunk`` returns). A segment is a run of a job's items sent to one
worker; when a worker dies or stops early, the items it had not finished
become a new segment and go back to the front of the queue.

Only the supervisor thread touches jobs and segments, so nothing here locks.
"""

from __future__ import annotations

from concurrent.futures import Future, InvalidStateError
from concurrent.futures.process import _RemoteTraceback
from typing import Any

__all__ = ["Job", "Segment", "remote"]

SINGLE, CHUNK = 0, 1


def remote(exc: BaseException, text: str) -> BaseException:
    """``exc`` with the worker's traceback as its cause, as the stdlib's process pool sends it."""
    if text:
        exc.__cause__ = _RemoteTraceback('\n"""\n' + text + '"""')  # type: ignore[arg-type]
    return exc


class Job:
    """One future's work: its function, its items, and what came back so far."""

    __slots__ = ("failures", "fn", "future", "id", "items", "kind", "left", "seconds", "values")

    def __init__(self, ident: int, future: Future[Any], fn: Any, items: list[Any], kind: int):
        self.id = ident
        self.future = future
        self.fn = fn
        self.items = items  # SINGLE: [(args, kwargs)]; CHUNK: [args, ...]
        self.kind = kind
        self.left = len(items)
        self.values: list[Any] | None = [None] * len(items) if kind == CHUNK else None
        self.failures: dict[int, BaseException] | None = None
        self.seconds = 0.0

    def take(self, offset: int, values: list[Any], odd: int) -> None:
        """Items from ``offset`` on returned ``values``, but ``odd`` of them (those come next)."""
        if self.values is not None:
            self.values[offset : offset + len(values)] = values
            self.left -= len(values) - odd
            if self.left == 0:
                self._finish()
        elif not odd:
            self.left = 0
            _settle(self.future, values[0], None)

    def give(self, offset: int, value: Any) -> None:
        """Item ``offset`` returned ``value`` (one of the ``odd`` ones)."""
        if self.values is not None:
            self.values[offset] = value
            self._count()
        else:
            self.left = 0
            _settle(self.future, value, None)

    def fail(self, offset: int, exc: BaseException) -> None:
        if self.values is not None:
            if self.failures is None:
                self.failures = {}
            self.failures[offset] = exc
            self._count()
        else:
            self.left = 0
            _settle(self.future, None, exc)

    def drop(self, count: int) -> None:
        """``count`` items will never have an outcome (the job was cancelled)."""
        self.left -= count

    def _count(self) -> None:
        self.left -= 1
        if self.left == 0:
            self._finish()

    def _finish(self) -> None:
        values, failures = self.values, self.failures
        self.values = self.failures = None
        _settle(self.future, (values, failures, self.seconds), None)

    def done(self) -> bool:
        return self.left <= 0 or self.future.done()


def _settle(future: Future[Any], value: Any, exc: BaseException | None) -> None:
    try:
        if exc is None:
            future.set_result(value)
        else:
            future.set_exception(exc)
    except InvalidStateError:  # cancelled meanwhile: the cancel is its outcome
        pass


class Segment:
    """Items ``offset .. offset + count`` of a job, and where they went."""

    __slots__ = ("blob", "count", "done", "job", "offset", "seq_base", "size")

    def __init__(self, job: Job, offset: int, count: int) -> None:
        self.job = job
        self.offset = offset
        self.count = count
        self.done = 0  # items answered, from the first on (answers come in order)
        self.seq_base = 0  # the worker's number for the item before the first
        self.blob: bytes | memoryview | None = None  # the pickled (fn, items), once made
        self.size = 0  # bytes it holds in its worker's pipe until the worker reads it

    def rest(self, start: int) -> Segment | None:
        """The items from the segment's ``start``-th on, as a new segment (None if none)."""
        if start >= self.count:
            return None
        return Segment(self.job, self.offset + start, self.count - start)
