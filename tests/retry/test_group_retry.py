"""TaskGroup(retry=): futures across attempts, modes deciding on last outcomes, ends drop them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from futures_settle import (
    Fulfilled,
    Rejected,
    Retry,
    SettleTimeoutError,
    TaskGroup,
    as_settled,
    wait_settled,
)

from helpers import retry_tasks
from helpers.retry_tasks import flaky, folder_of, runs

pytestmark = pytest.mark.timeout(60)

FAST = Retry(ConnectionError, attempts=3, delay=0.001, jitter=0)
SLOW = Retry(ConnectionError, delay=60, max_delay=60, jitter=0)


@pytest.fixture(params=["threads", "processes"])
def pool(request: pytest.FixtureRequest) -> Any:
    if request.param == "threads":
        return request.getfixturevalue("thread_pool")
    return request.getfixturevalue("process_pool")


class _Stop(BaseException):
    """A BaseException of the user's own, as a rule might raise."""


def _timer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "futures_settle-retry"]


@pytest.fixture(autouse=True)
def no_timer_left() -> Any:
    """Every test leaves no timer thread behind (it ends once nothing waits)."""
    yield
    for t in _timer_threads():
        t.join(10)
    assert _timer_threads() == []


class TestSettled:
    def test_records_tell_attempts(self, pool: Any, tmp_path: Path) -> None:
        """mode "settled": a retried task's record has its runs and earlier failures."""
        folder = folder_of(tmp_path)
        with TaskGroup(pool, mode="settled", retry=FAST) as tg:
            futures = [tg.submit(flaky, x, folder, frozenset({1})) for x in range(4)]
        records = tg.result()
        assert [(r.value, r.attempts) for r in records] == [  # type: ignore[union-attr]
            (0, 1),
            (10, 2),
            (20, 1),
            (30, 1),
        ]
        assert [repr(e) for e in records[1].earlier] == ["ConnectionResetError('item 1 run 1')"]
        assert all(isinstance(f, Future) for f in futures)
        assert futures[1].result() == 10

    def test_last_failure(self, pool: Any, tmp_path: Path) -> None:
        """A task failing every run: its record is the last failure, after every attempt."""
        folder = folder_of(tmp_path)
        with TaskGroup(pool, mode="settled", retry=FAST) as tg:
            tg.submit(retry_tasks.always_fails, 8, folder)
        (record,) = tg.result()
        assert isinstance(record, Rejected)
        assert (repr(record.reason), record.attempts, len(record.earlier)) == (
            "ConnectionResetError('item 8 run 3')",
            3,
            2,
        )


class TestModes:
    def test_all_cancels_only_on_a_final_failure(self, pool: Any, tmp_path: Path) -> None:
        """mode "all": a failure retried away cancels nothing; the answer is every value."""
        folder = folder_of(tmp_path)
        with TaskGroup(pool, retry=FAST) as tg:
            for x in range(6):
                tg.submit(flaky, x, folder, frozenset({0, 3}))
        assert tg.result() == [0, 10, 20, 30, 40, 50]

    def test_all_raises_the_last_failure(self, pool: Any, tmp_path: Path) -> None:
        """mode "all": the ExceptionGroup holds the task's last exception."""
        folder = folder_of(tmp_path)
        with pytest.raises(ExceptionGroup) as info, TaskGroup(pool, retry=FAST) as tg:
            tg.submit(retry_tasks.always_fails, 2, folder)
        assert [repr(e) for e in info.value.exceptions] == ["ConnectionResetError('item 2 run 3')"]
        assert runs(folder, 2) == 3

    def test_first_waits_for_the_retry(self, tmp_path: Path) -> None:
        """mode "first": a failure that will be retried is not the race's result."""
        folder = folder_of(tmp_path)
        with ThreadPoolExecutor(1) as one, TaskGroup(one, mode="first", retry=FAST) as tg:
            tg.submit(flaky, 5, folder, frozenset({5}))
        assert tg.result() == 50


