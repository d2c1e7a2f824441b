"""The supervised pool's test fixtures: pools that end, and leave no worker behind."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from futures_settle import SupervisedPool

import pool_tasks as pt

T = 30  # seconds: a bound on every wait that only a hang would cross


@pytest.fixture
def make_pool() -> Iterator[Callable[..., SupervisedPool]]:
    """Pools made here are shut down at the end, and none of their workers may survive.

    ``make(*args, method=None, **kwargs)`` builds a ``SupervisedPool``
    (``method`` names the start method). At teardown each pool is shut down
    (``wait=True``) as a user's ``with`` block would; a shutdown that has not
    returned within ``T`` is a failure, and ``terminate()`` then ends the
    pool all the same, so that no worker outlives a failing test either.
    """
    made: list[SupervisedPool] = []

    def make(*args: Any, method: str | None = None, **kwargs: Any) -> SupervisedPool:
        if method is not None:
            kwargs["mp_context"] = multiprocessing.get_context(method)
        pool = SupervisedPool(*args, **kwargs)
        made.append(pool)
        return pool

    yield make
    hung = []
    for pool in made:
        ending = threading.Thread(target=pool.shutdown, name="make_pool-teardown", daemon=True)
        ending.start()
        ending.join(T)
        if ending.is_alive():
            hung.append(pool)
        pool.terminate()  # nothing to do after a shutdown that returned
    for pool in made:
        assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())
    assert not hung, f"shutdown() did not return within {T} s"
