"""SettleTimeoutError, and raising stored exceptions without growing their tracebacks."""

from __future__ import annotations

import pickle
import traceback
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from futures_settle import SettleTimeoutError, wait_all, wait_first
from futures_settle._errors import reraise


def test_timeout_error_is_a_timeout_error() -> None:
    e = SettleTimeoutError("m", timeout=1.0, unfinished=2, total=3)
    assert isinstance(e, TimeoutError)
    assert (e.timeout, e.unfinished, e.total, e.index) == (1.0, 2, 3, None)


def test_timeout_error_pickles() -> None:
    e = SettleTimeoutError("m", timeout=1.0, unfinished=2, total=3, index="k")
    back = pickle.loads(pickle.dumps(e))
    assert (str(back), back.timeout, back.unfinished, back.total, back.index) == (
        "m",
        1.0,
        2,
        3,
        "k",
    )


def _depth(exc: BaseException) -> int:
    return len(traceback.extract_tb(exc.__traceback__))


def test_stdlib_result_grows_the_traceback() -> None:
    """The behaviour we avoid, pinned so that the test below means something."""
    f: Future[None] = Future()
    f.set_exception(ValueError("x"))
    depths = []
    for _ in range(3):
        try:
            f.result()
        except ValueError as e:
            depths.append(_depth(e))
    assert depths[0] < depths[1] < depths[2]


@pytest.mark.parametrize("fn", [wait_all, wait_first])
def test_repeated_raise_does_not_grow(fn: object) -> None:
    """wait_all / wait_first on one failed future, again and again: the same depth each time."""
    with ThreadPoolExecutor(1) as pool:
        f = pool.submit(int, "x")
        f.exception()
    depths = []
    for _ in range(5):
        try:
            fn([f])  # type: ignore[operator]
        except ValueError as e:
            assert e is f.exception()
            depths.append(_depth(e))
    assert len(set(depths)) == 1, depths


def test_other_sources_keep_their_history() -> None:
    """An exception raised by us from one future, then stored in another, keeps every frame."""
    inner: Future[None] = Future()
    inner.set_exception(ValueError("inner"))

    def task() -> None:
        wait_all([inner])

    with ThreadPoolExecutor(1) as pool:
        outer = pool.submit(task)
        outer.exception()
    err = outer.exception()
    assert err is not None
    names = [fr.name for fr in traceback.extract_tb(err.__traceback__)]
    assert "task" in names
    try:
        wait_all([outer])
    except ValueError as e:
        assert "task" in [fr.name for fr in traceback.extract_tb(e.__traceback__)]


def test_reraise_sets_no_context_of_its_own() -> None:
    err = ValueError("x")
    with pytest.raises(ValueError) as info:
        reraise(err, object())
    assert info.value.__context__ is None
