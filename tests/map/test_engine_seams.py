"""The seams of the maps' engine: what a journal, limits and statistics can ask of a map.

Each test drives the engine with a small participant written here, so that
the contract of each seam holds before any concept uses it: answers given
at pull time are handed out in their place without running, a gate's held
items start only when it releases them (and time out at the deadline),
observers hear of every record before the consumer sees it.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from futures_settle import Fulfilled, Rejected, SettleTimeoutError
from futures_settle._map.args import check
from futures_settle._map.batches import results
from futures_settle._map.engine import run
from futures_settle._map.seams import Admitted, Seams

from helpers import tasks

pytestmark = pytest.mark.timeout(60)


def seamed(
    fn: Callable[..., Any],
    items: Iterable[Any],
    executor: Any,
    seams: Seams,
    *,
    fail_fast: bool = False,
    ordered: bool = True,
    buffersize: int | None = None,
    timeout: float | None = None,
    chunksize: int | None = None,
    progress: Callable[[Any], object] | None = None,
) -> Iterator[Any]:
    """``map_settled`` (or ``map_all`` with ``fail_fast``) with ``seams`` joined to it."""
    name = "map_all" if fail_fast else "map_settled"
    deadline, how, iterators = check(
        name, fn, (items,), executor, buffersize, timeout, ordered, chunksize
    )
    return results(
        run(
            name,
            fn,
            iterators,
            executor,
            how,
            deadline,
            timeout,
            ordered,
            fail_fast,
            True,
            progress,
            None,
            seams,
        )
    )


class Counting:
    """An executor over a thread pool that records which items it was given."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool
        self.given: list[Any] = []
        self.lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        with self.lock:
            self.given.append(args)
        return self.pool.submit(fn, *args)


def answer_even(start: int, chunk: list[Any]) -> Admitted:
    """Answer the items at even positions without running them; run the odd ones."""
    answers = []
    runs: list[tuple[int, list[Any]]] = []
    for k, args in enumerate(chunk):
        position = start + k
        if position % 2 == 0:
            answers.append((position, Fulfilled(("stored", args[0]), position)))
        elif runs and runs[-1][0] + len(runs[-1][1]) == position:
            runs[-1][1].append(args)
        else:
            runs.append((position, [args]))
    return answers, runs


class TestAdmit:
    """Answers given at pull time take their place; the rest runs."""

    @pytest.mark.parametrize("chunksize", [1, 3])
    @pytest.mark.parametrize("ordered", [True, False])
    def test_answered_items_never_run(
        self, thread_pool: ThreadPoolExecutor, chunksize: int, ordered: bool
    ) -> None:
        ex = Counting(thread_pool)
        records = list(
            seamed(
                tasks.square,
                range(20),
                ex,
                Seams(admit=answer_even),
                ordered=ordered,
                chunksize=chunksize,
            )
        )
        if not ordered:
            records.sort(key=lambda r: r.index)
        assert [r.index for r in records] == list(range(20))
        assert [r.value for r in records] == [
            ("stored", i) if i % 2 == 0 else i * i for i in range(20)
        ]
        ran = sorted(args[0] for given in ex.given for args in _items(given, chunksize))
        assert ran == list(range(1, 20, 2))

    def test_none_runs_the_block_as_it_is(self, thread_pool: ThreadPoolExecutor) -> None:
        records = list(seamed(tasks.square, range(5), thread_pool, Seams(admit=lambda s, c: None)))
        assert records == [Fulfilled(i * i, i) for i in range(5)]

    def test_progress_and_observers_see_answers_before_the_consumer(
        self, thread_pool: ThreadPoolExecutor
    ) -> None:
        seen: list[Any] = []
        observed: list[Any] = []
        it = seamed(
            tasks.square,
            range(10),
            thread_pool,
            Seams(
                admit=answer_even,
                settled=lambda parts: observed.extend(r for p in parts for r in p),
            ),
            progress=seen.append,
        )
        for record in it:
            assert record in observed
            assert record in seen
        assert sorted(r.index for r in seen) == list(range(10))
        assert sorted(r.index for r in observed) == list(range(10))

    def test_an_error_of_admit_ends_the_map_before_the_block_runs(
        self, thread_pool: ThreadPoolExecutor
    ) -> None:
        ex = Counting(thread_pool)

        def admit(start: int, chunk: list[Any]) -> Admitted | None:
            if start == 3:
                raise ValueError("input 3 differs from the stored one")
            return None

        got = []
        with pytest.raises(ValueError, match="^input 3 differs from the stored one$"):
            got.extend(seamed(tasks.square, range(10), ex, Seams(admit=admit), buffersize=2))
        assert (3,) not in ex.given

    def test_map_all_hands_out_values_and_raises_a_rejected_answer(
        self, thread_pool: ThreadPoolExecutor
    ) -> None:
        values = list(
            seamed(tasks.square, range(6), thread_pool, Seams(admit=answer_even), fail_fast=True)
        )
        assert values == [("stored", i) if i % 2 == 0 else i * i for i in range(6)]
        error = KeyError("no key")

        def reject_two(start: int, chunk: list[Any]) -> Admitted | None:
            if start != 2:
                return None
            return [(2, Rejected(error, 2))], []

        with pytest.raises(KeyError) as info:
            list(
                seamed(
                    tasks.square,
                    range(6),
                    thread_pool,
                    Seams(admit=reject_two),
                    fail_fast=True,
                    buffersize=1,
                )
            )
        assert info.value is error


