"""The deadline a task runs under: nearer wins, it resets, and it crosses processes unchanged."""

from __future__ import annotations

import multiprocessing
import pickle
import threading
from concurrent.futures import ProcessPoolExecutor

import pytest

from futures_settle import remaining
from futures_settle._core.deadline import Deadline, current, nearer, run_within, within


def test_no_deadline_outside_any_task() -> None:
    """Outside a task with a deadline, remaining() is None (urlopen's 'no timeout')."""
    assert remaining() is None
    assert current() is None


def test_within_sets_and_resets() -> None:
    """A block under a deadline sees the time left, clamped at 0, and nothing after it."""
    with within(Deadline.after(30)):
        left = remaining()
        assert left is not None
        assert 29 < left <= 30
    assert remaining() is None
    with within(Deadline.after(-5)):
        assert remaining() == 0.0
    assert remaining() is None


def test_the_nearer_deadline_wins_when_nested() -> None:
    """An inner block keeps the outer deadline if it is nearer, and its own if that is."""
    outer, inner = Deadline.after(10), Deadline.after(100)
    with within(outer):
        with within(inner) as effective:
            assert effective is outer
        with within(Deadline.after(1)) as effective:
            assert effective is not outer
            left = remaining()
            assert left is not None
            assert left <= 1
        with within(None) as effective:
            assert effective is outer
    assert nearer(None, None) is None
    assert nearer(inner, None) is inner
    assert nearer(None, outer) is outer


def test_a_deadline_does_not_reach_other_threads() -> None:
    """A deadline set in one thread is not seen by a thread started without its context."""
    seen: list[float | None] = []
    with within(Deadline.after(10)):
        t = threading.Thread(target=lambda: seen.append(remaining()))
        t.start()
        t.join(10)
    assert seen == [None]


def test_pickled_it_means_the_same_moment() -> None:
    """Through pickle (twice, as a scheduler in between would), the time left is kept."""
    d = Deadline.after(20)
    again = pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(d))))
    assert abs(again.left() - d.left()) < 0.5


def test_run_within_passes_arguments_and_resets() -> None:
    """The wrapper a worker calls gives the function its arguments under the deadline."""
    assert run_within(Deadline.after(5), divmod, (7, 2), {}) == (3, 1)
    assert run_within(None, dict, (), {"a": 1}) == {"a": 1}
    assert remaining() is None


def _left_in_worker() -> float | None:
    return remaining()


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_it_crosses_to_worker_processes(method: str) -> None:
    """In a worker process, under each start method, the deadline still has about as much left."""
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        left = pool.submit(run_within, Deadline.after(60), _left_in_worker, (), {}).result(30)
        assert pool.submit(_left_in_worker).result(30) is None
    assert left is not None
    assert 0 < left <= 60
