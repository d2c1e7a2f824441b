"""remaining() inside a map's items: the map's deadline, on threads and in worker processes."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from futures_settle import map_all, map_settled, remaining
from futures_settle._core.deadline import Deadline
from futures_settle._map.worker import run_chunk

from helpers import tasks

pytestmark = pytest.mark.timeout(60)

TIMEOUT = 30.0


def lefts(pairs: list[tuple[int, float | None]], n: int) -> list[float | None]:
    assert [x for x, _ in pairs] == list(range(n))
    return [left for _, left in pairs]


@pytest.mark.parametrize("chunksize", [None, 1, 3])
@pytest.mark.parametrize("engine", ["thread_pool", "process_pool", "loky_pool"])
def test_items_see_the_maps_deadline(
    engine: str, chunksize: int | None, request: pytest.FixtureRequest
) -> None:
    """Each item (each item of a chunk) reads the time left until the map's deadline."""
    pool = request.getfixturevalue(engine)
    out = list(
        map_all(tasks.time_left_at, range(7), executor=pool, timeout=TIMEOUT, chunksize=chunksize)
    )
    for left in lefts(out, 7):
        assert left is not None
        assert 0 < left <= TIMEOUT


@pytest.mark.parametrize("chunksize", [None, 3])
@pytest.mark.parametrize("engine", ["thread_pool", "process_pool", "loky_pool"])
def test_no_timeout_no_deadline(
    engine: str, chunksize: int | None, request: pytest.FixtureRequest
) -> None:
    """Without a timeout, remaining() is None in every item: urlopen's 'no timeout'."""
    pool = request.getfixturevalue(engine)
    records = list(map_settled(tasks.time_left_at, range(5), executor=pool, chunksize=chunksize))
    assert lefts([r.value for r in records], 5) == [None] * 5  # type: ignore[union-attr]


def test_the_deadline_leaves_the_worker_with_the_item() -> None:
    """A task the same worker thread runs after the map sees no deadline."""
    with ThreadPoolExecutor(1) as pool:
        assert len(list(map_all(tasks.time_left_at, range(3), executor=pool, timeout=TIMEOUT)))
        assert pool.submit(remaining).result(timeout=30) is None
        assert len(
            list(map_all(tasks.time_left_at, range(3), executor=pool, timeout=TIMEOUT, chunksize=2))
        )
        assert pool.submit(remaining).result(timeout=30) is None


def test_map_settled_items_see_the_deadline(thread_pool: Any) -> None:
    """map_settled hands its deadline to its items too."""
    records = list(map_settled(tasks.time_left_at, range(4), executor=thread_pool, timeout=5))
    for left in lefts([r.value for r in records], 4):  # type: ignore[union-attr]
        assert left is not None
        assert 0 < left <= 5


def test_an_expired_deadline_reads_zero() -> None:
    """Past the deadline, remaining() is 0, never negative (a chunk run by hand)."""
    values, failures, _ = run_chunk(tasks.time_left_at, [(0,), (1,)], Deadline.after(-1))
    assert failures is None
    assert values == [(0, 0.0), (1, 0.0)]


class Recording:
    """Runs each task inline and keeps what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def submit(self, fn: Any, /, *args: Any) -> Future[Any]:
        self.calls.append((fn, *args))
        f: Future[Any] = Future()
        f.set_result(fn(*args))
        return f


def test_the_deadline_travels_with_each_submitted_unit() -> None:
    """With a timeout, one Deadline object for the map crosses with every item or chunk."""
    ex = Recording()
    assert len(list(map_all(tasks.time_left_at, range(4), executor=ex, timeout=TIMEOUT))) == 4
    ex_chunks = Recording()
    list(map_all(tasks.time_left_at, range(4), executor=ex_chunks, timeout=TIMEOUT, chunksize=2))
    deadlines = {id(c[1]) for c in ex.calls} | {id(c[3]) for c in ex_chunks.calls}
    assert len(ex.calls) == 4
    assert len(ex_chunks.calls) == 2
    assert all(c[0] is run_chunk for c in ex_chunks.calls)
    assert len(deadlines) == 2  # one per map
    plain = Recording()
    list(map_all(tasks.time_left_at, range(2), executor=plain, chunksize=2))
    assert plain.calls[0][:3] == (run_chunk, tasks.time_left_at, [(0,), (1,)])
    assert len(plain.calls[0]) == 3  # no deadline, nothing more crosses
