"""The demo that ``python -m futures_settle`` runs: the seed's quick example on every engine.

p1 answers at once, p2 fails with "DB error", p3 reads a slow cache: each
function's answer is printed for a thread pool, a process pool and, when
installed, loky.

The output is the same on every run. The slow cache does not sleep: it waits
at a gate (an ``Event``, shared with worker processes through a
``multiprocessing.Manager``) that the demo opens only once p1 and p2 have
settled, or once the call has answered. So each answer follows from the
inputs, never from timing: ``wait_all`` fails fast while the cache is still
waiting, ``wait_any`` and ``wait_first`` take the user data, ``as_settled``
yields the cache's record last.

The tasks live here, in a module importable by name, rather than in
``__main__``: worker processes started by spawn or forkserver (the default on
macOS and Windows, and on Linux from Python 3.14) find them by importing it.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterable
from concurrent import futures
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from . import Settled, as_settled, wait_all, wait_any, wait_first, wait_settled

GATE_TIMEOUT = 60.0  # seconds: a stuck demo fails instead of hanging


def fetch_user() -> str:
    return "user data"


def query_db() -> str:
    raise ConnectionError("DB error")


def read_cache(gate: threading.Event) -> str:
    if not gate.wait(GATE_TIMEOUT):
        raise TimeoutError("the demo never opened the cache's gate")
    return "cache data"


@dataclass
class Sources:
    """The example's three futures on one pool; ``cache`` answers once ``gate`` is set."""

    user: Future[str]
    db: Future[str]
    cache: Future[str]
    gate: threading.Event

    def in_settle_order(self, records: Iterable[Settled[str]]) -> list[tuple[int, str]]:
        """``(index, status)`` in the order ``records`` come; the gate opens after two."""
        order: list[tuple[int, str]] = []
        for record in records:
            order.append((record.index, record.status))
            if len(order) == 2:
                self.gate.set()
        return order


def demo(name: str, pool: Executor, new_gate: Callable[[], threading.Event]) -> None:
    print(f"{name}:")

    def show(call: str, answer: Callable[[Sources], Any], *, others_first: bool = False) -> None:
        gate = new_gate()
        s = Sources(
            cache=pool.submit(read_cache, gate),
            user=pool.submit(fetch_user),
            db=pool.submit(query_db),
            gate=gate,
        )
        try:
            if others_first:
                futures.wait([s.user, s.db], timeout=GATE_TIMEOUT)
            print(f"  {call:<26} -> {answer(s)!r}")
        except Exception as e:  # a demonstration: show what the call raised
            print(f"  {call:<26} raised {type(e).__name__}: {e}")
        finally:
            gate.set()
            futures.wait([s.user, s.db, s.cache], timeout=GATE_TIMEOUT)  # none spills over

    def settle_all(s: Sources) -> list[Settled[str]]:
        s.gate.set()  # it waits for every input: let the cache answer
        return wait_settled([s.user, s.db, s.cache])

    def settle_order(s: Sources) -> list[tuple[int, str]]:
        # p1 and p2 are settled on entry, so they come first, in input order.
        return s.in_settle_order(as_settled([s.cache, s.user, s.db]))

    show("wait_all([p1, p2, p3])", lambda s: wait_all([s.user, s.db, s.cache]))
    show("wait_settled([p1, p2, p3])", settle_all, others_first=True)
    show("wait_any([p1, p2, p3])", lambda s: wait_any([s.user, s.db, s.cache]))
    show("wait_first([p3, p1])", lambda s: wait_first([s.cache, s.user]))
    show("as_settled([p3, p1, p2])", settle_order, others_first=True)


def main() -> int:
    print("p1 = fetch_user() answers at once, p2 = query_db() fails, p3 = read_cache() is last:")
    with ThreadPoolExecutor(4) as threads:
        demo("ThreadPoolExecutor", threads, threading.Event)
    with multiprocessing.Manager() as manager:
        with ProcessPoolExecutor(2) as processes:
            demo("ProcessPoolExecutor", processes, manager.Event)
        try:
            import loky  # type: ignore[import-untyped]
        except ImportError:
            print("loky: not installed (pip install 'futures_settle[loky]')")
        else:
            demo("loky", loky.get_reusable_executor(max_workers=2), manager.Event)
    return 0


def crunch(x: int) -> int:
    """The README's batch item: 13 kills its worker (as the OOM killer would), 17 hangs.

    It lives here, in a module importable by name, so that workers started
    by spawn or forkserver find it.
    """
    import os
    import signal
    import time

    if x == 13:
        os.kill(os.getpid(), signal.SIGKILL)
    if x == 17:
        time.sleep(3600)
    return x * x
