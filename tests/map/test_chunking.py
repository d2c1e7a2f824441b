"""The automatic chunk sizer and the plan of a map: driven by fed figures, no clock, no timing."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from futures_settle._map.chunking import (
    CAP,
    GROWTH,
    TARGET,
    ChunkSizer,
    is_process_based,
    plan,
    workers,
)

pytestmark = pytest.mark.timeout(60)


class TestChunkSizer:
    def test_starts_at_one_item(self) -> None:
        """The first results come quickly: the first chunk is one item."""
        assert ChunkSizer(100).size == 1

    def test_grows_at_most_growth_fold_per_measurement(self) -> None:
        sizer = ChunkSizer(10_000)
        sizes = []
        for _ in range(6):
            sizer.completed(sizer.size, sizer.size * 1e-7)  # 0.1 µs an item: far below the target
            sizes.append(sizer.size)
        assert sizes == [GROWTH**k for k in range(1, 7)]

    def test_small_chunks_do_not_compound(self) -> None:
        """Eight one-item chunks in flight, all fast: the next chunks are of four, not 4^8."""
        sizer = ChunkSizer(10_000)
        for _ in range(8):
            sizer.completed(1, 1e-7)
        assert sizer.size == GROWTH

    def test_a_small_chunk_does_not_shrink_a_good_size(self) -> None:
        """The input's last, short chunk says nothing against the size reached."""
        sizer = ChunkSizer(10_000)
        for _ in range(6):
            sizer.completed(sizer.size, sizer.size * 1e-7)
        sizer.completed(3, 3e-7)
        assert sizer.size == GROWTH**6

    def test_settles_at_the_target(self) -> None:
        """Items of 1 ms each: chunks of TARGET / 1 ms items."""
        sizer = ChunkSizer(10_000)
        for _ in range(10):
            sizer.completed(sizer.size, sizer.size * 0.001)
        assert sizer.size == int(TARGET / 0.001)

    def test_never_beyond_the_cap(self) -> None:
        sizer = ChunkSizer(7)
        for _ in range(10):
            sizer.completed(sizer.size, 0.0)
        assert sizer.size == 7

    def test_shrinks_at_once_for_slow_items(self) -> None:
        sizer = ChunkSizer(1000)
        for _ in range(5):
            sizer.completed(sizer.size, sizer.size * 1e-6)
        assert sizer.size == 1000
        sizer.completed(1000, 50.0)  # items now take 50 ms each: one is ten targets
        assert sizer.size == 1

    def test_smooths_one_odd_measurement(self) -> None:
        """One slow chunk among fast ones moves the size, it does not reset it."""
        sizer = ChunkSizer(10_000)
        for _ in range(10):
            sizer.completed(sizer.size, sizer.size * 0.0001)  # 0.1 ms an item: 50 a chunk
        assert sizer.size == 50
        sizer.completed(50, 50 * 0.0003)  # one chunk three times slower
        assert sizer.size == int(TARGET / (0.0001 + 0.2 * 0.0002))

    @pytest.mark.parametrize(
        ("items", "seconds"), [(0, 1.0), (3, float("nan")), (3, -1.0), (3, float("inf"))]
    )
    def test_ignores_what_teaches_nothing(self, items: int, seconds: float) -> None:
        """An infinite time too: it would turn the running time per item into a NaN."""
        sizer = ChunkSizer(100)
        sizer.completed(1, 1e-6)
        sizer.completed(items, seconds)
        assert sizer.size == GROWTH
        sizer.completed(GROWTH, GROWTH * 1e-6)  # still learning
        assert sizer.size == GROWTH * GROWTH

    def test_cap_below_one_refused(self) -> None:
        with pytest.raises(ValueError, match="^cap must be >= 1, got 0$"):
            ChunkSizer(0)

    @given(
        cap=st.integers(1, 5000),
        measurements=st.lists(
            st.tuples(st.integers(1, 5000), st.floats(0, 10, allow_nan=False)), max_size=30
        ),
    )
    def test_size_always_between_one_and_cap(
        self, cap: int, measurements: list[tuple[int, float]]
    ) -> None:
        sizer = ChunkSizer(cap)
        for items, seconds in measurements:
            before = sizer.size
            sizer.completed(items, seconds)
            assert 1 <= sizer.size <= cap
            assert sizer.size <= max(before, GROWTH * items)


class FakeLoky:
    """An executor whose type lives in a loky module, as loky's do."""

    _max_workers = 3


FakeLoky.__module__ = "loky.reusable_executor"


class FakeDask:
    """dask's executor: tasks run elsewhere, but each one is a scheduler round trip anyway."""


FakeDask.__module__ = "distributed.cfexecutor"


class TestPlan:
    def test_process_pool_gets_a_sizer(self, process_pool: Any) -> None:
        p = plan(process_pool, None, None)
        assert p.sizer is not None
        assert p.sizer.cap == CAP
        assert p.max_units == 4 * 2
        assert p.buffersize == 4 * 2 * CAP
        assert p.chunked

    def test_a_given_buffersize_caps_the_chunk(self, process_pool: Any) -> None:
        """Each worker keeps at least two chunks in flight within the buffer."""
        p = plan(process_pool, None, 100)
        assert p.buffersize == 100
        assert p.sizer is not None
        assert p.sizer.cap == 100 // (2 * 2)
        assert plan(process_pool, None, 1).sizer.cap == 1  # type: ignore[union-attr]

    def test_an_explicit_chunksize_is_honoured(self, process_pool: Any) -> None:
        p = plan(process_pool, 256, None)
        assert p.sizer is None
        assert p.chunksize == 256
        assert p.buffersize == 64 * 256
        assert p.max_units == sys.maxsize

    def test_threads_keep_one_item(self) -> None:
        with ThreadPoolExecutor(2) as pool:
            p = plan(pool, None, None)
        assert p.sizer is None
        assert p.chunksize == 1
        assert not p.chunked
        assert p.buffersize == 64

    def test_recognised_by_type(self, loky_pool: Any) -> None:
        assert is_process_based(loky_pool)
        assert is_process_based(FakeLoky())
        assert not is_process_based(FakeDask())
        assert not is_process_based(object())
        assert plan(FakeDask(), None, None).sizer is None
        assert plan(FakeLoky(), None, None).max_units == 4 * 3

    def test_workers(self) -> None:
        assert workers(FakeLoky()) == 3
        assert workers(object()) >= 1
        with ThreadPoolExecutor(5) as pool:
            assert workers(pool) == 5