class TestNoWorkerWaits:
    def test_tasks_behind_run_during_the_backoff(self, tmp_path: Path) -> None:
        """One worker: a task submitted after a retrying one finishes while the first waits 60 s."""
        folder = folder_of(tmp_path)
        with ThreadPoolExecutor(1) as one:
            with TaskGroup(one, mode="settled", retry=SLOW) as tg:
                waiting = tg.submit(flaky, 0, folder, frozenset({0}))
                assert tg.submit(flaky, 1, folder).result(timeout=30) == 10
                assert not waiting.done()
                tg.cancel()  # drops the waiting retry: the exit does not wait 60 s
            assert waiting.cancelled()
        assert runs(folder, 0) == 1

    def test_processes(self, process_pool: ProcessPoolExecutor, tmp_path: Path) -> None:
        """The same on a process pool: a waiting retry holds no worker."""
        folder = folder_of(tmp_path)
        with TaskGroup(process_pool, mode="settled", retry=SLOW) as tg:
            waiting = tg.submit(flaky, 0, folder, frozenset({0}))
            others = [tg.submit(flaky, x, folder) for x in range(1, 5)]
            assert [f.result(timeout=30) for f in others] == [10, 20, 30, 40]
            # The other worker may still be sending the first attempt's failure: cancel once it
            # has arrived and the retry waits (a running attempt cannot be cancelled).
            until = time.monotonic() + 30
            while waiting._attempt is not None:  # type: ignore[attr-defined]
                assert time.monotonic() < until, "the first attempt's failure never arrived"
                time.sleep(0.005)
            tg.cancel()
        assert waiting.cancelled()
        assert runs(folder, 0) == 1


class TestEnds:
    def test_deadline_drops_the_waiting_retry(self, pool: Any, tmp_path: Path) -> None:
        """The group's deadline drops a waiting retry: no second run; the record is the first
        run's failure (the timeout if that run had not failed by the deadline)."""
        folder = folder_of(tmp_path)
        with TaskGroup(pool, mode="settled", timeout=0.5, retry=SLOW) as tg:
            tg.submit(flaky, 0, folder, frozenset({0}))
        (record,) = tg.result()
        assert isinstance(record, Rejected)
        assert isinstance(record.reason, (ConnectionResetError, SettleTimeoutError))
        assert (record.attempts, record.earlier) == (1, ())
        assert runs(folder, 0) <= 1

    def test_ctrl_c_drops_the_waiting_retry(self, tmp_path: Path) -> None:
        """Ctrl-C in the body: the group is interrupted and the retry never runs."""
        folder = folder_of(tmp_path)

        def body(one: ThreadPoolExecutor) -> None:
            with TaskGroup(one, retry=SLOW) as tg:
                tg.submit(flaky, 0, folder, frozenset({0}))
                tg.submit(flaky, 1, folder).result(timeout=30)
                raise KeyboardInterrupt

        with ThreadPoolExecutor(1) as one, pytest.raises(KeyboardInterrupt):
            body(one)
        assert runs(folder, 0) == 1


class Scripted:
    """An executor that answers each submit with what ``script`` makes of it."""

    def __init__(self, script: Callable[[int, Callable[..., Any], tuple[Any, ...]], Any]) -> None:
        self.script = script
        self.submits = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        self.submits += 1
        return self.script(self.submits, fn, args)


def _failed(exc: BaseException) -> Future[Any]:
    f: Future[Any] = Future()
    f.set_exception(exc)
    return f


def _done(value: Any) -> Future[Any]:
    f: Future[Any] = Future()
    f.set_result(value)
    return f


