"""TaskGroup on process pools and loky: the flag reaches other processes."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future
from pathlib import Path
from typing import Any

import pytest

from futures_settle import Fulfilled, Rejected, SettleTimeoutError, TaskGroup

from helpers import group_tasks, tasks

MODES = ("all", "settled", "any", "first")

pytestmark = pytest.mark.timeout(60)

WORKERS = 2  # both pools of conftest have two workers
# What a pool may have handed to its workers' call queue already.
CALL_QUEUE = {"process": WORKERS + 1, "loky": 2 * WORKERS + 1}


@pytest.fixture(params=["process", "loky"])
def engine(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_pool")


@pytest.fixture
def events(manager: Any) -> Iterator[Callable[[], Any]]:
    """Make events that process workers can wait on; all are set at teardown."""
    made: list[Any] = []

    def make() -> Any:
        made.append(manager.Event())
        return made[-1]

    try:
        yield make
    finally:
        for ev in made:
            ev.set()


def run(tg: TaskGroup[Any], body: Callable[[TaskGroup[Any]], object]) -> TaskGroup[Any]:
    with tg:
        body(tg)
    return tg


def outcome(f: Future[Any]) -> BaseException | None:
    return CancelledError() if f.cancelled() else f.exception()


def test_modes(engine: Any) -> None:
    """Values in submit order, records, the first success, the first to settle."""
    with TaskGroup(engine) as tg:
        for i in range(6):
            tg.submit(tasks.square, i)
    assert tg.result() == [i * i for i in range(6)]
    with TaskGroup(engine, mode="settled") as tg2:
        tg2.submit(tasks.identity, "user data")
        tg2.submit(tasks.fail, "DB error")
    ok, bad = tg2.result()
    assert ok == Fulfilled("user data", 0)
    assert isinstance(bad, Rejected)
    assert str(bad.reason) == "DB error"
    with TaskGroup(engine, mode="any") as tg3:
        tg3.submit(tasks.fail, "down")
        tg3.submit(tasks.identity, "mirror")
    assert tg3.result() == "mirror"
    with pytest.raises(ExceptionGroup) as info:
        run(TaskGroup(engine), lambda tg: tg.submit(tasks.fail, "boom"))
    assert [str(e) for e in info.value.exceptions] == ["boom"]


def test_first_and_body(engine: Any, events: Callable[[], Any]) -> None:
    """ "first": the first to settle wins; a body exception joins the tasks' failures."""
    gate = events()
    with TaskGroup(engine, mode="first") as tg:
        tg.submit(tasks.block, gate, "slow")
        tg.submit(tasks.identity, "quick").exception(30)
        gate.set()  # "slow" may have started: the exit waits for it
    assert tg.result() == "quick"

    def body(tg: TaskGroup[Any]) -> None:
        tg.submit(tasks.fail, "task failed").exception(30)
        raise KeyError("body failed")

    with pytest.raises(ExceptionGroup) as info:
        run(TaskGroup(engine), body)
    assert [repr(e) for e in info.value.exceptions] == [
        "KeyError('body failed')",
        "ValueError('task failed')",
    ]


def test_settled_deadline_records(engine: Any, events: Callable[[], Any]) -> None:
    """mode="settled" at the deadline: the stopped tasks give Rejected(SettleTimeoutError)."""
    started = events()
    with TaskGroup(engine, mode="settled", timeout=1.0) as tg:
        tg.submit(tasks.identity, "early").result(30)
        tg.submit(group_tasks.spin, started)
        started.wait(30)
    early, spun = tg.result()
    assert early == Fulfilled("early", 0)
    assert isinstance(spun, Rejected)
    assert isinstance(spun.reason, SettleTimeoutError)
    assert spun.reason.index == 1


def test_ctrl_c_does_not_wait_for_workers(engine: Any, events: Callable[[], Any]) -> None:
    """KeyboardInterrupt in the body propagates at once; the running task is left alone."""
    gate, started = events(), events()
    got: list[Future[Any]] = []

    def body(tg: TaskGroup[Any]) -> None:
        got.append(tg.submit(group_tasks.hold, started, gate, "done"))
        started.wait(30)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(TaskGroup(engine), body)
    assert not got[0].done()
    gate.set()
    assert got[0].result(30) == "done"


