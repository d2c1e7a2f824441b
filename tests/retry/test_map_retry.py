"""map_all / map_settled with retry=: each line of the retries contract, threads and processes."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from futures_settle import Fulfilled, Rejected, Retry, SettleTimeoutError, map_all, map_settled

from helpers import retry_tasks
from helpers.collect import records_then_error
from helpers.retry_tasks import flaky, folder_of, runs

pytestmark = pytest.mark.timeout(60)

FAST = Retry(ConnectionError, attempts=3, delay=0.001, jitter=0)
"""Retries due at once: the tests order events by what ran, never by time."""


@pytest.fixture(params=["threads", "processes"])
def engine(request: pytest.FixtureRequest) -> tuple[Any, int | None]:
    """An executor and the chunk size the map uses on it (processes: chunks of 4)."""
    if request.param == "threads":
        return request.getfixturevalue("thread_pool"), None
    return request.getfixturevalue("process_pool"), 4


class Recording:
    """Wraps a pool: counts each submit, so a test sees that nothing ran again."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.submits = 0
        self._max_workers = getattr(pool, "_max_workers", 1)

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        self.submits += 1
        return self.pool.submit(fn, *args)


class TestRecords:
    def test_retried_items_tell_their_runs(
        self, engine: tuple[Any, int | None], tmp_path: Path
    ) -> None:
        """A flaky item succeeds on a later run; its record says how many and what failed."""
        pool, chunksize = engine
        folder = folder_of(tmp_path)
        bad = frozenset({2, 5})
        records = list(
            map_settled(
                flaky,
                range(8),
                itertools.repeat(folder),
                itertools.repeat(bad),
                executor=pool,
                chunksize=chunksize,
                retry=FAST,
            )
        )
        assert [r.value for r in records] == [x * 10 for x in range(8)]  # type: ignore[union-attr]
        assert [r.index for r in records] == list(range(8))
        assert [r.attempts for r in records] == [2 if x in bad else 1 for x in range(8)]
        assert [repr(e) for e in records[2].earlier] == ["ConnectionResetError('item 2 run 1')"]
        assert records[0].earlier == ()

    def test_chunk_neighbours_run_once(
        self, process_pool: ProcessPoolExecutor, tmp_path: Path
    ) -> None:
        """In a chunk, only the failed item runs again; its neighbours ran once, attempts 1."""
        folder = folder_of(tmp_path)
        records = list(
            map_settled(
                flaky,
                range(8),
                itertools.repeat(folder),
                itertools.repeat(frozenset({1, 6})),
                executor=process_pool,
                chunksize=4,
                retry=FAST,
            )
        )
        assert [runs(folder, x) for x in range(8)] == [1, 2, 1, 1, 1, 1, 2, 1]
        assert [r.attempts for r in records] == [1, 2, 1, 1, 1, 1, 2, 1]

    def test_last_failure_after_every_attempt(
        self, engine: tuple[Any, int | None], tmp_path: Path
    ) -> None:
        """An item failing every run gives its last exception, the earlier ones in order."""
        pool, chunksize = engine
        folder = folder_of(tmp_path)
        (record,) = map_settled(
            retry_tasks.always_fails, [7], [folder], executor=pool, chunksize=chunksize, retry=FAST
        )
        assert isinstance(record, Rejected)
        assert (record.attempts, repr(record.reason)) == (
            3,
            "ConnectionResetError('item 7 run 3')",
        )
        assert [repr(e) for e in record.earlier] == [
            "ConnectionResetError('item 7 run 1')",
            "ConnectionResetError('item 7 run 2')",
        ]
        assert runs(folder, 7) == 3

    def test_not_named_is_not_retried(self, engine: tuple[Any, int | None]) -> None:
        """Only what on names runs again: another error is final at once."""
        pool, chunksize = engine
        records = list(map_settled(int, ["1", "x"], executor=pool, chunksize=chunksize, retry=FAST))
        assert isinstance(records[1], Rejected)
        assert isinstance(records[1].reason, ValueError)
        assert [r.attempts for r in records] == [1, 1]

    def test_map_all_raises_after_the_last_attempt(
        self, engine: tuple[Any, int | None], tmp_path: Path
    ) -> None:
        """map_all yields a value that came on a later run, and raises only the last failure."""
        pool, chunksize = engine
        folder = folder_of(tmp_path)
        got = list(
            map_all(
                flaky,
                range(6),
                itertools.repeat(folder),
                itertools.repeat(frozenset({3})),
                executor=pool,
                chunksize=chunksize,
                retry=FAST,
            )
        )
        assert got == [0, 10, 20, 30, 40, 50]
        with pytest.raises(ConnectionResetError, match=r"^item 40 run 3$"):
            list(
                map_all(
                    retry_tasks.always_fails,
                    [40],
                    [folder],
                    executor=pool,
                    chunksize=chunksize,
                    retry=FAST,
                )
            )
        assert runs(folder, 40) == 3