class TestHostile:
    def test_refused_resubmission(self) -> None:
        """The executor refuses the retry: the task's outcome is that refusal."""
        refusal = RuntimeError("cannot schedule new futures after shutdown")

        def script(n: int, fn: Any, args: Any) -> Future[Any]:
            if n == 1:
                return _failed(ConnectionResetError("x"))
            raise refusal

        with TaskGroup(Scripted(script), mode="settled", retry=Retry(Exception, delay=0)) as tg:
            tg.submit(str, 1)
        (record,) = tg.result()
        assert record.reason is refusal  # type: ignore[union-attr]
        assert record.attempts == 2

    def test_refused_third_attempt_counts(self) -> None:
        """Two runs, then the third refused: attempts 3 (the refused try counts), the reason the
        refusal, earlier the two runs' failures."""
        refusal = RuntimeError("cannot schedule new futures after shutdown")

        def script(n: int, fn: Any, args: Any) -> Future[Any]:
            if n <= 2:
                return _failed(ConnectionResetError(f"run {n}"))
            raise refusal

        with TaskGroup(Scripted(script), mode="settled", retry=Retry(Exception, delay=0)) as tg:
            fut = tg.submit(str, 1)
        (record,) = tg.result()
        assert record.reason is refusal  # type: ignore[union-attr]
        assert record.attempts == 3
        assert [repr(e) for e in record.earlier] == [
            "ConnectionResetError('run 1')",
            "ConnectionResetError('run 2')",
        ]
        assert fut.exception() is refusal
        with (
            pytest.raises(ExceptionGroup) as info,
            TaskGroup(Scripted(script), retry=Retry(Exception, delay=0)) as tg,
        ):
            tg.submit(str, 1)
        assert info.value.exceptions == (refusal,)

    def test_first_submit_refused_raises(self) -> None:
        """The first attempt refused raises from submit(), as without retry=."""

        def script(n: int, fn: Any, args: Any) -> Future[Any]:
            raise RuntimeError("shut down")

        with (
            TaskGroup(Scripted(script), retry=FAST) as tg,
            pytest.raises(RuntimeError, match="^shut down$"),
        ):
            tg.submit(str, 1)
        assert tg.result() == []

    def test_exception_class_and_inline_second_attempt(self) -> None:
        """A future failed with a class is retried; the retry settled inside submit() counts."""

        def script(n: int, fn: Any, args: Any) -> Future[Any]:
            return _failed(ConnectionError) if n == 1 else _done("v")  # type: ignore[arg-type]

        with TaskGroup(Scripted(script), mode="settled", retry=FAST) as tg:
            fut = tg.submit(str, 1)
        assert fut.result() == "v"
        (record,) = tg.result()
        assert (record.attempts, type(record.earlier[0])) == (2, ConnectionError)

    def test_predicate_that_raises(self) -> None:
        """on= raising: the task fails with that error, its context the task's exception."""

        def broken(exc: BaseException) -> bool:
            raise LookupError("rule broke")

        with TaskGroup(
            Scripted(lambda n, fn, args: _failed(ValueError("v"))),
            mode="settled",
            retry=Retry(broken),
        ) as tg:
            tg.submit(str, 1)
        (record,) = tg.result()
        assert repr(record.reason) == "LookupError('rule broke')"  # type: ignore[union-attr]
        assert isinstance(record.reason.__context__, ValueError)  # type: ignore[union-attr]

    @pytest.mark.parametrize("raised", [SystemExit, _Stop])
    def test_predicate_that_raises_a_base_exception(
        self, pool: ThreadPoolExecutor, raised: type[BaseException], tmp_path: Path
    ) -> None:
        """on= raising SystemExit or another BaseException in the executor's callback: the task
        fails with it (the group ends; it hung), nothing escapes into the executor's threads."""

        def broken(exc: BaseException) -> bool:
            raise raised("rule broke")

        with TaskGroup(pool, mode="settled", timeout=30, retry=Retry(broken)) as tg:
            tg.submit(retry_tasks.always_fails, 1, folder_of(tmp_path))
        (record,) = tg.result()
        assert type(record.reason) is raised  # type: ignore[union-attr]
        assert str(record.reason) == "rule broke"  # type: ignore[union-attr]

    def test_retry_racing_the_deadline(self, thread_pool: ThreadPoolExecutor) -> None:
        """Retries due about at the deadline: every task answered, none runs after."""
        for round_ in range(10):
            calls: list[int] = []

            def fails(x: int, calls: list[int] = calls) -> int:
                calls.append(x)
                raise ConnectionResetError(len(calls))

            retry = Retry(ConnectionError, attempts=50, delay=0.002, backoff=1, jitter=0.002)
            with TaskGroup(thread_pool, mode="settled", timeout=0.02, retry=retry) as tg:
                for x in range(4):
                    tg.submit(fails, x)
            assert sorted(r.index for r in tg.result()) == [0, 1, 2, 3], round_
            after = len(calls)
            thread_pool.submit(int).result()
            for t in _timer_threads():
                t.join(10)
            assert len(calls) == after


