"""A generator already read to its end is refused, not taken for an empty input."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from futures_settle import (
    as_settled,
    map_all,
    map_settled,
    wait_all,
    wait_any,
    wait_first,
    wait_settled,
)

WAITS: list[Callable[..., Any]] = [wait_all, wait_settled, wait_any, wait_first, as_settled]
MAPS: list[Callable[..., Any]] = [map_all, map_settled]
waits = pytest.mark.parametrize("fn", WAITS, ids=lambda f: f.__name__)
maps = pytest.mark.parametrize("fn", MAPS, ids=lambda f: f.__name__)


def message(name: str) -> str:
    return re.escape(
        f"{name}() got a generator that is already exhausted: a generator can be read "
        "only once; pass a list, or a new generator"
    )


def done(value: int) -> Future[int]:
    f: Future[int] = Future()
    f.set_result(value)
    return f


def futures(n: int) -> Iterator[Future[int]]:
    for k in range(n):
        yield done(k)


def consumed() -> Iterator[Future[int]]:
    g = futures(2)
    list(g)
    return g


def broken() -> Iterator[int]:
    yield 1
    raise KeyError("x")


class Refusing(ThreadPoolExecutor):
    """A pool that fails the test if anything is submitted to it."""

    submitted = 0

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        raise AssertionError("nothing may be submitted")


@waits
def test_wait_functions_refuse_a_consumed_generator(fn: Callable[..., Any]) -> None:
    """The second call over the same generator raises instead of answering for no inputs."""
    with pytest.raises(ValueError, match=f"^{message(fn.__name__)}$"):
        fn(consumed())


@waits
@pytest.mark.parametrize("how", ["closed", "raised"])
def test_a_generator_closed_or_broken_is_exhausted(fn: Callable[..., Any], how: str) -> None:
    """A generator that was closed, or that raised, has nothing more either."""
    g = futures(2) if how == "closed" else broken()
    if how == "closed":
        g.close()
    else:
        with pytest.raises(KeyError):
            list(g)
    with pytest.raises(ValueError, match=f"^{message(fn.__name__)}$"):
        fn(g)


@waits
def test_fresh_and_partly_read_generators_work(fn: Callable[..., Any]) -> None:
    """A fresh generator gives all its items, a partly read one what it has left."""
    fresh = futures(3)
    partly = futures(3)
    next(partly)
    for g, first in ((fresh, 0), (partly, 1)):
        answer = fn(g)
        if fn is wait_all:
            assert answer == list(range(first, 3))
        elif fn in (wait_settled, as_settled):
            assert [r.value for r in answer] == list(range(first, 3))
        else:
            assert answer == first


def test_an_empty_list_is_still_an_empty_input() -> None:
    """Only finished generators are refused: an empty list still answers []."""
    assert wait_all([]) == []
    assert wait_settled([]) == []


@maps
@pytest.mark.parametrize("position", [0, 1])
def test_maps_refuse_a_consumed_generator_before_any_work(
    fn: Callable[..., Any], position: int
) -> None:
    """Any of the argument iterables: refused at the call, nothing submitted."""
    gen = iter(range(2)) if position else consumed_ints()
    other = consumed_ints() if position else [1, 2]
    iterables = (gen, other)
    with Refusing(1) as pool:
        with pytest.raises(ValueError, match=f"^{message(fn.__name__)}$"):
            fn(pow, *iterables, executor=pool)
        assert pool.submitted == 0


def consumed_ints() -> Iterator[int]:
    g = (k for k in range(3))
    list(g)
    return g


@maps
def test_maps_take_fresh_and_partly_read_generators(
    fn: Callable[..., Any], thread_pool: ThreadPoolExecutor
) -> None:
    """A partly read generator gives the map what it has left."""
    g = (k for k in range(4))
    next(g)
    out = list(fn(abs, g, executor=thread_pool))
    assert (out if fn is map_all else [r.value for r in out]) == [1, 2, 3]
    fresh = (k for k in range(2))
    out = list(fn(abs, fresh, executor=thread_pool))
    assert (out if fn is map_all else [r.value for r in out]) == [0, 1]
