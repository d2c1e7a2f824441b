"""Registration on pending stdlib futures: ``wait_all`` against ``wait(FIRST_EXCEPTION)``.

Each repetition builds fresh pending futures (a hub stays on a future for
its life, so a second call on the same ones would find them attached).
Two rows: the registration alone (our ``register`` against the stdlib's
locking of every future and installing its waiter: what each does before
it sleeps), and the whole call with ``timeout=0``, which cannot wait: ours
registers nothing, the stdlib's installs its waiter on every future and
removes it again. Times are the calling thread's CPU time
(``time.thread_time()``): both sides run on that thread alone, and other
work on a loaded machine moves wall-clock time by more than the gap.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from concurrent.futures import _base as _cf
from typing import Any

from futures_settle import SettleTimeoutError, wait_all
from futures_settle._core import hub as _hub
from futures_settle._core.scans import scan_values

from .cases import Row


def _timed(setup: Callable[[list[Future[Any]]], Any], n: int, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        fs: list[Future[Any]] = [Future() for _ in range(n)]
        gc.collect()
        best = min(best, setup(fs))
        del fs
    return best


def _ours_register(fs: list[Future[Any]]) -> float:
    pending = scan_values(fs, "wait_all")[1]
    waiter = _hub.Waiter(_hub.FAIL_FAST, len(pending))
    start = time.thread_time()
    _hub.register(waiter, pending)
    took = time.thread_time() - start
    waiter.close()
    return took


def _stdlib_register(fs: list[Future[Any]]) -> float:
    start = time.thread_time()
    with _cf._AcquireFutures(fs):  # what wait() does before it sleeps
        done = {f for f in fs if f._state in (_cf.CANCELLED_AND_NOTIFIED, _cf.FINISHED)}
        waiter = _cf._create_and_install_waiters(fs, FIRST_EXCEPTION)
    took = time.thread_time() - start
    del done, waiter
    return took


def _call(timeout: float, ours: bool) -> Callable[[list[Future[Any]]], float]:
    def run(fs: list[Future[Any]]) -> float:
        start = time.thread_time()
        if ours:
            with contextlib.suppress(SettleTimeoutError):
                wait_all(fs, timeout=timeout)
        else:
            wait(fs, timeout=timeout, return_when=FIRST_EXCEPTION)
        return time.thread_time() - start

    return run


def run_all(n: int, reps: int, notes: list[str] | None = None) -> list[Row]:
    rows = []
    for case, ours, theirs in (
        ("registration alone", _ours_register, _stdlib_register),
        ("registration, whole call, timeout=0", _call(0, True), _call(0, False)),
    ):
        t_std, t_ours = [], []
        for _ in range(reps):  # interleaved, round by round
            t_std.append(_timed(theirs, n, 1))
            t_ours.append(_timed(ours, n, 1))
        rows.append(Row(case, n, "wait_all", min(t_ours), "wait(FIRST_EXCEPTION)", min(t_std), "s"))
        if notes is not None:
            ratios = sorted(o / s for o, s in zip(t_ours, t_std, strict=True))
            notes.append(
                f"{case}: {reps} interleaved rounds, ratio of each round's pair: "
                f"median {ratios[len(ratios) // 2]:.2f}, range {ratios[0]:.2f}-{ratios[-1]:.2f}"
            )
    return rows