def test_misuse_refused_before_any_work() -> None:
    """retry= not a Retry: TypeError at the call, with the rule."""
    with pytest.raises(TypeError) as info:
        TaskGroup(Scripted(lambda n, fn, args: None), retry=3)  # type: ignore[call-overload]
    assert str(info.value) == "TaskGroup() expected a Retry or None as retry, got 3 that is an int"


def test_plain_group_records_ran_once(thread_pool: ThreadPoolExecutor) -> None:
    """Without retry=, records say attempts 1."""
    with TaskGroup(thread_pool, mode="settled") as tg:
        tg.submit(int, "1")
        tg.submit(int, "x")
    assert [r.attempts for r in tg.result()] == [1, 1]
    assert isinstance(tg.result()[0], Fulfilled)


def test_dask_runs_the_retry_again(client: Any, tmp_path: Path) -> None:
    """A group on dask: the retry runs again (each retry is a new submission)."""
    folder = folder_of(tmp_path)
    with TaskGroup(client, mode="settled", retry=FAST) as tg:
        tg.submit(flaky, 3, folder, frozenset({3}))
    (record,) = tg.result()
    assert (record.value, record.attempts) == (30, 2)  # type: ignore[union-attr]
    assert runs(folder, 3) == 2


def test_attempt_refusing_its_callback() -> None:
    """A retry whose future refuses a done-callback: the task fails with that error, no hang."""

    class NoCallbacks(Future[Any]):
        def add_done_callback(self, fn: Any) -> None:
            raise RuntimeError("no callbacks here")

    def script(n: int, fn: Any, args: Any) -> Future[Any]:
        return _failed(ConnectionResetError("x")) if n == 1 else NoCallbacks()

    with TaskGroup(Scripted(script), mode="settled", retry=FAST) as tg:
        tg.submit(str, 1)
    (record,) = tg.result()
    assert repr(record.reason) == "RuntimeError('no callbacks here')"  # type: ignore[union-attr]
    assert record.attempts == 2


def test_cancel_racing_the_timer(thread_pool: ThreadPoolExecutor, fast_switching: None) -> None:
    """cancel() while the timer thread resubmits: every task answered, nothing runs after."""
    for round_ in range(30):
        calls: list[int] = []
        first = threading.Event()

        def fails(x: int, calls: list[int] = calls, first: threading.Event = first) -> int:
            calls.append(x)
            first.set()
            raise ConnectionResetError(len(calls))

        retry = Retry(ConnectionError, attempts=1000, delay=0.0002, backoff=1, jitter=0.0002)
        with TaskGroup(thread_pool, mode="settled", retry=retry) as tg:
            for x in range(3):
                tg.submit(fails, x)
            first.wait(10)
            tg.cancel()
        assert sorted(r.index for r in tg.result()) == [0, 1, 2], round_
        after = len(calls)
        for t in _timer_threads():
            t.join(10)
        thread_pool.submit(int).result()
        assert len(calls) == after, round_


def _consistent(record: Any, runs_made: int) -> None:
    """The records' invariant: attempts = runs made, earlier = the runs before the last."""
    assert record.attempts == runs_made
    assert len(record.earlier) == record.attempts - 1


