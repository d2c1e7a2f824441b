"""Groups nested in tasks of other groups, and the deadline their tasks run under.

Defect 3 of issue 17: an outer group's cancellation did not reach the
groups opened in its tasks (their tasks read only their own flag, their
exits did not watch the outer group): ``TaskGroup(timeout=0.2)`` exited
after seconds with every leaf cooperative. Each test here nests groups
three deep (the outer one, one in its task, one in that group's task,
whose leaf spins until cancelled, 30 s at most): the leaf must be stopped
by each cause of the outer cancel, on threads and with the outer group on
a process pool. ``remaining()`` in a task is the nearer of its group's
deadline and the outer one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Any

import pytest

from futures_settle import SettleTimeoutError, TaskGroup, remaining

from helpers import group_tasks

pytestmark = pytest.mark.timeout(60)

CAUSES = ("failure", "deadline", "cancel", "body")
DEPTH = 2  # groups the outer task opens: three deep with the outer one


@pytest.fixture(params=["threads", "processes"])
def outer_pool(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Where the outer group runs its task: a pool of its own (the task holds a worker)."""
    if request.param == "threads":
        with ThreadPoolExecutor(2) as pool:
            yield pool
    else:
        pool = request.getfixturevalue("process_pool")
        pool.submit(int).result(timeout=30)  # its workers are up: the deadline is for the task
        yield pool


@pytest.fixture
def started(outer_pool: Any, manager: Any) -> Iterator[Any]:
    ev = threading.Event() if isinstance(outer_pool, ThreadPoolExecutor) else manager.Event()
    try:
        yield ev
    finally:
        ev.set()


def outcome(f: Future[Any]) -> Any:
    if f.cancelled():
        return CancelledError
    exc = f.exception(timeout=30)
    return f.result() if exc is None else type(exc)


def assert_outer_error(cause: str, error: BaseException | None) -> None:
    """What the outer group raises for ``cause``: only what it would without nesting."""
    if cause == "failure":
        assert isinstance(error, ExceptionGroup)
        assert [str(e) for e in error.exceptions] == ["DB error"]
    elif cause == "deadline":
        assert type(error) is SettleTimeoutError
    elif cause == "cancel":
        assert error is None
    else:
        assert isinstance(error, ExceptionGroup)
        assert [str(e) for e in error.exceptions] == ["body"]


def run_outer(
    pool: Any,
    started: Any,
    cause: str,
    task: tuple[Any, ...] | None = None,
    deadline: float = 1,
    timeout: float = 30,
    leaf_first: bool = True,
) -> tuple[Future[Any], BaseException | None]:
    """The outer group, cancelled by ``cause`` once the deepest leaf runs.

    ``task``: what its one task runs, with its arguments (default: groups
    nested ``DEPTH`` deep on threads). ``leaf_first`` False: the deadline may
    come before the leaf starts (the groups being opened then see it).
    """
    fn, *args = task if task is not None else (group_tasks.nested, DEPTH, started)
    futures: list[Future[Any]] = []
    try:
        with TaskGroup(pool, timeout=deadline if cause == "deadline" else timeout) as tg:
            futures.append(tg.submit(fn, *args))
            assert (cause == "deadline" and not leaf_first) or started.wait(30)
            if cause == "failure":
                tg.submit(group_tasks.fail_when, started, "DB error")
            elif cause == "cancel":
                tg.cancel()
            elif cause == "body":
                raise RuntimeError("body")
    except BaseException as error:
        return futures[0], error
    return futures[0], None


@pytest.mark.parametrize("cause", CAUSES)
def test_an_outer_cancel_stops_the_groups_nested_in_its_tasks(
    outer_pool: Any, started: Any, cause: str
) -> None:
    """Every cause of the outer cancel reaches the leaf two groups down; the nested
    groups end as cancelled, so the outer group reports only what it would alone."""
    nested, error = run_outer(outer_pool, started, cause)
    # Before the fix the leaf spun its 30 s and the task returned "never cancelled".
    assert outcome(nested) is CancelledError
    assert_outer_error(cause, error)


