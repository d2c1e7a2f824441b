"""The same calls over a dask.distributed LocalCluster on loopback, alone and mixed."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import CancelledError
from typing import Any

import pytest

from futures_settle import (
    Fulfilled,
    Rejected,
    SettleTimeoutError,
    as_settled,
    map_all,
    map_settled,
    wait_all,
    wait_any,
    wait_first,
    wait_settled,
)

from helpers import tasks

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed comes with the [dask] extra"
)

pytestmark = pytest.mark.timeout(60)
GATE = threading.Event()  # in-process workers share it: tasks block on it


def gated(x: Any) -> Any:
    GATE.wait(30)
    return x


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    GATE.clear()
    try:
        yield GATE
    finally:
        GATE.set()


def test_dask_futures_are_not_stdlib_futures(client: Any) -> None:
    from concurrent.futures import Future

    f = client.submit(tasks.identity, 1)
    assert not isinstance(f, Future)
    assert isinstance(client.get_executor().submit(tasks.identity, 1), Future)


def test_every_call(client: Any) -> None:
    fs = [client.submit(tasks.identity, "user data"), client.submit(tasks.fail, "DB error")]
    with pytest.raises(ValueError, match="^DB error$"):
        wait_all(fs, timeout=30)
    records = wait_settled(fs, timeout=30)
    assert records[0] == Fulfilled("user data", 0)
    assert isinstance(records[1], Rejected)
    assert str(records[1].reason) == "DB error"
    assert wait_any(fs, timeout=30) == "user data"
    assert sorted(r.index for r in as_settled(fs, timeout=30)) == [0, 1]
    assert wait_all([client.submit(tasks.square, i) for i in range(10)], timeout=30) == [
        i * i for i in range(10)
    ]


def test_fail_fast_while_a_task_blocks(client: Any, gate: threading.Event) -> None:
    slow = client.submit(gated, "cache data", pure=False)
    bad = client.submit(tasks.fail, "DB error", pure=False)
    with pytest.raises(ValueError, match="^DB error$"):
        wait_all([slow, bad], timeout=30)
    assert not slow.done()
    assert wait_first([slow, client.submit(tasks.identity, "quick")], timeout=30) == "quick"
    gate.set()
    assert wait_all([slow], timeout=30) == ["cache data"]


def test_mixed_with_every_engine(
    client: Any, thread_pool: Any, process_pool: Any, loky_pool: Any
) -> None:
    fs = [
        client.submit(tasks.identity, "dask"),
        client.get_executor().submit(tasks.identity, "dask executor"),
        thread_pool.submit(tasks.identity, "thread"),
        process_pool.submit(tasks.identity, "process"),
        loky_pool.submit(tasks.identity, "loky"),
    ]
    assert wait_all(fs, timeout=30) == ["dask", "dask executor", "thread", "process", "loky"]
    assert [r.status for r in wait_settled(fs, timeout=30)] == ["fulfilled"] * 5


def test_map_over_client_and_executor(client: Any) -> None:
    for executor in (client, client.get_executor()):
        records = list(map_settled(tasks.fail_on, range(6), [2] * 6, executor=executor))
        assert [r.status for r in records] == ["fulfilled"] * 2 + ["rejected"] + ["fulfilled"] * 3
        assert list(map_all(tasks.square, range(5), executor=executor, ordered=False)) != []


def test_cancelled_task_is_a_record(client: Any, gate: threading.Event) -> None:
    f = client.submit(gated, 1, pure=False)
    f.cancel()
    (record,) = wait_settled([f], timeout=30)
    assert isinstance(record, Rejected)
    assert isinstance(record.reason, CancelledError)
    with pytest.raises(CancelledError):
        wait_all([f], timeout=30)


def test_cancel_pending_cancels_queued_dask_tasks(client: Any, gate: threading.Event) -> None:
    """A failure elsewhere cancels the dask tasks still queued behind busy workers."""
    from concurrent.futures import Future

    busy = [client.submit(gated, i, pure=False) for i in range(2)]  # both worker threads
    queued = client.submit(gated, "queued", pure=False)
    bad: Future[Any] = Future()
    threading.Timer(0.05, bad.set_exception, (ValueError("stop"),)).start()
    with pytest.raises(ValueError, match="^stop$"):
        wait_all([*busy, queued, bad], timeout=30, cancel_pending=True)
    assert queued.cancelled()


def test_timeout(client: Any, gate: threading.Event) -> None:
    f = client.submit(gated, 1, pure=False)
    (record,) = wait_settled([f], timeout=0.05)
    assert isinstance(record.reason, SettleTimeoutError)  # type: ignore[union-attr]
    with pytest.raises(SettleTimeoutError):
        wait_all([f], timeout=0.05)


def test_client_closed_under_a_wait() -> None:
    """Closing the client while a call waits gives records, never a hang."""
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    GATE.clear()
    try:
        with distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster:
            c = distributed.Client(cluster)
            f = c.submit(gated, 1, pure=False)
            threading.Timer(0.2, c.close).start()
            (record,) = wait_settled([f], timeout=30)
            GATE.set()  # let the worker finish before the cluster closes
    finally:
        GATE.set()
    assert isinstance(record, Rejected)
    assert isinstance(record.reason, CancelledError)


@pytest.mark.timeout(120)
def test_worker_lost_mid_task() -> None:
    """A worker process that dies mid-task gives a Rejected(KilledWorker) record."""
    import dask

    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        f = c.submit(os._exit, 1, pure=False)
        (record,) = wait_settled([f], timeout=60)
    assert isinstance(record, Rejected)
    assert type(record.reason).__name__ == "KilledWorker"


def test_no_dask_import_unless_used() -> None:
    code = (
        "import sys, futures_settle\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "with ThreadPoolExecutor() as p:\n"
        "    futures_settle.wait_settled([p.submit(int, '1')])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every read of a dask future's outcome: (how, key) per future gathered or asked."""
    log: list[tuple[str, Any]] = []
    real_gather = distributed.Client.gather
    real_result = distributed.Future.result
    real_exception = distributed.Future.exception

    def gather(self: Any, futures: Any, *args: Any, **kwargs: Any) -> Any:
        log.extend(("gather", f.key) for f in futures)
        return real_gather(self, futures, *args, **kwargs)

    def result(self: Any, *args: Any, **kwargs: Any) -> Any:
        log.append(("result", self.key))
        return real_result(self, *args, **kwargs)

    def exception(self: Any, *args: Any, **kwargs: Any) -> Any:
        log.append(("exception", self.key))
        return real_exception(self, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "gather", gather)
    monkeypatch.setattr(distributed.Future, "result", result)
    monkeypatch.setattr(distributed.Future, "exception", exception)
    return log