class TestNoWorkerWaits:
    def test_items_behind_run_during_the_backoff(self, tmp_path: Path) -> None:
        """One worker: the item after a retrying one settles while the first waits 60 s."""
        folder = folder_of(tmp_path)
        slow = Retry(ConnectionError, delay=60, max_delay=60, jitter=0)
        with ThreadPoolExecutor(1) as one:
            pool = Recording(one)
            it = map_settled(
                flaky,
                [0, 1],
                [folder] * 2,
                [frozenset({0})] * 2,
                executor=pool,
                ordered=False,
                retry=slow,
            )
            first = next(it)  # a sleep in the worker would hold this for 60 s
            assert (first.index, first.attempts) == (1, 1)
            it.close()  # drops the pending retry
        assert pool.submits == 2
        assert runs(folder, 0) == 1

    def test_processes_one_worker(self, tmp_path: Path, start_method: str) -> None:
        """The same on a process pool of one worker, in chunks of one."""
        import multiprocessing

        folder = folder_of(tmp_path)
        slow = Retry(ConnectionError, delay=60, max_delay=60, jitter=0)
        ctx = multiprocessing.get_context(start_method)
        with ProcessPoolExecutor(1, mp_context=ctx) as one:
            it = map_settled(
                flaky,
                [0, 1, 2],
                [folder] * 3,
                [frozenset({0})] * 3,
                executor=one,
                ordered=False,
                chunksize=1,
                retry=slow,
            )
            assert sorted(next(it).index for _ in range(2)) == [1, 2]
            it.close()
            pids = list(one._processes)
        assert runs(folder, 0) == 1
        for pid in pids:  # the pool's worker is gone, none left behind
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)


