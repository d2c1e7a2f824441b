"""map_settled / map_all against their peers, each with its defaults and at equal chunk sizes.

Peers: joblib's ``Parallel`` (automatic batching, or a fixed ``batch_size``),
``multiprocessing.Pool.imap``, ``multiprocessing.pool.ThreadPool.imap`` and
``Executor.map``. Two workloads: tiny tasks (``x * x``, 1% raising, 10^5 of
them) and medium ones (about 1 ms of CPU each, 10^3 of them). Ours runs the
raising task and gets a record per item; the peers stop at the first
exception, so they run a wrapper that returns it instead.

Every variant of a group runs once per repetition, one after the other, so
that a noisy moment on a shared machine hurts all of them; each keeps its
best time. A peer that is not installed is skipped with a note.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any

from futures_settle import map_all, map_settled

from .cases import Row
from .peertasks import medium, medium_wrapped, tiny, tiny_wrapped

Variants = dict[str, Callable[[int], object]]


def _drain(it: Iterable[Any]) -> None:
    deque(it, maxlen=0)


def _interleaved(variants: Variants, n: int, reps: int) -> dict[str, float]:
    """Best time of each variant over ``reps`` rounds, the variants interleaved."""
    for run in variants.values():  # start the workers, import in them
        run(min(n, 100))
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(reps):
        for name, run in variants.items():
            start = time.perf_counter()
            run(n)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _joblib() -> Any:
    try:
        import joblib  # type: ignore[import-untyped]
    except ImportError:
        return None
    return joblib


def _with_joblib(
    joblib: Any, fn: Callable[[int], object], **options: Any
) -> Callable[[int], object]:
    def run(n: int) -> None:
        parallel = joblib.Parallel(return_as="generator", **options)
        _drain(parallel(joblib.delayed(fn)(i) for i in range(n)))

    return run


def _rows(case: str, n: int, times: dict[str, float], pairs: list[tuple[str, str]]) -> list[Row]:
    return [
        Row(case, n, ours, times[ours], peer, times[peer], "s")
        for ours, peer in pairs
        if ours in times and peer in times
    ]


def processes(pool: Executor, n_tiny: int, n_medium: int, reps: int, notes: list[str]) -> list[Row]:
    """The stdlib process pool (2 workers) against Pool.imap, Executor.map and joblib."""
    joblib = _joblib()
    ctx = multiprocessing.get_context("spawn")
    rows: list[Row] = []
    with ctx.Pool(2) as mp_pool:
        tiny_variants: Variants = {
            "map_settled()": lambda n: _drain(map_settled(tiny, range(n), executor=pool)),
            "map_settled(chunksize=256)": lambda n: _drain(
                map_settled(tiny, range(n), executor=pool, chunksize=256)
            ),
            "map_all(chunksize=256)": lambda n: _drain(
                map_all(tiny_wrapped, range(n), executor=pool, chunksize=256)
            ),
            "ProcessPoolExecutor.map(chunksize=256)": lambda n: _drain(
                pool.map(tiny_wrapped, range(n), chunksize=256)
            ),
            "Pool.imap(chunksize=256)": lambda n: _drain(
                mp_pool.imap(tiny_wrapped, range(n), chunksize=256)
            ),
        }
        medium_variants: Variants = {
            "map_settled()": lambda n: _drain(map_settled(medium, range(n), executor=pool)),
            "ProcessPoolExecutor.map()": lambda n: _drain(pool.map(medium_wrapped, range(n))),
            "Pool.imap()": lambda n: _drain(mp_pool.imap(medium_wrapped, range(n))),
        }
        if joblib is not None:
            tiny_variants["joblib Parallel() (auto batches)"] = _with_joblib(
                joblib, tiny_wrapped, n_jobs=2
            )
            tiny_variants["joblib Parallel(batch_size=256)"] = _with_joblib(
                joblib, tiny_wrapped, n_jobs=2, batch_size=256
            )
            medium_variants["joblib Parallel() (auto batches)"] = _with_joblib(
                joblib, medium_wrapped, n_jobs=2
            )
        times = _interleaved(tiny_variants, n_tiny, reps)
        rows += _rows(
            "peers, tiny: processes",
            n_tiny,
            times,
            [
                ("map_settled()", "joblib Parallel() (auto batches)"),
                ("map_settled(chunksize=256)", "ProcessPoolExecutor.map(chunksize=256)"),
                ("map_all(chunksize=256)", "ProcessPoolExecutor.map(chunksize=256)"),
                ("map_settled(chunksize=256)", "Pool.imap(chunksize=256)"),
                ("map_settled(chunksize=256)", "joblib Parallel(batch_size=256)"),
                ("map_settled()", "ProcessPoolExecutor.map(chunksize=256)"),
            ],
        )
        times = _interleaved(medium_variants, n_medium, reps)
        rows += _rows(
            "peers, medium: processes",
            n_medium,
            times,
            [
                ("map_settled()", "joblib Parallel() (auto batches)"),
                ("map_settled()", "ProcessPoolExecutor.map()"),
                ("map_settled()", "Pool.imap()"),
            ],
        )
    if joblib is None:
        notes.append("joblib is not installed: its rows are skipped (`pip install -e .[bench]`).")
    return rows


def loky(pool: Any, n_tiny: int, n_medium: int, reps: int, notes: list[str]) -> list[Row]:
    """A loky reusable executor (2 workers) against its own map and joblib (loky inside)."""
    if pool is None:
        notes.append("loky is not installed: its peer rows are skipped.")
        return []
    joblib = _joblib()
    tiny_variants: Variants = {
        "map_settled()": lambda n: _drain(map_settled(tiny, range(n), executor=pool)),
        "map_settled(chunksize=256)": lambda n: _drain(
            map_settled(tiny, range(n), executor=pool, chunksize=256)
        ),
        "loky map(chunksize=256)": lambda n: _drain(
            pool.map(tiny_wrapped, range(n), chunksize=256)
        ),
    }
    medium_variants: Variants = {
        "map_settled()": lambda n: _drain(map_settled(medium, range(n), executor=pool)),
        "loky map()": lambda n: _drain(pool.map(medium_wrapped, range(n))),
    }
    if joblib is not None:
        tiny_variants["joblib Parallel() (auto batches)"] = _with_joblib(
            joblib, tiny_wrapped, n_jobs=2
        )
        medium_variants["joblib Parallel() (auto batches)"] = _with_joblib(
            joblib, medium_wrapped, n_jobs=2
        )
    times = _interleaved(tiny_variants, n_tiny, reps)
    rows = _rows(
        "peers, tiny: loky",
        n_tiny,
        times,
        [
            ("map_settled()", "joblib Parallel() (auto batches)"),
            ("map_settled(chunksize=256)", "loky map(chunksize=256)"),
        ],
    )
    times = _interleaved(medium_variants, n_medium, reps)
    rows += _rows(
        "peers, medium: loky",
        n_medium,
        times,
        [("map_settled()", "joblib Parallel() (auto batches)"), ("map_settled()", "loky map()")],
    )
    return rows


def threads(pool: Executor, n_tiny: int, n_medium: int, reps: int) -> list[Row]:
    """A thread pool (4 workers) against Executor.map, ThreadPool.imap and joblib's threads."""
    from multiprocessing.pool import ThreadPool

    joblib = _joblib()
    workers = getattr(pool, "_max_workers", 4)
    with ThreadPool(workers) as thread_pool:
        tiny_variants: Variants = {
            "map_settled()": lambda n: _drain(map_settled(tiny, range(n), executor=pool)),
            "ThreadPoolExecutor.map()": lambda n: _drain(pool.map(tiny_wrapped, range(n))),
            "map_settled(chunksize=64)": lambda n: _drain(
                map_settled(tiny, range(n), executor=pool, chunksize=64)
            ),
            "ThreadPool.imap(chunksize=64)": lambda n: _drain(
                thread_pool.imap(tiny_wrapped, range(n), chunksize=64)
            ),
        }
        medium_variants: Variants = {
            "map_settled()": lambda n: _drain(map_settled(medium, range(n), executor=pool)),
            "ThreadPoolExecutor.map()": lambda n: _drain(pool.map(medium_wrapped, range(n))),
            "ThreadPool.imap()": lambda n: _drain(thread_pool.imap(medium_wrapped, range(n))),
        }
        if joblib is not None:
            tiny_variants["joblib Parallel(prefer='threads')"] = _with_joblib(
                joblib, tiny_wrapped, n_jobs=workers, prefer="threads"
            )
            medium_variants["joblib Parallel(prefer='threads')"] = _with_joblib(
                joblib, medium_wrapped, n_jobs=workers, prefer="threads"
            )
        times = _interleaved(tiny_variants, n_tiny, reps)
        rows = _rows(
            "peers, tiny: threads",
            n_tiny,
            times,
            [
                ("map_settled()", "ThreadPoolExecutor.map()"),
                ("map_settled(chunksize=64)", "ThreadPool.imap(chunksize=64)"),
                ("map_settled()", "joblib Parallel(prefer='threads')"),
            ],
        )
        times = _interleaved(medium_variants, n_medium, reps)
        rows += _rows(
            "peers, medium: threads",
            n_medium,
            times,
            [
                ("map_settled()", "ThreadPoolExecutor.map()"),
                ("map_settled()", "ThreadPool.imap()"),
                ("map_settled()", "joblib Parallel(prefer='threads')"),
            ],
        )
    return rows


def run_all(
    quick: bool, reps: int, thread_pool: Executor, process_pool: Executor, loky_pool: Any
) -> tuple[list[Row], list[str]]:
    """Every peer group; returns the rows and notes on what was skipped."""
    notes: list[str] = []
    n_tiny, n_medium = (2_000, 20) if quick else (10**5, 10**3)
    rows = processes(process_pool, n_tiny, n_medium, reps, notes)
    print("  peers: loky ...", file=sys.stderr, flush=True)
    rows += loky(loky_pool, n_tiny, n_medium, reps, notes)
    print("  peers: threads ...", file=sys.stderr, flush=True)
    rows += threads(thread_pool, n_tiny, n_medium, reps)
    return rows, notes
