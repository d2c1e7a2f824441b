"""Attacks on the retries' promises (issue 19): hostile engines, races, strange inputs.

Each test is one attack that held (kept for the subtle behaviour it pins)
or a defect's reproducer.
"""

from __future__ import annotations

import itertools
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from futures_settle import (
    Fulfilled,
    Rejected,
    Retry,
    SettleTimeoutError,
    TaskGroup,
    map_all,
    map_settled,
)
from futures_settle._core.waiter import Waiter

import retry_tasks
from duck import Hostile

pytestmark = pytest.mark.timeout(60)

FAST = Retry(ConnectionError, attempts=3, delay=0.001, jitter=0)


class _Stop(BaseException):
    """A BaseException an engine may raise (as trio's Cancelled or gevent's GreenletExit)."""


class _Timed:
    """Wraps a pool: the monotonic time of each submit."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.times: list[float] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        self.times.append(time.monotonic())
        return self.pool.submit(fn, *args)


class _HostileExecutor:
    """Runs each task on ``pool`` (or at once) and hands out ``Hostile`` futures with the flags."""

    def __init__(self, pool: ThreadPoolExecutor | None, **flags: Any) -> None:
        self.pool, self.flags = pool, flags  # no pool: run at once, in submit()

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Hostile:
        f = Hostile(**self.flags)

        def run() -> None:
            try:
                f.set_result(fn(*args))
            except Exception as exc:
                f.set_exception(exc)

        if self.pool is None:
            run()
        else:
            self.pool.submit(run)
        return f


class _FailsFirst:
    """A callable whose items fail with ConnectionResetError on their first ``fails`` runs."""

    def __init__(self, bad: set[int], fails: int = 1) -> None:
        self.bad, self.fails = bad, fails
        self.runs: dict[int, int] = {}
        self._lock = threading.Lock()

    def __call__(self, x: int) -> int:
        with self._lock:
            run = self.runs[x] = self.runs.get(x, 0) + 1
        if x in self.bad and run <= self.fails:
            raise ConnectionResetError(f"item {x} run {run}")
        return x * 10


class TestHostileEngines:
    """The hostile-engine harness (tests/duck.py) against retrying maps and groups."""

    FLAGS = ("twice", "threaded", "never_if_done", "slow", "early")

    @pytest.mark.parametrize("where", ["at once", "on a pool"])
    @pytest.mark.parametrize("flag", FLAGS)
    def test_map_settled(self, flag: str, where: str, thread_pool: ThreadPoolExecutor) -> None:
        """Callbacks twice, early, on other threads, never once done: each item once, with the
        runs it made (an item run twice by a doubled callback would say 3 or lose a record)."""
        options: dict[str, Any] = {"slow": 0.001} if flag == "slow" else {flag: True}
        fn = _FailsFirst({1, 3}, fails=2)
        ex = _HostileExecutor(None if where == "at once" else thread_pool, **options)
        records = list(map_settled(fn, range(5), executor=ex, timeout=30, retry=FAST))
        assert [(r.index, r.status, r.attempts, len(r.earlier)) for r in records] == [
            (0, "fulfilled", 1, 0),
            (1, "fulfilled", 3, 2),
            (2, "fulfilled", 1, 0),
            (3, "fulfilled", 3, 2),
            (4, "fulfilled", 1, 0),
        ]
        assert fn.runs == {0: 1, 1: 3, 2: 1, 3: 3, 4: 1}
        fn = _FailsFirst({2}, fails=5)
        with pytest.raises(ConnectionResetError, match="^item 2 run 3$"):
            list(map_all(fn, range(4), executor=ex, timeout=30, retry=FAST))
        assert fn.runs[2] == 3

    @pytest.mark.timeout(20)  # the group's deadline is 5 s: past it, a task it lost
    @pytest.mark.parametrize("where", ["at once", "on a pool"])
    @pytest.mark.parametrize("flag", FLAGS)
    def test_group(self, flag: str, where: str, thread_pool: ThreadPoolExecutor) -> None:
        """The same for a group: a doubled or early callback starts no extra attempt, a
        dropped one loses no task."""
        options: dict[str, Any] = {"slow": 0.001} if flag == "slow" else {flag: True}
        fn = _FailsFirst({1}, fails=2)
        ex = _HostileExecutor(None if where == "at once" else thread_pool, **options)
        with TaskGroup(ex, mode="settled", timeout=5, retry=FAST) as tg:
            futures = [tg.submit(fn, x) for x in range(3)]
        assert [(r.value, r.attempts) for r in tg.result()] == [(0, 1), (10, 3), (20, 1)]  # type: ignore[union-attr]
        assert [f.result() for f in futures] == [0, 10, 20]
        assert fn.runs == {0: 1, 1: 3, 2: 1}


class TestDeadline:
    def test_map_starts_no_retry_after_its_deadline_for_a_slow_consumer(self) -> None:
        """The consumer holds a record past the map's timeout while an item's retry, due before
        the deadline, waits: the map must not submit it when the consumer comes back."""
        timeout = 0.5
        fn = _FailsFirst({0})
        with ThreadPoolExecutor(1) as pool:
            ex = _Timed(pool)
            retry = Retry(ConnectionError, attempts=2, delay=0.2, jitter=0)
            it = map_settled(fn, [0, 1], executor=ex, timeout=timeout, ordered=False, retry=retry)
            latest = time.monotonic() + timeout  # the map's deadline is no later
            first = next(it)
            time.sleep(max(0.0, latest + 0.05 - time.monotonic()))
            rest = list(it)
        assert [t >= latest for t in ex.times] == [False, False]
        if first.index == 1:  # the retry was not due before the first record (the usual case)
            (record,) = rest
            assert (type(record.reason), record.attempts) == (ConnectionResetError, 1)  # type: ignore[union-attr]
        fn = _FailsFirst({0})
        with ThreadPoolExecutor(1) as pool:
            ex = _Timed(pool)
            it = map_all(fn, [0, 1], executor=ex, timeout=timeout, ordered=False, retry=retry)
            latest = time.monotonic() + timeout
            next(it)
            time.sleep(max(0.0, latest + 0.05 - time.monotonic()))
            with pytest.raises(SettleTimeoutError):
                next(it)
        assert [t >= latest for t in ex.times] == [False, False]

    def test_map_pulls_no_input_after_its_deadline_for_a_slow_consumer(self) -> None:
        """The same slow consumer, without retry=: no item is pulled past the deadline."""
        pulls: list[float] = []
        with ThreadPoolExecutor(1) as pool:
            it = map_settled(abs, _endless(pulls), executor=pool, timeout=0.5, buffersize=2)
            latest = time.monotonic() + 0.5
            next(it)
            time.sleep(max(0.0, latest + 0.05 - time.monotonic()))
            list(it)
        assert [t for t in pulls if t >= latest] == []

    def test_map_all_back_after_its_deadline_raises_the_timeout(self) -> None:
        """map_all whose consumer held every pulled item past the deadline: it raises
        SettleTimeoutError (0 in flight), pulls nothing more, never ends as if the input
        had run out."""
        pulls: list[float] = []
        with ThreadPoolExecutor(1) as pool:
            it = map_all(abs, _endless(pulls), executor=pool, timeout=0.5, buffersize=1)
            latest = time.monotonic() + 0.5
            assert next(it) == 0
            time.sleep(max(0.0, latest + 0.05 - time.monotonic()))
            with pytest.raises(SettleTimeoutError) as caught:
                list(it)
        assert caught.value.timeout == 0.5
        assert [t for t in pulls if t >= latest] == []


def _endless(pulls: list[float]) -> Iterator[int]:
    """0, 1, 2, ... for ever, noting when each is pulled."""
    for i in itertools.count():
        pulls.append(time.monotonic())
        yield i


def _until_the_timer_waits(fut: Future[Any]) -> None:
    """Return once ``fut``'s next attempt waits in its group's timer, and the timer's thread
    sleeps on it (inside ``Condition.wait``) or has ended."""
    give_up = time.monotonic() + 10
    while fut._attempt is not None:  # type: ignore[attr-defined]
        assert time.monotonic() < give_up
        time.sleep(0.001)
    while True:
        timers = [t for t in threading.enumerate() if t.name == "futures_settle-retry"]
        frames = sys._current_frames()
        sleeping = [t for t in timers if t.ident in frames and _in_wait(frames[t.ident])]
        if len(sleeping) == len(timers):
            return
        assert time.monotonic() < give_up
        time.sleep(0.001)


def _in_wait(frame: Any) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "wait" and frame.f_code.co_filename == threading.__file__:
            return True
        frame = frame.f_back
    return False


class TestMapLoop:
    def test_a_due_retry_with_every_unit_in_flight_does_not_spin(
        self, process_pool: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Automatic chunks on a process pool cap the units in flight: a retry due while they
        are all taken waits for one to settle, without waking the map over and over."""
        naps = 0
        nap = Waiter.nap

        def counted(self: Waiter, until: float) -> bool:
            nonlocal naps
            naps += 1
            return nap(self, until)

        monkeypatch.setattr(Waiter, "nap", counted)
        retry = Retry(ConnectionError, attempts=2, delay=0.01, jitter=0)
        n = 2 * 8 + 1  # more slow items than the 8 units two workers may have in flight
        records = list(
            map_settled(
                retry_tasks.slow_unless_bad,
                range(n),
                itertools.repeat(0),
                itertools.repeat(0.3),
                executor=process_pool,
                retry=retry,
            )
        )
        assert [(r.index, r.attempts) for r in records] == [(0, 2), *((i, 1) for i in range(1, n))]
        assert naps < 100  # one per due time or settling would do; a spin makes thousands


