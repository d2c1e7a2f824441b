"""SupervisedPool's workers never outlive it (a parent killed, a Ctrl-C); the soak under kills."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import wait
from pathlib import Path

import pytest

from futures_settle import SupervisedPool, WorkerDiedError

from helpers import pool_tasks as pt

METHODS = ("fork", "forkserver", "spawn")
T = 30
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _child(script: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, *sys.path]))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_gone(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pt.gone(pids):
            return True
        time.sleep(0.02)
    return pt.gone(pids)


@pytest.mark.parametrize("method", METHODS)
def test_workers_exit_when_the_parent_is_killed(method: str) -> None:
    """A parent killed with SIGKILL (no cleanup runs) leaves no worker two seconds later."""
    child = _child(
        f"""
        import multiprocessing, time
        from helpers import pool_tasks as pt
        from futures_settle import SupervisedPool
        pool = SupervisedPool(2, mp_context=multiprocessing.get_context({method!r}))
        busy = pool.submit(pt.sleep_for, 60)
        idle = pool.submit(pow, 2, 2).result(30)
        while len(pool._worker_pids()) < 2:
            time.sleep(0.01)
        print(*pool._worker_pids(), flush=True)
        time.sleep(60)
        """
    )
    try:
        assert child.stdout is not None
        pids = [int(p) for p in child.stdout.readline().split()]
        assert len(pids) == 2, child.stderr.read() if child.stderr else ""
        assert not pt.gone(pids)
        child.kill()
        child.wait(T)
        assert _wait_gone(pids, 2.5), "workers outlived their parent"
    finally:
        child.kill()
        child.communicate(timeout=T)


@pytest.mark.parametrize("method", METHODS)
def test_ctrl_c_stops_workers_and_propagates(method: str) -> None:
    """SIGINT in the parent during a map: KeyboardInterrupt within a second, no worker left."""
    child = _child(
        f"""
        import multiprocessing, os, signal, threading, time
        from helpers import pool_tasks as pt
        from futures_settle import SupervisedPool, map_settled
        pool = SupervisedPool(2, mp_context=multiprocessing.get_context({method!r}))
        pool.submit(pow, 2, 2).result(30)
        try:
            with pool:
                for record in map_settled(pt.sleep_for, [0.05] * 10 + [30] * 10, executor=pool):
                    if record.index == 3:
                        print(*pool._worker_pids(ever=True), flush=True)
                        start = time.monotonic()
                        os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            print("interrupted", round(time.monotonic() - start, 3), flush=True)
            print(*pool._worker_pids(ever=True), flush=True)
        """
    )
    try:
        out, err = child.communicate(timeout=T)
    finally:
        child.kill()
    lines = out.splitlines()
    assert len(lines) == 3, out + err
    word, seconds = lines[1].split()
    assert word == "interrupted"
    assert float(seconds) < 1.0
    pids = [int(p) for p in lines[2].split()]
    assert pt.gone(pids)


def test_ctrl_c_in_a_group_stops_workers_and_propagates(tmp_path: Path) -> None:
    """SIGINT in a group body on the pool: KeyboardInterrupt within a second, no worker left."""
    child = _child(
        f"""
        import os, signal, time
        from helpers import pool_tasks as pt
        from futures_settle import SupervisedPool, TaskGroup
        pool = SupervisedPool(2)
        try:
            with pool, TaskGroup(pool) as tg:
                for i in range(2):
                    tg.submit(pt.hang, {str(tmp_path)!r} + f"/m{{i}}")
                for i in range(2):
                    pt.wait_for(pt.Path({str(tmp_path)!r}) / f"m{{i}}")
                print(*pool._worker_pids(ever=True), flush=True)
                start = time.monotonic()
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(30)
        except KeyboardInterrupt:
            print("interrupted", round(time.monotonic() - start, 3), flush=True)
            print(*pool._worker_pids(ever=True), flush=True)
        """
    )
    try:
        out, err = child.communicate(timeout=T)
    finally:
        child.kill()
    lines = out.splitlines()
    assert len(lines) == 3, out + err
    word, seconds = lines[1].split()
    assert word == "interrupted"
    assert float(seconds) < 1.0
    assert pt.gone([int(p) for p in lines[2].split()])


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_pool_never_shut_down_ends_with_the_interpreter(method: str) -> None:
    """A pool dropped without shutdown() is shut down at exit: the process ends, no worker stays."""
    child = _child(
        f"""
        import multiprocessing
        from futures_settle import SupervisedPool
        pool = SupervisedPool(2, mp_context=multiprocessing.get_context({method!r}))
        print(pool.submit(pow, 2, 3).result(30), *pool._worker_pids(ever=True), flush=True)
        del pool
        """
    )
    try:
        out, err = child.communicate(timeout=T)
    finally:
        child.kill()
    assert child.returncode == 0, err
    value, *pids = out.split()
    assert value == "8"
    assert _wait_gone([int(p) for p in pids], 2.5)


def test_soak_kills_cost_one_task_each() -> None:
    """2 workers, 1,500 tasks of 2 ms, a worker SIGKILLed every 50 ms, 30 times."""
    _soak(tasks=1500, kills=30, every=0.05, method=None)


STRESS_SECONDS = float(os.environ.get("SOAK_SECONDS", "200"))  # per start method


@pytest.mark.stress
@pytest.mark.timeout(STRESS_SECONDS + 180)
@pytest.mark.parametrize("method", METHODS)
def test_soak_long(method: str, request: pytest.FixtureRequest) -> None:
    """The stress tier: kills at random moments for SOAK_SECONDS, under each start method.

    Kills come 0-30 ms apart with fork, 0-400 ms with forkserver and spawn,
    whose workers take a few hundred ms to start: faster, no worker would
    live long enough to run a task.
    """
    if "stress" not in str(request.config.getoption("markexpr", "")):
        # "-m processes" (CI's rerun per start method) replaces "-m 'not stress'".
        pytest.skip("the long soak runs only when asked for by name: -m stress")
    _soak(tasks=3000, kills=None, every=None, method=method, seconds=STRESS_SECONDS)


def _soak(
    tasks: int,
    kills: int | None,
    every: float | None,
    method: str | None,
    seconds: float = 0.0,
) -> None:
    """Rounds of ``tasks`` tasks of 2 ms under a killer thread, until ``seconds`` have passed."""
    import multiprocessing

    ctx = None if method is None else multiprocessing.get_context(method)
    pool = SupervisedPool(2, mp_context=ctx)
    done = threading.Event()
    killed: list[int] = []
    rng = random.Random(18)
    most = 0.03 if method in (None, "fork") else 0.4

    def killer() -> None:
        while (kills is None or len(killed) < kills) and not done.is_set():
            time.sleep(every if every is not None else rng.uniform(0, most))
            pids = pool._worker_pids()
            if pids:
                pid = rng.choice(pids)
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass

    thread = threading.Thread(target=killer)
    end = time.monotonic() + seconds
    died = total = 0
    try:
        thread.start()
        while True:
            futures = [pool.submit(pt.sleep_for, 0.002, i) for i in range(tasks)]
            _, pending = wait(futures, timeout=max(T, tasks * 0.05))
            assert not pending
            for i, f in enumerate(futures):
                err = f.exception()
                if err is None:
                    assert f.result() == i
                else:
                    assert isinstance(err, WorkerDiedError)
                    assert err.pid in killed
                    died += 1
            total += tasks
            if time.monotonic() >= end:
                break
        done.set()
        thread.join(T)
        assert died <= len(killed)
        assert kills is None or len(killed) == kills
        assert pool.submit(pow, 2, 5).result(T) == 32  # alive after
        if seconds:
            print(f"soak {method}: {total} tasks, {len(killed)} kills, {died} WorkerDiedError")
    finally:
        done.set()
        if thread.is_alive():
            thread.join(T)
        pool.shutdown()
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())


def test_forkserver_workers_holding_the_gil_die_with_an_unreaped_parent() -> None:
    """The parent SIGKILLed and left a zombie; a worker spins in C: none survives 2.5 s."""
    script = """
        import multiprocessing, time
        from helpers import pool_edge_tasks as ft
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
    child = _child(script)
    pids: list[int] = []
    try:
        assert child.stdout is not None
        pids = [int(p) for p in child.stdout.readline().split()]
        assert len(pids) == 3, child.stderr.read() if child.stderr else ""
        os.kill(child.pid, signal.SIGKILL)  # not reaped yet: a zombie
        survivors = not _wait_gone(pids, 2.5)
    finally:
        for pid in pids:  # ours (workers, forkserver): none left even when the test fails
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        child.kill()
        child.communicate(timeout=T)
    assert not survivors, "workers outlived their parent"
