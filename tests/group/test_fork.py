"""A group's life across ``os.fork()``: the group belongs to the process that opened it.

Defect 6 of issue 17: a child forked in the body that left the inherited
group (``sys.exit()``, an exception, the end of the block) ran its exit:
it wrote "cancelled" into the parent's shared flag (the parent's task was
stopped), waited for tasks it could not see (it hung), and on Ctrl-C
removed the parent's flag file. Now the child's copy does nothing and its
methods refuse. Each test forks at one stage of a group's life; the child
reports through its exit status and never returns into pytest.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from futures_settle import TaskGroup

from helpers import group_tasks

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform"),
]


def fork() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        return os.fork()


def wait_child(pid: int, seconds: float = 20) -> int | None:
    """The child's exit code, or None if it hung (then it is killed)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None


def leave_by(how: str) -> None:
    """How the child leaves the inherited group's block."""
    if how == "exit":
        raise SystemExit(0)
    if how == "error":
        raise ValueError("child")
    if how == "ctrl-c":
        raise KeyboardInterrupt


HOWS = ["end", "exit", "error", "ctrl-c"]


@pytest.mark.parametrize("how", HOWS)
def test_a_child_forked_in_the_body_leaves_the_parents_group_alone(
    how: str, process_pool: ProcessPoolExecutor, manager: Any
) -> None:
    """The child's exit returns at once; the parent's running task is not cancelled and
    its flag file stays until the parent's group ends."""
    parent = os.getpid()
    started, gate = manager.Event(), manager.Event()
    code: int | None = -1
    try:
        with TaskGroup(process_pool, mode="settled", timeout=30) as tg:
            task = tg.submit(group_tasks.cancelled_when, started, gate)
            assert started.wait(30)
            assert tg._flag is not None
            path = tg._flag.path  # type: ignore[union-attr]
            pid = fork()
            if pid == 0:
                leave_by(how)
            else:
                code = wait_child(pid)
                assert os.path.exists(path), "the child removed the parent's flag file"
                gate.set()
    except BaseException:
        if os.getpid() != parent:
            os._exit(0)  # the child left the block as the parent's group let it
        raise
    if os.getpid() != parent:
        os._exit(0)
    assert code == 0, "the child hung in the inherited group's exit"
    assert task.result() is False, "the child's exit cancelled the parent's task"
    assert not os.path.exists(path)


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("submit", lambda tg: tg.submit(int, "1")),
        ("cancel", lambda tg: tg.cancel()),
        ("as_settled", lambda tg: tg.as_settled()),
        ("result", lambda tg: tg.result()),
    ],
)
def test_a_childs_copy_refuses_clearly(
    method: str, call: Callable[[TaskGroup[Any]], object], process_pool: ProcessPoolExecutor
) -> None:
    parent = os.getpid()
    with TaskGroup(process_pool) as tg:
        pid = fork()
        if pid == 0:
            status = 1
            try:
                call(tg)
            except RuntimeError as error:
                expected = (
                    f"TaskGroup.{method}() called in a forked child: the group belongs "
                    f"to the process that opened it"
                )
                status = 0 if str(error) == expected else 2
            finally:
                os._exit(status)
        code = wait_child(pid)
    assert os.getpid() == parent
    assert code == 0
    assert tg.result() == []


def test_a_child_forked_after_the_exit_reads_the_answer(
    process_pool: ProcessPoolExecutor,
) -> None:
    """A finished group is plain data: the child reads the same answer."""
    with TaskGroup(process_pool) as tg:
        tg.submit(int, "7")
    pid = fork()
    if pid == 0:
        os._exit(0 if tg.result() == [7] else 1)
    assert wait_child(pid) == 0


def test_a_child_forked_from_a_task_while_the_exit_waits() -> None:
    """Forked from a worker thread while the parent's exit waits: the child's copy is
    FORKED, its cancel refused; the parent's group ends as usual."""
    from concurrent.futures import ThreadPoolExecutor

    codes: list[int | None] = []

    def task(tg: TaskGroup[Any]) -> str:
        while not tg._idlers:  # until the exit waits
            time.sleep(0.001)
        pid = fork()
        if pid == 0:
            try:
                tg.cancel()
            except RuntimeError:
                os._exit(0)
            os._exit(1)
        codes.append(wait_child(pid))
        return "done"

    with ThreadPoolExecutor(1) as pool, TaskGroup(pool) as tg:
        tg.submit(task, tg)
    assert codes == [0]
    assert tg.result() == ["done"]


def test_a_child_forked_before_the_group_is_entered_opens_its_own_copy() -> None:
    """A group made but not entered is nobody's yet: parent and child each open their copy,
    run their own tasks and read their own answer."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1)  # no thread yet: the child's copy starts its own
    tg: TaskGroup[int] = TaskGroup(pool, timeout=20)
    parent = os.getpid()
    pid = fork()
    if pid == 0:
        status = 1
        try:
            with tg:
                tg.submit(int, "2")
            status = 0 if tg.result() == [2] else 2
        finally:
            os._exit(status)
    with pool, tg:
        tg.submit(int, "1")
    assert os.getpid() == parent
    assert wait_child(pid) == 0
    assert tg.result() == [1]


def test_a_child_forked_while_the_group_is_entered_gets_a_refusing_copy(
    monkeypatch: pytest.MonkeyPatch, process_pool: ProcessPoolExecutor
) -> None:
    """A fork from another thread at the first step of ``__enter__`` (the state says open,
    nothing is made yet): the child's copy belongs to the parent and refuses."""
    from futures_settle._group import group as group_module

    parent = os.getpid()
    real_open = group_module.open_group
    codes: list[int | None] = []

    def fork_then_open(group: Any) -> None:
        pid = fork()
        if pid == 0:
            status = 1
            try:
                group.submit(int, "1")
            except RuntimeError as error:
                status = 0 if "called in a forked child" in str(error) else 2
            finally:
                os._exit(status)
        codes.append(wait_child(pid))
        real_open(group)

    monkeypatch.setattr(group_module, "open_group", fork_then_open)
    with TaskGroup(process_pool, timeout=20) as tg:
        tg.submit(int, "5")
    assert os.getpid() == parent
    assert codes == [0], "the child's copy of a group being entered took a task"
    assert tg.result() == [5]
