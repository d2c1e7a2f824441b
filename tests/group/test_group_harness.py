"""The hostile-engine harness of the wait functions and maps, run against the task group.

Every engine of ``tests/duck.py`` (callbacks twice, before ``done()``, on
another thread, never for a future already done, slow reads; ``cancel()``
missing or raising) and the executors of ``tests/core/test_hostile.py``
(inline, on a pool) plus ones that retry, refuse or cache, in every mode;
with submits from the body, from tasks and from another thread, refused
submits, and ``as_settled()`` during and after the exit. Each case checks
the mode's contract on an answer it can predict whatever the engine's
timing: the exact answer where nothing cancels (all values; ``"settled"``),
what must hold where something does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from futures_settle import Fulfilled, Rejected, TaskGroup

from helpers.duck import Hostile, HostileCancel

pytestmark = pytest.mark.timeout(60)

MODES = ("all", "settled", "any", "first")
FLAGS = ("twice", "early", "threaded", "never_if_done", "slow", "cancel", "cancel_refused")


class HostileExecutor:
    """Runs each task at once (its future done before the group attaches) or on a pool,
    and hands out ``Hostile`` futures; ``refuse_every``: every n-th submit raises."""

    def __init__(self, pool: ThreadPoolExecutor | None, flag: str, refuse_every: int = 0) -> None:
        self.pool, self.flag, self.refuse_every = pool, flag, refuse_every
        self.submits = 0

    def _future(self) -> Hostile:
        if self.flag == "slow":
            return Hostile(slow=0.001)
        if self.flag == "cancel":
            return HostileCancel()
        if self.flag == "cancel_refused":
            return HostileCancel(refuse=True)
        return Hostile(**{self.flag: True})

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Hostile:
        self.submits += 1
        if self.refuse_every and self.submits % self.refuse_every == 0:
            raise RuntimeError("this engine refuses the submit")
        f = self._future()

        def run() -> None:
            if f.done():  # cancelled while queued
                return
            try:
                value = fn(*args, **kwargs)
            except BaseException as exc:
                f.set_exception(exc)
            else:
                f.set_result(value)

        if self.pool is None:
            run()
        else:
            self.pool.submit(run)
        return f


class CachingExecutor:
    """Returns a done future for a task it has run before, without running it again
    (a group's task reaches it wrapped: the cache looks at the wrapped call)."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool
        self.cache: dict[Any, Any] = {}

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        key = (getattr(fn, "fn", fn), getattr(fn, "args", args))
        if key in self.cache:
            f: Future[Any] = Future()
            f.set_result(self.cache[key])
            return f
        fut = self.pool.submit(fn, *args, **kwargs)
        fut.add_done_callback(lambda f: f.exception() or self.cache.setdefault(key, f.result()))
        return fut


def inverse(x: int) -> float:
    return 1 / x


@pytest.fixture(params=["at once", "on a pool"])
def where(request: pytest.FixtureRequest, thread_pool: ThreadPoolExecutor) -> Any:
    return None if request.param == "at once" else thread_pool


def run(
    ex: Any, mode: str, inputs: list[int], extra: Callable[[TaskGroup[Any]], None] | None = None
) -> tuple[Any, BaseException | None, list[Any]]:
    """The group's answer (or None), what its exit raised, and as_settled()'s records."""
    streamed: list[Any] = []
    tg: TaskGroup[Any] = TaskGroup(ex, mode=mode, timeout=30)  # type: ignore[call-overload]
    try:
        with tg:
            for x in inputs:
                try:
                    tg.submit(inverse, x)
                except RuntimeError as refused:
                    assert str(refused) == "this engine refuses the submit"
            if extra is not None:
                extra(tg)
            streamed.extend(tg.as_settled())
    except BaseException as error:
        return None, error, streamed
    return tg.result(), None, streamed


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_on_hostile_engines(flag: str, mode: str, where: Any) -> None:
    """Values only: every mode's exact answer. One failure: what the mode promises."""
    ok, error, streamed = run(HostileExecutor(where, flag), mode, [1, 2, 4])
    assert error is None
    expected = {
        "all": [1.0, 0.5, 0.25],
        "settled": [Fulfilled(1.0, 0), Fulfilled(0.5, 1), Fulfilled(0.25, 2)],
    }
    if mode in expected:
        assert ok == expected[mode]
        assert sorted(r.index for r in streamed) == [0, 1, 2]
    else:
        assert ok in (1.0, 0.5, 0.25)
    answer, error, streamed = run(HostileExecutor(where, flag), mode, [1, 0, 4])
    if mode == "all":
        assert isinstance(error, ExceptionGroup)
        assert [type(e) for e in error.exceptions] == [ZeroDivisionError]
    elif mode == "settled":
        assert error is None
        assert [r.status for r in answer] == ["fulfilled", "rejected", "fulfilled"]
        assert sorted(r.index for r in streamed) == [0, 1, 2]
    elif mode == "any":
        assert error is None
        assert answer in (1.0, 0.25)
    else:
        assert (error is None and answer in (1.0, 0.25)) or type(error) is ZeroDivisionError
    for record in streamed:
        assert isinstance(record, (Fulfilled, Rejected))


@pytest.mark.parametrize("flag", FLAGS)
def test_refused_submits_take_no_place(flag: str, where: Any) -> None:
    """Every second submit refused: the answer holds the others, numbered as if the
    refused ones were never submitted (no other thread took a number meanwhile)."""
    answer, error, _ = run(HostileExecutor(where, flag, refuse_every=2), "settled", [1, 2, 4, 5])
    assert error is None
    assert [(r.index, r.value) for r in answer] == [(0, 1.0), (1, 0.25)]


@pytest.mark.parametrize("flag", FLAGS)
def test_submits_from_tasks_and_from_another_thread(
    flag: str, thread_pool: ThreadPoolExecutor
) -> None:
    """Tasks that submit, a thread that submits while the body streams: all answered."""
    ex = HostileExecutor(thread_pool, flag)

    def extra(tg: TaskGroup[Any]) -> None:
        def spawner(n: int) -> int:
            if n:
                tg.submit(spawner, n - 1)
            return n

        tg.submit(spawner, 3)
        t = threading.Thread(target=lambda: [tg.submit(inverse, x) for x in (8, 16)])
        t.start()
        t.join(30)

    answer, error, streamed = run(ex, "settled", [1], extra)
    assert error is None
    assert sorted(r.value for r in answer) == sorted([1.0, 3, 2, 1, 0, 0.125, 0.0625])
    assert sorted(r.index for r in streamed) == list(range(7))


@pytest.mark.parametrize("mode", MODES)
def test_as_settled_after_the_exit_and_a_caching_executor(mode: str) -> None:
    """A cache that answers without running: the group counts it as any task's value;
    as_settled() iterated after the exit yields the answer's records."""
    with ThreadPoolExecutor(2) as threads:
        pool = CachingExecutor(threads)
        with TaskGroup(pool) as warm:
            warm.submit(inverse, 2)
        assert len(pool.cache) == 1
        tg: TaskGroup[Any] = TaskGroup(pool, mode=mode)  # type: ignore[call-overload]
        with tg:
            cached = tg.submit(inverse, 2)
            stream = tg.as_settled()
        assert cached.result() == 0.5
        assert [(r.index, r.value) for r in stream] == [(0, 0.5)]
