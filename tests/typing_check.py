"""Checked by ``mypy --strict`` in CI, never run: the public signatures as users see them."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, assert_type

from futures_settle import (
    Fulfilled,
    Rejected,
    Retry,
    Settled,
    TaskGroup,
    as_settled,
    check_cancelled,
    map_all,
    map_settled,
    wait_all,
    wait_any,
    wait_first,
    wait_settled,
)


def check(fi: Future[int], fs: Future[str]) -> None:
    assert_type(wait_all([fi, fi]), list[int])
    assert_type(wait_all({"a": fi}), dict[str, int])
    assert_type(wait_all(f for f in [fi]), list[int])
    assert_type(wait_settled([fi]), list[Fulfilled[int] | Rejected])
    assert_type(wait_settled({1: fi}), dict[int, Fulfilled[int] | Rejected])
    assert_type(wait_any([fi]), int)
    assert_type(wait_first([fi], timeout=1.0, cancel_pending=True), int)
    assert_type(as_settled([fi]), Iterator[Fulfilled[int] | Rejected])

    pool = ThreadPoolExecutor()
    assert_type(map_all(len, ["a"], executor=pool), Iterator[int])
    assert_type(map_settled(str, [1], executor=pool), Iterator[Fulfilled[str] | Rejected])

    record: Settled[int] = wait_settled([fi])[0]
    match record:
        case Fulfilled(value):
            assert_type(value, int)
        case Rejected(reason):
            assert_type(reason, BaseException)

    assert_type(Fulfilled("x").unwrap(), str)
    mixed: list[Future[int] | int] = [fi, 1]
    assert_type(wait_all(mixed), list[int])
    assert_type(wait_settled({"k": fs}), dict[str, Fulfilled[str] | Rejected])

    with TaskGroup(pool) as tg:
        assert_type(tg.submit(len, "abc"), Future[int])
        assert_type(tg.submit(pow, 2, 3), Future[int])
        assert_type(tg.as_settled(), Iterator[Fulfilled[Any] | Rejected])
        tg.cancel()
    assert_type(tg, TaskGroup[list[Any]])
    assert_type(tg.result(), list[Any])
    with TaskGroup(pool, mode="settled", timeout=1.0) as settled:
        settled.submit(str, 1)
    assert_type(settled.result(), list[Fulfilled[Any] | Rejected])
    with TaskGroup(pool, mode="any") as hedged:
        hedged.submit(str, 1)
    assert_type(hedged.result(), Any)
    assert_type(check_cancelled(), None)

    retry = Retry(ConnectionError, attempts=2)
    assert_type(Retry((OSError, TimeoutError)), Retry)
    assert_type(Retry(lambda exc: "503" in str(exc)), Retry)
    assert_type(map_all(len, ["a"], executor=pool, retry=retry), Iterator[int])
    retried = next(map_settled(str, [1], executor=pool, retry=retry))
    assert_type(retried.attempts, int)
    assert_type(retried.earlier, tuple[BaseException, ...])
    assert_type(Rejected(OSError(), 0).attempts, int)
    assert_type(Fulfilled(1, 0).earlier, tuple[BaseException, ...])
    with TaskGroup(pool, mode="settled", retry=retry) as again:
        assert_type(again.submit(len, "abc"), Future[int])

    # Misuse that must not type-check.
    wait_all([fi], 1.0)  # type: ignore[call-overload]
    wait_all([fi], timeout="1")  # type: ignore[call-overload]
    Rejected("not an exception")  # type: ignore[arg-type]
    TaskGroup(pool, mode="race")  # type: ignore[call-overload]
    TaskGroup(pool, timeout="1")  # type: ignore[call-overload]
    TaskGroup(pool, retry="x")  # type: ignore[call-overload]
    map_settled(str, [1], executor=pool, retry=3)  # type: ignore[arg-type]
    Retry(ConnectionError, attempts="3")  # type: ignore[arg-type]
    Retry(3)  # type: ignore[arg-type]
    with TaskGroup(pool) as group:
        group.submit(len, 3)  # type: ignore[arg-type]
        group.submit(len, "a", "b")  # type: ignore[call-arg]


def check_supervised_pool() -> None:
    from futures_settle import SupervisedPool, TaskTimeoutError, WorkerDiedError

    with SupervisedPool(2, task_timeout=1.0, grace=0.5) as pool:
        assert_type(pool.submit(pow, 2, 3), Future[int])
        assert_type(pool.submit(str.upper, "a"), Future[str])
    err = WorkerDiedError(1, -9)
    assert_type(err.pid, int)
    assert_type(err.exitcode, int | None)
    assert_type(TaskTimeoutError(1.0, 2).timeout, float)
    SupervisedPool(task_timeout="1")  # type: ignore[arg-type]
