"""The waiting core: one done-callback per future, shared by every call.

The stdlib's ``wait()`` locks and sorts every future on entry, appends a
waiter to each, and on return locks each again to remove it: clean-up that
makes fail-fast latency grow with the number of futures. A done-callback,
the only public hook, can never be removed, so one per call would pile up
on futures that are polled again and again.

So each pending future gets at most one callback in its life, a ``_Hub``,
found again in the future's own callback list (stdlib futures) or through
a registry keyed by ``id()`` that holds hubs weakly (other engines' futures:
a hub lives exactly as long as its future holds it). A call adds a
``Waiter`` entry to the hubs of the futures it waits on and, when it
returns, only flips ``waiter.active``: no per-future clean-up. Entries of
finished calls are replaced or dropped the next time anyone registers on
that hub, or with the hub's entries when its future settles, so polling
does not pile them up.

One re-entrant lock, ``_LOCK``, guards the registry, the hubs' entries and
the waiters' state. Done-callbacks never run under it (a stdlib future
runs the callback inline when it is already done), nor does any code of
a future's engine; the waiting thread sleeps on a lock of its own, which
Ctrl-C interrupts.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Final, NoReturn

from ._errors import call_timeout
from ._state import (
    FAST,
    OK,
    Pending,
    cheap_failed,
    done_callbacks,
    failed_of,
    fast_failed,
    is_done,
    outcome,
)

__all__ = [
    "ALL",
    "ANY",
    "FAIL_FAST",
    "FIRST",
    "STREAM",
    "Waiter",
    "cancel_pending",
    "give_up",
    "register",
    "still_pending",
    "wait_pending",
    "watch",
]

# Waiter modes.
ALL: Final = 0  # wake when every entry settled
FAIL_FAST: Final = 1  # ... or at the first failure
ANY: Final = 2  # wake at the first success, or when every entry failed
FIRST: Final = 3  # wake at the first settled entry
STREAM: Final = 4  # queue every settled entry, wake whenever the queue fills
_NEEDS_OUTCOME = (FAIL_FAST, ANY)

_LOCK = threading.RLock()
_HUBS: dict[int, _HubRef] = {}
# Futures registered per lock hold: long enough to amortise the lock, short
# enough that completing threads are not held up for long.
_CHUNK = 256
# Windows cannot interrupt a lock wait with Ctrl-C: wake up to look.
_SLICE = 0.1 if sys.platform == "win32" else None


def _after_fork_in_child() -> None:
    # A fork copies the lock as it was: held, if another thread was inside
    # a locked block. The child has only the forking thread, and none of the
    # parent's waiters: start afresh.
    global _LOCK
    _LOCK = threading.RLock()
    _HUBS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _HubRef(weakref.ref):  # type: ignore[type-arg]
    __slots__ = ("key",)
    key: int


def _forget(ref: _HubRef) -> None:
    # Called while the hub is freed, that is while its future is: the id
    # cannot be reused yet. Lock-free, as it may run inside a locked block.
    if _HUBS.get(ref.key) is ref:
        del _HUBS[ref.key]


class _Hub:
    """The one done-callback of a future: fans its settling out to waiters.

    The first waiter is kept inline (most futures have one at a time); a
    finished call's waiter in that place is simply replaced by the next
    one, which is what keeps polling from piling entries up.
    """

    __slots__ = ("__weakref__", "fired", "first", "kind", "more", "position")

    def __init__(self, kind: int, waiter: Waiter, position: int) -> None:
        self.kind = kind
        self.fired = False
        self.first: Waiter | None = waiter
        self.position = position
        self.more: list[tuple[Waiter, int]] | None = None

    def add(self, waiter: Waiter, position: int) -> None:
        """Add an entry; ``_LOCK`` is held and the hub has not fired."""
        first = self.first
        if first is None or not first.active:
            self.first = waiter
            self.position = position
            return
        more = self.more
        if more is None:
            self.more = [(waiter, position)]
            return
        if not more[0][0].active:
            more[:] = [entry for entry in more if entry[0].active]
        more.append((waiter, position))

    def __call__(self, fut: Any) -> None:
        # Runs on whatever thread settles the future: never raise there.
        failed: bool | None = None
        if self.kind != FAST:
            # Other engines' methods run outside our lock, and only when a
            # waiter needs to know (reading an outcome may be a round trip).
            failed = cheap_failed(fut)
            if failed is None and self._needs_outcome():
                try:
                    failed = outcome(fut, self.kind)[0] != OK
                except BaseException:  # pragma: no cover - engine errors are read again later
                    failed = True
        with _LOCK:
            self.fired = True
            first = self.first
            if first is not None:
                self.first = None
                if first.active:
                    mode = first.mode
                    # The common cases, inlined: one count down, no failure.
                    if mode == ALL or (mode == FAIL_FAST and not self._failed(fut, failed)):
                        first.remaining -= 1
                        if not first.remaining and not first.signalled:
                            first.signalled = True
                            first._signal.release()
                    else:
                        first.notify(fut, self.position, failed)
            more = self.more
            if more is not None:
                self.more = None
                for waiter, position in more:
                    if waiter.active:
                        waiter.notify(fut, position, failed)
            if self.kind != FAST:  # not a stdlib future: it has a registry entry
                key = id(fut)
                ref = _HUBS.get(key)
                if ref is not None and ref() is self:
                    del _HUBS[key]

    def _failed(self, fut: Any, failed: bool | None) -> bool:
        if failed is not None:
            return failed
        return fast_failed(fut) if self.kind == FAST else failed_of(fut)

    def _needs_outcome(self) -> bool:
        """Whether a waiter on this hub needs to know if the future failed.

        Read without the lock: a waiter added meanwhile gets ``failed=None``
        and works it out itself, under the lock (a rare race).
        """
        first, more = self.first, self.more
        if first is not None and first.mode in _NEEDS_OUTCOME:
            return True
        return any(w.mode in _NEEDS_OUTCOME for w, _ in more or ())


def _find_hub(fut: Any, kind: int) -> _Hub | None:
    """The live hub of a future, if any; ``_LOCK`` is held.

    A stdlib future holds its callbacks itself, so its hub is found there;
    other futures' hubs are found through the registry.
    """
    if kind == FAST:
        for callback in done_callbacks(fut):
            if type(callback) is _Hub and not callback.fired:
                return callback
        return None
    ref = _HUBS.get(id(fut))
    hub = ref() if ref is not None else None
    return hub if hub is not None and not hub.fired else None


class Waiter:
    """One call's view of its pending inputs; its state is guarded by ``_LOCK``."""

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
        """Called by a hub, ``_LOCK`` held; ``failed`` is ``None`` for a stdlib future."""
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
                    with _LOCK:
                        # Decide under the lock, so that no notification
                        # lands after the call has given up.
                        got = signal.acquire(blocking=False)
                        if not got:
                            self.active = False
                    return got
                got = signal.acquire(timeout=min(left, _SLICE or threading.TIMEOUT_MAX))
            if got:
                return True

    def poll(self) -> bool:
        """Whether notified, without sleeping; then ``take()`` as after ``wait()``."""
        return self._signal.acquire(blocking=False)

    def take(self) -> list[tuple[Any, int]]:
        """STREAM mode: return what settled since the last call, rearm the signal."""
        with _LOCK:
            queue, self.queue = self.queue, []
            if self.signalled and not queue:  # pragma: no cover - defensive
                return queue
            self.signalled = False
            return queue

    def close(self) -> None:
        """End the call: later notifications are ignored, entries pruned lazily.

        ``_LOCK`` is re-entrant because this may run from a generator's
        finaliser, which the garbage collector can call at any allocation,
        also while this thread is inside a locked block.
        """
        with _LOCK:
            self.active = False
            self.trigger = None
            self.queue = []


