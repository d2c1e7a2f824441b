"""map_all and map_settled: bounded, lazy, settled mapping over an executor."""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from futures_settle import Fulfilled, Rejected, SettleTimeoutError, map_all, map_settled
from futures_settle._map import chunking as _chunking
from futures_settle._map.worker import run_chunk

from helpers import tasks

pytestmark = pytest.mark.timeout(60)


class CountingExecutor:
    """Wraps a pool and records how many items were submitted and are not yet consumed."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.submitted: list[Future[Any]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        f = self.pool.submit(fn, *args)
        self.submitted.append(f)
        return f


@pytest.fixture(params=["fixed", "auto"])
def chunking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test as is, then with automatic chunks on every executor (threads included)."""
    if request.param == "auto":
        monkeypatch.setattr(_chunking, "is_process_based", lambda executor: True)
    return str(request.param)


class InlineExecutor:
    """Runs each task in submit(): every item has settled before the map looks."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        f: Future[Any] = Future()
        try:
            f.set_result(fn(*args))
        except Exception as exc:
            f.set_exception(exc)
        return f


def counted(n: int | None, pulled: list[int]) -> Iterator[int]:
    for i in itertools.count() if n is None else range(n):
        pulled.append(i)
        yield i


class TestLazyAndBounded:
    def test_infinite_input(self, thread_pool: Any) -> None:
        """An infinite generator works; the input is pulled only as slots free up."""
        pulled: list[int] = []
        it = map_all(tasks.square, counted(None, pulled), executor=thread_pool, buffersize=4)
        assert [next(it) for _ in range(20)] == [i * i for i in range(20)]
        it.close()  # type: ignore[attr-defined]
        assert len(pulled) <= 20 + 4

    def test_at_most_buffersize_in_flight(self, thread_pool: Any) -> None:
        ex = CountingExecutor(thread_pool)
        seen_in_flight = []
        consumed = 0
        for _ in map_settled(tasks.identity, range(200), executor=ex, buffersize=5):
            consumed += 1
            seen_in_flight.append(len(ex.submitted) - consumed)
        assert consumed == 200
        assert max(seen_in_flight) <= 5

    def test_the_buffer_is_refilled_while_settled_items_are_consumed(self) -> None:
        """Items are handed out a quarter buffer at a time: the workers always keep the rest."""
        ex = CountingExecutor(InlineExecutor())
        ahead = []
        for consumed, _ in enumerate(
            map_all(tasks.identity, range(100), executor=ex, buffersize=8)
        ):
            ahead.append(len(ex.submitted) - consumed)
        assert len(ex.submitted) == 100
        assert min(ahead[:-8]) >= 8 - 8 // 4
        assert max(ahead) <= 8

    def test_a_failure_is_seen_while_settled_items_wait(self) -> None:
        """map_all looks for new failures before each batch, also with settled items waiting."""
        ex = CountingExecutor(InlineExecutor())
        it = map_all(tasks.fail_on, range(100), [9] * 100, executor=ex, buffersize=8)
        assert [next(it), next(it)] == [0, 1]  # items 2-7 wait; items 8 and 9 are submitted
        with pytest.raises(ValueError, match="^bad item 9$"):
            next(it)
        assert len(ex.submitted) == 10

    def test_memory_stays_bounded(self, thread_pool: Any) -> None:
        """A long generator costs O(buffersize), not O(n)."""
        tracemalloc.start()
        try:
            for _ in map_settled(tasks.identity, range(20_000), executor=thread_pool, buffersize=8):
                pass
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 2 * 2**20, peak

    def test_input_error_propagates(self, thread_pool: Any) -> None:
        def broken() -> Iterator[int]:
            yield 1
            raise RuntimeError("input broke")

        with pytest.raises(RuntimeError, match="^input broke$"):
            list(map_settled(tasks.identity, broken(), executor=thread_pool))

    def test_several_iterables_zip(self, thread_pool: Any) -> None:
        assert list(map_all(pow, [2, 3], [3, 2], executor=thread_pool)) == [8, 9]
        assert list(map_all(pow, [2, 3, 4], [3], executor=thread_pool)) == [8]


@pytest.mark.usefixtures("chunking")
class TestOrder:
    def test_ordered_despite_reverse_completion(self) -> None:
        events = [threading.Event() for _ in range(6)]

        def release() -> None:
            for e in reversed(events):
                e.set()

        with ThreadPoolExecutor(6) as pool:
            it = map_settled(tasks.block, events, range(6), executor=pool, buffersize=6)
            threading.Thread(target=release).start()
            assert [r.value for r in it] == list(range(6))  # type: ignore[union-attr]

    def test_unordered_keeps_going_past_a_slow_item(self) -> None:
        """ordered=False yields completed items while item 0 is still running."""
        gate = threading.Event()
        with ThreadPoolExecutor(2) as pool:
            it = map_settled(
                tasks.block,
                [gate] + [_set_event() for _ in range(8)],
                range(9),
                executor=pool,
                buffersize=3,
                ordered=False,
            )
            first = [next(it).index for _ in range(8)]
            assert 0 not in first
            gate.set()
            assert next(it).index == 0


def _set_event() -> threading.Event:
    e = threading.Event()
    e.set()
    return e


@pytest.mark.usefixtures("chunking")
class TestFailures:
    def test_settled_never_raises_and_carries_index(self, executor: Any) -> None:
        records = list(map_settled(tasks.fail_on, range(6), [3] * 6, executor=executor))
        assert [r.index for r in records] == list(range(6))
        assert [r.status for r in records] == ["fulfilled"] * 3 + ["rejected"] + ["fulfilled"] * 2
        assert str(records[3].reason) == "bad item 3"  # type: ignore[union-attr]

    def test_map_all_fails_fast_in_time(self) -> None:
        """The failure raises at once, before iteration reaches it, and queued work is cancelled."""
        gate = threading.Event()
        with ThreadPoolExecutor(2) as pool:
            ex = CountingExecutor(pool)
            it = map_all(_block_or_fail, [gate, "fail", gate, gate], executor=ex, buffersize=4)
            with pytest.raises(ValueError, match="^failed$"):
                next(it)
            assert ex.submitted[3].cancelled()
            gate.set()

    def test_map_all_cancel_pending_false(self) -> None:
        gate = threading.Event()
        with ThreadPoolExecutor(2) as pool:
            ex = CountingExecutor(pool)
            it = map_all(
                _block_or_fail,
                [gate, "fail", gate, gate],
                executor=ex,
                buffersize=4,
                cancel_pending=False,
            )
            with pytest.raises(ValueError):
                next(it)
            assert not any(f.cancelled() for f in ex.submitted)
            gate.set()

    @pytest.mark.parametrize("chunksize", [4, None])
    @pytest.mark.parametrize("engine", ["process_pool", "loky_pool"])
    def test_chunks_settle_item_by_item(
        self, engine: str, chunksize: int | None, request: pytest.FixtureRequest
    ) -> None:
        """In chunks (given or automatic) one failing item is one Rejected record."""
        pool = request.getfixturevalue(engine)
        records = list(
            map_settled(tasks.fail_on, range(200), [7] * 200, executor=pool, chunksize=chunksize)
        )
        assert [r.index for r in records] == list(range(200))
        assert [r.status == "rejected" for r in records] == [i == 7 for i in range(200)]
        assert records[8] == Fulfilled(64, 8)
        with pytest.raises(ValueError, match="^bad item 7$"):
            list(map_all(tasks.fail_on, range(200), [7] * 200, executor=pool, chunksize=chunksize))

    def test_chunked_unordered(self, process_pool: Any) -> None:
        records = list(
            map_settled(tasks.square, range(50), executor=process_pool, chunksize=8, ordered=False)
        )
        assert sorted((r.index, r.value) for r in records) == [(i, i * i) for i in range(50)]  # type: ignore[union-attr]


def _block_or_fail(x: Any) -> Any:
    if x == "fail":
        raise ValueError("failed")
    x.wait(30)
    return "done"


@pytest.mark.usefixtures("chunking")
class TestTimeoutAndClosing:
    def test_settled_timeout_records(self) -> None:
        gate = threading.Event()
        with ThreadPoolExecutor(2) as pool:
            records = list(
                map_settled(tasks.block, [_set_event(), gate], executor=pool, timeout=0.05)
            )
            gate.set()
        assert isinstance(records[0], Fulfilled)
        assert isinstance(records[1], Rejected)
        assert isinstance(records[1].reason, SettleTimeoutError)
        assert str(records[1].reason) == "item 1 did not settle within 0.05 s (1 items in flight)"

    @pytest.mark.parametrize("chunksize", [None, 2])
    def test_progress_sees_the_records_of_the_timeout(
        self, chunksize: int | None, request: pytest.FixtureRequest
    ) -> None:
        """progress sees each item once, those the timeout cut too (threads; processes, chunked)."""
        if chunksize is None:
            pool: Any = request.getfixturevalue("thread_pool")
            gate: Any = threading.Event()
            done: Any = _set_event()
        else:
            pool = request.getfixturevalue("process_pool")
            manager = request.getfixturevalue("manager")
            gate, done = manager.Event(), manager.Event()
            done.set()
        seen: list[Any] = []
        try:
            records = list(
                map_settled(
                    tasks.block,
                    [done, gate, done, done],
                    executor=pool,
                    chunksize=chunksize,
                    timeout=0.3,
                    progress=seen.append,
                )
            )
        finally:
            gate.set()
        assert any(isinstance(getattr(r, "reason", None), SettleTimeoutError) for r in records)
        assert sorted(seen, key=lambda r: r.index) == records

    def test_map_all_timeout_raises(self) -> None:
        gate = threading.Event()
        with ThreadPoolExecutor(1) as pool:
            with pytest.raises(
                SettleTimeoutError,
                match="^map_all\\(\\) timed out after 0.05 s with 2 items in flight$",
            ):
                list(map_all(tasks.block, [gate, gate], executor=pool, timeout=0.05))
            gate.set()

    def test_close_cancels_queued_and_pulls_no_more(self) -> None:
        gate = threading.Event()
        pulled: list[int] = []
        with ThreadPoolExecutor(1) as pool:
            ex = CountingExecutor(pool)
            it = map_settled(
                lambda i: gate.wait(30) if i else 0,
                counted(None, pulled),
                executor=ex,
                buffersize=4,
            )
            assert next(it).index == 0
            it.close()  # type: ignore[attr-defined]
            n_pulled = len(pulled)
            queued = [f for f in ex.submitted if not f.running() and not f.done()]
            gate.set()
        assert n_pulled <= 5
        assert all(f.cancelled() for f in queued)
        assert sum(f.cancelled() for f in ex.submitted) >= 2

    def test_timeout_with_settled_chunks_waiting(self) -> None:
        """At the deadline, a settled chunk waiting behind an unsettled one gets its records."""

        class HalfInline:
            def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
                f: Future[Any] = Future()
                if args[1][0] != ("hang",):  # the chunk of "hang" items never settles
                    f.set_result(fn(*args))
                return f

        records = list(
            map_settled(
                tasks.identity,
                ["hang", "hang", 2, 3],
                executor=HalfInline(),
                chunksize=2,
                timeout=0.01,
            )
        )
        assert records[2:] == [Fulfilled(2, 2), Fulfilled(3, 3)]
        assert [(type(r.reason), r.index) for r in records[:2]] == [  # type: ignore[union-attr]
            (SettleTimeoutError, 0),
            (SettleTimeoutError, 1),
        ]

    def test_closed_mid_batch_yields_nothing_more(self, thread_pool: Any) -> None:
        """close() ends the iteration at once, also in the middle of a batch of settled items."""
        it = map_all(tasks.identity, [1, 2, 3], executor=InlineExecutor(), chunksize=3)
        assert iter(it) is it
        assert next(it) == 1
        it.close()  # type: ignore[attr-defined]
        assert list(it) == []
        it.close()  # type: ignore[attr-defined]

    @pytest.mark.timeout(30)
    def test_ctrl_c_raises_promptly_and_cancels(self) -> None:
        gate = threading.Event()
        with ThreadPoolExecutor(1) as pool:
            ex = CountingExecutor(pool)
            it = map_settled(tasks.block, [gate] * 5, executor=ex, buffersize=5)
            timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            started = time.monotonic()
            with pytest.raises(KeyboardInterrupt):
                list(it)
            assert time.monotonic() - started < 5
            assert ex.submitted[0].running()
            assert all(f.cancelled() for f in ex.submitted[1:])  # all queued ones
            gate.set()


class InlineFirst:
    """Settles the first item in submit(), hands the others to ``inner`` (they block)."""

    def __init__(self, inner: CountingExecutor) -> None:
        self.inner = inner
        self.first = True

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        if self.first:
            self.first = False
            f: Future[Any] = Future()
            f.set_result(args[1])
            return f
        return self.inner.submit(fn, *args)


class TestProgress:
    def test_one_line_progress(self, thread_pool: Any) -> None:
        seen: list[Any] = []
        records = list(
            map_settled(tasks.identity, range(10), executor=thread_pool, progress=seen.append)
        )
        assert sorted(r.index for r in seen) == list(range(10))
        assert len(records) == 10

    def test_hook_errors_never_break_the_map(self, thread_pool: Any) -> None:
        def hook(record: Any) -> None:
            raise RuntimeError("bar broke")

        with pytest.warns(RuntimeWarning, match="progress hook raised RuntimeError") as caught:
            records = list(
                map_settled(tasks.identity, range(10), executor=thread_pool, progress=hook)
            )
        assert [w.filename for w in caught] == [__file__]  # points at the consuming line
        assert [r.value for r in records] == list(range(10))  # type: ignore[union-attr]

    @pytest.mark.parametrize("ordered", [True, False])
    @pytest.mark.parametrize("chunksize", [1, 3])
    def test_hook_calling_next_on_its_own_map(
        self, thread_pool: Any, ordered: bool, chunksize: int
    ) -> None:
        """Issue 17, defect 7: reported once, the map goes on, every record given (it gave 1)."""
        own: list[Iterator[Any]] = []
        calls: list[int] = []

        def hook(record: Any) -> None:
            calls.append(record.index)
            next(own[0])

        it = map_settled(
            tasks.identity,
            range(10),
            executor=thread_pool,
            ordered=ordered,
            chunksize=chunksize,
            buffersize=4,
            progress=hook,
        )
        own.append(it)
        with pytest.warns(RuntimeWarning) as caught:
            records = list(it)
        assert [str(w.message) for w in caught] == [
            "progress hook raised ValueError('generator already executing'); "
            "the map goes on, further errors are ignored"
        ]
        assert [w.filename for w in caught] == [__file__]
        assert sorted(r.index for r in records) == list(range(10))
        if ordered:
            assert [r.value for r in records] == list(range(10))  # type: ignore[union-attr]
        assert sorted(calls) == list(range(10))

    def test_ctrl_c_in_the_hook_ends_the_map_and_cancels(self) -> None:
        """A BaseException from the hook propagates from the iteration; queued work is cancelled."""
        gate = threading.Event()

        def hook(record: Any) -> None:
            raise KeyboardInterrupt

        with ThreadPoolExecutor(1) as pool:
            ex = CountingExecutor(pool)
            it = map_settled(
                tasks.block, [gate] * 5, [1, 2, 3, 4, 5], executor=InlineFirst(ex), progress=hook
            )
            with pytest.raises(KeyboardInterrupt):
                next(it)
            assert list(it) == []
            assert all(f.cancelled() for f in ex.submitted[1:])
            gate.set()

    def test_tqdm_over_map_settled(self, thread_pool: Any) -> None:
        tqdm = pytest.importorskip("tqdm", reason="tqdm is an optional extra").tqdm
        bar = tqdm(
            map_settled(tasks.identity, range(10), executor=thread_pool), total=10, disable=True
        )
        assert len(list(bar)) == 10


class TestBadInput:
    @pytest.mark.parametrize(
        ("kwargs", "error", "message"),
        [
            ({"buffersize": 0}, ValueError, "map_settled() buffersize must be >= 1, got 0"),
            ({"chunksize": 0}, ValueError, "map_settled() chunksize must be >= 1, got 0"),
            (
                {"chunksize": 1.5},
                TypeError,
                "map_settled() chunksize must be an int >= 1 or None, got 1.5 that is a float",
            ),
            (
                {"timeout": float("nan")},
                ValueError,
                "timeout must be a number of seconds or None, got nan",
            ),
            ({"ordered": "yes"}, TypeError, "ordered must be a bool, got 'yes' that is a str"),
            ({"ordered": 1}, TypeError, "ordered must be a bool, got 1 that is an int"),
            (
                {"buffersize": ...},
                TypeError,
                "map_settled() buffersize must be an int >= 1 or None, "
                "got Ellipsis that is an ellipsis",
            ),
            (
                {"progress": 3},
                TypeError,
                "map_settled() expected a callable or None as progress, got int",
            ),
        ],
    )
    def test_refused_before_any_submit(
        self, thread_pool: Any, kwargs: dict[str, Any], error: type[Exception], message: str
    ) -> None:
        ex = CountingExecutor(thread_pool)
        with pytest.raises(error) as info:
            map_settled(tasks.identity, range(3), executor=ex, **kwargs)
        assert str(info.value) == message
        assert ex.submitted == []

    def test_not_callable(self, thread_pool: Any) -> None:
        with pytest.raises(TypeError, match="^map_all\\(\\) expected a callable as fn, got int$"):
            map_all(3, range(3), executor=thread_pool)  # type: ignore[arg-type]

    def test_no_executor(self) -> None:
        with pytest.raises(
            TypeError, match="^map_all\\(\\) expected an executor with submit\\(\\), got list$"
        ):
            map_all(tasks.identity, range(3), executor=[])  # type: ignore[arg-type]

    def test_no_iterable(self, thread_pool: Any) -> None:
        with pytest.raises(
            TypeError, match="^map_all\\(\\) needs at least one iterable of arguments$"
        ):
            map_all(tasks.identity, executor=thread_pool)
        with pytest.raises(
            TypeError, match="^map_all\\(\\) expected iterables of arguments, got int$"
        ):
            map_all(tasks.identity, 3, executor=thread_pool)  # type: ignore[arg-type]


def test_duck_executor(thread_pool: Any) -> None:
    from helpers.duck import DuckExecutor

    records = list(
        map_settled(tasks.fail_on, range(5), [2] * 5, executor=DuckExecutor(thread_pool))
    )  # type: ignore[arg-type]
    assert [r.status for r in records] == [
        "fulfilled",
        "fulfilled",
        "rejected",
        "fulfilled",
        "fulfilled",
    ]


def test_cancelled_by_someone_else(thread_pool: Any) -> None:
    """A submitted future cancelled elsewhere is a Rejected(CancelledError) record."""

    class Cancelling(CountingExecutor):
        def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
            f: Future[Any] = Future()
            f.cancel()
            return f

    records = list(map_settled(tasks.identity, range(2), executor=Cancelling(thread_pool)))  # type: ignore[arg-type]
    assert all(isinstance(r.reason, CancelledError) for r in records)  # type: ignore[union-attr]


@pytest.mark.usefixtures("chunking")
class TestModel:
    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        failing=st.lists(st.booleans(), max_size=40),
        buffersize=st.integers(1, 8),
        chunksize=st.none() | st.integers(1, 5),
        ordered=st.booleans(),
    )
    def test_every_item_gets_its_record(
        self,
        thread_pool: Any,
        failing: list[bool],
        buffersize: int,
        chunksize: int | None,
        ordered: bool,
    ) -> None:
        """Whatever the sizes and failures, each item gets exactly one record with its index."""
        bad = [i for i, f in enumerate(failing) if f]
        records = list(
            map_settled(
                _fail_if,
                range(len(failing)),
                [set(bad)] * len(failing),
                executor=thread_pool,
                buffersize=buffersize,
                chunksize=chunksize,
                ordered=ordered,
            )
        )
        assert sorted(r.index for r in records) == list(range(len(failing)))
        if ordered:
            assert [r.index for r in records] == list(range(len(failing)))
        for r in records:
            assert (r.status == "rejected") == failing[r.index]
        if bad:
            # Only one item fails here, so "the first failure in time" is that one.
            with pytest.raises(ValueError, match=f"^bad item {bad[0]}$"):
                list(
                    map_all(
                        _fail_if,
                        range(len(failing)),
                        [set(bad[:1])] * len(failing),
                        executor=thread_pool,
                        buffersize=buffersize,
                        chunksize=chunksize,
                    )
                )
        else:
            values = list(
                map_all(
                    _fail_if,
                    range(len(failing)),
                    [set()] * len(failing),
                    executor=thread_pool,
                    buffersize=buffersize,
                    chunksize=chunksize,
                    ordered=ordered,
                )
            )
            expected = list(range(len(failing)))
            assert (values if ordered else sorted(values)) == expected


def _fail_if(x: int, bad: set[int]) -> int:
    if x in bad:
        raise ValueError(f"bad item {x}")
    return x


class ScriptedSizer(_chunking.ChunkSizer):
    """A sizer that proposes the sizes of a script, in turn, and notes what it was fed."""

    script: ClassVar[list[int]] = [1]
    fed: ClassVar[list[int]] = []

    def __init__(self, cap: int = _chunking.CAP) -> None:
        super().__init__(cap)
        self._turn = itertools.cycle(ScriptedSizer.script)
        ScriptedSizer.fed = []

    @property  # type: ignore[override]
    def size(self) -> int:
        return next(self._turn)

    @size.setter
    def size(self, _: int) -> None:
        pass

    def completed(self, items: int, seconds: float) -> None:
        ScriptedSizer.fed.append(items)


class ChunkRecorder(CountingExecutor):
    """Notes the size of each chunk submitted through the chunk runner."""

    def __init__(self, pool: Any) -> None:
        super().__init__(pool)
        self.sizes: list[int] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        self.sizes.append(len(args[1]) if fn is run_chunk else 1)
        return super().submit(fn, *args)


class TestAutoChunks:
    """chunksize=None on a process-based executor: chunks the sizer picks, records per item."""

    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        failing=st.lists(st.booleans(), max_size=60),
        script=st.lists(st.integers(1, 7), min_size=1, max_size=6),
        buffersize=st.none() | st.integers(1, 30),
        ordered=st.booleans(),
    )
    def test_any_sizes_give_one_record_per_item(
        self,
        thread_pool: Any,
        monkeypatch: pytest.MonkeyPatch,
        failing: list[bool],
        script: list[int],
        buffersize: int | None,
        ordered: bool,
    ) -> None:
        monkeypatch.setattr(_chunking, "is_process_based", lambda executor: True)
        monkeypatch.setattr(_chunking, "ChunkSizer", ScriptedSizer)
        monkeypatch.setattr(ScriptedSizer, "script", script)
        n = len(failing)
        bad = {i for i, f in enumerate(failing) if f}
        ex = ChunkRecorder(thread_pool)
        records = list(
            map_settled(
                _fail_if, range(n), [bad] * n, executor=ex, buffersize=buffersize, ordered=ordered
            )
        )
        assert sorted(r.index for r in records) == list(range(n))
        if ordered:
            assert [r.index for r in records] == list(range(n))
        for r in records:
            assert (r.status == "rejected") == (r.index in bad)
        # Each chunk had the size the script proposed (the last one: what was left), or
        # what the buffer still held; the sizer was fed each chunk's size once.
        assert sum(ex.sizes) == n
        assert sorted(ScriptedSizer.fed) == sorted(ex.sizes)
        proposed = list(itertools.islice(itertools.cycle(script), len(ex.sizes)))
        if buffersize is None:
            assert ex.sizes[:-1] == proposed[:-1]
        assert all(1 <= size <= proposal for size, proposal in zip(ex.sizes, proposed, strict=True))

    def test_real_sizer_on_a_process_pool(
        self, process_pool: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The default on a process pool: chunks go through the runner, each item settles alone."""
        sizes: list[int] = []
        submit = process_pool.submit

        def recording(fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
            sizes.append(len(args[1]) if fn is run_chunk else 0)
            return submit(fn, *args)  # type: ignore[no-any-return]

        monkeypatch.setattr(process_pool, "submit", recording)
        records = list(map_settled(tasks.fail_on, range(300), [5] * 300, executor=process_pool))
        assert [r.index for r in records] == list(range(300))
        assert [r.status == "rejected" for r in records] == [i == 5 for i in range(300)]
        assert sizes[0] == 1
        assert sum(sizes) == 300
        assert 0 not in sizes