@pytest.mark.parametrize("cause", CAUSES)
def test_an_outer_cancel_stops_groups_nested_on_process_pools(
    manager: Any, start_method: str, cause: str
) -> None:
    """The inner groups on process pools of their own (a process pool's task opening a
    group on another process pool): every cause reaches the leaf in the third process."""
    started = manager.Event()
    task = (group_tasks.nested_on_processes, DEPTH, started, start_method)
    with ThreadPoolExecutor(2) as outer:
        try:
            # Three pools to start: the deadline may come before the leaf does.
            nested, error = run_outer(
                outer, started, cause, task, deadline=3, timeout=60, leaf_first=False
            )
        finally:
            started.set()
    assert outcome(nested) is CancelledError
    assert_outer_error(cause, error)


def test_a_nested_group_cancelled_with_its_outer_group_raises_cancelled_error() -> None:
    """The inner exit raises CancelledError (its task was cancelled), in every mode."""
    with ThreadPoolExecutor(2) as outer, ThreadPoolExecutor(2) as inner_pool:
        seen: list[BaseException | None] = []
        gate = threading.Event()

        def task(mode: str) -> None:
            try:
                with TaskGroup(inner_pool, mode=mode) as inner:  # type: ignore[call-overload]
                    inner.submit(group_tasks.spin, gate)
            except BaseException as error:
                seen.append(error)
                raise
            seen.append(None)

        for mode in ("all", "settled", "any", "first"):
            gate.clear()
            with TaskGroup(outer) as tg:
                f = tg.submit(task, mode)
                assert gate.wait(30)
                tg.cancel()
            assert isinstance(f.exception(timeout=30), CancelledError)
        assert [type(e) for e in seen] == [CancelledError] * 4
        assert str(seen[0]) == "the task group was cancelled with the group it runs in"


# -- remaining() in the tasks of a group ---------------------------------------


@pytest.fixture(params=["thread", "process", "loky"])
def any_pool(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_pool")


def test_remaining_in_tasks_of_a_group_with_a_timeout(any_pool: Any) -> None:
    """Threads, process pools, loky: the task reads its group's deadline."""
    with TaskGroup(any_pool, timeout=30) as tg:
        f = tg.submit(group_tasks.left)
    left = f.result()
    assert left is not None
    assert 0 < left <= 30


def test_remaining_is_none_without_a_timeout(any_pool: Any) -> None:
    with TaskGroup(any_pool) as tg:
        f = tg.submit(group_tasks.left)
    assert f.result() is None
    assert remaining() is None  # the body: not a task


@pytest.mark.parametrize(("inner", "bound"), [(None, 30), (1000, 30), (5, 5)])
def test_remaining_in_a_nested_group_is_the_nearer_deadline(
    any_pool: Any, inner: float | None, bound: float
) -> None:
    """A group opened in a task of a group with 30 s: its tasks get the nearer deadline."""
    with TaskGroup(any_pool, timeout=30) as tg:
        f = tg.submit(group_tasks.nested_left, inner)
    outer_left, inner_left = f.result()
    assert outer_left is not None
    assert inner_left is not None
    assert 0 < inner_left <= min(outer_left, bound)


def test_a_group_in_a_map_item_cancels_at_the_item_deadline() -> None:
    """Opened under a deadline that is no group's (here: a task run under one by hand),
    the group cancels at it as at its own."""
    from futures_settle._core.deadline import Deadline, within

    with ThreadPoolExecutor(2) as pool, within(Deadline.after(0.2)):
        gate = threading.Event()
        with pytest.raises(SettleTimeoutError), TaskGroup(pool) as tg:
            f = tg.submit(group_tasks.spin, gate)
        gate.set()
    assert isinstance(f.exception(timeout=30), CancelledError)


@pytest.mark.stress
@pytest.mark.parametrize("cause", CAUSES)
def test_nested_rounds_under_fast_switching(cause: str, fast_switching: None) -> None:
    """Twenty rounds per cause, three deep with two leaves per group, threads switching
    every microsecond: every leaf is stopped each time."""
    for _ in range(20):
        started = threading.Event()
        with ThreadPoolExecutor(2) as pool:
            nested, error = run_outer(pool, started, cause, (group_tasks.nested, DEPTH, started, 2))
            assert error is None or isinstance(error, (ExceptionGroup, SettleTimeoutError))
            assert outcome(nested) is CancelledError
