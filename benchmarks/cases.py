"""The benchmark cases, each returning ``Row``s: ours against a baseline, same run.

Every case times futures_settle and its stdlib counterpart in the same
process and run, interleaved repetition by repetition, so that a noisy
moment hurts both. Times are the best (collect, end to end) or the median
(latencies) of the repetitions.
"""

from __future__ import annotations

import gc
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Executor, Future, wait
from dataclasses import dataclass
from typing import Any

from futures_settle import wait_all, wait_settled


@dataclass
class Row:
    case: str
    n: int
    ours: str
    ours_value: float
    stdlib: str
    stdlib_value: float
    unit: str  # "s/future", "s", "x", "B/record", "B"

    @property
    def ratio(self) -> float:
        return self.ours_value / self.stdlib_value if self.stdlib_value else float("nan")


def done_futures(n: int) -> list[Future[int]]:
    fs: list[Future[int]] = []
    for i in range(n):
        f: Future[int] = Future()
        f.set_result(i)
        fs.append(f)
    return fs


def _best(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def stdlib_collect(fs: Sequence[Future[Any]]) -> list[Any]:
    """What wait_all replaces: wait, then read every result in order."""
    wait(fs)
    return [f.result() for f in fs]


def stdlib_settled(fs: Sequence[Future[Any]]) -> list[Any]:
    """What wait_settled replaces: a settled loop over the futures."""
    out = []
    for f in fs:
        exc = f.exception()
        out.append(f.result() if exc is None else exc)
    return out


def collect(sizes: Sequence[int], reps: int) -> list[Row]:
    rows = []
    for n in sizes:
        fs = done_futures(n)
        times: dict[str, list[float]] = {
            k: [] for k in ("all", "std_all", "settled", "std_settled")
        }
        for _ in range(reps):
            times["std_all"].append(_best(lambda fs=fs: stdlib_collect(fs)))
            times["all"].append(_best(lambda fs=fs: wait_all(fs)))
            times["std_settled"].append(_best(lambda fs=fs: stdlib_settled(fs)))
            times["settled"].append(_best(lambda fs=fs: wait_settled(fs)))
        per = {k: min(v) / n for k, v in times.items()}
        rows.append(
            Row("collect", n, "wait_all", per["all"], "wait+result", per["std_all"], "s/future")
        )
        rows.append(
            Row(
                "collect",
                n,
                "wait_settled",
                per["settled"],
                "settled loop",
                per["std_settled"],
                "s/future",
            )
        )
    return rows


def _registered_ours(f: Future[Any]) -> bool:
    return bool(f._done_callbacks)  # type: ignore[attr-defined]


def _registered_stdlib(f: Future[Any]) -> bool:
    return bool(f._waiters)  # type: ignore[attr-defined]


def _fail_fast_once(n: int, ours: bool) -> float:
    fs: list[Future[int]] = [Future() for _ in range(n)]
    caught: list[float] = []

    def waiter() -> None:
        try:
            if ours:
                wait_all(fs)
            else:
                done, _ = wait(fs, return_when=FIRST_EXCEPTION)
                for f in done:
                    exc = f.exception()
                    if exc is not None:
                        raise exc
        except ValueError:
            caught.append(time.perf_counter())

    t = threading.Thread(target=waiter)
    t.start()
    registered = _registered_ours if ours else _registered_stdlib
    while not registered(fs[-1]):
        time.sleep(0.001)
    time.sleep(0.01)  # let the waiting thread block
    start = time.perf_counter()
    fs[-1].set_exception(ValueError("last"))
    t.join()
    return caught[0] - start


def fail_fast(sizes: Sequence[int], reps: int) -> list[Row]:
    rows = []
    for n in sizes:
        ours, std = [], []
        for _ in range(reps):
            std.append(_fail_fast_once(n, ours=False))
            ours.append(_fail_fast_once(n, ours=True))
        rows.append(
            Row(
                "fail-fast latency",
                n,
                "wait_all",
                statistics.median(ours),
                "wait(FIRST_EXCEPTION)",
                statistics.median(std),
                "s",
            )
        )
    return rows


def _complete_once(n: int, waiter: Callable[[list[Future[int]]], object] | None) -> float:
    fs: list[Future[int]] = [Future() for _ in range(n)]
    t = None
    if waiter is not None:
        t = threading.Thread(target=waiter, args=(fs,))
        t.start()
        registered = _registered_stdlib if waiter is wait else _registered_ours
        while not registered(fs[-1]):
            time.sleep(0.001)
        time.sleep(0.01)
    gc.collect()
    start = time.perf_counter()
    for i, f in enumerate(fs):
        f.set_result(i)
    elapsed = time.perf_counter() - start
    if t is not None:
        t.join()
    return elapsed


def completion(n: int, reps: int) -> list[Row]:
    """Time to complete n futures while a call waits on them, per future."""
    waiters: dict[str, Callable[[list[Future[int]]], object] | None] = {
        "nobody": None,
        "wait_all": wait_all,
        "wait_settled": wait_settled,
        "wait": wait,
    }
    times: dict[str, list[float]] = {k: [] for k in waiters}
    for _ in range(reps):
        for name, fn in waiters.items():
            times[name].append(_complete_once(n, fn))
    best = {k: min(v) / n for k, v in times.items()}
    nobody = "nobody waiting"
    return [
        Row(
            "completion",
            n,
            "wait_all waiting",
            best["wait_all"],
            nobody,
            best["nobody"],
            "s/future",
        ),
        Row(
            "completion",
            n,
            "wait_settled waiting",
            best["wait_settled"],
            nobody,
            best["nobody"],
            "s/future",
        ),
        Row(
            "completion",
            n,
            "stdlib wait() waiting",
            best["wait"],
            nobody,
            best["nobody"],
            "s/future",
        ),
    ]


def _traced(fn: Callable[[], object]) -> tuple[float, float]:
    """(bytes still held by fn's result, peak bytes during fn), tracemalloc running."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    result = fn()
    after, peak = tracemalloc.get_traced_memory()
    del result
    return after - before, peak - before


def memory(n: int) -> list[Row]:
    fs = done_futures(n)
    tracemalloc.start()
    try:
        ours_kept, ours_peak = _traced(lambda: wait_settled(fs))
        std_kept, std_peak = _traced(lambda: wait(fs))
    finally:
        tracemalloc.stop()
    return [
        Row("memory", n, "wait_settled", ours_kept / n, "wait()", std_kept / n, "B/record"),
        Row("memory", n, "wait_settled peak", ours_peak, "wait() peak", std_peak, "B"),
    ]


def _tiny(x: int) -> int:
    return x


def end_to_end(executor: Executor, name: str, n: int, reps: int) -> list[Row]:
    def ours_all() -> object:
        return wait_all([executor.submit(_tiny, i) for i in range(n)])

    def ours_settled() -> object:
        return wait_settled([executor.submit(_tiny, i) for i in range(n)])

    def std() -> object:
        return stdlib_collect([executor.submit(_tiny, i) for i in range(n)])

    std()  # warm the workers up
    times: dict[str, list[float]] = {"all": [], "settled": [], "std": []}
    for _ in range(reps):
        times["std"].append(_best(std))
        times["all"].append(_best(ours_all))
        times["settled"].append(_best(ours_settled))
    best = {k: min(v) for k, v in times.items()}
    return [
        Row(f"end to end: {name}", n, "wait_all", best["all"], "wait+result", best["std"], "s"),
        Row(
            f"end to end: {name}",
            n,
            "wait_settled",
            best["settled"],
            "wait+result",
            best["std"],
            "s",
        ),
    ]


def _maybe_fail(x: int) -> int:
    if x % 100 == 0:
        raise ValueError(x)
    return x


def dask_collect(n: int, reps: int) -> list[Row]:
    """wait_settled over n settled dask futures (1% failed) against gather(errors="skip")."""
    import logging

    try:
        import distributed
    except ImportError:
        return []
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        fs = client.map(_maybe_fail, range(n), pure=False)
        distributed.wait(fs)

        def theirs() -> object:
            values = client.gather(fs, errors="skip")
            failures = [(i, f.exception()) for i, f in enumerate(fs) if f.status == "error"]
            return values, failures

        times: dict[str, list[float]] = {"ours": [], "theirs": []}
        for rep in range(max(reps, 2)):
            # Whichever reads a batch first pays ~30% more here: alternate.
            pair = [("theirs", theirs), ("ours", lambda: wait_settled(fs))]
            for name, fn in pair if rep % 2 else reversed(pair):
                times[name].append(_best(fn))
    return [
        Row(
            "dask collect",
            n,
            "wait_settled",
            min(times["ours"]),
            'gather(errors="skip") + failures',
            min(times["theirs"]),
            "s",
        )
    ]