def register(waiter: Waiter, pending: Pending) -> None:
    """Add ``waiter`` to the hub of every pending input, creating hubs as needed.

    Each occurrence gets its own entry (the same future twice is waited on
    twice), carrying its input position. A future that settles
    meanwhile, even before its new hub is attached, notifies the waiter:
    a stdlib future calls a callback added after it finished at once.
    Stops early once a one-shot waiter has been woken.
    """
    fresh: dict[int, _Hub] = {}
    attach: list[tuple[Any, _Hub]] = []
    one_shot = waiter.mode != STREAM
    total = len(pending)
    start = 0
    while start < total:
        stop = min(start + _CHUNK, total)
        with _LOCK:
            if one_shot and waiter.signalled:
                break
            for j in range(start, stop):
                position, fut, kind = pending[j]
                key = id(fut)
                hub = fresh.get(key) or _find_hub(fut, kind)
                if hub is None:
                    hub = fresh[key] = _Hub(kind, waiter, position)
                    attach.append((fut, hub))
                else:
                    hub.add(waiter, position)
        start = stop
        if len(attach) >= _CHUNK:
            _attach(attach)
            attach = []
    _attach(attach)


def _attach(attach: list[tuple[Any, _Hub]]) -> None:
    for fut, hub in attach:
        fut.add_done_callback(hub)  # may call hub(fut) right here
        if hub.kind != FAST:
            with _LOCK:
                if not hub.fired:
                    ref = _HubRef(hub, _forget)
                    ref.key = id(fut)
                    _HUBS[ref.key] = ref