class TestGroupTimer:
    def test_a_backoff_beyond_timeout_max(self, thread_pool: ThreadPoolExecutor) -> None:
        """max_delay=math.inf (allowed: no cap) and a backoff that grows past
        threading.TIMEOUT_MAX: one task's long wait must not stop another's short one."""
        policy = Retry(ValueError, attempts=3, delay=0.001, backoff=1e13, max_delay=math.inf)
        assert policy.wait(2) > threading.TIMEOUT_MAX
        runs = {"long": 0, "short": 0}
        waits_long = threading.Event()

        def task(name: str) -> str:
            runs[name] += 1
            if name == "long":
                if runs[name] == 2:
                    waits_long.set()
                raise ValueError(name)
            if runs[name] == 1:
                raise ValueError(name)
            return name

        with TaskGroup(thread_pool, mode="settled", timeout=5, retry=policy) as tg:
            long = tg.submit(task, "long")
            assert waits_long.wait(10)
            _until_the_timer_waits(long)  # on the long wait (or died of it)
            short = tg.submit(task, "short")
            assert short.result(timeout=5) == "short"
            tg.cancel()
        assert [(type(r), r.attempts) for r in tg.result()] == [(Rejected, 2), (Fulfilled, 2)]

    def test_a_retry_submit_raising_a_base_exception(self) -> None:
        """An engine whose submit() raises a BaseException for a retry (on the timer's thread):
        the task's record is that refusal, and the next task's retry still runs."""
        stop = _Stop("engine stopped")
        calls: list[int] = []

        class Refusing:  # a's first run fails, its retry is refused; b fails once, then "b"
            def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
                calls.append(len(calls) + 1)
                if len(calls) == 2:
                    raise stop
                f: Future[Any] = Future()
                if len(calls) in (1, 3):
                    f.set_exception(ConnectionResetError(len(calls)))
                else:
                    f.set_result("b")
                return f

        with TaskGroup(Refusing(), mode="settled", timeout=5, retry=FAST) as tg:
            a = tg.submit(str, "a")
            with pytest.raises(_Stop):
                a.result(timeout=5)
            b = tg.submit(str, "b")
            assert b.result(timeout=5) == "b"
        first, second = tg.result()
        assert (first.reason, first.attempts) == (stop, 2)  # type: ignore[union-attr]
        assert (second.value, second.attempts) == ("b", 2)  # type: ignore[union-attr]


