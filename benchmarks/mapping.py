"""Benchmarks of map_all / map_settled against ``Executor.map`` (same run, interleaved)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from futures_settle import map_settled

from .cases import Row


def noop(x: int) -> int:
    return x


def _best(fn: Callable[[], object], reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def throughput_threads(executor: Executor, n: int, reps: int) -> list[Row]:
    def ours() -> None:
        for _ in map_settled(noop, range(n), executor=executor):
            pass

    def std() -> None:
        for _ in executor.map(noop, range(n)):
            pass

    t_std, t_ours = [], []
    for _ in range(reps):
        t_std.append(_best(std, 1))
        t_ours.append(_best(ours, 1))
    # Throughput ratio ours/stdlib = stdlib time / our time: report times, ratio is time.
    return [Row("map: threads", n, "map_settled", min(t_ours), "Executor.map", min(t_std), "s")]


def slow_tail_item(k: int, slow: float, fast: float) -> int:
    """Bulk I/O with a slow tail: one item in 20 blocks ``slow`` seconds, the rest ``fast``."""
    time.sleep(slow if k % 20 == 7 else fast)
    return k


def slow_tail(n: int, slow: float, fast: float, reps: int) -> list[Row]:
    """An ordered map on 16 threads whose head item blocks now and then (issue 20).

    With a fixed buffer, each slow item at the head of the order stops the
    refill and the other workers idle; the default buffer stretches then.
    """
    slows, fasts = [slow] * n, [fast] * n

    with ThreadPoolExecutor(16) as pool:

        def std() -> None:
            for _ in pool.map(slow_tail_item, range(n), slows, fasts):
                pass

        def ordered() -> None:
            for _ in map_settled(slow_tail_item, range(n), slows, fasts, executor=pool):
                pass

        def unordered() -> None:
            for _ in map_settled(
                slow_tail_item, range(n), slows, fasts, executor=pool, ordered=False
            ):
                pass

        t_std, t_ordered, t_unordered = [], [], []
        for _ in range(reps):
            t_std.append(_best(std, 1))
            t_ordered.append(_best(ordered, 1))
            t_unordered.append(_best(unordered, 1))
    case = f"map: slow tail, 16 threads ({slow:g} s / {fast:g} s)"
    return [
        Row(case, n, "map_settled() ordered", min(t_ordered), "Executor.map", min(t_std), "s"),
        Row(
            case,
            n,
            "map_settled(ordered=False)",
            min(t_unordered),
            "Executor.map",
            min(t_std),
            "s",
        ),
    ]


def throughput_processes(
    executor: Executor, name: str, n: int, one_by_one_n: int, reps: int, stdlib: Executor
) -> list[Row]:
    def ours() -> None:
        for _ in map_settled(noop, range(n), executor=executor, chunksize=256):
            pass

    def std() -> None:
        for _ in stdlib.map(noop, range(n), chunksize=256):  # type: ignore[call-arg]
            pass

    def one_by_one() -> None:
        fs = [executor.submit(noop, i) for i in range(one_by_one_n)]
        wait(fs)

    ours()  # warm up the workers
    t_std, t_ours = [], []
    for _ in range(reps):
        t_std.append(_best(std, 1))
        t_ours.append(_best(ours, 1))
    per_item_single = _best(one_by_one, 1) / one_by_one_n
    return [
        Row(
            f"map: {name}",
            n,
            "map_settled(chunksize=256)",
            min(t_ours),
            "pool.map(chunksize=256)",
            min(t_std),
            "s",
        ),
        Row(
            f"map: {name}",
            n,
            "map_settled(chunksize=256)",
            min(t_ours),
            "submit one by one",
            per_item_single * n,
            "s",
        ),
    ]


_RSS_SCRIPT = """
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from futures_settle import map_settled
from benchmarks.peertasks import tiny_wrapped

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise LookupError(field)

n, which = int(sys.argv[1]), sys.argv[2]
def noop(x):
    return x
if which.endswith("processes"):
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    pool.submit(tiny_wrapped, 0).result()
else:
    pool = ThreadPoolExecutor(4)
    pool.submit(noop, 0).result()
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
except OSError:
    pass
base = status("VmRSS:")
gen = (i for i in range(n))
if which == "ours":
    for _ in map_settled(noop, gen, executor=pool, buffersize=64):
        pass
elif which == "ours defaults":
    for _ in map_settled(noop, gen, executor=pool):
        pass
elif which == "ours processes":
    for _ in map_settled(tiny_wrapped, gen, executor=pool):
        pass
elif which == "stdlib processes":
    for _ in pool.map(tiny_wrapped, gen, chunksize=256):
        pass
else:
    for _ in pool.map(noop, gen):
        pass
print(status("VmHWM:") - base)
pool.shutdown()
"""


def peak_rss(n: int) -> list[Row]:
    """Peak RSS growth over an n-item generator, each in a fresh interpreter."""

    root = str(Path(__file__).resolve().parent.parent)

    def run(which: str) -> float:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
        }
        out = subprocess.run(
            [sys.executable, "-c", _RSS_SCRIPT, str(n), which],
            capture_output=True,
            text=True,
            check=True,
            timeout=900,
            env=env,
        )
        return float(out.stdout.strip())

    stdlib = run("stdlib")  # once: it holds the whole input
    return [
        Row(
            "map: peak RSS growth",
            n,
            "map_settled(buffersize=64)",
            run("ours"),
            "Executor.map",
            stdlib,
            "B",
        ),
        Row(
            "map: peak RSS growth",
            n,
            "map_settled() (defaults)",
            run("ours defaults"),
            "Executor.map",
            stdlib,
            "B",
        ),
        Row(
            "map: peak RSS growth, processes",
            n,
            "map_settled() (automatic chunks)",
            run("ours processes"),
            "pool.map(chunksize=256)",
            run("stdlib processes"),
            "B",
        ),
    ]


def run_all(
    quick: bool, reps: int, thread_pool: Executor, process_pool: Executor, loky_pool: Any
) -> list[Row]:
    rows = throughput_threads(thread_pool, 10**3 if quick else 10**5, reps)
    n, single = (10**3, 10**2) if quick else (10**5, 2 * 10**3)  # one by one: per item, scaled
    rows += throughput_processes(process_pool, "processes", n, single, reps, process_pool)
    if loky_pool is not None:
        rows += throughput_processes(loky_pool, "loky", n, single, reps, process_pool)
    rows += peak_rss(10**4 if quick else 10**6)
    rows += slow_tail(40, 0.05, 0.001, 1) if quick else slow_tail(300, 1.0, 0.01, reps)
    return rows
