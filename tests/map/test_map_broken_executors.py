"""A broken or shut-down executor never ends a map quietly.

``map_settled`` gives every item it pulled its record and then raises the
executor's error; ``map_all`` raises it at once. So a loop over a map that
ends normally has answered every input.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest

from futures_settle import Rejected, SupervisedPool, WorkerDiedError, map_all, map_settled

from helpers import pool_tasks, tasks
from helpers.collect import records_then_error

pytestmark = pytest.mark.timeout(60)

SHUTDOWN = "cannot schedule new futures after shutdown"


def _processes(start_method: str, workers: int = 1) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(start_method))


def _loky(workers: int = 1) -> Executor:
    loky = pytest.importorskip("loky", reason="loky is an optional extra")
    return loky.ProcessPoolExecutor(workers)  # type: ignore[no-any-return]


def _answered(records: list[Any], pulled: int) -> None:
    """Every pulled item has one record, in input order."""
    assert [r.index for r in records] == list(range(pulled))


class TestBrokenByADeadWorker:
    """A process pool whose worker died: the records, then the pool's own error."""

    @pytest.mark.parametrize("chunksize", [1, None])
    def test_stdlib_pool_with_everything_in_flight(
        self, start_method: str, chunksize: int | None
    ) -> None:
        """Nothing is left to submit when the pool breaks: no refusal, and still it raises."""
        with _processes(start_method) as pool:
            records, raised = records_then_error(
                map_settled(tasks.die_on, range(4), [0] * 4, executor=pool, chunksize=chunksize)
            )
        assert isinstance(raised, BrokenProcessPool)
        _answered(records, 4)
        assert all(isinstance(r.reason, BrokenProcessPool) for r in records)  # type: ignore[union-attr]

    def test_loky_terminated_worker(self) -> None:
        """loky's TerminatedWorkerError (a BrokenProcessPool) ends the map the same way."""
        from loky.process_executor import TerminatedWorkerError

        pool = _loky()
        try:
            records, raised = records_then_error(
                map_settled(tasks.die_on, range(6), [2] * 6, executor=pool, chunksize=1)
            )
        finally:
            pool.shutdown(wait=True)
        assert isinstance(raised, TerminatedWorkerError)
        assert len(records) >= 3
        _answered(records, len(records))
        assert any(
            type(r) is Rejected and isinstance(r.reason, TerminatedWorkerError) for r in records
        )

    def test_map_all_raises_at_once(self, start_method: str) -> None:
        with _processes(start_method) as pool, pytest.raises(BrokenProcessPool):
            list(map_all(tasks.die_on, range(100), [3] * 100, executor=pool, chunksize=1))

    def test_a_supervised_pool_death_is_one_item_alone(self) -> None:
        """WorkerDiedError is a BrokenProcessPool, but the pool goes on: the map ends normally."""
        with SupervisedPool(1) as pool:
            records = list(map_settled(tasks.die_on, range(4), [1] * 4, executor=pool))
        assert [r.status for r in records] == ["fulfilled", "rejected", "fulfilled", "fulfilled"]
        assert isinstance(records[1].reason, WorkerDiedError)  # type: ignore[union-attr]
        assert pool_tasks.gone(pool._worker_pids(ever=True), pool_tasks.worker_parents())


def _shut_down_after_first(pool: Executor, records: Iterator[Any]) -> tuple[list[Any], Any]:
    """Consume ``records``, shutting ``pool`` down (without waiting) after the first one."""
    out: list[Any] = []
    try:
        for record in records:
            out.append(record)
            if len(out) == 1:
                pool.shutdown(wait=False)
        del record
    except Exception as exc:
        return out, exc
    return out, None


_ENGINES: dict[str, Callable[[str], Executor]] = {
    "threads": lambda method: ThreadPoolExecutor(2),
    "processes": lambda method: _processes(method, 2),
    "supervised": lambda method: SupervisedPool(2, mp_context=multiprocessing.get_context(method)),
}


class TestShutDownMidway:
    """A pool shut down while the map runs refuses the next submit: records, then its error."""

    @pytest.mark.parametrize("engine", sorted(_ENGINES))
    def test_map_settled(self, engine: str, start_method: str) -> None:
        pool = _ENGINES[engine](start_method)
        try:
            records, raised = _shut_down_after_first(
                pool, map_settled(tasks.square, range(10_000), executor=pool, buffersize=4)
            )
        finally:
            pool.shutdown(wait=True)
        assert isinstance(raised, RuntimeError)
        _answered(records, len(records))
        assert len(records) < 10_000
        refused = [r for r in records if type(r) is Rejected and r.reason is raised]
        assert refused, "the refused item has the raised error as its record"

    @pytest.mark.parametrize("engine", sorted(_ENGINES))
    def test_map_all(self, engine: str, start_method: str) -> None:
        pool = _ENGINES[engine](start_method)
        try:
            got, raised = _shut_down_after_first(
                pool, map_all(tasks.square, range(10_000), executor=pool, buffersize=4)
            )
        finally:
            pool.shutdown(wait=True)
        assert isinstance(raised, RuntimeError)
        assert got[:1] == [0]


class TestIteratedAfterTheBlock:
    """A lazy map iterated after its pool's ``with`` block: the first item's record, the error."""

    def test_map_settled(self) -> None:
        with ThreadPoolExecutor(2) as pool:
            records = map_settled(tasks.square, range(5), executor=pool)
        got, raised = records_then_error(records)
        assert isinstance(raised, RuntimeError)
        assert str(raised) == SHUTDOWN
        assert [(r.index, r.reason) for r in got] == [(0, raised)]  # type: ignore[union-attr]

    def test_map_all(self) -> None:
        with ThreadPoolExecutor(2) as pool:
            values = map_all(tasks.square, range(5), executor=pool)
        with pytest.raises(RuntimeError, match=f"^{SHUTDOWN}$"):
            next(values)

    def test_process_pool(self, start_method: str) -> None:
        with _processes(start_method) as pool:
            records = map_settled(tasks.square, range(5), executor=pool)
        got, raised = records_then_error(records)
        assert isinstance(raised, RuntimeError)
        assert [r.index for r in got] == [0]


class TestAnEndedLoopAnsweredEverything:
    """Whatever the executor did, a loop that ends normally has one record per input."""

    def test_a_refusal_racing_the_end_of_the_input(self) -> None:
        """The executor refuses the last item: the map still raises after its record."""
        calls = 0
        lock = threading.Lock()

        class LastRefused(ThreadPoolExecutor):
            def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
                nonlocal calls
                with lock:
                    calls += 1
                    if calls == 3:
                        raise RuntimeError(SHUTDOWN)
                return super().submit(fn, *args, **kwargs)

        with LastRefused(2) as pool:
            records, raised = records_then_error(map_settled(tasks.square, range(3), executor=pool))
        assert isinstance(raised, RuntimeError)
        assert [r.status for r in records] == ["fulfilled", "fulfilled", "rejected"]
