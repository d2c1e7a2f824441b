"""SupervisedPool regressions: deaths after an item finished, cancelled futures' notification."""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, as_completed, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

from futures_settle import SupervisedPool, TaskTimeoutError, WorkerDiedError, map_settled

import pool_fix_tasks as ft
import pool_tasks as pt

METHODS = ("fork", "forkserver", "spawn")
T = 30  # seconds: a bound on every wait that only a hang would cross


@pytest.mark.parametrize("method", METHODS)
def test_a_death_after_the_item_finished_is_blamed_on_it(
    make_pool: Callable[..., SupervisedPool], method: str
) -> None:
    """A worker killed while it sends a finished item's result: that item fails, once."""
    pool = make_pool(2, method=method)
    bad = pool.submit(ft.result_kills_in_pickling, "bad")
    good = [pool.submit(ft.result_kills_in_pickling, i) for i in range(5)]
    _, not_done = wait([bad, *good], timeout=T)
    assert not not_done
    err = bad.exception(0)
    assert type(err) is WorkerDiedError
    assert [f.result(0) for f in good] == list(range(5))
    assert len(pool._worker_pids(ever=True)) <= 3  # the two, and one to replace the dead
    pool.shutdown(wait=True)


def _notified(fs: list[Future[Any]]) -> None:
    """The stdlib's waiters see every future of ``fs`` done (cancelled ones once notified)."""
    _, not_done = wait(fs, timeout=T)
    assert not not_done
    assert len(list(as_completed(fs, timeout=T))) == len(fs)


@pytest.mark.parametrize("method", METHODS)
def test_stdlib_waits_see_cancelled_futures(
    make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
) -> None:
    """wait() and as_completed() return for futures cancelled queued, running, or by the pool."""
    pool = make_pool(1, method=method, grace=0.2)
    marker = tmp_path / "started"
    running = pool.submit(pt.started_then_sleep, str(marker), 60)
    queued = pool.submit(pow, 2, 3)
    pt.wait_for(marker, T)
    assert running.cancel()
    assert queued.cancel()
    _notified([running, queued])
    marker.unlink()
    running = pool.submit(pt.started_then_sleep, str(marker), 60)
    queued = pool.submit(pow, 2, 3)
    pt.wait_for(marker, T)
    pool.terminate()
    assert running.cancelled()
    assert queued.cancelled()
    _notified([running, queued])


def test_stdlib_waits_see_futures_cancelled_by_shutdown(
    make_pool: Callable[..., SupervisedPool], tmp_path: Path
) -> None:
    """shutdown(cancel_futures=True): the queued futures it cancels are notified."""
    pool = make_pool(1)
    marker = tmp_path / "started"
    running = pool.submit(pt.started_then_sleep, str(marker), 0.5, "ran")
    queued = [pool.submit(pow, 2, i) for i in range(3)]
    pt.wait_for(marker, T)
    pool.shutdown(wait=True, cancel_futures=True)
    assert running.result(0) == "ran"
    assert all(f.cancelled() for f in queued)
    _notified([running, *queued])


@pytest.mark.parametrize("method", METHODS)
def test_a_hanging_initializer_counts_against_task_timeout(
    make_pool: Callable[..., SupervisedPool], method: str
) -> None:
    """Each worker is killed past task_timeout in its initializer; the pool breaks, clearly."""
    pool = make_pool(2, method=method, initializer=ft.hang_init, task_timeout=0.5, grace=0.2)
    fs = [pool.submit(pow, 2, i) for i in range(3)]
    _, not_done = wait(fs, timeout=T)  # the pool fails them one by one: wait for all
    assert not not_done
    err = fs[0].exception(0)
    assert type(err) is BrokenProcessPool
    assert str(err) == (
        "the pool's workers failed in their initializer 3 times in a row: "
        "TimeoutError: the initializer did not return within task_timeout (0.5 s)"
    )
    assert all(type(f.exception(0)) is BrokenProcessPool for f in fs)
    done = threading.Event()
    threading.Thread(target=lambda: (pool.shutdown(wait=True), done.set()), daemon=True).start()
    assert done.wait(T)