class TestCutWhileWaiting:
    """The deadline or cancel() cuts a task whose retry waits: its record tells the runs made."""

    # The first wait is short, the second a minute: two runs, then a long wait.
    TWO_THEN_WAIT = Retry(ConnectionError, attempts=5, delay=0.001, backoff=60000, jitter=0)

    def _two_failed_runs(self, tg: TaskGroup[Any]) -> tuple[Future[Any], list[Future[Any]]]:
        """Submit one task to a hand-run executor and fail its first two attempts."""
        attempts: list[Future[Any]] = []

        def script(n: int, fn: Any, args: Any) -> Future[Any]:
            f: Future[Any] = Future()
            attempts.append(f)
            return f

        tg._executor.script = script  # type: ignore[attr-defined]
        fut = tg.submit(str, 1)
        attempts[0].set_exception(ConnectionResetError("run 1"))
        until = time.monotonic() + 30
        while len(attempts) < 2:  # the timer thread submits the second attempt at once
            assert time.monotonic() < until, "the second attempt was never submitted"
            if fut.done():  # a deadline came first (a loaded machine): it dropped the retry
                raise InvalidStateError("the retry was dropped before its second attempt")
            time.sleep(0.001)
        attempts[1].set_exception(ConnectionResetError("run 2"))
        return fut, attempts

    def test_cancel(self) -> None:
        """cancel() drops the waiting retry: the future is cancelled, the record is the last
        failure after two runs (earlier: the first)."""
        with TaskGroup(Scripted(lambda *a: None), mode="settled", retry=self.TWO_THEN_WAIT) as tg:
            fut, attempts = self._two_failed_runs(tg)
            tg.cancel()
        assert fut.cancelled()
        (record,) = tg.result()
        assert isinstance(record, Rejected)
        assert repr(record.reason) == "ConnectionResetError('run 2')"
        assert [repr(e) for e in record.earlier] == ["ConnectionResetError('run 1')"]
        _consistent(record, 2)
        assert len(attempts) == 2

    def test_the_futures_own_cancel(self) -> None:
        """cancel() on the future itself while its retry waits: the same record; in mode "all"
        it is the task's failure (it was the CancelledError)."""
        with TaskGroup(Scripted(lambda *a: None), mode="settled", retry=self.TWO_THEN_WAIT) as tg:
            fut, _ = self._two_failed_runs(tg)
            assert fut.cancel() is True
        (record,) = tg.result()
        assert (repr(record.reason), record.attempts) == ("ConnectionResetError('run 2')", 2)  # type: ignore[union-attr]

        def body() -> None:
            with TaskGroup(Scripted(lambda *a: None), retry=self.TWO_THEN_WAIT) as tg:
                fut, _ = self._two_failed_runs(tg)
                fut.cancel()

        with pytest.raises(ExceptionGroup) as info:
            body()
        assert [repr(e) for e in info.value.exceptions] == ["ConnectionResetError('run 2')"]

    def test_deadline(self) -> None:
        """The deadline drops the waiting retry: the record is the last failure, after two runs.

        Failed by hand before the deadline: should a loaded machine reach the deadline first,
        the attempt it finds queued is cancelled (the record is the timeout, with its runs) or
        the retry it finds waiting dropped (the failure): the count holds either way.
        """
        with TaskGroup(
            Scripted(lambda *a: None), mode="settled", timeout=0.5, retry=self.TWO_THEN_WAIT
        ) as tg:
            try:
                self._two_failed_runs(tg)
                cut = False
            except InvalidStateError:  # the deadline cancelled an attempt first
                cut = True
        (record,) = tg.result()
        assert isinstance(record, Rejected)
        if cut:  # what it cut, a queued attempt or a waiting retry, its record tells
            assert isinstance(record.reason, (SettleTimeoutError, ConnectionResetError))
            assert len(record.earlier) == record.attempts - 1
            return
        assert repr(record.reason) == "ConnectionResetError('run 2')"
        assert [repr(e) for e in record.earlier] == ["ConnectionResetError('run 1')"]
        _consistent(record, 2)

    def test_deadline_cancels_a_queued_retry(self) -> None:
        """A later attempt queued at the deadline is cancelled: the timeout is its outcome,
        counted as a run, the failures before it earlier."""
        attempts: list[Future[Any]] = []

        def script(n: int, fn: Any, args: Any) -> Future[Any]:
            f: Future[Any] = Future()
            if n == 1:
                f.set_exception(ConnectionResetError("run 1"))
            attempts.append(f)
            return f

        with TaskGroup(Scripted(script), mode="settled", timeout=0.3, retry=FAST) as tg:
            tg.submit(str, 1)
        (record,) = tg.result()
        assert isinstance(record, Rejected)
        assert isinstance(record.reason, SettleTimeoutError)
        assert [repr(e) for e in record.earlier] == ["ConnectionResetError('run 1')"]
        _consistent(record, 2)
        assert attempts[1].cancelled()

    def test_real_pools(self, pool: Any, tmp_path: Path) -> None:
        """On thread and process pools, at the deadline: whatever the timing, the record's
        attempts are the runs made and earlier holds the runs before the last."""
        folder = folder_of(tmp_path)
        with TaskGroup(pool, mode="settled", timeout=0.5, retry=self.TWO_THEN_WAIT) as tg:
            tg.submit(retry_tasks.always_fails, 0, folder)
        (record,) = tg.result()
        assert isinstance(record, Rejected)
        made = runs(folder, 0)
        assert record.attempts in (made, made + 1)  # + 1: a retry queued at the deadline
        assert len(record.earlier) == record.attempts - 1
        if isinstance(record.reason, ConnectionResetError):
            assert record.attempts == made
            assert repr(record.reason) == f"ConnectionResetError('item 0 run {made}')"
        assert [repr(e) for e in record.earlier] == [
            f"ConnectionResetError('item 0 run {k}')" for k in range(1, record.attempts)
        ]


