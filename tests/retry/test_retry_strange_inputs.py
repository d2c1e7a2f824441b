"""Retry policies at their edges: many attempts without delay, predicates returning non-bools."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from futures_settle import (
    Retry,
    TaskGroup,
    map_settled,
)

from helpers.retry_tasks import FailsFirst

pytestmark = pytest.mark.timeout(60)


class TestStrangeInputs:
    def test_many_attempts_no_delay_chunk_neighbours(self) -> None:
        """attempts=10**6 with no delay: an item failing 300 times then succeeding says 301
        runs, 300 earlier exceptions in order, on a chunked map whose neighbours ran once."""
        fn = FailsFirst({2}, fails=300)
        retry = Retry(ConnectionError, attempts=10**6, delay=0, jitter=0)
        with ThreadPoolExecutor(2) as pool:
            records = list(map_settled(fn, range(4), executor=pool, chunksize=4, retry=retry))
        assert [(r.index, r.attempts) for r in records] == [(0, 1), (1, 1), (2, 301), (3, 1)]
        earlier = records[2].earlier
        assert [str(e) for e in earlier[:2]] == ["item 2 run 1", "item 2 run 2"]
        assert str(earlier[-1]) == "item 2 run 300"
        assert fn.runs == {0: 1, 1: 1, 2: 301, 3: 1}

    def test_predicate_returning_a_non_bool(self, thread_pool: ThreadPoolExecutor) -> None:
        """on= returning an object whose truth raises: the item fails with that error (its
        context the item's), in a map and in a group, and nothing else is touched."""

        class Ambiguous:
            def __bool__(self) -> bool:
                raise ValueError("truth value is ambiguous")

        fn = FailsFirst({1})
        retry = Retry(lambda exc: Ambiguous())
        records = list(map_settled(fn, range(3), executor=thread_pool, retry=retry))
        assert [r.status for r in records] == ["fulfilled", "rejected", "fulfilled"]
        reason = records[1].reason  # type: ignore[union-attr]
        assert str(reason) == "truth value is ambiguous"
        assert isinstance(reason.__context__, ConnectionResetError)
        with TaskGroup(thread_pool, mode="settled", retry=retry) as tg:
            tg.submit(FailsFirst({1}), 1)
        (record,) = tg.result()
        assert str(record.reason) == "truth value is ambiguous"  # type: ignore[union-attr]
        assert record.attempts == 1