@pytest.mark.parametrize("method", METHODS)
def test_an_initializer_that_hangs_once_costs_its_worker_alone(
    make_pool: Callable[..., SupervisedPool], method: str, tmp_path: Path
) -> None:
    """Killed past task_timeout and replaced: the waiting tasks run in the new worker."""
    flag = tmp_path / "hung-once"
    pool = make_pool(
        1,
        method=method,
        initializer=ft.hang_once,
        initargs=(str(flag),),
        task_timeout=0.5,
        grace=0.2,
    )
    fs = [pool.submit(pt.pid_of) for _ in range(3)]
    pids = {f.result(T) for f in fs}
    hung = int(flag.read_text())
    assert len(pids) == 1
    assert hung not in pids
    assert hung in pool._worker_pids(ever=True)
    assert pool.submit(pow, 2, 5).result(T) == 32
    done = threading.Event()
    threading.Thread(target=lambda: (pool.shutdown(wait=True), done.set()), daemon=True).start()
    assert done.wait(T)


@pytest.mark.parametrize("order", ["cancel_futures", "terminate"])
def test_a_hanging_initializer_without_task_timeout_is_not_limited(
    make_pool: Callable[..., SupervisedPool], order: str, tmp_path: Path
) -> None:
    """No limit (as ProcessPoolExecutor's): tasks wait; cancel_futures or terminate() end it."""
    flag = tmp_path / "hung-once"
    pool = make_pool(1, initializer=ft.hang_once, initargs=(str(flag),))
    fs = [pool.submit(pow, 2, i) for i in range(3)]
    pt.wait_for(flag, T)  # in its initializer now, for an hour
    assert not any(f.done() for f in fs)
    done = threading.Event()
    if order == "terminate":
        end: Callable[[], None] = pool.terminate
    else:
        end = lambda: pool.shutdown(wait=True, cancel_futures=True)  # noqa: E731
    threading.Thread(target=lambda: (end(), done.set()), daemon=True).start()
    assert done.wait(T)
    assert all(f.cancelled() for f in fs)
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())


@pytest.mark.parametrize("method", METHODS)
def test_an_argument_the_worker_cannot_unpickle_fails_its_item_alone(
    make_pool: Callable[..., SupervisedPool], method: str
) -> None:
    """In a chunk, the other items of the segment run."""
    pool = make_pool(2, method=method)
    items: list[Any] = list(range(20))
    items[5] = ft.WorkerUnpickle(os.getpid())
    records = list(map_settled(ft.first, items, executor=pool, chunksize=10, timeout=T))
    rejected = [
        (r.index, type(r.reason), str(r.reason)) for r in records if r.status != "fulfilled"
    ]
    assert rejected == [(5, ValueError, "cannot rebuild this argument in a worker")]
    assert [r.value for r in records if r.index != 5] == [i for i in range(20) if i != 5]
    pool.shutdown(wait=True)


@pytest.mark.parametrize("raise_it", [True, False])
def test_an_outcome_the_parent_cannot_unpickle_fails_its_item_alone(
    make_pool: Callable[..., SupervisedPool], raise_it: bool
) -> None:
    """A raised exception or a returned value: the other items of its batch keep their values."""
    pool = make_pool(2)
    fn = functools.partial(ft.bad_at_5, pid=os.getpid(), raise_it=raise_it)
    records = list(map_settled(fn, range(20), executor=pool, chunksize=10, timeout=T))
    rejected = [
        (r.index, type(r.reason), str(r.reason)) for r in records if r.status != "fulfilled"
    ]
    assert rejected == [(5, ImportError, "cannot rebuild ParentUnpickle here")]
    assert [r.value for r in records if r.index != 5] == [i for i in range(20) if i != 5]
    pool.shutdown(wait=True)