@pytest.mark.parametrize("cause", ["failure", "winner", "deadline", "cancel", "body"])
def test_cancelling_stops_queued_tasks_and_reaches_workers(
    engine: Any, events: Callable[[], Any], tmp_path: Path, cause: str
) -> None:
    """Queued tasks are cancelled; at most max_workers + 1 start, and those see the flag.

    The spinning tasks in the workers stop through check_cancelled(): the
    flag reached another process.
    """
    started = [events(), events()]
    go = events()
    got: dict[str, Any] = {}

    def body(tg: TaskGroup[Any]) -> None:
        got["spinner"] = tg.submit(group_tasks.spin, started[0])
        if cause == "failure":
            tg.submit(group_tasks.fail_when, go, "boom")
        elif cause == "winner":
            tg.submit(group_tasks.return_when, go, "won")
        else:
            tg.submit(group_tasks.spin, started[1])
            started[1].wait(30)
        got["queued"] = [tg.submit(group_tasks.touch, str(tmp_path), str(i)) for i in range(12)]
        started[0].wait(30)
        go.set()
        if cause == "cancel":
            tg.cancel()
        elif cause == "body":
            raise RuntimeError("body failed")

    mode: Any = "any" if cause == "winner" else "all"
    tg: TaskGroup[Any] = TaskGroup(engine, mode=mode, timeout=1 if cause == "deadline" else None)
    if cause in ("winner", "cancel"):
        run(tg, body)
    else:
        with pytest.raises(BaseException) as info:
            run(tg, body)
        expected = {"failure": ExceptionGroup, "deadline": SettleTimeoutError}
        assert isinstance(info.value, expected.get(cause, ExceptionGroup))
    queued = got["queued"]
    bound = CALL_QUEUE["loky" if "loky" in type(engine).__module__ else "process"]
    assert all(f.done() for f in queued)
    started_anyway = [f for f in queued if not f.cancelled()]
    assert len(started_anyway) <= (bound if cause in ("cancel", "body", "deadline") else 2 * bound)
    ran = sorted(p.name for p in tmp_path.iterdir())
    if cause in ("cancel", "body", "deadline"):
        # Both workers were busy until the flag was set: nothing ran.
        assert ran == []
        assert all(type(outcome(f)) is CancelledError for f in queued)
    else:
        # The worker freed by the trigger may run tasks from the call queue
        # before the pool reports the trigger; the pool refills it meanwhile
        # at most once more.
        assert len(ran) <= 2 * bound
    assert type(outcome(got["spinner"])) is CancelledError


def test_exit_waits_for_running_tasks(engine: Any, events: Callable[[], Any]) -> None:
    """A task that ignores the flag is waited for, also after a failure."""
    gate, started = events(), events()
    got: list[Future[Any]] = []

    def body(tg: TaskGroup[Any]) -> None:
        got.append(tg.submit(group_tasks.hold, started, gate, "done"))
        started.wait(30)
        tg.submit(tasks.fail, "boom").exception(30)
        threading.Timer(0.05, gate.set).start()  # how late does not matter

    with pytest.raises(ExceptionGroup):
        run(TaskGroup(engine), body)
    assert got[0].done()
    assert got[0].result() == "done"


def test_check_cancelled_in_a_worker_outside_a_group(engine: Any) -> None:
    assert engine.submit(group_tasks.cancelled_now).result(30) is False
    with TaskGroup(engine) as tg:
        f = tg.submit(group_tasks.cancelled_now)
    assert f.result() is False


def test_a_task_cannot_carry_its_group(engine: Any) -> None:
    def body(tg: TaskGroup[Any]) -> None:
        tg.submit(tasks.identity, tg).result(30)

    with pytest.raises(ExceptionGroup) as info:
        run(TaskGroup(engine), body)
    for error in info.value.exceptions:
        messages = f"{error} {error.__cause__}"
        assert "a TaskGroup cannot be sent to another process" in messages


def _flag_files() -> set[str]:
    directory = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    return {n for n in os.listdir(directory) if n.startswith(f"futures_settle-{os.getpid()}-")}


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files in /proc")
def test_many_groups_leave_no_flag_files_or_descriptors(engine: Any) -> None:
    """Groups one after another, failing, cancelled or not: no flag file, no descriptor left."""

    def groups() -> None:
        for i in range(40):
            with contextlib.suppress(Exception), TaskGroup(engine, mode=MODES[i % 4]) as tg:  # type: ignore[call-overload]
                tg.submit(tasks.identity, i)
                tg.submit(int, "x" if i % 3 else "1")
                if i % 5 == 0:
                    tg.cancel()

    groups()  # the pool starts its workers (their pipes) on demand
    files, fds = _flag_files(), _open_fds()
    groups()
    assert _flag_files() == files
    assert _open_fds() == fds
