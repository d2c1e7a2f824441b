"""Retries and deadlines on a SupervisedPool: deaths and timeouts retried when named."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from futures_settle import (
    Fulfilled,
    Rejected,
    Retry,
    SupervisedPool,
    TaskGroup,
    TaskTimeoutError,
    WorkerDiedError,
    map_all,
    map_settled,
)

from helpers import pool_tasks as pt
from helpers import retry_tasks as rt
from helpers import tasks

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("chunksize", [1, 4])
def test_a_worker_death_is_retried_only_when_named(tmp_path: Path, chunksize: int) -> None:
    """on=WorkerDiedError: the item that killed its worker runs again and gets its value;
    without it, the death is the record; the neighbours keep attempts == 1."""
    named, unnamed = tmp_path / "named", tmp_path / "unnamed"
    named.mkdir(), unnamed.mkdir()
    bad = frozenset({5})
    with SupervisedPool(2, mp_context=multiprocessing.get_context("fork")) as pool:
        records = list(
            map_settled(
                rt.die_first,
                range(10),
                [str(named)] * 10,
                [bad] * 10,
                executor=pool,
                chunksize=chunksize,
                retry=Retry(WorkerDiedError, delay=0.01),
                timeout=60,
            )
        )
        plain = list(
            map_settled(
                rt.die_first,
                range(10),
                [str(unnamed)] * 10,
                [bad] * 10,
                executor=pool,
                chunksize=chunksize,
                retry=Retry(ConnectionError, delay=0.01),
                timeout=60,
            )
        )
    assert records[5] == Fulfilled(50, index=5)
    assert records[5].attempts == 2
    assert isinstance(records[5].earlier[0], WorkerDiedError)
    assert [r.attempts for i, r in enumerate(records) if i != 5] == [1] * 9
    assert isinstance(plain[5], Rejected)
    assert isinstance(plain[5].reason, WorkerDiedError)
    assert plain[5].attempts == 1
    assert rt.runs(str(named), 5) == 2
    assert rt.runs(str(unnamed), 5) == 1
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())


def test_a_task_timeout_is_retried_when_named(tmp_path: Path) -> None:
    """on=TaskTimeoutError: the hung first attempt is stopped, the second returns."""
    bad = frozenset({2})
    with SupervisedPool(
        2, mp_context=multiprocessing.get_context("fork"), task_timeout=0.5, grace=0.2
    ) as pool:
        values = list(
            map_all(
                rt.hang_first,
                range(4),
                [str(tmp_path)] * 4,
                [bad] * 4,
                executor=pool,
                retry=Retry(TaskTimeoutError, delay=0.01),
                timeout=60,
            )
        )
        with TaskGroup(pool, mode="settled", retry=Retry(TaskTimeoutError, delay=0.01)) as tg:
            tg.submit(rt.hang_first, 7, str(tmp_path), frozenset({7}))
    assert values == [0, 10, 20, 30]
    (record,) = tg.result()
    assert record == Fulfilled(70, index=0)
    assert record.attempts == 2
    assert isinstance(record.earlier[0], TaskTimeoutError)
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())


@pytest.mark.parametrize("chunksize", [1, 3])
def test_remaining_reaches_the_items_of_its_chunks(chunksize: int) -> None:
    """A map's deadline reaches each item on the supervised pool, chunks included."""
    with SupervisedPool(2, mp_context=multiprocessing.get_context("fork")) as pool:
        lefts = list(
            map_all(tasks.time_left_at, range(6), executor=pool, chunksize=chunksize, timeout=30)
        )
        none = list(map_all(tasks.time_left_at, range(3), executor=pool, chunksize=chunksize))
    assert [x for x, _ in lefts] == list(range(6))
    assert all(left is not None and 0 < left <= 30 for _, left in lefts)
    assert [left for _, left in none] == [None] * 3
    assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())