class TestBounded:
    def test_waiting_items_count_in_the_buffer(
        self, engine: tuple[Any, int | None], tmp_path: Path
    ) -> None:
        """An endless input of failing items: pulled minus handed out never passes buffersize."""
        pool, chunksize = engine
        folder = folder_of(tmp_path)
        pulled = 0

        def items() -> Iterator[int]:
            nonlocal pulled
            for x in itertools.count():
                pulled += 1
                yield x

        it = map_settled(
            retry_tasks.always_fails,
            items(),
            itertools.repeat(folder),
            executor=pool,
            chunksize=chunksize,
            buffersize=8,
            retry=FAST,
        )
        for handed, record in enumerate(itertools.islice(it, 40), 1):
            assert record.attempts == 3
            assert pulled - handed <= 8
        it.close()

    def test_retry_due_after_the_deadline_is_not_made(
        self, engine: tuple[Any, int | None], tmp_path: Path
    ) -> None:
        """A backoff past the map's timeout: the item's record is its failure, at once."""
        pool, chunksize = engine
        folder = folder_of(tmp_path)
        slow = Retry(ConnectionError, delay=60, max_delay=60, jitter=0)
        (record,) = map_settled(
            retry_tasks.always_fails,
            [3],
            [folder],
            executor=pool,
            chunksize=chunksize,
            timeout=30,
            retry=slow,
        )
        assert (type(record.reason), record.attempts) == (ConnectionResetError, 1)  # type: ignore[union-attr]
        assert runs(folder, 3) == 1

    def test_deadline_during_a_later_run(
        self, pool: ThreadPoolExecutor, gate: threading.Event
    ) -> None:
        """A second run still going at the deadline: SettleTimeoutError, with its runs."""
        calls = []

        def second_blocks(x: int) -> int:
            calls.append(x)
            if len(calls) == 1:
                raise ConnectionResetError("first")
            gate.wait(30)
            return x

        (record,) = map_settled(second_blocks, [0], executor=pool, timeout=0.2, retry=FAST)
        assert isinstance(record, Rejected)
        assert isinstance(record.reason, SettleTimeoutError)
        assert record.attempts == 2
        assert [repr(e) for e in record.earlier] == ["ConnectionResetError('first')"]

    def test_deadline_while_waiting(self, pool: ThreadPoolExecutor) -> None:
        """A retry pending at the deadline is not made: the record is the last failure."""
        calls = []

        def fails(x: int) -> int:
            calls.append(x)
            raise ConnectionResetError(len(calls))

        retry = Retry(ConnectionError, attempts=5, delay=0.05, backoff=1, jitter=0)
        (record,) = map_settled(fails, [0], executor=pool, timeout=0.12, retry=retry)
        assert isinstance(record.reason, ConnectionResetError)  # type: ignore[union-attr]
        assert record.attempts == len(calls) < 5

    @pytest.mark.parametrize("how", ["break", "close", "interrupt"])
    def test_end_drops_pending_retries(self, how: str, tmp_path: Path) -> None:
        """break, close() or Ctrl-C: the waiting item never runs again."""
        folder = folder_of(tmp_path)
        slow = Retry(ConnectionError, delay=0.01, jitter=0)
        with ThreadPoolExecutor(1) as one:
            pool = Recording(one)

            def stop(record: Any) -> None:
                if how == "interrupt":
                    raise KeyboardInterrupt

            it = map_settled(
                flaky,
                [0, 1],
                [folder] * 2,
                [frozenset({0})] * 2,
                executor=pool,
                ordered=False,
                progress=stop,
                retry=slow,
            )
            if how == "interrupt":
                with pytest.raises(KeyboardInterrupt):
                    next(it)
            else:
                for _ in it:
                    break
                if how == "close":
                    it.close()
            submits = pool.submits
        # The pool has shut down: anything resubmitted would have run by now.
        assert pool.submits == submits == 2
        assert runs(folder, 0) == 1


class TestOrder:
    def test_ordered_waits_for_the_retried_item(
        self, engine: tuple[Any, int | None], tmp_path: Path
    ) -> None:
        """ordered=True: a retrying item holds back what follows, as a slow item would."""
        pool, chunksize = engine
        folder = folder_of(tmp_path)
        got = list(
            map_all(
                flaky,
                range(20),
                itertools.repeat(folder),
                itertools.repeat(frozenset({0, 9, 19})),
                executor=pool,
                chunksize=chunksize,
                retry=FAST,
            )
        )
        assert got == [x * 10 for x in range(20)]

    def test_unordered_keeps_indexes(self, engine: tuple[Any, int | None], tmp_path: Path) -> None:
        """ordered=False: .index is the input position, whatever the attempt."""
        pool, chunksize = engine
        folder = folder_of(tmp_path)
        records = list(
            map_settled(
                flaky,
                range(20),
                itertools.repeat(folder),
                itertools.repeat(frozenset({0, 9, 19})),
                executor=pool,
                chunksize=chunksize,
                ordered=False,
                retry=FAST,
            )
        )
        assert sorted((r.index, r.value, r.attempts) for r in records) == [  # type: ignore[union-attr]
            (x, x * 10, 2 if x in (0, 9, 19) else 1) for x in range(20)
        ]


class TestProgress:
    def test_each_item_once_with_its_final_record(
        self, engine: tuple[Any, int | None], tmp_path: Path
    ) -> None:
        """progress sees a retried item once, after its last attempt."""
        pool, chunksize = engine
        folder = folder_of(tmp_path)
        seen: list[Any] = []
        list(
            map_settled(
                flaky,
                range(12),
                itertools.repeat(folder),
                itertools.repeat(frozenset({4, 5})),
                executor=pool,
                chunksize=chunksize,
                progress=seen.append,
                retry=FAST,
            )
        )
        assert sorted(r.index for r in seen) == list(range(12))
        assert {r.index: r.attempts for r in seen if r.attempts > 1} == {4: 2, 5: 2}
        assert all(isinstance(r, Fulfilled) for r in seen)


