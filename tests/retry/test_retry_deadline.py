"""Retries and the map's deadline: no retry or input pulled after it, whatever the consumer does."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from futures_settle import (
    Retry,
    SettleTimeoutError,
    map_all,
    map_settled,
)

from helpers.retry_tasks import FailsFirst

pytestmark = pytest.mark.timeout(60)


class _Timed:
    """Wraps a pool: the monotonic time of each submit."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.times: list[float] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        self.times.append(time.monotonic())
        return self.pool.submit(fn, *args)


class TestDeadline:
    def test_map_starts_no_retry_after_its_deadline_for_a_slow_consumer(self) -> None:
        """The consumer holds a record past the map's timeout while an item's retry, due before
        the deadline, waits: the map must not submit it when the consumer comes back."""
        timeout = 0.5
        fn = FailsFirst({0})
        with ThreadPoolExecutor(1) as pool:
            ex = _Timed(pool)
            retry = Retry(ConnectionError, attempts=2, delay=0.2, jitter=0)
            it = map_settled(fn, [0, 1], executor=ex, timeout=timeout, ordered=False, retry=retry)
            latest = time.monotonic() + timeout  # the map's deadline is no later
            first = next(it)
            time.sleep(max(0.0, latest + 0.05 - time.monotonic()))
            rest = list(it)
        assert [t >= latest for t in ex.times] == [False, False]
        if first.index == 1:  # the retry was not due before the first record (the usual case)
            (record,) = rest
            assert (type(record.reason), record.attempts) == (ConnectionResetError, 1)  # type: ignore[union-attr]
        fn = FailsFirst({0})
        with ThreadPoolExecutor(1) as pool:
            ex = _Timed(pool)
            it = map_all(fn, [0, 1], executor=ex, timeout=timeout, ordered=False, retry=retry)
            latest = time.monotonic() + timeout
            next(it)
            time.sleep(max(0.0, latest + 0.05 - time.monotonic()))
            with pytest.raises(SettleTimeoutError):
                next(it)
        assert [t >= latest for t in ex.times] == [False, False]

    def test_map_pulls_no_input_after_its_deadline_for_a_slow_consumer(self) -> None:
        """The same slow consumer, without retry=: no item is pulled past the deadline."""
        pulls: list[float] = []
        with ThreadPoolExecutor(1) as pool:
            it = map_settled(abs, _endless(pulls), executor=pool, timeout=0.5, buffersize=2)
            latest = time.monotonic() + 0.5
            next(it)
            time.sleep(max(0.0, latest + 0.05 - time.monotonic()))
            list(it)
        assert [t for t in pulls if t >= latest] == []

    def test_map_all_back_after_its_deadline_raises_the_timeout(self) -> None:
        """map_all whose consumer held every pulled item past the deadline: it raises
        SettleTimeoutError (0 in flight), pulls nothing more, never ends as if the input
        had run out."""
        pulls: list[float] = []
        with ThreadPoolExecutor(1) as pool:
            it = map_all(abs, _endless(pulls), executor=pool, timeout=0.5, buffersize=1)
            latest = time.monotonic() + 0.5
            assert next(it) == 0
            time.sleep(max(0.0, latest + 0.05 - time.monotonic()))
            with pytest.raises(SettleTimeoutError) as caught:
                list(it)
        assert caught.value.timeout == 0.5
        assert [t for t in pulls if t >= latest] == []


def _endless(pulls: list[float]) -> Iterator[int]:
    """0, 1, 2, ... for ever, noting when each is pulled."""
    for i in itertools.count():
        pulls.append(time.monotonic())
        yield i