def _items(given: tuple[Any, ...], chunksize: int) -> list[tuple[Any, ...]]:
    """The items of one submit: a chunk's list of argument tuples, or one item's arguments."""
    if chunksize == 1:
        return [given]
    return list(given[1])  # run_chunk(fn, chunk)


class OneAtATime:
    """A gate that lets one run in flight at a time, and says how many ever were."""

    def __init__(self) -> None:
        self.held: deque[tuple[int, list[Any]]] = deque()
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def offer(self, start: int, items: list[Any]) -> None:
        self.held.append((start, items))

    def take(self, units: int) -> list[tuple[int, list[Any]]]:
        if self.running or not self.held or units < 1:
            return []
        self.running += 1
        self.most = max(self.most, self.running)
        return [self.held.popleft()]

    def wake_at(self) -> float | None:
        return None  # only a settled unit frees the slot

    def finished(self, start: int, count: int, fut: Any) -> None:
        self.running -= 1

    def drop(self) -> list[tuple[int, list[Any]]]:
        held, self.held = list(self.held), deque()
        return held


class OpensAt(OneAtATime):
    """Holds everything until a time; then lets all of it go."""

    def __init__(self, at: float) -> None:
        super().__init__()
        self.at = at
        self.takes = 0

    def take(self, units: int) -> list[tuple[int, list[Any]]]:
        self.takes += 1
        if time.monotonic() < self.at:
            return []
        out = []
        while self.held and len(out) < units:
            out.append(self.held.popleft())
        return out

    def wake_at(self) -> float | None:
        return self.at if self.held else None

    def finished(self, start: int, count: int, fut: Any) -> None:
        pass


class Closed(OpensAt):
    """Never lets anything start."""

    def __init__(self) -> None:
        super().__init__(float("inf"))

    def wake_at(self) -> float | None:
        return None


class TestGate:
    """The map submits only what the gate releases, and asks again when it says."""

    @pytest.mark.parametrize("ordered", [True, False])
    def test_one_at_a_time(self, ordered: bool) -> None:
        gate = OneAtATime()
        with ThreadPoolExecutor(8) as pool:
            records = list(seamed(tasks.square, range(30), pool, Seams(gate=gate), ordered=ordered))
        assert sorted(r.index for r in records) == list(range(30))
        assert gate.most == 1

    def test_held_items_start_when_it_opens(self, thread_pool: ThreadPoolExecutor) -> None:
        gate = OpensAt(time.monotonic() + 0.2)
        records = list(seamed(tasks.square, range(10), thread_pool, Seams(gate=gate)))
        assert records == [Fulfilled(i * i, i) for i in range(10)]
        assert gate.takes < 50, "the map naps until the gate's time, it does not spin"

    def test_held_items_time_out_at_the_deadline(self, thread_pool: ThreadPoolExecutor) -> None:
        records = list(
            seamed(tasks.square, range(5), thread_pool, Seams(gate=Closed()), timeout=0.1)
        )
        assert [r.index for r in records] == list(range(5))
        for r in records:
            assert type(r.reason) is SettleTimeoutError
        assert str(records[0].reason) == "item 0 did not settle within 0.1 s (5 items in flight)"

    def test_map_all_times_out_with_the_held_items(self, thread_pool: ThreadPoolExecutor) -> None:
        with pytest.raises(
            SettleTimeoutError, match=r"^map_all\(\) timed out after 0.1 s with 5 items in flight$"
        ):
            list(
                seamed(
                    tasks.square,
                    range(5),
                    thread_pool,
                    Seams(gate=Closed()),
                    fail_fast=True,
                    timeout=0.1,
                )
            )


class TestObservers:
    """settled, handed and close hear of every record, every hand-out, and the end."""

    def test_handed_counts_what_the_consumer_got(self, thread_pool: ThreadPoolExecutor) -> None:
        handed: list[int] = []
        got = 0
        for _ in seamed(tasks.square, range(100), thread_pool, Seams(handed=handed.append)):
            got += 1
            assert got <= sum(handed)
        assert sum(handed) == got == 100

    def test_close_once_on_break(self, thread_pool: ThreadPoolExecutor) -> None:
        closed: list[bool] = []
        it = seamed(
            tasks.square, range(10**6), thread_pool, Seams(close=lambda: closed.append(True))
        )
        for r in it:
            if r.index == 3:
                break
        it.close()  # type: ignore[attr-defined]
        assert closed == [True]

    def test_map_all_observers_get_records_and_the_failure(
        self, thread_pool: ThreadPoolExecutor
    ) -> None:
        observed: list[Any] = []
        seams = Seams(settled=lambda parts: observed.extend(r for p in parts for r in p))
        with pytest.raises(ValueError, match="^bad item 4$"):
            list(
                seamed(
                    functools.partial(tasks.fail_on, bad=4),
                    range(10),
                    thread_pool,
                    seams,
                    fail_fast=True,
                    buffersize=1,
                )
            )
        fulfilled = [r for r in observed if type(r) is Fulfilled]
        rejected = [r for r in observed if type(r) is Rejected]
        assert [r.index for r in fulfilled] == [0, 1, 2, 3]
        assert [(r.index, str(r.reason)) for r in rejected] == [(4, "bad item 4")]
