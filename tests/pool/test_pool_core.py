"""SupervisedPool's contract: attribution, replacement, timeouts, cancel, recycling, pickling."""

from __future__ import annotations

import contextlib
import functools
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

from futures_settle import SupervisedPool, TaskTimeoutError, WorkerDiedError, wait_settled

from helpers import pool_tasks as pt

METHODS = ("fork", "forkserver", "spawn")
T = 30  # seconds: a bound on every wait that only a hang would cross


def _started(pool: SupervisedPool, n: int) -> list[int]:
    """Wait (bounded) until ``n`` workers are ready; their pids."""
    pool.submit(pow, 1, 1).result(T)  # the pool starts its workers at the first task
    deadline = time.monotonic() + T
    while len(pool._worker_pids()) < n:
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.005)
    return pool._worker_pids()


class TestAttribution:
    @pytest.mark.parametrize("method", METHODS)
    def test_a_death_costs_its_task_alone(
        self, make_pool: Callable[..., SupervisedPool], method: str
    ) -> None:
        """The killed task gets WorkerDiedError naming pid and signal; every other its value."""
        pool = make_pool(2, method=method)
        before = [pool.submit(pt.sleep_for, 0.001, i) for i in range(20)]
        killer = pool.submit(pt.kill_self)
        after = [pool.submit(pt.sleep_for, 0.001, i) for i in range(20)]
        assert [f.result(T) for f in before + after] == list(range(20)) * 2
        err = killer.exception(T)
        assert type(err) is WorkerDiedError
        assert isinstance(err, BrokenProcessPool)
        assert err.exitcode == -signal.SIGKILL
        assert str(err) == f"worker {err.pid} died running the task: killed by SIGKILL"
        assert err.pid in pool._worker_pids(ever=True)

    def test_exit_code_is_named(self, make_pool: Callable[..., SupervisedPool]) -> None:
        """A worker that exits names its code."""
        pool = make_pool(1)
        err = pool.submit(pt.exit_with, 7).exception(T)
        assert isinstance(err, WorkerDiedError)
        assert (err.exitcode, str(err)) == (
            7,
            f"worker {err.pid} died running the task: exited with code 7",
        )
        assert pool.submit(pow, 2, 5).result(T) == 32

    def test_killed_from_outside_while_running(
        self, make_pool: Callable[..., SupervisedPool], tmp_path: Path
    ) -> None:
        """A worker SIGKILLed by someone else costs the task it ran; queued tasks run elsewhere."""
        pool = make_pool(2)
        marker = tmp_path / "started"
        victim = pool.submit(pt.hang, str(marker))
        queued = [pool.submit(pow, 2, i) for i in range(50)]
        pid = int(pt.wait_for(marker))
        os.kill(pid, signal.SIGKILL)
        err = victim.exception(T)
        assert isinstance(err, WorkerDiedError)
        assert err.pid == pid
        assert [f.result(T) for f in queued] == [2**i for i in range(50)]

    def test_idle_worker_killed_costs_nothing(
        self, make_pool: Callable[..., SupervisedPool]
    ) -> None:
        """A kill between tasks fails no task, and the worker is replaced."""
        pool = make_pool(2)
        pids = _started(pool, 2)
        os.kill(pids[0], signal.SIGKILL)
        futures = [pool.submit(pow, 3, i) for i in range(30)]
        assert [f.result(T) for f in futures] == [3**i for i in range(30)]
        new = _started(pool, 2)
        assert pids[0] not in new