class TestCtrlC:
    @pytest.mark.parametrize("raised", [KeyboardInterrupt, SystemExit])
    def test_predicate_interrupted_in_the_map_drops_every_retry(
        self, raised: type[BaseException]
    ) -> None:
        """Ctrl-C (or SystemExit) landing in on=, on the map's consuming thread, ends the map
        with it, and no item waiting for its retry runs again afterwards."""
        seen: list[BaseException] = []

        def rule(exc: BaseException) -> bool:
            seen.append(exc)
            if len(seen) == 3:
                raise raised
            return True

        fn = _FailsFirst(set(range(8)), fails=10)
        retry = Retry(rule, delay=0.2, jitter=0)
        with ThreadPoolExecutor(2) as pool, pytest.raises(raised):
            for _ in map_settled(fn, range(8), executor=pool, buffersize=4, retry=retry):
                pass  # pragma: no cover - every item fails: nothing is yielded before
        # The pool is shut down: what was queued ran or was cancelled (the fourth item may).
        # Past the delay, a retry kept would be due.
        time.sleep(0.25)
        assert set(fn.runs.values()) == {1}
        assert len(fn.runs) >= 3  # the rule saw three failures
        assert set(fn.runs) <= {0, 1, 2, 3}


class TestStrangeInputs:
    def test_many_attempts_no_delay_chunk_neighbours(self) -> None:
        """attempts=10**6 with no delay: an item failing 300 times then succeeding says 301
        runs, 300 earlier exceptions in order, on a chunked map whose neighbours ran once."""
        fn = _FailsFirst({2}, fails=300)
        retry = Retry(ConnectionError, attempts=10**6, delay=0, jitter=0)
        with ThreadPoolExecutor(2) as pool:
            records = list(map_settled(fn, range(4), executor=pool, chunksize=4, retry=retry))
        assert [(r.index, r.attempts) for r in records] == [(0, 1), (1, 1), (2, 301), (3, 1)]
        earlier = records[2].earlier
        assert [str(e) for e in earlier[:2]] == ["item 2 run 1", "item 2 run 2"]
        assert str(earlier[-1]) == "item 2 run 300"
        assert fn.runs == {0: 1, 1: 1, 2: 301, 3: 1}

    def test_predicate_returning_a_non_bool(self, thread_pool: ThreadPoolExecutor) -> None:
        """on= returning an object whose truth raises: the item fails with that error (its
        context the item's), in a map and in a group, and nothing else is touched."""

        class Ambiguous:
            def __bool__(self) -> bool:
                raise ValueError("truth value is ambiguous")

        fn = _FailsFirst({1})
        retry = Retry(lambda exc: Ambiguous())
        records = list(map_settled(fn, range(3), executor=thread_pool, retry=retry))
        assert [r.status for r in records] == ["fulfilled", "rejected", "fulfilled"]
        reason = records[1].reason  # type: ignore[union-attr]
        assert str(reason) == "truth value is ambiguous"
        assert isinstance(reason.__context__, ConnectionResetError)
        with TaskGroup(thread_pool, mode="settled", retry=retry) as tg:
            tg.submit(_FailsFirst({1}), 1)
        (record,) = tg.result()
        assert str(record.reason) == "truth value is ambiguous"  # type: ignore[union-attr]
        assert record.attempts == 1
