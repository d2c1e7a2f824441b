"""The input's own errors and sizes at the edges: pulled items get records, no
input is pulled after its error, sizes up to sys.maxsize.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from futures_settle import Fulfilled, map_all, map_settled

from helpers import tasks
from helpers.engines import HandMadeExecutor, RefusingExecutor

pytestmark = pytest.mark.timeout(60)


class InputBroke(RuntimeError):
    """A builtin exception cannot be watched by a weak reference; a subclass can."""


def breaks_after(n: int) -> Iterator[int]:
    yield from range(n)
    raise InputBroke("input broke")


class TestInputError:
    """The input raises midway: map_settled yields the pulled items first, then raises it."""

    @pytest.mark.parametrize("chunksize", [1, 3])
    def test_pulled_items_get_records(self, thread_pool: Any, chunksize: int) -> None:
        """Five items read before the error (two of them in the chunk that met it): five records."""
        it = map_settled(tasks.identity, breaks_after(5), executor=thread_pool, chunksize=chunksize)
        records: list[Any] = []
        with pytest.raises(InputBroke) as info:
            records.extend(it)  # what came before the error stays
        assert str(info.value) == "input broke"
        assert records == [Fulfilled(i, i) for i in range(5)]

    def test_no_more_input_after_its_error(self, thread_pool: Any) -> None:
        """An iterator that would go on after raising is not read again."""

        class Hiccup:
            def __init__(self) -> None:
                self.n = 0

            def __iter__(self) -> Hiccup:
                return self

            def __next__(self) -> int:
                self.n += 1
                if self.n == 4:  # in the middle of the second chunk
                    raise InputBroke("input broke")
                return self.n

        source = Hiccup()
        records: list[Any] = []
        with pytest.raises(InputBroke):
            records.extend(map_settled(tasks.identity, source, executor=thread_pool, chunksize=2))
        assert records == [Fulfilled(1, 0), Fulfilled(2, 1), Fulfilled(3, 2)]
        assert source.n == 4

    def test_map_all_raises_at_once(self) -> None:
        """map_all: the input's error is a failure, raised without waiting for the rest."""
        ex = HandMadeExecutor()  # only the first item ever settles
        with pytest.raises(InputBroke):
            list(map_all(tasks.identity, breaks_after(3), executor=ex, buffersize=8))
        assert [f.cancel_calls for f in ex.futures] == [1, 1, 1]  # none handed out yet

    @pytest.mark.usefixtures("no_gc")
    def test_the_input_error_is_freed(self, thread_pool: Any) -> None:
        """No reference cycle through the error's traceback keeps it alive."""
        refs = []
        for fn in (map_settled, map_all):
            try:
                list(fn(tasks.identity, breaks_after(2), executor=thread_pool))
            except InputBroke as exc:
                refs.append(weakref.ref(exc))
        assert len(refs) == 2
        assert [ref() for ref in refs] == [None, None]


class TestHugeSizes:
    """Sizes beyond sys.maxsize are refused at the call."""

    @pytest.mark.parametrize("name", ["chunksize", "buffersize"])
    @pytest.mark.parametrize("fn", [map_all, map_settled])
    def test_refused_at_the_call(self, thread_pool: Any, name: str, fn: Any) -> None:
        ex = RefusingExecutor(thread_pool, 0, RuntimeError("no submit expected"))
        with pytest.raises(ValueError) as info:
            fn(tasks.identity, range(3), executor=ex, **{name: sys.maxsize + 1})
        assert str(info.value) == (
            f"{fn.__name__}() {name} must be <= sys.maxsize ({sys.maxsize}), got {sys.maxsize + 1}"
        )
        assert ex.submits == 0

    @pytest.mark.parametrize("name", ["chunksize", "buffersize"])
    def test_maxsize_itself_works(self, thread_pool: Any, name: str) -> None:
        out = list(map_all(tasks.square, range(5), executor=thread_pool, **{name: sys.maxsize}))
        assert out == [0, 1, 4, 9, 16]