class TestReplacement:
    @pytest.mark.parametrize("method", METHODS)
    def test_pool_never_shrinks(
        self, make_pool: Callable[..., SupervisedPool], method: str
    ) -> None:
        """Five deaths, five replacements: two workers after each, the pool alive."""
        pool = make_pool(2, method=method)
        for _ in range(5):
            assert isinstance(pool.submit(pt.kill_self).exception(T), WorkerDiedError)
        assert len(_started(pool, 2)) == 2
        assert len(pool._worker_pids(ever=True)) == 7
        assert pool.submit(pow, 2, 3).result(T) == 8

    @pytest.mark.parametrize("method", METHODS)
    def test_initializer_crash_loop(
        self, make_pool: Callable[..., SupervisedPool], method: str
    ) -> None:
        """A failing initializer breaks the pool: its exception and traceback reach every future."""
        pool = make_pool(2, method=method, initializer=pt.fail_init, initargs=("no db",))
        futures = [pool.submit(pow, 2, i) for i in range(5)]
        done, _ = wait(futures, T)
        assert len(done) == 5
        for f in futures:
            err = f.exception()
            assert type(err) is BrokenProcessPool
            assert str(err) == (
                "the pool's workers failed in their initializer 3 times in a row: ValueError: no db"
            )
            cause = err.__cause__
            assert isinstance(cause, ValueError)
            assert str(cause) == "no db"
            assert "in fail_init" in str(cause.__cause__)
        with pytest.raises(BrokenProcessPool) as info:
            pool.submit(pow, 2, 2)
        assert str(info.value) == str(futures[0].exception())

    def test_one_initializer_failure_is_not_a_loop(
        self, make_pool: Callable[..., SupervisedPool], tmp_path: Path
    ) -> None:
        """An initializer that fails once (the first worker) leaves the pool working."""
        flag = tmp_path / "failed-once"
        pool = make_pool(1, initializer=_fail_once, initargs=(str(flag),))
        assert pool.submit(pow, 2, 4).result(T) == 16
        assert flag.exists()


def _fail_once(path: str) -> None:
    if not os.path.exists(path):
        Path(path).write_text("x")
        raise ValueError("first start fails")


class TestTimeouts:
    @pytest.mark.parametrize("method", METHODS)
    def test_soft_stop_runs_finally(
        self, make_pool: Callable[..., SupervisedPool], tmp_path: Path, method: str
    ) -> None:
        """A task past task_timeout is stopped inside: its finally runs, its worker lives on."""
        pool = make_pool(1, method=method, task_timeout=0.3, grace=5)
        fin = tmp_path / "finally"
        hung = pool.submit(pt.hang, str(tmp_path / "m"), str(fin))
        err = hung.exception(T)
        assert type(err) is TaskTimeoutError
        assert isinstance(err, TimeoutError)
        assert (err.timeout, err.killed) == (0.3, False)
        assert str(err) == (
            f"the task ran past its task_timeout of 0.3 s in worker {err.pid} and was stopped"
        )
        assert fin.read_text() == "ran"
        assert pool.submit(pt.pid_of).result(T) == err.pid  # the same worker

    def test_hard_kill_after_grace(
        self, make_pool: Callable[..., SupervisedPool], tmp_path: Path
    ) -> None:
        """A task that swallows the soft stop is killed with its worker after grace."""
        pool = make_pool(1, task_timeout=0.2, grace=0.2)
        start = time.monotonic()
        err = pool.submit(pt.stubborn, str(tmp_path / "m")).exception(T)
        assert time.monotonic() - start < 10
        assert type(err) is TaskTimeoutError
        assert err.killed
        assert str(err).endswith("and was killed with its worker")
        assert pool.submit(pt.pid_of).result(T) != err.pid

    def test_timeout_is_per_task_not_per_queue(
        self, make_pool: Callable[..., SupervisedPool]
    ) -> None:
        """Tasks that wait in the queue longer than the limit are not timed out for waiting."""
        pool = make_pool(1, task_timeout=0.5)
        futures = [pool.submit(pt.sleep_for, 0.1, i) for i in range(8)]
        assert [f.result(T) for f in futures] == list(range(8))

    def test_task_timeout_is_not_the_tasks_own_timeout(
        self, make_pool: Callable[..., SupervisedPool]
    ) -> None:
        """A task's own TimeoutError comes back as itself."""
        pool = make_pool(1, task_timeout=5)
        err = pool.submit(_raise_timeout).exception(T)
        assert type(err) is TimeoutError
        assert str(err) == "own"

    def test_shutdown_bounded_by_timeout_and_grace(
        self, make_pool: Callable[..., SupervisedPool], tmp_path: Path
    ) -> None:
        """The with exit waits for a hung task no longer than task_timeout + grace, and a little."""
        start = time.monotonic()
        with SupervisedPool(1, task_timeout=0.3, grace=0.3) as pool:
            f = pool.submit(pt.stubborn, str(tmp_path / "m"))
        assert time.monotonic() - start < 0.3 + 0.3 + 5
        assert isinstance(f.exception(0), TaskTimeoutError)
        assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())


def _raise_timeout() -> None:
    raise TimeoutError("own")


