"""Executors that refuse or misbehave: a refused submit, a cancel() that raises,
a submit() that gives no future or refuses a callback.
"""

from __future__ import annotations

import multiprocessing
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest

from futures_settle import Fulfilled, Rejected, SettleTimeoutError, map_all, map_settled

from helpers import tasks
from helpers.collect import records_then_error
from helpers.engines import HandMadeExecutor, RefusingExecutor

pytestmark = pytest.mark.timeout(60)


def counted(pulled: list[int]) -> Iterator[int]:
    i = 0
    while True:
        pulled.append(i)
        yield i
        i += 1


class TestRefusedSubmit:
    """An executor that refuses a submit: every pulled item gets a record, then the map raises."""

    @pytest.mark.parametrize("chunksize", [1, 2])
    def test_settled_records_every_pulled_item(self, thread_pool: Any, chunksize: int) -> None:
        """Items in flight are yielded, the refused ones are Rejected, no more input is pulled,
        then the map raises the refusal: a loop that ends normally has answered every input."""
        error = RuntimeError("cannot schedule new futures after shutdown")
        pulled: list[int] = []
        ex = RefusingExecutor(thread_pool, 2, error)
        records, raised = records_then_error(
            map_settled(
                tasks.identity,
                counted(pulled),
                executor=ex,
                buffersize=2 * chunksize,
                chunksize=chunksize,
            )
        )
        assert raised is error
        n = len(pulled)
        assert 2 * chunksize < n <= 3 * chunksize  # one refused unit, then no more input
        assert records[: 2 * chunksize] == [Fulfilled(i, i) for i in range(2 * chunksize)]
        assert records[2 * chunksize :] == [Rejected(error, i) for i in range(2 * chunksize, n)]

    @pytest.mark.usefixtures("no_gc")
    def test_the_submit_error_is_freed_with_its_record(self, thread_pool: Any) -> None:
        """No reference cycle through the error's traceback keeps it alive."""

        class Refused(RuntimeError):
            """A builtin exception cannot be watched by a weak reference; a subclass can."""

        class Closed:
            def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
                raise Refused("cannot schedule new futures after shutdown")

        records: list[Any] = []
        with pytest.raises(Refused) as info:
            records.extend(map_settled(tasks.identity, range(3), executor=Closed()))
        assert [r.index for r in records] == [0]
        assert info.value is records[0].reason
        ref = weakref.ref(info.value)
        del records, info  # the traceback runs through this frame only: no cycle is left
        assert ref() is None

    def test_map_all_raises_the_submit_error(self, thread_pool: Any) -> None:
        error = RuntimeError("cannot schedule new futures after shutdown")
        pulled: list[int] = []
        with pytest.raises(RuntimeError) as info:
            list(
                map_all(
                    tasks.identity,
                    counted(pulled),
                    executor=RefusingExecutor(thread_pool, 2, error),
                    buffersize=2,
                )
            )
        assert info.value is error
        assert len(pulled) == 3

    @pytest.mark.parametrize("chunksize", [1, None])
    def test_broken_process_pool(self, chunksize: int | None, start_method: str) -> None:
        """A worker dies: every pulled item is a Rejected(BrokenProcessPool), then the map
        raises the pool's BrokenProcessPool."""
        ctx = multiprocessing.get_context(start_method)
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            records, raised = records_then_error(
                map_settled(
                    tasks.die_on,
                    range(100),
                    [0] * 100,
                    executor=pool,
                    chunksize=chunksize,
                    buffersize=3,
                )
            )
        assert isinstance(raised, BrokenProcessPool)
        assert 3 <= len(records) < 100
        assert [r.index for r in records] == list(range(len(records)))
        assert all(isinstance(r.reason, BrokenProcessPool) for r in records)  # type: ignore[union-attr]


class TestCancelIsBestEffort:
    """The map's own cancelling, like cancel_pending, never masks its answer."""

    def test_close(self) -> None:
        """Closing the map tries every queued future, even if each cancel() raises."""
        ex = HandMadeExecutor()
        it = map_all(tasks.identity, range(10), executor=ex, buffersize=3)
        assert next(it) == 0
        it.close()
        assert [f.cancel_calls for f in ex.futures] == [0, 1, 1]

    def test_failure(self) -> None:
        """map_all raises the item's failure, not the cancel()'s error."""
        ex = HandMadeExecutor()
        with pytest.raises(ValueError) as info:
            list(map_all(tasks.fail_on, [0, 1, 2], [0, 0, 0], executor=ex, buffersize=3))
        assert str(info.value) == "bad item 0"
        assert [f.cancel_calls for f in ex.futures] == [0, 1, 1]

    def test_timeout(self) -> None:
        """At the deadline the map raises SettleTimeoutError, not the cancel()'s error."""
        ex = HandMadeExecutor()
        with pytest.raises(SettleTimeoutError) as info:
            list(map_all(tasks.identity, range(5), executor=ex, buffersize=3, timeout=0))
        # Item 0 settles in submit() and is handed out; back from it past the deadline, the
        # map pulls no more input: items 1 and 2 are what it has in flight.
        assert str(info.value) == "map_all() timed out after 0 s with 2 items in flight"


class NotAFuture:
    """An executor whose submit() returns ``result`` instead of a future."""

    def __init__(self, result: object) -> None:
        self.result = result

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        return self.result


class NoCallbacks:
    """A future that refuses done-callbacks: its engine is broken."""

    def add_done_callback(self, fn: Callable[[Any], object]) -> None:
        raise RuntimeError("engine is closed")

    def done(self) -> bool:
        return False

    def result(self, timeout: float | None = None) -> Any:
        raise AssertionError("never read")

    def exception(self, timeout: float | None = None) -> BaseException | None:
        raise AssertionError("never read")

    def cancel(self) -> bool:
        return False


class TestSubmitGivesNoFuture:
    """A submit() whose answer cannot be watched is a refused submit: a record, then its error."""

    def test_not_a_future(self) -> None:
        [record], raised = records_then_error(
            map_settled(tasks.identity, range(3), executor=NotAFuture(None))
        )
        assert raised is record.reason  # type: ignore[union-attr]
        assert type(record.reason) is TypeError  # type: ignore[union-attr]
        assert str(record.reason) == (  # type: ignore[union-attr]
            "map_settled() expected executor.submit() to return a future, got NoneType"
        )
        assert record.index == 0
        with pytest.raises(TypeError) as info:
            list(map_all(tasks.identity, range(3), executor=NotAFuture(42)))
        assert str(info.value) == "map_all() expected executor.submit() to return a future, got int"

    def test_callback_refused(self) -> None:
        [record], raised = records_then_error(
            map_settled(tasks.identity, range(3), executor=NotAFuture(NoCallbacks()))
        )
        assert raised is record.reason  # type: ignore[union-attr]
        assert type(record.reason) is RuntimeError  # type: ignore[union-attr]
        assert str(record.reason) == "engine is closed"  # type: ignore[union-attr]