@pytest.mark.parametrize("order", ["shutdown", "terminate"])
def test_shutdown_or_terminate_from_a_done_callback(
    make_pool: Callable[..., SupervisedPool], order: str, tmp_path: Path
) -> None:
    """In the supervisor's thread: shutdown() lets the queue finish; neither raises."""
    pool = make_pool(1)
    gate = tmp_path / "gate"
    first = pool.submit(pt.wait_for, gate, T)
    rest = [pool.submit(pow, 2, i) for i in range(5)]
    seen: list[object] = []
    called = threading.Event()

    def callback(_: Future[Any]) -> None:
        try:
            pool.shutdown(wait=True) if order == "shutdown" else pool.terminate()
            seen.append(threading.current_thread().name)
        except BaseException as exc:
            seen.append(exc)
        called.set()

    first.add_done_callback(callback)
    gate.write_text("go")
    assert called.wait(T)
    assert seen == ["SupervisedPool"]
    _, not_done = wait(rest, timeout=T)
    assert not not_done
    if order == "shutdown":
        assert [f.result(0) for f in rest] == [2**i for i in range(5)]
    pool.shutdown(wait=True)
    assert pool._worker_pids() == []


def test_forkserver_workers_holding_the_gil_die_with_an_unreaped_parent() -> None:
    """The parent SIGKILLed and left a zombie; a worker spins in C: none survives 2.5 s."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = """
        import multiprocessing, time
        import pool_fix_tasks as ft
        from futures_settle import SupervisedPool
        pool = SupervisedPool(2, mp_context=multiprocessing.get_context("forkserver"))
        spin = pool.submit(ft.c_spin)
        busy = pool.submit(time.sleep, 60)
        while len(pool._worker_pids()) < 2:
            time.sleep(0.01)
        time.sleep(0.3)
        server = multiprocessing.forkserver._forkserver._forkserver_pid
        print(*pool._worker_pids(), server, flush=True)
        time.sleep(60)
        """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([here, *sys.path]))
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    pids: list[int] = []
    try:
        assert child.stdout is not None
        pids = [int(p) for p in child.stdout.readline().split()]
        assert len(pids) == 3, child.stderr.read() if child.stderr else ""
        os.kill(child.pid, signal.SIGKILL)  # not reaped yet: a zombie
        deadline = time.monotonic() + 2.5
        while not pt.gone(pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        survivors = not pt.gone(pids)
    finally:
        for pid in pids:  # ours (workers, forkserver): none left even when the test fails
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        child.kill()
        child.communicate(timeout=T)
    assert not survivors, "workers outlived their parent"


@pytest.mark.parametrize("then", ["return", "raise"])
@pytest.mark.parametrize("method", METHODS)
def test_a_task_that_catches_the_stop_still_times_out(
    make_pool: Callable[..., SupervisedPool], method: str, then: str, tmp_path: Path
) -> None:
    """It returns or raises after the stop: TaskTimeoutError all the same; its worker lives on."""
    pool = make_pool(1, method=method, task_timeout=0.3, grace=5)
    f = pool.submit(ft.catches_the_stop, str(tmp_path / "m"), then)
    err = f.exception(T)
    assert type(err) is TaskTimeoutError
    assert (err.timeout, err.killed) == (0.3, False)
    assert pool.submit(pt.pid_of).result(T) == err.pid


@pytest.mark.parametrize("then", ["return", "raise"])
def test_a_cancelled_task_that_catches_the_stop_stays_cancelled(
    make_pool: Callable[..., SupervisedPool], then: str, tmp_path: Path
) -> None:
    """cancel() on it: cancelled, whatever it does next; the next task runs in its worker."""
    pool = make_pool(1, grace=5)
    marker = tmp_path / "m"
    f = pool.submit(ft.catches_the_stop, str(marker), then)
    pid = int(pt.wait_for(marker, T))
    assert f.cancel()
    assert pool.submit(pt.pid_of).result(T) == pid
    assert f.cancelled()


def test_a_chunk_item_that_catches_the_stop_times_out_alone(
    make_pool: Callable[..., SupervisedPool], tmp_path: Path
) -> None:
    """In a map's chunk: that item Rejected(TaskTimeoutError), its neighbours their values."""
    pool = make_pool(1, task_timeout=0.3, grace=5)
    fn = functools.partial(ft.catches_unless, str(tmp_path / "m"))
    records = list(map_settled(fn, range(6), executor=pool, chunksize=6, timeout=T))
    assert [type(r.reason) for r in records if r.status != "fulfilled"] == [TaskTimeoutError]
    assert [r.index for r in records if r.status != "fulfilled"] == [3]
    assert [r.value for r in records if r.index != 3] == [0, 1, 2, 4, 5]


