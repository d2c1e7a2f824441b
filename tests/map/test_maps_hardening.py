"""map_all and map_settled: broken executors, BaseExceptions, huge sizes, references kept."""

from __future__ import annotations

import gc
import multiprocessing
import sys
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest

from futures_settle import Fulfilled, Rejected, SettleTimeoutError, map_all, map_settled

import tasks

pytestmark = pytest.mark.timeout(60)


class RefusingExecutor:
    """Accepts ``accept`` submits, then refuses each one with ``error`` (a pool shut down)."""

    def __init__(self, pool: Any, accept: int, error: BaseException) -> None:
        self.pool = pool
        self.accept = accept
        self.error = error
        self.submits = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        self.submits += 1
        if self.submits > self.accept:
            raise self.error
        return self.pool.submit(fn, *args)  # type: ignore[no-any-return]


class InlineExecutor:
    """Runs each task in submit(): nothing but the map holds its futures and results."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        f: Future[Any] = Future()
        try:
            f.set_result(fn(*args))
        except BaseException as exc:
            f.set_exception(exc)
        return f


def counted(pulled: list[int]) -> Iterator[int]:
    i = 0
    while True:
        pulled.append(i)
        yield i
        i += 1


class TestRefusedSubmit:
    """An executor that refuses a submit: every pulled item gets a record (issue 8, #5)."""

    @pytest.mark.parametrize("chunksize", [1, 2])
    def test_settled_records_every_pulled_item(self, thread_pool: Any, chunksize: int) -> None:
        """Items in flight are yielded, the refused ones are Rejected, no more input is pulled."""
        error = RuntimeError("cannot schedule new futures after shutdown")
        pulled: list[int] = []
        ex = RefusingExecutor(thread_pool, 2, error)
        records = list(
            map_settled(
                tasks.identity,
                counted(pulled),
                executor=ex,
                buffersize=2 * chunksize,
                chunksize=chunksize,
            )
        )
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

        records = list(map_settled(tasks.identity, range(3), executor=Closed()))
        assert [r.index for r in records] == [0]
        ref = weakref.ref(records[0].reason)  # type: ignore[union-attr]
        del records
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
        """A worker dies: every pulled item is a Rejected(BrokenProcessPool), nothing raises."""
        ctx = multiprocessing.get_context(start_method)
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            records = list(
                map_settled(
                    tasks.die_on,
                    range(100),
                    [0] * 100,
                    executor=pool,
                    chunksize=chunksize,
                    buffersize=3,
                )
            )
        assert 3 <= len(records) < 100
        assert [r.index for r in records] == list(range(len(records)))
        assert all(isinstance(r.reason, BrokenProcessPool) for r in records)  # type: ignore[union-attr]


class Uncancellable:
    """A future of another engine whose ``cancel()`` raises; settled by hand."""

    def __init__(self) -> None:
        self.inner: Future[Any] = Future()
        self.cancel_calls = 0

    def add_done_callback(self, fn: Callable[[Any], object]) -> None:
        self.inner.add_done_callback(lambda _: fn(self))

    def done(self) -> bool:
        return self.inner.done()

    def result(self, timeout: float | None = None) -> Any:
        return self.inner.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self.inner.exception(timeout)

    def cancel(self) -> bool:
        self.cancel_calls += 1
        raise RuntimeError("cancel is not supported")


class HandMadeExecutor:
    """Gives ``Uncancellable`` futures; the first one is settled at once, the rest never."""

    def __init__(self) -> None:
        self.futures: list[Uncancellable] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Uncancellable:
        fut = Uncancellable()
        if not self.futures:
            try:
                fut.inner.set_result(fn(*args))
            except Exception as exc:
                fut.inner.set_exception(exc)
        self.futures.append(fut)
        return fut


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
    """A submit() whose answer cannot be watched is a refused submit: a record, no crash."""

    def test_not_a_future(self) -> None:
        [record] = map_settled(tasks.identity, range(3), executor=NotAFuture(None))
        assert type(record.reason) is TypeError  # type: ignore[union-attr]
        assert str(record.reason) == (  # type: ignore[union-attr]
            "map_settled() expected executor.submit() to return a future, got NoneType"
        )
        assert record.index == 0
        with pytest.raises(TypeError) as info:
            list(map_all(tasks.identity, range(3), executor=NotAFuture(42)))
        assert str(info.value) == "map_all() expected executor.submit() to return a future, got int"

    def test_callback_refused(self) -> None:
        [record] = map_settled(tasks.identity, range(3), executor=NotAFuture(NoCallbacks()))
        assert type(record.reason) is RuntimeError  # type: ignore[union-attr]
        assert str(record.reason) == "engine is closed"  # type: ignore[union-attr]


class InputBroke(RuntimeError):
    """A builtin exception cannot be watched by a weak reference; a subclass can."""


def breaks_after(n: int) -> Iterator[int]:
    yield from range(n)
    raise InputBroke("input broke")


class TestInputError:
    """The input raises midway: map_settled yields the pulled items first, then raises it."""

    @pytest.mark.parametrize("chunksize", [1, 3])
    def test_pulled_items_get_records(self, thread_pool: Any, chunksize: int) -> None:
        """Five items read before the error (two of them in the chunk that met it): five records."""
        it = map_settled(tasks.identity, breaks_after(5), executor=thread_pool, chunksize=chunksize)
        records: list[Any] = []
        with pytest.raises(InputBroke) as info:
            records.extend(it)  # what came before the error stays
        assert str(info.value) == "input broke"
        assert records == [Fulfilled(i, i) for i in range(5)]

    def test_no_more_input_after_its_error(self, thread_pool: Any) -> None:
        """An iterator that would go on after raising is not read again."""

        class Hiccup:
            def __init__(self) -> None:
                self.n = 0

            def __iter__(self) -> Hiccup:
                return self

            def __next__(self) -> int:
                self.n += 1
                if self.n == 4:  # in the middle of the second chunk
                    raise InputBroke("input broke")
                return self.n

        source = Hiccup()
        records: list[Any] = []
        with pytest.raises(InputBroke):
            records.extend(map_settled(tasks.identity, source, executor=thread_pool, chunksize=2))
        assert records == [Fulfilled(1, 0), Fulfilled(2, 1), Fulfilled(3, 2)]
        assert source.n == 4

    def test_map_all_raises_at_once(self) -> None:
        """map_all: the input's error is a failure, raised without waiting for the rest."""
        ex = HandMadeExecutor()  # only the first item ever settles
        with pytest.raises(InputBroke):
            list(map_all(tasks.identity, breaks_after(3), executor=ex, buffersize=8))
        assert [f.cancel_calls for f in ex.futures] == [1, 1, 1]  # none handed out yet

    @pytest.mark.usefixtures("no_gc")
    def test_the_input_error_is_freed(self, thread_pool: Any) -> None:
        """No reference cycle through the error's traceback keeps it alive."""
        refs = []
        for fn in (map_settled, map_all):
            try:
                list(fn(tasks.identity, breaks_after(2), executor=thread_pool))
            except InputBroke as exc:
                refs.append(weakref.ref(exc))
        assert len(refs) == 2
        assert [ref() for ref in refs] == [None, None]


class TestUnpicklableResult:
    """A result that cannot travel back: documented, one chunk, one message (README, Chunks)."""

    @pytest.mark.parametrize(("chunksize", "rejected"), [(1, [1]), (2, [0, 1])])
    def test_rejects_its_chunk(
        self, process_pool: ProcessPoolExecutor, chunksize: int, rejected: list[int]
    ) -> None:
        """Item 1's lock cannot be pickled: its record, and its chunk's, are Rejected."""
        records = list(
            map_settled(
                tasks.unpicklable_on, range(4), [1] * 4, executor=process_pool, chunksize=chunksize
            )
        )
        assert [r.index for r in records] == [0, 1, 2, 3]
        assert [r.index for r in records if r.status == "rejected"] == rejected
        for r in records:
            if r.status == "rejected":
                assert type(r.reason) is TypeError
                assert str(r.reason) == "cannot pickle '_thread.lock' object"
            else:
                assert r.value == r.index


class TestBaseExceptionInChunk:
    """A BaseException in one item of a chunk rejects that item only (issue 8, #9)."""

    @pytest.mark.parametrize("engine", ["thread_pool", "process_pool"])
    def test_one_item_one_record(self, engine: str, request: pytest.FixtureRequest) -> None:
        pool = request.getfixturevalue(engine)
        records = list(map_settled(tasks.exit_on, range(6), [4] * 6, executor=pool, chunksize=3))
        assert [r.status for r in records] == ["fulfilled"] * 4 + ["rejected", "fulfilled"]
        reason = records[4].reason  # type: ignore[union-attr]
        assert type(reason) is SystemExit
        assert str(reason) == "exit at item 4"
        assert records[5] == Fulfilled(5, 5)

    def test_map_all_raises_it(self, thread_pool: Any) -> None:
        with pytest.raises(SystemExit, match="^exit at item 1$"):
            list(map_all(tasks.exit_on, range(6), [1] * 6, executor=thread_pool, chunksize=3))


class TestHugeSizes:
    """Sizes beyond sys.maxsize are refused at the call (issue 8, #10)."""

    @pytest.mark.parametrize("name", ["chunksize", "buffersize"])
    @pytest.mark.parametrize("fn", [map_all, map_settled])
    def test_refused_at_the_call(self, thread_pool: Any, name: str, fn: Any) -> None:
        ex = RefusingExecutor(thread_pool, 0, RuntimeError("no submit expected"))
        with pytest.raises(ValueError) as info:
            fn(tasks.identity, range(3), executor=ex, **{name: sys.maxsize + 1})
        assert str(info.value) == (
            f"{fn.__name__}() {name} must be <= sys.maxsize ({sys.maxsize}), got {sys.maxsize + 1}"
        )
        assert ex.submits == 0

    @pytest.mark.parametrize("name", ["chunksize", "buffersize"])
    def test_maxsize_itself_works(self, thread_pool: Any, name: str) -> None:
        out = list(map_all(tasks.square, range(5), executor=thread_pool, **{name: sys.maxsize}))
        assert out == [0, 1, 4, 9, 16]


class TestRemoteTracebacks:
    """Chunked items keep the worker's traceback as unchunked ones do (issue 8, #12)."""

    @pytest.mark.parametrize("engine", ["process_pool", "loky_pool"])
    def test_chunked_like_unchunked(self, engine: str, request: pytest.FixtureRequest) -> None:
        pool = request.getfixturevalue(engine)
        reasons = [
            list(map_settled(tasks.fail_on, range(3), [1] * 3, executor=pool, chunksize=c))[
                1
            ].reason  # type: ignore[union-attr]
            for c in (1, 3)
        ]
        with pytest.raises(ValueError) as info:
            list(map_all(tasks.fail_on, range(3), [1] * 3, executor=pool, chunksize=3))
        for reason in [*reasons, info.value]:
            cause = reason.__cause__
            assert type(cause).__name__ == "_RemoteTraceback"
            text = str(cause)
            assert ', in fail_on\n    raise ValueError(f"bad item {x}")\n' in text
            assert text.endswith('ValueError: bad item 1\n"""')

    def test_threads_keep_the_traceback_itself(self, thread_pool: Any) -> None:
        records = list(
            map_settled(tasks.fail_on, range(3), [1] * 3, executor=thread_pool, chunksize=3)
        )
        reason = records[1].reason  # type: ignore[union-attr]
        assert reason.__cause__ is None
        tb = reason.__traceback__
        while tb.tb_next is not None:  # type: ignore[union-attr]
            tb = tb.tb_next  # type: ignore[union-attr]
        assert tb.tb_frame.f_code is tasks.fail_on.__code__  # type: ignore[union-attr]


class Dummy:
    """An object a weak reference can watch."""


def make_dummy(_: int) -> Dummy:
    return Dummy()


@pytest.fixture
def no_gc() -> Iterator[None]:
    """Only reference counts free objects: a leak cannot hide behind the cyclic GC."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@pytest.mark.usefixtures("no_gc")
class TestFreeReference:
    """After an item is handed out, the map keeps no reference to it (issue 8, #14)."""

    @pytest.mark.parametrize("chunksize", [1, 3])
    @pytest.mark.parametrize("ordered", [True, False])
    def test_map_all(self, chunksize: int, ordered: bool) -> None:
        """As CPython's test_free_reference for Executor.map."""
        n = 0
        for obj in map_all(
            make_dummy, range(10), executor=InlineExecutor(), chunksize=chunksize, ordered=ordered
        ):
            ref = weakref.ref(obj)
            del obj
            assert ref() is None
            n += 1
        assert n == 10

    @pytest.mark.parametrize("chunksize", [1, 3])
    def test_map_settled(self, chunksize: int) -> None:
        n = 0
        for record in map_settled(
            make_dummy, range(10), executor=InlineExecutor(), chunksize=chunksize
        ):
            ref = weakref.ref(record.value)  # type: ignore[union-attr]
            del record
            assert ref() is None
            n += 1
        assert n == 10
