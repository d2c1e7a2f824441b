"""TaskGroup on a dask.distributed Client: submit, result, records, one task per submit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from futures_settle import Fulfilled, Rejected, TaskGroup

import group_tasks
import tasks

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
