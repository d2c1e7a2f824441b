"""A call's view of its pending inputs, and the one lock of the waiting core.

A call in progress is a ``Waiter``: a count, or a queue, of the inputs
that settled, and a lock of its own that the call sleeps on (Ctrl-C
interrupts it). Hubs (``hub``) notify it under ``LOCK``, the
re-entrant lock that guards every hub's entries and every waiter's state.
A future that only one waiter will ever wait on (one a map submitted
itself) needs no hub: ``watch()`` gives it a callback for that waiter.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, Final

from .recheck import call_when_done
from .state import failed_of

__all__ = [
    "ALL",
    "ANY",
    "FAIL_FAST",
    "FIRST",
    "LOCK",
    "STREAM",
    "Waiter",
    "Watch",
    "attach",
    "watch",
]

# Waiter modes.
ALL: Final = 0  # wake when every entry settled
FAIL_FAST: Final = 1  # ... or at the first failure
ANY: Final = 2  # wake at the first success, or when every entry failed
FIRST: Final = 3  # wake at the first settled entry
STREAM: Final = 4  # queue every settled entry, wake whenever the queue fills

LOCK = threading.RLock()
# Windows cannot interrupt a lock wait with Ctrl-C: wake up to look.
_SLICE = 0.1 if sys.platform == "win32" else None


def _after_fork_in_child() -> None:
    # A fork copies the lock as it was: held, if another thread was inside
    # a locked block. The child has only the forking thread: start afresh.
    global LOCK
    LOCK = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Waiter:
    """One call's view of its pending inputs; its state is guarded by ``LOCK``."""

    __slots__ = ("_signal", "active", "mode", "queue", "remaining", "signalled", "trigger")

    def __init__(self, mode: int, remaining: int) -> None:
        self.active = True
        self.mode = mode
        self.remaining = remaining
        self.signalled = False
        self.trigger: tuple[Any, int] | None = None
        self.queue: list[tuple[Any, int]] = []
        self._signal = threading.Lock()
        self._signal.acquire()

    def notify(self, fut: Any, index: int, failed: bool | None) -> None:
        """Called by a hub, ``LOCK`` held; ``failed`` is ``None`` for a stdlib future."""
        mode = self.mode
        if mode == STREAM:
            self.queue.append((fut, index))
        elif self.signalled:
            return
        elif mode == ALL:
            self.remaining -= 1
            if self.remaining:
                return
        elif mode == FIRST:
            self.trigger = (fut, index)
        else:
            if failed is None:
                failed = failed_of(fut)
            if failed == (mode == FAIL_FAST):
                self.trigger = (fut, index)
            else:
                self.remaining -= 1
                if self.remaining:
                    return
        if not self.signalled:
            self.signalled = True
            self._signal.release()

    def wait(self, deadline: float | None) -> bool:
        """Sleep until notified or until ``deadline``; return whether notified."""
        signal = self._signal
        while True:
            if deadline is None:
                got = signal.acquire() if _SLICE is None else signal.acquire(timeout=_SLICE)
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    with LOCK:
                        # Decide under the lock, so that no notification
                        # lands after the call has given up.
                        got = signal.acquire(blocking=False)
                        if not got:
                            self.active = False
                    return got
                got = signal.acquire(timeout=min(left, _SLICE or threading.TIMEOUT_MAX))
            if got:
                return True

    def nap(self, until: float) -> bool:
        """Sleep until notified or until ``until``, staying armed: a wake-up that is no deadline.

        ``wait`` gives up at its deadline and stops the notifications; a map
        that wakes to resubmit a retry goes on waiting afterwards.
        """
        left = until - time.monotonic()
        if left <= 0:
            return self._signal.acquire(blocking=False)
        return self._signal.acquire(timeout=min(left, _SLICE or threading.TIMEOUT_MAX))

    def poll(self) -> bool:
        """Whether notified, without sleeping; then ``take()`` as after ``wait()``."""
        return self._signal.acquire(blocking=False)

    def take(self) -> list[tuple[Any, int]]:
        """STREAM mode: return what settled since the last call, rearm the signal.

        The signal is down whenever ``signalled`` is false: a notification
        that came after a ``nap`` gave up (a map woken to resubmit a retry
        takes without having acquired it) is consumed here, or the next
        one would release a lock already released, in the executor's
        callback.
        """
        with LOCK:
            queue, self.queue = self.queue, []
            if self.signalled:
                self._signal.acquire(blocking=False)  # a no-op if wait()/nap()/poll() took it
                self.signalled = False
            return queue

    def close(self) -> None:
        """End the call: later notifications are ignored, entries pruned lazily.

        ``LOCK`` is re-entrant because this may run from a generator's
        finaliser, which the garbage collector can call at any allocation,
        also while this thread is inside a locked block.
        """
        with LOCK:
            self.active = False
            self.trigger = None
            self.queue = []


class Watch:
    """A done-callback for a future only one waiter will ever wait on.

    ``map_all``/``map_settled`` submit their own futures: no one else can
    wait on them, so they skip the shared registry and its bookkeeping. It
    notifies its waiter once at most, whatever future it is called with.
    """

    __slots__ = ("position", "waiter")

    def __init__(self, waiter: Waiter, position: int) -> None:
        self.waiter: Waiter | None = waiter
        self.position = position

    def __call__(self, fut: Any) -> None:
        try:
            early = not fut.done()
        except Exception:  # the map reads it and meets the engine's error
            early = False
        if early:
            call_when_done(fut, self, self._wanted)  # called back too early
            return
        with LOCK:
            waiter, self.waiter = self.waiter, None
            if waiter is not None and waiter.active:
                waiter.notify(fut, self.position, False)

    def _wanted(self) -> bool:
        waiter = self.waiter
        return waiter is not None and waiter.active


def watch(waiter: Waiter, fut: Any, position: int) -> None:
    """Notify the STREAM ``waiter`` with ``(fut, position)`` when ``fut`` settles."""
    attach(Watch(waiter, position), fut)


def attach(callback: Watch, fut: Any) -> None:
    """Have ``callback`` called once ``fut`` is done, also if it is done already."""
    fut.add_done_callback(callback)
    if callback.waiter is not None and fut.done():
        callback(fut)  # some engines never call back a future already done