def _finished(client: Any, fn: Any, args: list[Any]) -> list[Any]:
    fs = [client.submit(fn, a, pure=False) for a in args]
    distributed.wait(fs, timeout=30)
    return fs


def _fetched(reads: list[tuple[str, Any]]) -> list[Any]:
    """The keys whose result was fetched (exception() of a fulfilled future fetches nothing)."""
    return [key for how, key in reads if how != "exception"]


def test_as_settled_reads_nothing_at_the_call_and_each_result_once(
    client: Any, reads: list[tuple[str, Any]]
) -> None:
    """Checking the input reads no result; iterating reads each one once."""
    fs = _finished(client, tasks.identity, list(range(5)))
    it = as_settled(fs, timeout=30)
    assert reads == []
    assert [r.value for r in it] == list(range(5))  # type: ignore[union-attr]
    assert sorted(_fetched(reads)) == sorted(f.key for f in fs)


def test_wait_first_reads_only_the_first(client: Any, reads: list[tuple[str, Any]]) -> None:
    fs = _finished(client, tasks.identity, list(range(5)))
    assert wait_first(fs, timeout=30) == 0
    assert _fetched(reads) == [fs[0].key]
    assert {key for _, key in reads} == {fs[0].key}


def test_wait_any_reads_only_the_winner(client: Any, reads: list[tuple[str, Any]]) -> None:
    """Failed inputs are told by their status, not read; the winner alone is fetched."""
    bad = _finished(client, tasks.fail, ["DB error", "cache error"])
    good = _finished(client, tasks.identity, list(range(3)))
    assert wait_any([*bad, *good], timeout=30) == 0
    assert _fetched(reads) == [good[0].key]
    assert {key for _, key in reads} == {good[0].key}  # no failure read either