class TestWaitFunctions:
    """wait_settled and as_settled over a retrying group's futures: records with their attempts."""

    def test_settled_futures(self, pool: Any, tmp_path: Path) -> None:
        """Futures settled before the call: attempts and earlier as the group's records."""
        folder = folder_of(tmp_path)
        with TaskGroup(pool, mode="settled", retry=FAST) as tg:
            ok = tg.submit(flaky, 1, folder, frozenset({1}))
            failed = tg.submit(retry_tasks.always_fails, 2, folder)
            once = tg.submit(flaky, 3, folder)
        plain: Future[Any] = _done(7)
        expected = [(10, 2, 1), ("ConnectionResetError('item 2 run 3')", 3, 2), (30, 1, 0)]

        def summary(records: Any) -> list[tuple[Any, int, int]]:
            return [
                (
                    r.value if isinstance(r, Fulfilled) else repr(r.reason),
                    r.attempts,
                    len(r.earlier),
                )
                for r in records
            ]

        assert summary(wait_settled([ok, failed, once, plain])) == [*expected, (7, 1, 0)]
        assert summary(wait_settled({"a": ok, "b": failed, "c": once}).values()) == expected
        streamed = sorted(as_settled([ok, failed, once, plain]), key=lambda r: r.index)
        assert summary(streamed) == [*expected, (7, 1, 0)]
        assert [repr(e) for e in wait_settled([failed])[0].earlier] == [
            "ConnectionResetError('item 2 run 1')",
            "ConnectionResetError('item 2 run 2')",
        ]

    def test_pending_futures(self, tmp_path: Path) -> None:
        """Futures still retrying when the call starts: their records too."""
        folder = folder_of(tmp_path)
        gate = threading.Event()
        retry = Retry(ConnectionError, attempts=3, delay=0.001, jitter=0)
        with ThreadPoolExecutor(1) as one, TaskGroup(one, mode="settled", retry=retry) as tg:
            one.submit(gate.wait, 30)  # holds the worker: both tasks are pending at the calls
            a = tg.submit(flaky, 4, folder, frozenset({4}))
            b = tg.submit(flaky, 5, folder, frozenset({5}))
            out: list[Any] = []
            streamed: list[Any] = []
            calls = [
                threading.Thread(target=lambda: out.extend(wait_settled([a]))),
                threading.Thread(target=lambda: streamed.extend(as_settled([b]))),
            ]
            for t in calls:
                t.start()
            until = time.monotonic() + 30
            # Both calls wait (their callbacks are on the futures) before the worker is freed.
            while len(a._done_callbacks) < 2 or len(b._done_callbacks) < 2:  # type: ignore[attr-defined]
                assert time.monotonic() < until, "the calls never waited"
                time.sleep(0.001)
            gate.set()
            for t in calls:
                t.join(30)
        assert [(r.value, r.attempts, len(r.earlier)) for r in out] == [(40, 2, 1)]
        assert [(r.value, r.attempts, len(r.earlier)) for r in streamed] == [(50, 2, 1)]

    def test_cancelled_while_waiting(self) -> None:
        """A future cancelled while its retry waited: wait_settled gives the group's record."""
        cut = TestCutWhileWaiting()
        with TaskGroup(Scripted(lambda *a: None), mode="settled", retry=cut.TWO_THEN_WAIT) as tg:
            fut, _ = cut._two_failed_runs(tg)
            tg.cancel()
        ((record,), (streamed,)) = wait_settled([fut]), list(as_settled([fut]))
        for r in (record, streamed, tg.result()[0]):
            assert isinstance(r, Rejected)
            assert (repr(r.reason), r.attempts) == ("ConnectionResetError('run 2')", 2)
            assert [repr(e) for e in r.earlier] == ["ConnectionResetError('run 1')"]