class TestCancel:
    def test_cancel_running_task_stops_it(
        self, make_pool: Callable[..., SupervisedPool], tmp_path: Path
    ) -> None:
        """cancel() on a running task returns True, its finally runs, the worker goes on."""
        pool = make_pool(1, grace=5)
        marker, fin = tmp_path / "m", tmp_path / "fin"
        f = pool.submit(pt.hang, str(marker), str(fin))
        pid = int(pt.wait_for(marker))
        assert f.cancel() is True
        assert f.cancelled()
        with pytest.raises(CancelledError):
            f.result(0)
        assert pt.wait_for(fin) == "ran"
        assert pool.submit(pt.pid_of).result(T) == pid

    def test_cancel_stubborn_task_kills_its_worker(
        self, make_pool: Callable[..., SupervisedPool], tmp_path: Path
    ) -> None:
        """A cancelled task that ignores the stop is killed after grace; the pool replaces it."""
        pool = make_pool(1, grace=0.2)
        marker = tmp_path / "m"
        f = pool.submit(pt.stubborn, str(marker))
        pid = int(pt.wait_for(marker))
        assert f.cancel()
        assert pool.submit(pt.pid_of).result(T) != pid

    def test_cancel_queued(self, make_pool: Callable[..., SupervisedPool], tmp_path: Path) -> None:
        """A queued task cancelled never runs."""
        pool = make_pool(1, grace=5)
        marker = tmp_path / "m"
        first = pool.submit(pt.hang, str(marker))
        pt.wait_for(marker)
        later = [pool.submit(pt.mark, str(tmp_path / f"ran{i}")) for i in range(4)]
        assert all(f.cancel() for f in later)
        assert first.cancel()
        assert pool.submit(pow, 2, 2).result(T) == 4
        assert not any((tmp_path / f"ran{i}").exists() for i in range(4))


class TestSentAhead:
    @pytest.mark.parametrize("method", METHODS)
    def test_an_idle_worker_takes_the_tasks_queued_behind_a_slow_one(
        self, make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
    ) -> None:
        """Quick tasks sent ahead to a worker held by a slow one run in the other worker.

        The slow task waits until the others have run; held behind it, they
        would run only after it gives up (20 s) and returns "expired".
        """
        pool = make_pool(2, method=method)
        _started(pool, 2)
        for _ in range(3):  # quick tasks: the pool sends tasks ahead (up to 8 a worker)
            wait_settled([pool.submit(pow, 2, i) for i in range(40)], timeout=T)
        log = str(tmp_path / "ran")
        slow = pool.submit(pt.held, 0, 0, log, 40)
        quick = [pool.submit(pt.held, i, 0, log, 40) for i in range(1, 41)]
        assert slow.result(T) == "released"
        assert [r.value for r in wait_settled(quick, timeout=T)] == list(range(1, 41))

    def test_taken_back_under_kills_every_item_runs_at_most_once(
        self, make_pool: Callable[..., SupervisedPool], tmp_path: Path
    ) -> None:
        """Slow items make the pool take work back while workers are killed: no item runs twice.

        Each item logs its run; one that was taken back, or that a dead worker
        had not started, runs once elsewhere; one whose worker died running it
        fails with WorkerDiedError and runs nowhere else.
        """
        pool = make_pool(2)
        _started(pool, 2)
        log = tmp_path / "runs"
        fn = functools.partial(pt.run_once, str(log))
        futures = [pool.submit(pow, 2, i) for i in range(40)]  # quick: tasks are sent ahead
        wait_settled(futures, timeout=T)
        killed: list[int] = []
        stop = threading.Event()

        def killer() -> None:
            while not stop.wait(0.15):
                pids = pool._worker_pids()
                if pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(random.choice(pids), signal.SIGKILL)
                        killed.append(1)

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        futures = []
        try:
            for wave in range(20):  # a slow item first, quick ones sent ahead behind it
                batch = [pool.submit(fn, i) for i in range(wave * 20, wave * 20 + 20)]
                wait_settled(batch, timeout=T)
                futures += batch
        finally:
            stop.set()
            thread.join(T)
        kills = len(killed)
        records = wait_settled(futures, timeout=T)
        runs = [int(x) for x in log.read_text().split()]
        assert len(runs) == len(set(runs)), "an item ran twice"
        died = [r.index for r in records if r.status == "rejected"]
        assert all(isinstance(r.reason, WorkerDiedError) for r in records if r.status == "rejected")
        assert len(died) <= kills
        assert [r.value for r in records if r.status == "fulfilled"] == [
            i for i in range(400) if i not in died
        ]
        assert set(runs) >= {r.value for r in records if r.status == "fulfilled"}


