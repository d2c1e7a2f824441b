"""What a group leaves behind: flag files of dead creators, a flag from a failed entry,
a thread per deadline (issue 17, "also found")."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from futures_settle import TaskGroup
from futures_settle._group import cancelflag

from helpers.interrupts import interrupt_at, lines_of

pytestmark = pytest.mark.timeout(60)

FLAG_DIR = cancelflag._DIR or tempfile.gettempdir()


def dead_pid() -> int:
    """The pid of a process that has exited (and was reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(30)
    return child.pid


def fake_flag(pid: int, ns: str, n: int = 0) -> Path:
    path = Path(FLAG_DIR) / f"futures_settle-{pid}-{ns}-{n}-test{os.getpid()}.flag"
    path.write_bytes(b"\0")
    return path


def test_stale_flag_files_are_removed_at_the_next_groups_creation(
    process_pool: ProcessPoolExecutor,
) -> None:
    """A dead creator in our pid namespace, or a file older than this boot: removed.
    A live creator, or a dead one in another namespace: kept."""
    from futures_settle._group import staleflags

    ns = staleflags.namespace()
    dead = fake_flag(dead_pid(), ns, 1)
    alive = fake_flag(os.getppid(), ns, 2)
    other_ns = fake_flag(dead_pid(), "1", 3)
    old_boot = fake_flag(os.getppid(), ns, 4)
    os.utime(old_boot, (0, 0))  # last written in 1970: before this boot
    try:
        staleflags._last[0] = -staleflags.EVERY  # as in a new process
        with TaskGroup(process_pool) as tg:
            tg.submit(int, "1")
        assert tg.result() == [1]
        assert not dead.exists(), "a flag file of a dead creator stayed"
        assert not old_boot.exists(), "a flag file from before this boot stayed"
        assert alive.exists()
        assert other_ns.exists()
    finally:
        for path in (dead, alive, other_ns, old_boot):
            path.unlink(missing_ok=True)


def test_a_killed_process_leaves_no_flag_for_ever(tmp_path: Path) -> None:
    """A process SIGKILLed with a group open leaves its file; the next group removes it."""
    script = (
        "import os, sys\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from futures_settle import TaskGroup\n"
        "if __name__ == '__main__':\n"
        "    tg = TaskGroup(ProcessPoolExecutor(1)).__enter__()\n"
        "    print(tg._flag.path, flush=True)\n"
        "    os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    from futures_settle._group import staleflags

    path = Path(done.stdout.strip())
    try:
        assert path.exists()
        staleflags._last[0] = -staleflags.EVERY
        flag = cancelflag.CancelFlag()
        flag.close()
        assert not path.exists()
    finally:
        path.unlink(missing_ok=True)


def _flag_files() -> set[str]:
    return {p for p in os.listdir(FLAG_DIR) if p.startswith(f"futures_settle-{os.getpid()}-")}


def entry_step(name: str) -> Callable[..., Any]:
    if name == "__enter__":
        return TaskGroup.__enter__
    from futures_settle._group.opening import open_group

    return open_group


@pytest.mark.parametrize("name", ["__enter__", "open_group"])
def test_a_ctrl_c_in_the_entry_leaves_no_flag_file(
    name: str, process_pool: ProcessPoolExecutor
) -> None:
    """At each line of the entry: no flag file stays, and the group is not left open."""
    func = entry_step(name)
    before = _flag_files()
    fired = 0
    for lineno in lines_of(func):
        tracer, armed = interrupt_at(func, lineno)
        tg: TaskGroup[Any] = TaskGroup(process_pool, timeout=30)
        sys.settrace(tracer)
        try:
            tg.__enter__()
        except KeyboardInterrupt:
            pass
        else:
            tg.__exit__(None, None, None)
        finally:
            sys.settrace(None)
        if armed[0]:
            continue
        fired += 1
        assert _flag_files() == before, f"line {lineno}: a flag file stayed"
        with pytest.raises(RuntimeError, match=r"^TaskGroup.submit\(\) called (before|after)"):
            tg.submit(int, "1")  # not left open
    assert fired >= 3


def test_groups_with_a_timeout_share_one_thread() -> None:
    """Fifty groups open at once, each with a timeout: one watch thread, not fifty timers."""
    with ThreadPoolExecutor(1) as pool:
        TaskGroup(pool, timeout=30).__enter__().__exit__(None, None, None)  # the thread is up
        before = threading.active_count()
        groups = [TaskGroup(pool, timeout=30).__enter__() for _ in range(50)]
        during = threading.active_count()
        for tg in groups:
            tg.__exit__(None, None, None)
    assert during - before <= 0
