"""The hand-out of chunks: records built as they go out, failures included, across splits."""

from __future__ import annotations

import gc
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from futures_settle import Fulfilled, Rejected, map_settled
from futures_settle._errors import SettleTimeoutError
from futures_settle._map.batches import Mixed, Values, drain, next_batch, timed_out

pytestmark = pytest.mark.timeout(60)


class Boom(Exception):
    pass


def _chunk(start: int, n: int, failed: set[int]) -> tuple[Values, list[Any]]:
    """A filed chunk of ``n`` items from ``start``, and the records it must give."""
    items: list[Any] = []
    expected: list[Any] = []
    for k in range(n):
        if k in failed:
            exc = Boom(start + k)
            items.append(exc)
            expected.append(Rejected(exc, start + k))
        else:
            items.append((start + k) * 10)
            expected.append(Fulfilled((start + k) * 10, start + k))
    part = Mixed(items, sorted(failed)) if failed else Values(items)
    return part, expected


@given(
    st.lists(st.tuples(st.integers(1, 12), st.sets(st.integers(0, 11))), min_size=1, max_size=6),
    st.integers(1, 20),
)
def test_records_in_order_across_any_split(chunks: list[tuple[int, set[int]]], limit: int) -> None:
    """Each item's record, Fulfilled or Rejected with the very exception, at its index."""
    ready: dict[int, list[Any]] = {}
    expected: list[Any] = []
    start = 0
    for n, failed in chunks:
        part, records = _chunk(start, n, {k for k in failed if k < n})
        ready[start] = part
        expected += records
        start += n
    out: list[Any] = []
    while ready:
        parts, count = next_batch(ready, True, len(out), limit)
        assert 0 < count <= limit
        got = list(drain(parts))
        assert len(got) == count
        out += got
    assert out == expected  # Rejected compares the exception by identity


def test_split_keeps_the_failures_on_their_side() -> None:
    part, expected = _chunk(0, 6, {1, 3, 4})
    rest = part.split(3)
    assert isinstance(part, Mixed)
    assert part.failed == [1]
    assert isinstance(rest, Mixed)
    assert rest.failed == [0, 1]
    assert list(drain([(0, part), (3, rest)])) == expected


def test_split_with_no_failure_left_is_values() -> None:
    part, expected = _chunk(0, 4, {0})
    rest = part.split(1)
    assert type(rest) is Values
    assert list(drain([(0, part), (1, rest)])) == expected


def test_a_rejected_record_handed_out_is_not_kept() -> None:
    """The iterator lets go of a failure once its record is handed out."""
    part, expected = _chunk(0, 3, {1})
    del expected  # it holds the exception too
    ref = weakref.ref(part[1])
    it = drain([(0, part)])
    assert next(it) == Fulfilled(0, 0)
    record = next(it)
    assert type(record) is Rejected
    del record
    gc.collect()
    assert ref() is None
    assert next(it) == Fulfilled(20, 2)


def test_timed_out_hands_out_mixed_parts() -> None:
    part, expected = _chunk(0, 3, {2})
    cut: list[Any] = []
    out = timed_out({0: part}, {3: (None, 1)}, 1.0, 4, cut)
    assert out[:3] == expected
    assert type(out[3]) is Rejected
    assert type(out[3].reason) is SettleTimeoutError
    assert out[3].index == 3
    assert cut == [out[3]]  # what the timeout made, for the progress hook


def _fail_on_threes(x: int) -> int:
    if x % 3 == 0:
        raise Boom(x)
    return x


@pytest.mark.parametrize("ordered", [True, False])
def test_map_settled_chunks_with_failures_split_into_batches(ordered: bool) -> None:
    """Through the public map: chunks of 5, batches of 2, every third item failing."""
    with ThreadPoolExecutor(2) as pool:
        records = list(
            map_settled(
                _fail_on_threes,
                range(40),
                executor=pool,
                chunksize=5,
                buffersize=8,
                ordered=ordered,
            )
        )
    records.sort(key=lambda r: r.index)
    assert [r.index for r in records] == list(range(40))
    for r in records:
        if r.index % 3 == 0:
            assert type(r) is Rejected
            assert type(r.reason) is Boom
            assert r.reason.args == (r.index,)
        else:
            assert r == Fulfilled(r.index, r.index)


class _Raiser:
    """Fails the items in ``bad``: each raises its own exception object, on every run."""

    def __init__(self, bad: set[int]) -> None:
        self.errors = {i: Boom(i) for i in bad}

    def __call__(self, x: int) -> Any:
        exc = self.errors.get(x)
        if exc is not None:
            raise exc
        return (x, "value")


@settings(max_examples=80, deadline=None)
@given(
    failing=st.lists(st.booleans(), max_size=40),
    chunksize=st.integers(2, 9),
    buffersize=st.none() | st.integers(1, 30),
    ordered=st.booleans(),
    hook=st.booleans(),
)
def test_chunks_give_the_records_of_single_items(
    failing: list[bool], chunksize: int, buffersize: int | None, ordered: bool, hook: bool
) -> None:
    """map_settled in chunks of k yields the very records it yields with chunksize=1.

    Same values, the same exception objects, the same indexes; in input order
    when ordered; and the progress hook sees each record handed out, once.
    """
    n = len(failing)
    fn = _Raiser({i for i, f in enumerate(failing) if f})
    with ThreadPoolExecutor(2) as pool:
        single = list(map_settled(fn, range(n), executor=pool, chunksize=1))
        seen: list[Any] = []
        chunked = list(
            map_settled(
                fn,
                range(n),
                executor=pool,
                chunksize=chunksize,
                buffersize=buffersize,
                ordered=ordered,
                progress=seen.append if hook else None,
            )
        )
    assert [r.index for r in single] == list(range(n))
    if ordered:
        assert [r.index for r in chunked] == list(range(n))
    by_index = sorted(chunked, key=lambda r: r.index)
    assert by_index == single  # Rejected compares its exception by identity
    for got, want in zip(by_index, single, strict=True):
        assert type(got) is type(want)
        if type(got) is Rejected:
            assert got.reason is fn.errors[got.index]
    if hook:
        assert sorted(seen, key=lambda r: r.index) == single


class _HalfInline:
    """Runs a chunk in submit() unless its first item is "hang": that chunk never settles."""

    def submit(self, fn: Any, /, *args: Any) -> Future[Any]:
        f: Future[Any] = Future()
        if args[1][0] != ("hang",):
            f.set_result(fn(*args))
        return f


def test_deadline_with_a_chunk_with_failures_waiting() -> None:
    """At the deadline, a settled chunk with failures waiting behind an unsettled one gives
    its records, the very exceptions, after the timeouts, in order."""
    fn = _Raiser({5, 7})
    records = list(
        map_settled(
            fn,
            ["hang"] * 4 + [4, 5, 6, 7],
            executor=_HalfInline(),
            chunksize=4,
            buffersize=8,
            timeout=0.05,
        )
    )
    assert [(type(r.reason), r.index) for r in records[:4]] == [  # type: ignore[union-attr]
        (SettleTimeoutError, i) for i in range(4)
    ]
    assert records[4:] == [
        Fulfilled((4, "value"), 4),
        Rejected(fn.errors[5], 5),
        Fulfilled((6, "value"), 6),
        Rejected(fn.errors[7], 7),
    ]
