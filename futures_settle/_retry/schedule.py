"""The maps' retries: a heap of due times that the map's own loop consults.

A map (``_map/maps.py``) keeps the arguments of each unit it submits
while ``retry=`` is given. When a unit settles, ``sift`` looks at its
failures before the map files them: an item whose exception the policy
retries leaves its unit (a chunk is cut around it; its neighbours are
filed as they are, ``attempts == 1``) and waits in the heap with its due
time. The loop wakes at the earliest due time as it wakes for a settled
future, and ``resubmit`` sends each due item alone (a chunk of one on a
chunked map). Nothing waits in a worker, and nothing is kept that the map
does not own: ``close`` forgets every pending retry when the map ends.

A waiting item is pulled and not handed out, so it counts against the
map's ``buffersize`` as an item in flight does. A retry that would be due
after the map's deadline is not scheduled, and none is submitted once the
deadline has passed (a consumer back late): the item's record is its last
failure.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from operator import itemgetter
from typing import Any

from .._core.state import OK, any_failed, failed_of, read
from .._errors import SettleTimeoutError
from .._records import Fulfilled, Rejected, retried
from .attempt import Attempt
from .policy import Retry

__all__ = ["MapRetries"]

Submit = Callable[[Any, list[Any], bool, Any, int], tuple[Any, bool]]


class _Item:
    """One item under retry: its arguments, its runs so far, their exceptions."""

    __slots__ = ("args", "errors", "refused", "runs")

    def __init__(self, args: tuple[Any, ...], error: BaseException) -> None:
        self.args = args
        self.runs = 1
        self.errors = [error]
        self.refused = False  # its last resubmission was refused: that is final


def _failed(exc: BaseException) -> Future[Any]:
    f: Future[Any] = Future()
    f.set_exception(exc)
    return f


class MapRetries:
    """The retries of one map: the units' arguments, the items waiting, their due times."""

    __slots__ = (
        "_chunked",
        "_deadline",
        "_due",
        "_fail_fast",
        "_fn",
        "_items",
        "_sizer",
        "policy",
        "sent",
    )

    def __init__(
        self,
        policy: Retry,
        fn: Any,
        deadline: float | None,
        sizer: Any,
        chunked: bool,
        fail_fast: bool,
    ) -> None:
        self.policy = policy
        self._fn = fn
        self._deadline = deadline
        self._sizer = sizer
        self._chunked = chunked
        self._fail_fast = fail_fast
        # A first run's unit: position -> its arguments. The map stores into it itself, for
        # each unit the executor took (a refused one is final: nothing to keep), without a call.
        self.sent: dict[int, list[Any]] = {}
        self._items: dict[int, _Item] = {}  # items waiting or on a later run, by position
        self._due: list[tuple[float, int]] = []  # (due time, position), a heap

    # -- submitting ----------------------------------------------------------

    def wait(self, waiter: Any, deadline: float | None, full: bool) -> bool:
        """The map's wait: until a unit settles, the earliest due retry, or the deadline.

        ``full``: the map may not submit now (its units in flight are at the
        most it may have): a due retry waits for a unit to settle, not a nap
        that a due time already past would end at once, over and over.
        Returns False only at the deadline (the map's timeout).
        """
        if not self._due or full:
            return bool(waiter.wait(deadline))
        due = self._due[0][0]
        # Past the deadline, a due retry is not submitted (``resubmit``): wait for the deadline.
        if deadline is not None and deadline <= max(due, time.monotonic()):
            return bool(waiter.wait(deadline))
        waiter.nap(due)  # not the deadline: the loop resubmits what is due and waits on
        return True

    def resubmit(
        self,
        submit: Submit,
        chunked: bool,
        waiter: Any,
        in_flight: dict[int, tuple[Any, int]],
        max_units: int,
    ) -> bool:
        """Submit the due items, each alone, while units may be added; True if one was refused.

        ``submit(fn, chunk, chunked, waiter, position)`` is the map's own;
        each retry submits an ``Attempt``, a submission new to any engine.
        None is submitted once the deadline has passed (a consumer that comes
        back late): the map's timeout then files the item's last failure.
        """
        due = self._due
        if not due:
            return False
        now = time.monotonic()
        if self._deadline is not None and now >= self._deadline:
            return False
        refused_any = False
        while due and due[0][0] <= now and len(in_flight) < max_units:
            position = heapq.heappop(due)[1]
            item = self._items[position]
            item.runs += 1
            fut, refused = submit(Attempt(self._fn), [item.args], chunked, waiter, position)
            in_flight[position] = (fut, 1)
            item.refused = refused
            refused_any = refused_any or refused
            del fut
        return refused_any

    # -- settling -------------------------------------------------------------

    def sift(
        self,
        settled: list[tuple[Any, int]],
        in_flight: dict[int, tuple[Any, int]],
        ready: dict[int, list[Any]],
    ) -> tuple[list[tuple[Any, int]], list[list[Any]]]:
        """Take the retried items out of ``settled``; file the units they touch.

        Returns what the map files as usual (units that ran once and
        need no retry, or futures failed with a final exception for
        ``map_all`` to raise) and the records filed here, for progress.
        """
        sent = self.sent
        if not self._chunked and not self._items and not any_failed(settled):
            # The common case, at C speed: nothing failed, nothing retried.
            deque(map(sent.pop, map(itemgetter(1), settled)), maxlen=0)
            return settled, []
        rest: list[tuple[Any, int]] = []
        filed: list[list[Any]] = []
        for fut, start in settled:
            item = self._items.get(start)
            if item is not None and start in in_flight:
                self._settle_item(fut, start, item, in_flight, ready, rest, filed)
                continue
            chunk = sent.pop(start, None)
            if chunk is None:  # refused at its first submit: final as it is
                rest.append((fut, start))
                continue
            if not self._chunked and not failed_of(fut):  # as cheaply as its engine tells
                rest.append((fut, start))
                continue
            code, payload = read(fut)
            if code != OK:  # the unit failed as a whole (one item, or a lost chunk)
                error, retry = self._decide(payload)
                if not retry:
                    rest.append((fut if error is payload else _failed(error), start))
                    continue
                in_flight.pop(start)
                for k, args in enumerate(chunk):
                    self._wait(start + k, _Item(args, payload), in_flight, ready, rest, filed)
            else:
                self._sift_chunk(fut, start, chunk, payload, in_flight, ready, rest, filed)
        return rest, filed

    def _decide(self, exc: BaseException) -> tuple[BaseException, bool]:
        """``(the item's exception, whether to retry)``; a predicate's error is final."""
        try:
            return exc, self.policy.retries(exc)
        except Exception as error:
            if error is not exc and error.__context__ is None:
                error.__context__ = exc
            return error, False

    def _sift_chunk(
        self,
        fut: Any,
        start: int,
        chunk: list[Any],
        payload: tuple[list[Any], dict[int, BaseException] | None, float],
        in_flight: dict[int, tuple[Any, int]],
        ready: dict[int, list[Any]],
        rest: list[tuple[Any, int]],
        filed: list[list[Any]],
    ) -> None:
        values, failures, _ = payload
        if not failures:
            rest.append((fut, start))
            return
        again: list[tuple[int, BaseException]] = []
        for offset, exc in list(failures.items()):
            error, retry = self._decide(exc)
            if retry:
                again.append((offset, exc))
                del failures[offset]
            elif error is not exc:
                failures[offset] = error
        if not again or (self._fail_fast and failures):
            rest.append((fut, start))  # filed (or raised) as usual, without the retried
            return
        count = in_flight.pop(start)[1]
        if self._sizer is not None:
            self._sizer.completed(count, payload[2])
        again.sort()
        if self._fail_fast:
            parts: list[Any] = values
        else:
            parts = [Fulfilled(v, start + k) for k, v in enumerate(values)]
            for offset, exc in failures.items():
                parts[offset] = Rejected(exc, start + offset)
        begin = 0
        for offset in [*(k for k, _ in again), count]:
            if offset > begin:
                part = parts[begin:offset]
                ready[start + begin] = part
                if not self._fail_fast:
                    filed.append(part)
            begin = offset + 1
        for offset, exc in again:
            self._wait(start + offset, _Item(chunk[offset], exc), in_flight, ready, rest, filed)

    def _settle_item(
        self,
        fut: Any,
        position: int,
        item: _Item,
        in_flight: dict[int, tuple[Any, int]],
        ready: dict[int, list[Any]],
        rest: list[tuple[Any, int]],
        filed: list[list[Any]],
    ) -> None:
        """A later run of one item settled: its value, another wait, or its last failure."""
        code, payload = read(fut)
        ok = code == OK
        if ok and self._chunked:
            values, failures, seconds = payload
            if self._sizer is not None:
                self._sizer.completed(1, seconds)
            ok = not failures
            payload = values[0] if ok else failures[0]
        if ok:
            in_flight.pop(position)
            del self._items[position]
            if self._fail_fast:
                ready[position] = [payload]
            else:
                record = retried(Fulfilled(payload, position), item.runs, tuple(item.errors))
                ready[position] = [record]
                filed.append([record])
            return
        error, retry = (payload, False) if item.refused else self._decide(payload)
        if retry:
            in_flight.pop(position)
            item.errors.append(error)
            self._wait(position, item, in_flight, ready, rest, filed)
            return
        del self._items[position]
        if self._fail_fast:
            rest.append((_failed(error), position))  # the map raises it
            return
        in_flight.pop(position)
        failure = retried(Rejected(error, position), item.runs, tuple(item.errors))
        ready[position] = [failure]
        filed.append([failure])

    def _wait(
        self,
        position: int,
        item: _Item,
        in_flight: dict[int, tuple[Any, int]],
        ready: dict[int, list[Any]],
        rest: list[tuple[Any, int]],
        filed: list[list[Any]],
    ) -> None:
        """Schedule the next run of ``item``, or file its last failure if it may not run again."""
        policy = self.policy
        if item.runs < policy.attempts:
            due = time.monotonic() + policy.wait(item.runs)
            if self._deadline is None or due < self._deadline:
                self._items[position] = item
                heapq.heappush(self._due, (due, position))
                return
        self._items.pop(position, None)
        last = item.errors.pop()
        if self._fail_fast:  # the map raises it, as a unit of one
            fut = _failed(last)
            in_flight[position] = (fut, 1)
            rest.append((fut, position))
            return
        record = retried(Rejected(last, position), item.runs, tuple(item.errors))
        ready[position] = [record]
        filed.append([record])

    # -- ending ---------------------------------------------------------------

    def expire(
        self,
        ready: dict[int, list[Any]],
        in_flight: dict[int, tuple[Any, int]],
        seconds: float,
        total: int,
    ) -> list[Any]:
        """``map_settled`` at its deadline: file the records of the items under retry.

        A waiting item's record is its last failure; one on a later run
        gets the deadline's ``SettleTimeoutError``, with its runs (the run
        cut counts). Returns the records made, for the progress hook.
        """
        made: list[Any] = []
        left = sum(n for _, n in in_flight.values())
        for position, item in sorted(self._items.items()):
            if position in in_flight:
                in_flight.pop(position)
                error = SettleTimeoutError(
                    f"item {position} did not settle within {seconds:g} s ({left} items in flight)",
                    timeout=seconds,
                    unfinished=left,
                    total=total,
                    index=position,
                )
                record = retried(Rejected(error, position), item.runs, tuple(item.errors))
            else:
                last = item.errors[-1]
                record = retried(Rejected(last, position), item.runs, tuple(item.errors[:-1]))
            ready[position] = [record]
            made.append(record)
        self.close()
        return made

    def close(self) -> None:
        """Forget every pending retry: nothing runs again once the map has ended."""
        self._due.clear()
        self._items.clear()
        self.sent.clear()