def test_a_stop_that_meets_the_return_gives_one_of_the_two_outcomes(
    make_pool: Callable[..., SupervisedPool], tmp_path: Path
) -> None:
    """Tasks that end about at their limit: each its value or TaskTimeoutError, none killed.

    Whichever comes first, the return or the pool's stop, decides: never what the task does
    after the stop (here a value of its own), and never a kill for a stop that met a return.
    """
    pool = make_pool(1, task_timeout=0.05, grace=10)
    fs = [
        pool.submit(ft.catches_the_stop, str(tmp_path / f"m{i}"), "return", 0.05) for i in range(40)
    ]
    outcomes = [f.exception(T) or f.result(0) for f in fs]
    assert {o if isinstance(o, str) else type(o) for o in outcomes} <= {"slept", TaskTimeoutError}
    assert not any(isinstance(o, TaskTimeoutError) and o.killed for o in outcomes)
    assert len(pool._worker_pids(ever=True)) == 1


@pytest.mark.parametrize("how", ["return", "exit", "raise"])
@pytest.mark.parametrize("method", METHODS)
def test_a_fork_of_a_task_never_speaks_for_its_worker(
    make_pool: Callable[..., SupervisedPool], method: str, how: str
) -> None:
    """The task's fork child ends where it leaves the task: the worker alone answers."""
    pool = make_pool(1, method=method)
    code = {"return": 0, "exit": 5, "raise": 1}[how]
    assert pool.submit(ft.forks, how).result(T) == ("parent", code)
    assert [f.result(T) for f in [pool.submit(pow, 2, i) for i in range(20)]] == [
        2**i for i in range(20)
    ]
    assert len(pool._worker_pids(ever=True)) == 1


@pytest.mark.parametrize("method", METHODS)
def test_a_message_for_another_job_is_never_attributed(
    make_pool: Callable[..., SupervisedPool], method: str
) -> None:
    """A result for a job the worker does not hold: the worker is killed, its task fails alone."""
    pool = make_pool(1, method=method)
    f = pool.submit(ft.forges_a_message, 10**6)
    err = f.exception(T)
    assert type(err) is WorkerDiedError
    assert err.__notes__ == [
        "the pool killed the worker: its pipe carried a message for work it did not hold "
        "(a process the task forked, writing on the worker's pipe?)"
    ]
    assert [f.result(T) for f in [pool.submit(pow, 2, i) for i in range(20)]] == [
        2**i for i in range(20)
    ]


def test_a_worker_reaped_twice_gives_its_exit_code_again() -> None:
    """A second reap (a break while a death is handled) reads no closed Process."""
    from futures_settle._pool.handle import Handle

    h = Handle(multiprocessing.get_context("spawn"), None, (), None, False)
    h.kill()
    assert h.reap() == -signal.SIGKILL
    assert h.reap() == -signal.SIGKILL
    assert pt.gone([h.pid])


@pytest.mark.parametrize("method", METHODS)
def test_a_cancelled_task_that_a_race_let_start_is_stopped_all_the_same(
    make_pool: Callable[..., Any], method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cancel() of a task its worker is about to start can lose the race on the slot (seen:
    a map left early, its chunks cancelled while a worker began one after a given-back
    gap, ran its 60 s item and held the pool's exit). The supervisor's loop stops a
    running item whose future is cancelled, whatever ``_cancel`` managed: here ``_cancel``
    only sends its message, the race lost every time."""
    from futures_settle._pool import worker as w_
    from futures_settle._pool.supervisor import Supervisor

    def message_only(self: Any, future: Future[Any]) -> None:
        for h in self.workers:
            for seg in h.segments:
                if seg.job.future is future:
                    h.send(w_.cancel_message(seg.job.id))

    monkeypatch.setattr(Supervisor, "_cancel", message_only)
    pool = make_pool(1, method=method, grace=0.5)
    f = pool.submit(pt.started_then_sleep, str(tmp_path / "m"), 60)
    pt.wait_for(tmp_path / "m")
    start = time.monotonic()
    assert f.cancel()
    pool.shutdown(wait=True)
    assert time.monotonic() - start < 20  # the item sleeps 60 s: only a stop ends it sooner
    assert f.cancelled()