class Scripted:
    """An executor that answers each submit with what ``script`` makes of it (hostile cases)."""

    def __init__(self, script: Callable[[int, Callable[..., Any], tuple[Any, ...]], Any]) -> None:
        self.script = script
        self.submits = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        self.submits += 1
        return self.script(self.submits, fn, args)


def _done(fn: Callable[..., Any], args: tuple[Any, ...]) -> Future[Any]:
    f: Future[Any] = Future()
    try:
        f.set_result(fn(*args))
    except BaseException as exc:
        f.set_exception(exc)
    return f


class TestHostile:
    def test_exception_class_as_the_failure(self) -> None:
        """A future failed with the class ConnectionError (not an instance) is retried."""

        def script(n: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> Future[Any]:
            if n == 1:
                f: Future[Any] = Future()
                f.set_exception(ConnectionError)  # type: ignore[arg-type]
                return f
            return _done(fn, args)

        (record,) = map_settled(str, [5], executor=Scripted(script), retry=FAST)
        assert (record.value, record.attempts) == ("5", 2)  # type: ignore[union-attr]
        assert type(record.earlier[0]) is ConnectionError

    def test_predicate_that_raises(self, engine: tuple[Any, int | None]) -> None:
        """on= raising: the item fails with that error (its context the task's), the map goes on."""
        pool, chunksize = engine

        def broken(exc: BaseException) -> bool:
            raise LookupError("rule broke")

        records = list(
            map_settled(
                int, ["1", "x", "3"], executor=pool, chunksize=chunksize, retry=Retry(broken)
            )
        )
        assert [r.status for r in records] == ["fulfilled", "rejected", "fulfilled"]
        reason = records[1].reason  # type: ignore[union-attr]
        assert repr(reason) == "LookupError('rule broke')"
        assert isinstance(reason.__context__, ValueError)
        assert records[1].attempts == 1
        with pytest.raises(LookupError, match="^rule broke$"):
            list(map_all(int, ["1", "x"], executor=pool, chunksize=chunksize, retry=Retry(broken)))

    def test_refused_resubmission(self) -> None:
        """The executor refuses the retry: the record is that refusal, even if on names it."""
        refusal = RuntimeError("cannot schedule new futures after shutdown")

        def script(n: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> Future[Any]:
            if n == 1:
                return _done(lambda: (_ for _ in ()).throw(ConnectionResetError("x")), ())
            raise refusal

        (record,), raised = records_then_error(
            map_settled(str, [5], executor=Scripted(script), retry=Retry(Exception, delay=0))
        )
        assert record.reason is refusal  # type: ignore[union-attr]
        assert raised is refusal
        assert record.attempts == 2
        assert [type(e) for e in record.earlier] == [ConnectionResetError]

    @pytest.mark.parametrize("chunksize", [None, 3])
    def test_refused_third_attempt_counts(self, chunksize: int | None) -> None:
        """A refused try counts as an attempt whose outcome is the refusal: after two runs and
        a refused third, attempts 3, earlier the two runs' failures (len attempts - 1); the
        neighbours of a chunk keep theirs; map_all raises the refusal."""
        refusal = RuntimeError("cannot schedule new futures after shutdown")
        runs_of: list[int] = []

        def flaky_one(x: int) -> int:
            if x == 1:
                runs_of.append(x)
                raise ConnectionResetError(f"run {len(runs_of)}")
            return x

        def script(n: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> Future[Any]:
            if n <= (4 if chunksize is None else 2):  # the items (or their chunk), one retry
                return _done(fn, args)
            raise refusal

        records, raised = records_then_error(
            map_settled(
                flaky_one,
                range(3),
                executor=Scripted(script),
                chunksize=chunksize,
                retry=Retry(Exception, delay=0),
            )
        )
        assert raised is refusal
        assert [(r.index, r.attempts, len(r.earlier)) for r in records] == [
            (0, 1, 0),
            (1, 3, 2),
            (2, 1, 0),
        ]
        assert records[1].reason is refusal  # type: ignore[union-attr]
        assert [repr(e) for e in records[1].earlier] == [
            "ConnectionResetError('run 1')",
            "ConnectionResetError('run 2')",
        ]
        runs_of.clear()
        with pytest.raises(RuntimeError) as info:
            list(
                map_all(
                    flaky_one,
                    range(3),
                    executor=Scripted(script),
                    chunksize=chunksize,
                    retry=Retry(Exception, delay=0),
                )
            )
        assert info.value is refusal
        assert len(runs_of) == 2

    def test_second_attempt_inline(self) -> None:
        """An executor that runs the retry inline, in submit(): its outcome is filed as any."""
        calls = []

        def flaky_inline(x: int) -> int:
            calls.append(x)
            if len(calls) == 1:
                raise ConnectionResetError("first")
            return x

        pool = Scripted(lambda n, fn, args: _done(fn, args))
        assert [
            (r.value, r.attempts) for r in map_settled(flaky_inline, [9], executor=pool, retry=FAST)
        ] == [  # type: ignore[union-attr]
            (9, 2)
        ]

    def test_retries_racing_the_deadline(self, thread_pool: ThreadPoolExecutor) -> None:
        """Backoffs ending about at the map's timeout: every item answered once, none after."""
        for round_ in range(20):
            calls: list[int] = []
            lock = threading.Lock()

            def fails_twice(x: int, calls: list[int] = calls, lock: Any = lock) -> int:
                with lock:
                    calls.append(x)
                    k = calls.count(x)
                if k <= 2:
                    raise ConnectionResetError(k)
                return x

            retry = Retry(ConnectionError, attempts=3, delay=0.005, backoff=1, jitter=0.005)
            records = list(
                map_settled(
                    fails_twice, range(10), executor=thread_pool, timeout=0.012, retry=retry
                )
            )
            assert sorted(r.index for r in records) == list(range(10)), round_
            after = len(calls)
            for r in records:
                assert 1 <= r.attempts <= 3
                assert r.status == "fulfilled" or isinstance(
                    r.reason,
                    (ConnectionResetError, SettleTimeoutError),  # type: ignore[union-attr]
                )
            thread_pool.submit(int).result()  # the pool's queue drained past the map
            assert len(calls) <= after + sum(
                1 for r in records if isinstance(getattr(r, "reason", None), SettleTimeoutError)
            )


class TestEngines:
    def test_dask_runs_the_retry_again(self, client: Any, tmp_path: Path) -> None:
        """On dask the failed item runs again, alone (each retry is a new submission)."""
        folder = folder_of(tmp_path)
        records = list(
            map_settled(
                flaky,
                [0, 1, 2],
                itertools.repeat(folder),
                itertools.repeat(frozenset({1})),
                executor=client,
                retry=FAST,
            )
        )
        assert [(r.value, r.attempts) for r in records] == [(0, 1), (10, 2), (20, 1)]  # type: ignore[union-attr]
        assert [runs(folder, x) for x in range(3)] == [1, 2, 1]

    def test_loky(self, loky_pool: Any, tmp_path: Path) -> None:
        """loky's automatic chunks: the failed item alone runs again."""
        folder = folder_of(tmp_path)
        records = list(
            map_settled(
                flaky,
                range(10),
                itertools.repeat(folder),
                itertools.repeat(frozenset({4})),
                executor=loky_pool,
                retry=FAST,
            )
        )
        assert [r.attempts for r in records] == [2 if x == 4 else 1 for x in range(10)]
        assert [runs(folder, x) for x in range(10)] == [2 if x == 4 else 1 for x in range(10)]

    def test_attempt_pickles_and_keeps_its_token(self) -> None:
        """What a retry sends crosses processes twice with the same dask token."""
        import pickle

        from futures_settle._retry.attempt import Attempt

        a = Attempt(retry_tasks.flaky)
        b = pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(a))))
        assert (b.token, b.fn) == (a.token, retry_tasks.flaky)
        assert Attempt(str).token != Attempt(str).token