class TestRecycling:
    def test_max_tasks_per_worker(self, make_pool: Callable[..., SupervisedPool]) -> None:
        """No worker runs more than max_tasks_per_worker tasks."""
        pool = make_pool(2, max_tasks_per_worker=3)
        pids = [f.result(T) for f in [pool.submit(pt.pid_of) for _ in range(20)]]
        assert max(pids.count(p) for p in set(pids)) <= 3
        assert len(set(pids)) >= 7

    @pytest.mark.parametrize("method", METHODS)
    def test_max_memory_per_worker(
        self, make_pool: Callable[..., SupervisedPool], method: str
    ) -> None:
        """A worker past max_memory_per_worker is replaced after its task, which keeps its value."""
        # The limit sits 120 MB above what a fresh worker of this start method holds of its own.
        probe = make_pool(1, method=method)
        limit = probe.submit(pt.own_memory).result(T) + (120 << 20)
        pool = make_pool(1, method=method, max_memory_per_worker=limit)
        first = pool.submit(pt.hoard, 10).result(T)
        assert pool.submit(pt.pid_of).result(T) == first  # under the limit: the same worker
        big = pool.submit(pt.hoard, 200).result(T)
        assert big == first
        assert pool.submit(pt.pid_of).result(T) != first

    @pytest.mark.skipif(
        not os.path.exists("/proc/self/smaps_rollup"), reason="needs Linux's smaps_rollup"
    )
    def test_a_forked_worker_does_not_count_its_parents_pages(
        self, make_pool: Callable[..., SupervisedPool]
    ) -> None:
        """Pages a fork-started worker shares with its parent are not its memory."""
        ballast = b"x" * (300 << 20)  # resident in this process, so in a forked worker's size
        try:
            pool = make_pool(1, method="fork", max_memory_per_worker=200 << 20)
            first = pool.submit(pt.hoard, 10).result(T)
            assert [pool.submit(pt.pid_of).result(T) for _ in range(3)] == [first] * 3
            pool.submit(pt.hoard, 250).result(T)  # now over on its own pages
            assert pool.submit(pt.pid_of).result(T) != first
        finally:
            del ballast

    @pytest.mark.skipif(
        not os.path.exists("/proc/self/smaps_rollup"), reason="needs Linux's smaps_rollup"
    )
    def test_shared_pages_a_worker_writes_become_its_own(
        self, make_pool: Callable[..., SupervisedPool]
    ) -> None:
        """Inherited pages a forked worker writes count, though its resident size stays put."""
        pt.BALLAST.append(bytearray(b"x" * (300 << 20)))
        try:
            pool = make_pool(1, method="fork", max_memory_per_worker=200 << 20)
            first = pool.submit(pt.pid_of).result(T)  # over by resident size, not on its own
            assert pool.submit(pt.pid_of).result(T) == first
            # Writing the ballast makes its pages private without growing the resident size;
            # the own share is read again within a second.
            assert pool.submit(pt.dirty_ballast, 1.1).result(T) == first
            assert pool.submit(pt.pid_of).result(T) != first
        finally:
            pt.BALLAST.clear()


class TestPickling:
    @pytest.mark.parametrize("method", METHODS)
    def test_unpicklable_argument(
        self, make_pool: Callable[..., SupervisedPool], method: str
    ) -> None:
        """An argument that does not pickle fails its task alone."""
        import threading

        pool = make_pool(1, method=method)
        bad = pool.submit(pt.sleep_for, 0, threading.Lock())
        good = pool.submit(pow, 2, 3)
        assert isinstance(bad.exception(T), TypeError)
        assert good.result(T) == 8

    @pytest.mark.parametrize("method", METHODS)
    def test_unpicklable_result_and_exception(
        self, make_pool: Callable[..., SupervisedPool], method: str
    ) -> None:
        """A result or an exception that does not pickle fails its task; the worker lives on."""
        pool = make_pool(1, method=method)
        pid = pool.submit(pt.pid_of).result(T)
        result = pool.submit(pt.unpicklable_result).exception(T)
        assert isinstance(result, TypeError)
        assert "while sending the task's result to the parent process" in result.__notes__
        raised = pool.submit(pt.raise_unpicklable).exception(T)
        assert type(raised) is RuntimeError
        assert str(raised).startswith(
            "the task raised BadException('bad'), which could not be pickled"
        )
        assert pool.submit(pt.pid_of).result(T) == pid

    def test_remote_traceback(self, make_pool: Callable[..., SupervisedPool]) -> None:
        """A task's exception carries the worker's traceback as its cause, as the stdlib's does."""
        pool = make_pool(1)
        err = pool.submit(pt.fail_init, "boom").exception(T)
        assert isinstance(err, ValueError)
        assert str(err) == "boom"
        assert "in fail_init" in str(err.__cause__)


