"""pebble pools as executors: recognised by type, their schedule() gets the task's arguments."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from typing import Any

import pytest

from futures_settle import map_all, map_settled, wait_all, wait_settled
from futures_settle._core.engines import pebble_pool, submitter_of
from futures_settle._map.chunking import is_process_based, workers

from helpers import tasks

pytestmark = pytest.mark.timeout(60)


class _Scheduling:
    """Records how it was called: submit() with pebble's ProcessPool signature, and schedule()."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def submit(self, fn: Any, timeout: Any, /, *args: Any) -> Any:
        self.calls.append(("submit", (fn, timeout, args)))
        raise AssertionError("submit() of a pebble pool takes a timeout first")

    def schedule(self, fn: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.calls.append(("schedule", (fn, args, kwargs)))
        from concurrent.futures import Future

        f: Future[Any] = Future()
        try:
            f.set_result(fn(*args, **(kwargs or {})))
        except Exception as exc:  # as a pool would: the task's failure is its future's
            f.set_exception(exc)
        return f


def _fake(module: str, name: str) -> type:
    return type(name, (_Scheduling,), {"__module__": module})


def test_recognised_by_type_without_pebble() -> None:
    """pebble's two pool types (and subclasses) by module and name; nothing is imported."""
    process = _fake("pebble.pool.process", "ProcessPool")
    thread = _fake("pebble.pool.thread", "ThreadPool")
    sub = type("Mine", (process,), {})
    assert pebble_pool(process()) == "process"
    assert pebble_pool(thread()) == "thread"
    assert pebble_pool(sub()) == "process"
    assert pebble_pool(_fake("pebble.pool.other", "ProcessPool")()) is None
    assert pebble_pool(_fake("mine", "ProcessPool")()) is None
    assert is_process_based(process())
    assert not is_process_based(thread())


@pytest.mark.parametrize("chunksize", [1, 2])
def test_maps_schedule_with_the_tasks_arguments(chunksize: int) -> None:
    """Each item's arguments reach the function: none is taken as pebble's timeout."""
    pool = _fake("pebble.pool.process", "ProcessPool")()
    out = list(map_all(pow, [2, 3, 4], [2, 2, 2], executor=pool, chunksize=chunksize))
    assert out == [4, 9, 16]
    assert {how for how, _ in pool.calls} == {"schedule"}


def test_submitter_of_other_executors_is_their_submit() -> None:
    pool = _fake("mine", "Pool")()
    assert submitter_of(pool) == pool.submit


@pytest.fixture(params=["thread", "process"])
def pebble_pool_of_each_kind(request: pytest.FixtureRequest) -> Iterator[Any]:
    pebble = pytest.importorskip("pebble", reason="pebble comes with the test extra")
    if request.param == "thread":
        pool = pebble.ThreadPool(max_workers=2)
    else:
        pool = pebble.ProcessPool(max_workers=2, context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    finally:
        pool.close()
        pool.join(30)


def _no_worker_left(pids: set[int]) -> None:
    assert not [p for p in multiprocessing.active_children() if p.pid in pids]


@pytest.mark.parametrize("chunksize", [None, 1, 3])
def test_maps_on_pebble_pools(pebble_pool_of_each_kind: Any, chunksize: int | None) -> None:
    """map_all and map_settled on pebble's ThreadPool and ProcessPool, two argument lists."""
    pool = pebble_pool_of_each_kind
    assert workers(pool) == 2
    xs, ys = list(range(7)), [2] * 7
    values = list(map_all(tasks.pid_and_pow, xs, ys, executor=pool, chunksize=chunksize))
    assert [v for _, v in values] == [x * x for x in xs]
    records = list(
        map_settled(tasks.fail_on, xs, [3] * 7, executor=pool, chunksize=chunksize, timeout=30)
    )
    assert [r.status for r in records] == ["rejected" if x == 3 else "fulfilled" for x in xs]
    assert str(records[3].reason) == "bad item 3"  # type: ignore[union-attr]
    lefts = list(map_all(tasks.time_left_at, range(3), executor=pool, timeout=30))
    assert all(left is not None and 0 < left <= 30 for _, left in lefts)
    pool.close()
    pool.join(30)
    _no_worker_left({pid for pid, _ in values})


def test_wait_functions_take_pebble_futures(pebble_pool_of_each_kind: Any) -> None:
    """Futures from schedule() already work with the wait functions."""
    pool = pebble_pool_of_each_kind
    fs = [pool.schedule(tasks.square, args=(k,)) for k in range(4)]
    assert wait_all(fs, timeout=30) == [0, 1, 4, 9]
    failed = pool.schedule(tasks.fail, args=("no",))
    (record,) = wait_settled([failed], timeout=30)
    assert str(record.reason) == "no"  # type: ignore[union-attr]


def test_task_groups_schedule_with_the_tasks_arguments() -> None:
    """A TaskGroup on a pebble pool schedules each task with its own arguments, retries too."""
    from futures_settle import Retry, TaskGroup

    pool = _fake("pebble.pool.thread", "ThreadPool")()
    with TaskGroup(pool) as tg:
        tg.submit(pow, 2, 5)
        tg.submit(divmod, 7, 2)
    assert tg.result() == [32, (3, 1)]
    tries: list[int] = []

    def flaky(x: int) -> int:
        tries.append(x)
        if len(tries) == 1:
            raise ConnectionResetError("reset")
        return x

    with TaskGroup(pool, retry=Retry(ConnectionError, delay=0.001)) as tg:
        tg.submit(flaky, 4)
    assert tg.result() == [4]
    assert tries == [4, 4]
    assert {how for how, _ in pool.calls} == {"schedule"}


def test_task_groups_on_pebble_pools(pebble_pool_of_each_kind: Any) -> None:
    """TaskGroup on pebble's ThreadPool and ProcessPool: values, and a failure in mode 'settled'."""
    from futures_settle import TaskGroup

    pool = pebble_pool_of_each_kind
    with TaskGroup(pool, mode="settled", timeout=30) as tg:
        tg.submit(tasks.square, 3)
        tg.submit(tasks.fail, "no")
    ok, bad = tg.result()
    assert ok.value == 9  # type: ignore[union-attr]
    assert str(bad.reason) == "no"  # type: ignore[union-attr]