class TestBookkeeping:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        fails=st.lists(st.integers(0, 4), min_size=1, max_size=30),
        chunksize=st.sampled_from([1, 3, 8]),
        ordered=st.booleans(),
        attempts=st.integers(1, 4),
        buffersize=st.integers(1, 12),
    )
    def test_every_item_once_with_its_runs(
        self,
        thread_pool: ThreadPoolExecutor,
        fails: list[int],
        chunksize: int,
        ordered: bool,
        attempts: int,
        buffersize: int,
    ) -> None:
        """Any failure pattern, chunk size, order and buffer: one record per index, its runs
        counted, the neighbours of a retried item never run again."""
        counts = [0] * len(fails)
        lock = threading.Lock()

        def fn(x: int) -> int:
            with lock:
                counts[x] += 1
                run = counts[x]
            if run <= fails[x]:
                raise ConnectionResetError(x, run)
            return x

        retry = Retry(ConnectionError, attempts=attempts, delay=0, jitter=0)
        records = list(
            map_settled(
                fn,
                range(len(fails)),
                executor=thread_pool,
                chunksize=chunksize,
                ordered=ordered,
                buffersize=buffersize,
                retry=retry,
            )
        )
        by_index = {r.index: r for r in records}
        assert len(records) == len(by_index) == len(fails)
        if ordered:
            assert [r.index for r in records] == list(range(len(fails)))
        for x, k in enumerate(fails):
            r = by_index[x]
            runs_expected = min(k + 1, attempts)
            assert r.attempts == runs_expected == counts[x], (x, k)
            assert len(r.earlier) == runs_expected - 1
            assert r.status == ("fulfilled" if k < attempts else "rejected")

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        fails=st.lists(st.integers(0, 3), min_size=1, max_size=25),
        chunksize=st.sampled_from([1, 4]),
        ordered=st.booleans(),
    )
    def test_map_all_values_or_a_final_failure(
        self, thread_pool: ThreadPoolExecutor, fails: list[int], chunksize: int, ordered: bool
    ) -> None:
        """map_all: every value when each item succeeds within 3 runs, else an item's last error."""
        counts = [0] * len(fails)
        lock = threading.Lock()

        def fn(x: int) -> int:
            with lock:
                counts[x] += 1
                run = counts[x]
            if run <= fails[x]:
                raise ConnectionResetError(x, run)
            return x

        retry = Retry(ConnectionError, attempts=3, delay=0, jitter=0)
        it = map_all(
            fn,
            range(len(fails)),
            executor=thread_pool,
            chunksize=chunksize,
            ordered=ordered,
            retry=retry,
        )
        if all(k < 3 for k in fails):
            got = list(it)
            assert (got if ordered else sorted(got)) == list(range(len(fails)))
        else:
            with pytest.raises(ConnectionResetError) as info:
                list(it)
            x, run = info.value.args
            assert fails[x] >= 3
            assert run == 3


