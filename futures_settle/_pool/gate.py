"""Taking back work a worker has not started: the worker's side, where the race is decided.

A worker holds the segments sent ahead to it (``feeding``) and runs them in
order; a slow item would hold the items behind it, in its segment and in
the pipe, while another worker idles. So the supervisor may ask for them
back, over a second pipe of the worker's own (the *reclaim* pipe):
``(RECLAIM, last)``, give back what you have not started, up to item number
``last``. A thread of the worker answers at once, even while an item runs:
``(RELEASED, first)``, no item from ``first`` to ``last`` will run here.

The worker alone decides what it started. Its main thread takes each item
of the running segment from the left of a deque, the answering thread
takes from the right: each item is taken once (a deque's pops are atomic),
the main thread's a prefix. A segment the main thread has not begun is
revoked whole: it begins each segment (or skips it, revoked) under a lock
that the answering thread holds while it decides. No lock crosses the
process boundary: a worker killed at any instant leaves nothing held.
"""

from __future__ import annotations

import pickle
import threading
from collections import deque
from typing import Any

__all__ = ["RECLAIM", "RELEASED", "Gate", "answer"]

RECLAIM = 0  # parent -> worker, on the reclaim pipe: (RECLAIM, last)
RELEASED = 0  # worker -> parent, on the reclaim pipe: (RELEASED, first)


class Gate:
    """Which items this worker may still start: the running segment's deque, the revoked ranges."""

    __slots__ = ("base", "end", "lock", "revoked", "todo")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.todo: deque[int] = deque()  # the running segment's items not taken yet
        self.base = 0  # the running segment's number for the item before its first
        self.end = 0  # the number of its last item
        self.revoked: list[tuple[int, int]] = []  # (first, last): given back, never to start

    def begin(self, seq_base: int, count: int, run: bool) -> deque[int] | None:
        """The items of the segment after ``seq_base`` to take from the left; None: revoked.

        ``run`` False: the segment is answered whole without running (a
        cancelled job, a blob that does not unpickle): nothing of it can be
        given back.
        """
        first = seq_base + 1
        with self.lock:
            revoked = self.revoked
            if revoked:
                revoked[:] = [r for r in revoked if r[1] >= first]  # those below are passed
                for lo, hi in revoked:
                    if lo <= first <= hi:
                        return None
            self.todo = todo = deque(range(count)) if run else deque()
            self.base, self.end = seq_base, seq_base + count
            return todo

    def keep_rest(self, todo: deque[int]) -> bool:
        """Take every item left in ``todo`` (the segment stops early); whether any was left."""
        with self.lock:
            left = bool(todo)
            todo.clear()
            return left

    def give_back(self, last: int) -> int:
        """Give back every item not started, up to ``last``; the first one given back."""
        with self.lock:
            todo = self.todo
            low = -1
            while todo:
                try:
                    low = todo.pop()
                except IndexError:  # the main thread took the last one meanwhile
                    break
            first = self.base + low + 1 if low >= 0 else self.end + 1
            if first <= last:
                self.revoked.append((first, last))
            return first


def answer(conn: Any, gate: Gate) -> None:
    """The answering thread's loop: each request answered at once, until the pipe closes."""
    try:
        while True:
            _, last = pickle.loads(conn.recv_bytes())
            conn.send_bytes(pickle.dumps((RELEASED, gate.give_back(last))))
    except (EOFError, OSError):  # the parent closed the pipe or died
        return
