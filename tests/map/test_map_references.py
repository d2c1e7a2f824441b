"""What a map lets go of: nothing handed out stays referenced by the map."""

from __future__ import annotations

import weakref

import pytest

from futures_settle import map_all, map_settled

from helpers.engines import InlineExecutor

pytestmark = pytest.mark.timeout(60)


class Dummy:
    """An object a weak reference can watch."""


def make_dummy(_: int) -> Dummy:
    return Dummy()


@pytest.mark.usefixtures("no_gc")
class TestFreeReference:
    """After an item is handed out, the map keeps no reference to it."""

    @pytest.mark.parametrize("chunksize", [1, 3])
    @pytest.mark.parametrize("ordered", [True, False])
    def test_map_all(self, chunksize: int, ordered: bool) -> None:
        """As CPython's test_free_reference for Executor.map."""
        n = 0
        for obj in map_all(
            make_dummy, range(10), executor=InlineExecutor(), chunksize=chunksize, ordered=ordered
        ):
            ref = weakref.ref(obj)
            del obj
            assert ref() is None
            n += 1
        assert n == 10

    @pytest.mark.parametrize("chunksize", [1, 3])
    def test_map_settled(self, chunksize: int) -> None:
        n = 0
        for record in map_settled(
            make_dummy, range(10), executor=InlineExecutor(), chunksize=chunksize
        ):
            ref = weakref.ref(record.value)  # type: ignore[union-attr]
            del record
            assert ref() is None
            n += 1
        assert n == 10
