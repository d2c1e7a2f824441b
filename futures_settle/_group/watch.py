"""One thread for every group's deadline and every nested group's look at its outer group.

A group with a ``timeout`` must cancel at its deadline even while nobody
waits on it (the body is busy), and a group opened inside a task of
another group must cancel when that outer group does, though the outer
group may be in another process (it sees only the outer flag). Both are a
call at a time: ``watch(group, when)`` has ``group._tick()`` called at
``when`` in this module's one daemon thread (started at the first
call), and ``_tick`` says when to call it again, if ever. A timer thread
per group cost a thread start per group (10^4 groups with a timeout:
4.2 s against 1.2 s without).

The thread holds only weak references: a group nobody keeps is not kept
alive by its deadline. A forked child starts with no thread and no
entries (the parent's groups are not the child's, see ``group``).
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
import weakref
from typing import Any

__all__ = ["watch"]

_LONGEST = threading.TIMEOUT_MAX


class _Watch:
    __slots__ = ("changed", "heap", "thread")

    def __init__(self) -> None:
        self.changed = threading.Condition(threading.Lock())
        self.heap: list[tuple[float, int, weakref.ref[Any]]] = []
        self.thread: threading.Thread | None = None


_STATE = _Watch()
_SEQ = itertools.count()


def watch(group: Any, when: float) -> None:
    """Call ``group._tick(now)`` at ``time.monotonic()`` instant ``when`` (then as it says)."""
    state = _STATE
    with state.changed:
        first = not state.heap or when < state.heap[0][0]
        heapq.heappush(state.heap, (when, next(_SEQ), weakref.ref(group)))
        if state.thread is None:
            state.thread = threading.Thread(
                target=_run, args=(state,), name="futures_settle-watch", daemon=True
            )
            state.thread.start()
        elif first:
            state.changed.notify()


def _run(state: _Watch) -> None:
    heap = state.heap
    while True:
        with state.changed:
            while True:
                if not heap:
                    state.changed.wait()
                    continue
                left = heap[0][0] - time.monotonic()
                if left <= 0:
                    _, _, ref = heapq.heappop(heap)
                    break
                state.changed.wait(min(left, _LONGEST))
        group = ref()
        if group is None:
            continue
        try:
            again = group._tick(time.monotonic())
        except Exception:  # never let one group stop the others' deadlines
            again = None
        if again is not None:
            with state.changed:
                heapq.heappush(heap, (again, next(_SEQ), ref))
        del group


def _after_fork_in_child() -> None:
    global _STATE
    _STATE = _Watch()  # the parent's thread is not here, nor are its groups


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
