"""TaskGroup on a dask.distributed Client: submit, result, records, one task per submit.

The in-process cluster of conftest shares everything with the test; a
module-scoped LocalCluster(processes=True) (one worker process, about two
seconds to start) runs the contract lines that depend on a task being
pickled and run elsewhere: the tasks run at all (defect 1 of issue 17),
check_cancelled() in a worker process, the modes, remaining(), a group
nested in a dask task stopped by the outer group.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from typing import Any

import pytest

from futures_settle import Fulfilled, Rejected, TaskGroup

from helpers import group_tasks, tasks

pytestmark = pytest.mark.timeout(60)

distributed = pytest.importorskip("distributed", reason="dask.distributed comes with [dask]")


def run(tg: TaskGroup[Any], body: Callable[[TaskGroup[Any]], object]) -> TaskGroup[Any]:
    with tg:
        body(tg)
    return tg


def test_dask_submit_result_settled(client: Any) -> None:
    """On a dask Client: its own futures, values in order, records, failures."""
    with TaskGroup(client) as tg:
        futures = [tg.submit(tasks.square, i) for i in range(5)]
        twice = [tg.submit(tasks.identity, 1), tg.submit(tasks.identity, 1)]
    assert tg.result() == [0, 1, 4, 9, 16, 1, 1]
    assert type(futures[0]).__module__.startswith("distributed")
    assert twice[0].key != twice[1].key  # not merged: each submit is a task of its own
    with TaskGroup(client, mode="settled") as tg2:
        tg2.submit(tasks.identity, "user data")
        tg2.submit(tasks.fail, "DB error")
    ok, bad = tg2.result()
    assert ok == Fulfilled("user data", 0)
    assert isinstance(bad, Rejected)
    assert str(bad.reason) == "DB error"
    with pytest.raises(ExceptionGroup) as info:
        run(TaskGroup(client), lambda tg: tg.submit(tasks.fail, "boom"))
    assert [str(e) for e in info.value.exceptions] == ["boom"]


def test_dask_flag_in_worker_threads(client: Any) -> None:
    """A dask task (pickled even in-process) reads the group's flag."""
    with TaskGroup(client) as tg:
        f = tg.submit(group_tasks.cancelled_now)
    assert f.result() is False


# -- 1. A cluster with worker processes (LocalCluster's default, every real one) --


@pytest.fixture(scope="module")
def process_client() -> Iterator[Any]:
    """A cluster whose workers are processes: tasks are pickled, and travel through the
    scheduler, as on a real cluster (the in-process one shares everything)."""
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_worker_processes_run_the_tasks(process_client: Any) -> None:
    """Defect 1: the flag inside each task could not be pickled again on the way to a
    worker, the tasks never ran and the group waited until its timeout."""
    pids = {process_client.submit(os.getpid, pure=False).result(timeout=30)}
    with TaskGroup(process_client, timeout=30) as tg:
        squares = [tg.submit(tasks.square, i) for i in range(4)]
        here = tg.submit(group_tasks.pid)
    assert [f.result() for f in squares] == [0, 1, 4, 9]
    assert here.result() != os.getpid()  # it ran in a worker process
    assert pids
    assert tg.result()[:4] == [0, 1, 4, 9]


def test_check_cancelled_on_worker_processes(process_client: Any) -> None:
    """A failure cancels a cooperative task on another worker process: it stops at its
    next check_cancelled(), through the scheduler (a distributed.Event)."""
    started = distributed.Event(client=process_client)
    tg = TaskGroup(process_client, timeout=30)
    futures: list[Any] = []

    def body(tg: TaskGroup[Any]) -> None:
        futures.append(tg.submit(group_tasks.spin, started))
        tg.submit(group_tasks.fail_when, started, "DB error")

    with pytest.raises(ExceptionGroup) as info:
        run(tg, body)
    spinning = futures[0]
    assert [str(e) for e in info.value.exceptions] == ["DB error"]
    # dask's cancel() ends the future at once, while the function runs on until its
    # next check_cancelled(): the group's event stays set for it.
    assert spinning.cancelled() or isinstance(spinning.exception(), CancelledError)
    assert distributed.Event(tg._flag.name, client=process_client).is_set()  # type: ignore[union-attr]


def test_worker_processes_see_the_cancel_in_a_running_task(process_client: Any) -> None:
    """cancel() in the body: the running task's check_cancelled() raises in its worker
    process (the task reports what it saw through an event of its own)."""
    started = distributed.Event(client=process_client)
    saw = distributed.Event(client=process_client)
    with TaskGroup(process_client, mode="settled", timeout=30) as tg:
        tg.submit(group_tasks.report_cancel, started, saw)
        assert started.wait(30)
        tg.cancel()
    assert saw.wait(30)


def test_dask_executor_runs_and_cancels(process_client: Any) -> None:
    """Client.get_executor() is a dask executor too: its group uses the event."""
    executor = process_client.get_executor()
    with TaskGroup(executor, timeout=30) as tg:
        f = tg.submit(tasks.square, 5)
    assert f.result() == 25
    assert type(tg._flag).__name__ == "DaskFlag"


# -- the contract lines that apply to dask, on worker processes -----------------


@pytest.mark.parametrize("mode", ["settled", "any", "first"])
def test_modes_on_worker_processes(process_client: Any, mode: str) -> None:
    tg = TaskGroup(process_client, mode=mode, timeout=30)  # type: ignore[call-overload]

    def body(tg: TaskGroup[Any]) -> None:
        tg.submit(tasks.fail, "DB error")
        tg.submit(tasks.square, 3)

    try:
        run(tg, body)
    except ValueError as error:  # "first": the failure may settle first
        assert (mode, str(error)) == ("first", "DB error")
        return
    if mode == "settled":
        bad, ok = tg.result()
        assert (type(bad.reason), ok) == (ValueError, Fulfilled(9, 1))
    else:
        assert tg.result() == 9


def test_remaining_and_a_nested_group_on_worker_processes(process_client: Any) -> None:
    """remaining() in a dask task; a group opened in it (on threads) under the nearer deadline."""
    with TaskGroup(process_client, timeout=30) as tg:
        left = tg.submit(group_tasks.left)
        nested = tg.submit(group_tasks.nested_left, 5)
    assert 0 < left.result() <= 30
    outer_left, inner_left = nested.result()
    assert 0 < inner_left <= min(outer_left, 5)


def test_a_nested_group_on_a_worker_stops_with_the_outer_group(process_client: Any) -> None:
    """An outer cancel() reaches a group nested in a dask task on a worker process, two
    groups down (the outer group's event, read by the nested group's watch thread)."""
    started = distributed.Event(client=process_client)
    with TaskGroup(process_client, mode="settled", timeout=30) as tg:
        f = tg.submit(group_tasks.nested_report, started)
        assert started.wait(30)
        tg.cancel()
    # dask's cancel() ended the future at once; the worker's answer comes by the event.
    assert f.cancelled() or isinstance(f.exception(), CancelledError)
    assert distributed.Event(f"{tg._flag.name}-done", client=process_client).wait(30)  # type: ignore[union-attr]
