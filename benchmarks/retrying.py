"""Retries: what ``retry=`` costs when nothing fails, and a flaky HTTP-like load against tenacity.

python -m benchmarks.retrying   # these rows alone

- overhead: ``map_settled`` over 10^5 tiny items with ``retry=`` given and
  nothing failing, against the same map without it (41 interleaved rounds;
  the best of each, and the median of the per-round ratios in a note).
- flaky: 2,000 items of 2 ms of blocking I/O on 16 threads, 5% failing
  once with a transient ``ConnectionResetError``, one retry after 50 ms:
  ``map_settled(retry=Retry(...))`` against the same map of a function
  wrapped in tenacity (``wait_fixed(0.05)``, ``stop_after_attempt(2)``),
  which sleeps in its worker. Both maps are ``ordered=False``: in input
  order, a retrying item holds back what follows whoever waits for it.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from futures_settle import Retry, map_settled

from .cases import Row
from .table import table

NOTHING_FAILS = Retry(ConnectionError)
BACKOFF = 0.05
IO = 0.002


def noop(x: int) -> int:
    return x


def _drain(it: Any) -> None:
    for _ in it:
        pass


def _rounds(
    a: Callable[[], object], b: Callable[[], object], reps: int
) -> tuple[float, float, float, float]:
    """Best wall time of ``a``, of ``b``, the median of the per-round ratios a / b, and the
    ratio of the best CPU times of this process (what the map itself spends: on a loaded
    machine it moves less than the wall clock)."""
    ta: list[float] = []
    tb: list[float] = []
    ca: list[float] = []
    cb: list[float] = []
    for _ in range(reps):
        for fn, wall, cpu in ((b, tb, cb), (a, ta, ca)):
            c0 = time.process_time()
            start = time.perf_counter()
            fn()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - c0)
    median = statistics.median(x / y for x, y in zip(ta, tb, strict=True))
    return min(ta), min(tb), median, min(ca) / min(cb)


def overhead(executor: Executor, name: str, n: int, reps: int, notes: list[str]) -> list[Row]:
    def with_retry() -> None:
        _drain(map_settled(noop, range(n), executor=executor, retry=NOTHING_FAILS))

    def without() -> None:
        _drain(map_settled(noop, range(n), executor=executor))

    without()  # warm up
    best_a, best_b, median, cpu = _rounds(with_retry, without, reps)
    notes.append(
        f"retry overhead, {name}: median of {reps} per-round ratios {median:.3f}, "
        f"best-of ratio {best_a / best_b:.3f}, CPU time of the consuming process {cpu:.3f}"
    )
    return [Row(f"retry: {name}", n, "map_settled(retry=)", best_a, "map_settled()", best_b, "s")]


class _Flaky:
    """Items with ``x % 20 == 7`` fail their first run: 5%, the same ones every round."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.lock = threading.Lock()

    def __call__(self, x: int) -> int:
        time.sleep(IO)
        if x % 20 == 7:
            with self.lock:
                first = x not in self.seen
                self.seen.add(x)
            if first:
                raise ConnectionResetError(f"reset on item {x}")
        return x


def flaky(n: int, reps: int, notes: list[str]) -> list[Row]:
    try:
        import tenacity
    except ImportError:
        notes.append("tenacity not installed (the bench extra): the flaky row is skipped")
        return []

    ours_retry = Retry(ConnectionError, attempts=2, delay=BACKOFF, jitter=0)
    with ThreadPoolExecutor(16) as pool:

        def ours() -> None:
            records = list(
                map_settled(_Flaky(), range(n), executor=pool, ordered=False, retry=ours_retry)
            )
            assert all(r.status == "fulfilled" for r in records)

        def theirs() -> None:
            fn = tenacity.retry(
                retry=tenacity.retry_if_exception_type(ConnectionError),
                stop=tenacity.stop_after_attempt(2),
                wait=tenacity.wait_fixed(BACKOFF),
                reraise=True,
            )(_Flaky())
            records = list(map_settled(fn, range(n), executor=pool, ordered=False))
            assert all(r.status == "fulfilled" for r in records)

        best_a, best_b, median, _ = _rounds(ours, theirs, reps)
    notes.append(f"flaky load: median of {reps} per-round ratios {median:.3f}")
    return [
        Row(
            "retry: flaky I/O, 16 threads",
            n,
            "map_settled(retry=Retry)",
            best_a,
            "tenacity in the function",
            best_b,
            "s",
        )
    ]


def run_all(
    quick: bool, reps: int, pool: Executor, procs: Executor, notes: list[str] | None
) -> list[Row]:
    out = [] if notes is None else notes
    n = 10**3 if quick else 10**5
    rounds = 1 if quick else max(reps, 41)  # a 2-5% difference needs many rounds to show
    rows = overhead(pool, "threads", n, rounds, out)
    rows += overhead(procs, "processes", n, rounds, out)
    rows += flaky(200 if quick else 2000, 1 if quick else reps, out)
    return rows


def main() -> int:  # pragma: no cover - run by hand
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    notes: list[str] = []
    ctx = multiprocessing.get_context("spawn")
    with ThreadPoolExecutor(4) as pool, ProcessPoolExecutor(2, mp_context=ctx) as procs:
        rows = run_all("--quick" in sys.argv, 5, pool, procs, notes)
    print(table(rows))
    for note in notes:
        print("-", note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