class TestCutByTheTimeout:
    """The map's timeout ends items under retry: every record tells the runs made."""

    @pytest.mark.parametrize("auto", [False, True])
    def test_records_tell_the_runs_made(
        self, engine: tuple[Any, int | None], auto: bool, tmp_path: Path
    ) -> None:
        """Items failing every run, retried until the timeout: each record's attempts are its
        runs (one more for a run the deadline cut, whose record is the timeout), its earlier
        the failures before the last; progress sees each item once, with that record (auto: the
        map's own chunk sizes on a process pool)."""
        pool, chunksize = engine
        if auto:
            chunksize = None
        folder = folder_of(tmp_path)
        seen: list[Any] = []
        retry = Retry(ConnectionError, attempts=1000, delay=0.005, backoff=1, jitter=0.005)
        records = list(
            map_settled(
                retry_tasks.always_fails,
                range(6 if not auto else 40),
                itertools.repeat(folder),
                executor=pool,
                chunksize=chunksize,
                timeout=0.5,
                progress=seen.append,
                retry=retry,
            )
        )
        assert sorted(r.index for r in records) == list(range(6 if not auto else 40))
        for r in records:
            made = runs(folder, r.index)
            assert isinstance(r, Rejected)
            assert len(r.earlier) == r.attempts - 1, r
            if isinstance(r.reason, SettleTimeoutError):
                assert r.attempts in (made, made + 1), (r, made)  # + 1: cut while queued
            else:
                assert r.attempts == made, (r, made)
                assert repr(r.reason) == f"ConnectionResetError('item {r.index} run {made}')"
            assert [repr(e) for e in r.earlier] == [
                f"ConnectionResetError('item {r.index} run {k}')" for k in range(1, r.attempts)
            ]
        assert sorted(seen, key=lambda r: r.index) == sorted(records, key=lambda r: r.index)
