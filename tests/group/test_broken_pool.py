"""A worker that dies under a process-pool group: the pool fails its tasks, and shuts down.

Defect 5 of issue 17: on Python 3.11 the stdlib's manager thread fails a
broken pool's pending futures one by one; the first ran the group's
callback, which cancelled the other queued futures right there, and the
manager then hit ``InvalidStateError`` on a cancelled future and died before
it stopped the surviving workers: they outlived ``shutdown()`` and the
interpreter hung at its exit. The scenario runs in a child interpreter, so
that a hang is a timeout here and a surviving worker is a pid still alive.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.timeout(120)

SCRIPT = textwrap.dedent(
    """
    import multiprocessing, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from futures_settle import TaskGroup

    def die():
        os._exit(3)

    def wait():
        time.sleep(2)  # longer than the pool takes to see a worker die (then it is killed)
        return 1

    if __name__ == "__main__":
        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(sys.argv[1]))
        pool.submit(int).result()
        print(*pool._processes, flush=True)
        try:
            with TaskGroup(pool, mode=sys.argv[2]) as tg:
                tg.submit(die)  # first: the first outcome, in either mode
                for _ in range(12):
                    tg.submit(wait)
        except BaseException as e:
            names = {type(x).__name__ for x in getattr(e, "exceptions", [e])}
            print(type(e).__name__, *sorted(names), flush=True)
        else:
            print("no error", flush=True)
        pool.shutdown(wait=True)
        print("shut down", flush=True)
    """
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("mode", ["all", pytest.param("first", marks=pytest.mark.stress)])
def test_a_dead_worker_breaks_the_pool_not_its_manager(mode: str, start_method: str) -> None:
    """The group lets the pool fail its futures: the exit reports BrokenProcessPool, the
    pool's manager thread lives on to stop every worker, the interpreter exits."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, start_method, mode],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert "InvalidStateError" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    pids = [int(p) for p in lines[0].split()]
    assert lines[1:] == [
        "ExceptionGroup BrokenProcessPool"
        if mode == "all"
        else "BrokenProcessPool BrokenProcessPool",
        "shut down",
    ]
    assert [p for p in pids if alive(p)] == []
