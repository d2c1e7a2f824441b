"""Items that fail oddly: unpicklable results, BaseExceptions in a chunk, tracebacks
from other processes.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from futures_settle import Fulfilled, map_all, map_settled

from helpers import tasks

pytestmark = pytest.mark.timeout(60)


class TestUnpicklableResult:
    """A result that cannot travel back: documented, one chunk, one message (README, Chunks)."""

    @pytest.mark.parametrize(("chunksize", "rejected"), [(1, [1]), (2, [0, 1])])
    def test_rejects_its_chunk(
        self, process_pool: ProcessPoolExecutor, chunksize: int, rejected: list[int]
    ) -> None:
        """Item 1's lock cannot be pickled: its record, and its chunk's, are Rejected."""
        records = list(
            map_settled(
                tasks.unpicklable_on, range(4), [1] * 4, executor=process_pool, chunksize=chunksize
            )
        )
        assert [r.index for r in records] == [0, 1, 2, 3]
        assert [r.index for r in records if r.status == "rejected"] == rejected
        for r in records:
            if r.status == "rejected":
                assert type(r.reason) is TypeError
                assert str(r.reason) == "cannot pickle '_thread.lock' object"
            else:
                assert r.value == r.index


class TestBaseExceptionInChunk:
    """A BaseException in one item of a chunk rejects that item only."""

    @pytest.mark.parametrize("engine", ["thread_pool", "process_pool"])
    def test_one_item_one_record(self, engine: str, request: pytest.FixtureRequest) -> None:
        pool = request.getfixturevalue(engine)
        records = list(map_settled(tasks.exit_on, range(6), [4] * 6, executor=pool, chunksize=3))
        assert [r.status for r in records] == ["fulfilled"] * 4 + ["rejected", "fulfilled"]
        reason = records[4].reason  # type: ignore[union-attr]
        assert type(reason) is SystemExit
        assert str(reason) == "exit at item 4"
        assert records[5] == Fulfilled(5, 5)

    def test_map_all_raises_it(self, thread_pool: Any) -> None:
        with pytest.raises(SystemExit, match="^exit at item 1$"):
            list(map_all(tasks.exit_on, range(6), [1] * 6, executor=thread_pool, chunksize=3))


class TestRemoteTracebacks:
    """Chunked items keep the worker's traceback as unchunked ones do."""

    @pytest.mark.parametrize("engine", ["process_pool", "loky_pool"])
    def test_chunked_like_unchunked(self, engine: str, request: pytest.FixtureRequest) -> None:
        pool = request.getfixturevalue(engine)
        reasons = [
            list(map_settled(tasks.fail_on, range(3), [1] * 3, executor=pool, chunksize=c))[
                1
            ].reason  # type: ignore[union-attr]
            for c in (1, 3)
        ]
        with pytest.raises(ValueError) as info:
            list(map_all(tasks.fail_on, range(3), [1] * 3, executor=pool, chunksize=3))
        for reason in [*reasons, info.value]:
            cause = reason.__cause__
            assert type(cause).__name__ == "_RemoteTraceback"
            text = str(cause)
            assert ', in fail_on\n    raise ValueError(f"bad item {x}")\n' in text
            assert text.endswith('ValueError: bad item 1\n"""')

    def test_threads_keep_the_traceback_itself(self, thread_pool: Any) -> None:
        records = list(
            map_settled(tasks.fail_on, range(3), [1] * 3, executor=thread_pool, chunksize=3)
        )
        reason = records[1].reason  # type: ignore[union-attr]
        assert reason.__cause__ is None
        tb = reason.__traceback__
        while tb.tb_next is not None:  # type: ignore[union-attr]
            tb = tb.tb_next  # type: ignore[union-attr]
        assert tb.tb_frame.f_code is tasks.fail_on.__code__  # type: ignore[union-attr]