class TestStop:
    def test_terminate_leaves_every_future_an_outcome(
        self, make_pool: Callable[..., SupervisedPool], tmp_path: Path
    ) -> None:
        """terminate(): queued and running tasks cancelled, done ones kept, no worker left."""
        pool = make_pool(2)
        done = pool.submit(pow, 2, 2)
        assert done.result(T) == 4
        running = [pool.submit(pt.hang, str(tmp_path / f"m{i}")) for i in range(2)]
        queued = [pool.submit(pow, 2, i) for i in range(10)]
        pt.wait_for(tmp_path / "m0")
        pt.wait_for(tmp_path / "m1")
        pool.terminate()
        assert all(f.done() for f in [done, *running, *queued])
        assert all(f.cancelled() for f in running)
        assert done.result(0) == 4
        assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())
        with pytest.raises(RuntimeError, match="^cannot schedule new futures after shutdown$"):
            pool.submit(pow, 1, 1)

    def test_shutdown_cancel_futures(
        self, make_pool: Callable[..., SupervisedPool], tmp_path: Path
    ) -> None:
        """shutdown(cancel_futures=True) cancels the queue; the running task finishes."""
        pool = make_pool(1)
        marker = tmp_path / "m"
        running = pool.submit(pt.started_then_sleep, str(tmp_path / "started"), 0.3, "done")
        queued = [pool.submit(pt.mark, str(marker)) for _ in range(20)]
        pt.wait_for(tmp_path / "started")
        pool.shutdown(wait=True, cancel_futures=True)
        assert running.result(0) == "done"
        assert all(f.done() for f in queued)
        assert sum(f.cancelled() for f in queued) >= 18  # one may be in the worker's pipe

    def test_wait_functions_work(self, make_pool: Callable[..., SupervisedPool]) -> None:
        """wait_settled reads the pool's futures: values and the death."""
        pool = make_pool(2)
        records = wait_settled([pool.submit(pow, 2, 2), pool.submit(pt.kill_self)], timeout=T)
        assert [r.status for r in records] == ["fulfilled", "rejected"]
        assert isinstance(records[1].reason, WorkerDiedError)

    def test_shutdown_without_start_and_twice(self) -> None:
        """A pool never used starts no process; shutdown twice is fine."""
        pool = SupervisedPool(2)
        pool.shutdown()
        pool.shutdown()
        assert pool._worker_pids(ever=True) == []


class TestArguments:
    @pytest.mark.parametrize(
        ("kwargs", "error", "message"),
        [
            ({"max_workers": 0}, ValueError, "max_workers must be > 0, got 0"),
            ({"max_workers": "2"}, TypeError, "max_workers must be a number or None, got str"),
            ({"task_timeout": -1}, ValueError, "task_timeout must be > 0, got -1"),
            ({"grace": -1}, ValueError, "grace must be >= 0, got -1"),
            ({"max_tasks_per_worker": 0}, ValueError, "max_tasks_per_worker must be > 0, got 0"),
            (
                {"max_memory_per_worker": 1.5},
                TypeError,
                "max_memory_per_worker must be a number or None, got float",
            ),
            ({"initializer": 3}, TypeError, "initializer must be callable or None, got int"),
            ({"initargs": [1]}, TypeError, "initargs must be a tuple, got list"),
        ],
    )
    def test_refused(self, kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
        """Wrong arguments are refused before any process starts."""
        with pytest.raises(error) as info:
            SupervisedPool(**kwargs)
        assert str(info.value) == message