def cancel_pending(pending: Pending) -> None:
    """Cancel every pending input that has not started (running work is left alone)."""
    seen: set[int] = set()
    for fut in pending.futures():
        key = id(fut)
        if key not in seen:
            seen.add(key)
            fut.cancel()


def give_up(fn: str, pending: Pending, timeout: float | None, total: int, cancel: bool) -> NoReturn:
    """At the deadline: count what is unfinished, cancel if asked, raise the timeout."""
    unfinished = still_pending(pending)
    if cancel:
        cancel_pending(pending)
    raise call_timeout(fn, timeout, unfinished, total)


def still_pending(pending: Pending) -> int:
    """How many pending inputs have still not settled (no outcome is read)."""
    return sum(1 for _, fut, kind in pending if not is_done(fut, kind))


def wait_pending(
    mode: int,
    pending: Pending,
    deadline: float | None,
    on_register: Callable[[], None] | None = None,
) -> tuple[bool, tuple[Any, int] | None]:
    """Wait in ``mode`` on the pending inputs: ``(notified, trigger)``.

    ``trigger`` is the ``(future, index)`` that woke a one-shot waiter
    (the first failure, success or settled input), ``None`` when every
    entry settled. ``notified`` is ``False`` at the deadline.
    """
    waiter = Waiter(mode, len(pending))
    try:
        register(waiter, pending)
        if on_register is not None:
            on_register()
        notified = waiter.wait(deadline)
        return notified, waiter.trigger
    finally:
        waiter.close()


class _Watch:
    """A done-callback for a future only one waiter will ever wait on.

    ``map_all``/``map_settled`` submit their own futures: no one else can
    wait on them, so they skip the shared registry and its bookkeeping.
    """

    __slots__ = ("position", "waiter")

    def __init__(self, waiter: Waiter, position: int) -> None:
        self.waiter: Waiter | None = waiter
        self.position = position

    def __call__(self, fut: Any) -> None:
        with _LOCK:
            waiter, self.waiter = self.waiter, None
            if waiter is not None and waiter.active:
                waiter.notify(fut, self.position, False)


def watch(waiter: Waiter, fut: Any, position: int) -> None:
    """Notify the STREAM ``waiter`` with ``(fut, position)`` when ``fut`` settles."""
    fut.add_done_callback(_Watch(waiter, position))
