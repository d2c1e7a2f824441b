"""Retrying maps and groups on hostile engines: callbacks early, late, twice,
on another thread, or never for a done future.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from futures_settle import (
    TaskGroup,
    map_all,
    map_settled,
)

from helpers.duck import Hostile
from helpers.retry_tasks import FAST, FailsFirst

pytestmark = pytest.mark.timeout(60)


class _HostileExecutor:
    """Runs each task on ``pool`` (or at once) and hands out ``Hostile`` futures with the flags."""

    def __init__(self, pool: ThreadPoolExecutor | None, **flags: Any) -> None:
        self.pool, self.flags = pool, flags  # no pool: run at once, in submit()

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Hostile:
        f = Hostile(**self.flags)

        def run() -> None:
            try:
                f.set_result(fn(*args))
            except Exception as exc:
                f.set_exception(exc)

        if self.pool is None:
            run()
        else:
            self.pool.submit(run)
        return f


class TestHostileEngines:
    """The hostile-engine harness (tests/helpers/duck.py) against retrying maps and groups."""

    FLAGS = ("twice", "threaded", "never_if_done", "slow", "early")

    @pytest.mark.parametrize("where", ["at once", "on a pool"])
    @pytest.mark.parametrize("flag", FLAGS)
    def test_map_settled(self, flag: str, where: str, thread_pool: ThreadPoolExecutor) -> None:
        """Callbacks twice, early, on other threads, never once done: each item once, with the
        runs it made (an item run twice by a doubled callback would say 3 or lose a record)."""
        options: dict[str, Any] = {"slow": 0.001} if flag == "slow" else {flag: True}
        fn = FailsFirst({1, 3}, fails=2)
        ex = _HostileExecutor(None if where == "at once" else thread_pool, **options)
        records = list(map_settled(fn, range(5), executor=ex, timeout=30, retry=FAST))
        assert [(r.index, r.status, r.attempts, len(r.earlier)) for r in records] == [
            (0, "fulfilled", 1, 0),
            (1, "fulfilled", 3, 2),
            (2, "fulfilled", 1, 0),
            (3, "fulfilled", 3, 2),
            (4, "fulfilled", 1, 0),
        ]
        assert fn.runs == {0: 1, 1: 3, 2: 1, 3: 3, 4: 1}
        fn = FailsFirst({2}, fails=5)
        with pytest.raises(ConnectionResetError, match="^item 2 run 3$"):
            list(map_all(fn, range(4), executor=ex, timeout=30, retry=FAST))
        assert fn.runs[2] == 3

    @pytest.mark.timeout(20)  # the group's deadline is 5 s: past it, a task it lost
    @pytest.mark.parametrize("where", ["at once", "on a pool"])
    @pytest.mark.parametrize("flag", FLAGS)
    def test_group(self, flag: str, where: str, thread_pool: ThreadPoolExecutor) -> None:
        """The same for a group: a doubled or early callback starts no extra attempt, a
        dropped one loses no task."""
        options: dict[str, Any] = {"slow": 0.001} if flag == "slow" else {flag: True}
        fn = FailsFirst({1}, fails=2)
        ex = _HostileExecutor(None if where == "at once" else thread_pool, **options)
        with TaskGroup(ex, mode="settled", timeout=5, retry=FAST) as tg:
            futures = [tg.submit(fn, x) for x in range(3)]
        assert [(r.value, r.attempts) for r in tg.result()] == [(0, 1), (10, 3), (20, 1)]  # type: ignore[union-attr]
        assert [f.result() for f in futures] == [0, 10, 20]
        assert fn.runs == {0: 1, 1: 3, 2: 1}