def _until_waiting(fut: Any) -> None:
    """Until the first attempt's failure has reached ``fut`` and its retry waits."""
    until = time.monotonic() + 30
    while fut._attempt is not None:
        assert time.monotonic() < until, "the first attempt's failure never arrived"
        time.sleep(0.002)


class TestDaskCancel:
    """cancel() on dask, whose client hears of a task's end a moment after its worker."""

    def test_during_the_backoff(self, client: Any, tmp_path: Path) -> None:
        """Once the failure has reached the future (its retry waits), cancel() gives the same
        record every time: the future cancelled, the record its failure after one run."""
        for round_ in range(5):
            (tmp_path / str(round_)).mkdir()
            folder = folder_of(tmp_path / str(round_))
            with TaskGroup(client, mode="settled", retry=SLOW) as tg:
                fut = tg.submit(retry_tasks.always_fails, 0, folder)
                _until_waiting(fut)
                tg.cancel()
            (record,) = tg.result()
            assert fut.cancelled()
            assert isinstance(record, Rejected)
            assert (repr(record.reason), record.attempts, record.earlier) == (
                "ConnectionResetError('item 0 run 1')",
                1,
                (),
            )
            assert wait_settled([fut])[0].reason is record.reason  # type: ignore[union-attr]
            assert runs(folder, 0) == 1

    def test_as_the_attempt_ends(self, client: Any, tmp_path: Path) -> None:
        """cancel() once the task ran, its end maybe not yet heard by the client: what is
        guaranteed is one run, a record of it (its failure, or the cancellation that dask
        gave the attempt it still saw running), attempts 1, and nothing run again."""
        for round_ in range(5):
            (tmp_path / str(round_)).mkdir()
            folder = folder_of(tmp_path / str(round_))
            with TaskGroup(client, mode="settled", retry=SLOW) as tg:
                tg.submit(retry_tasks.always_fails, 0, folder)
                until = time.monotonic() + 30
                while runs(folder, 0) < 1:
                    assert time.monotonic() < until, "the task never ran"
                    time.sleep(0.002)
                tg.cancel()
            (record,) = tg.result()
            assert isinstance(record, Rejected)
            assert repr(record.reason) in (
                "ConnectionResetError('item 0 run 1')",
                "CancelledError()",
            )
            assert (record.attempts, record.earlier) == (1, ())
            for t in _timer_threads():
                t.join(10)
            assert runs(folder, 0) == 1


def test_wait_timeout_over_a_retrying_future() -> None:
    """wait_settled's own timeout over a future whose retry waits: the call's timeout record,
    attempts 1 (the record is the wait's), and the future goes on."""
    cut = TestCutWhileWaiting()
    with TaskGroup(Scripted(lambda *a: None), mode="settled", retry=cut.TWO_THEN_WAIT) as tg:
        fut, _ = cut._two_failed_runs(tg)
        (record,) = wait_settled([fut], timeout=0.01)
        assert isinstance(record, Rejected)
        assert isinstance(record.reason, SettleTimeoutError)
        assert (record.attempts, record.earlier) == (1, ())
        assert not fut.done()
        tg.cancel()
