"""The waiting core: one done-callback per future, shared by every call.

The stdlib's ``wait()`` locks and sorts every future on entry, appends a
waiter to each, and on return locks each again to remove it: clean-up that
makes fail-fast latency grow with the number of futures. A done-callback,
the only public hook, can never be removed, so one per call would pile up
on futures that are polled again and again.

So each pending future gets at most one callback in its life, a ``_Hub``,
found again in the future's own callback list (stdlib futures) or through
a registry keyed by ``id()`` (other engines' futures). The registry never
trusts an ``id()`` alone: each hub holds a weak reference to its future,
checked for identity on every look-up and whose death drops the entry, so
a new object at a freed one's address (a wrapper delegating
``add_done_callback`` to an inner future outlives it) never inherits its
waiting state. A future that cannot be weakly referenced gets a hub per
call. A call adds a ``Waiter`` entry to the hubs of the futures it waits
on and, when it returns, only flips ``waiter.active``: no per-future
clean-up. Entries of finished calls are replaced or dropped the next time
anyone registers on that hub (amortised: whenever the list doubles), or
with the hub's entries when its future settles, so polling does not pile
them up.

A hub fires once, when its future is done: a second call is ignored, a
call before ``done()`` is true is handed to ``recheck`` to be made again
(or the hub retired, if no call waits on it any more), and a registration
never adds an entry to a hub that has fired (it notifies the waiter
itself). Nor does it rely on an engine calling back a future that is
already done when the hub is attached: it looks, and calls the hub.

One re-entrant lock, ``waiter.LOCK``, guards the registry, the hubs'
entries and the waiters' state. Done-callbacks never run under it (a
stdlib future runs the callback inline when it is already done), nor does
any code of a future's engine; the waiting thread sleeps on a lock of its
own, which Ctrl-C interrupts.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable
from typing import Any

from . import waiter as _waiter
from .giveup import cancel_pending, give_up, still_pending
from .layout import DONE_STATES, done_callbacks
from .recheck import call_when_done
from .scans import Pending
from .state import FAIL, FAST, cheap_failed, failed_of, fast_failed, outcome
from .waiter import ALL, ANY, FAIL_FAST, FIRST, STREAM, Waiter, watch

_NEEDS_OUTCOME = (FAIL_FAST, ANY)

__all__ = [
    "ALL",
    "ANY",
    "FAIL_FAST",
    "FIRST",
    "STREAM",
    "Waiter",
    "cancel_pending",
    "expired",
    "give_up",
    "register",
    "still_pending",
    "wait_pending",
    "watch",
]

_HUBS: dict[int, _Hub] = {}
# Futures registered per lock hold: long enough to amortise the lock, short
# enough that completing threads are not held up for long. Tests make it
# small (``monkeypatch.setattr(_core, "_CHUNK", 2)``) to put one future's
# positions in different chunks.
_CHUNK = 256
# A hub's list of extra entries is pruned when it reaches this length, or
# twice its live length after the last pruning (amortised O(1) per entry).
_PRUNE_AT = 8


def _after_fork_in_child() -> None:
    # The child has none of the parent's waiters (the lock is renewed by _waiter).
    _HUBS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Target(weakref.ref):  # type: ignore[type-arg]
    """A hub's weak reference to its future, which drops the registry entry as it dies."""

    __slots__ = ("key",)
    key: int


def _forget(target: _Target) -> None:
    # Called while the future is freed: its id cannot be reused yet.
    # Lock-free, as it may run inside a locked block.
    hub = _HUBS.get(target.key)
    if hub is not None and hub.target is target:
        _HUBS.pop(target.key, None)


def _target_of(fut: Any, kind: int) -> _Target | None:
    """The weak reference a registry hub keeps to ``fut``; ``None`` for no registry."""
    if kind == FAST:
        return None  # its hub is found on the future itself
    try:
        target = _Target(fut, _forget)
    except TypeError:
        return None  # cannot be weakly referenced: a hub per call
    target.key = id(fut)
    return target


class _Hub:
    """The one done-callback of a future: fans its settling out to waiters.

    The first waiter is kept inline (most futures have one at a time); a
    finished call's waiter in that place is simply replaced by the next
    one, which is what keeps polling from piling entries up.
    """

    __slots__ = ("failed", "fired", "first", "kind", "limit", "more", "position", "target")

    def __init__(self, kind: int, waiter: Waiter, position: int, target: _Target | None) -> None:
        self.kind = kind
        self.target = target
        self.fired = False
        self.failed: bool | None = None  # when fired, if it was worked out
        self.first: Waiter | None = waiter
        self.position = position
        self.more: list[tuple[Waiter, int]] | None = None
        self.limit = _PRUNE_AT

    def add(self, waiter: Waiter, position: int) -> None:
        """Add an entry; ``LOCK`` is held and the hub has not fired."""
        first = self.first
        if first is None or not first.active:
            self.first = waiter
            self.position = position
            return
        more = self.more
        if more is None:
            self.more = [(waiter, position)]
            return
        if len(more) >= self.limit:
            # Whatever waits in front (two calls, or one listing the future
            # twice), finished calls' entries never pile up.
            more[:] = [entry for entry in more if entry[0].active]
            self.limit = max(2 * len(more), _PRUNE_AT)
        more.append((waiter, position))

    def __call__(self, arg: Any) -> None:
        # Runs on whatever thread settles the future: never raise there.
        if self.fired:
            return  # an engine calling back twice
        fut = arg
        failed: bool | None = None
        if self.kind != FAST:
            target = self.target
            own = None if target is None else target()
            if own is not None:
                fut = own  # a wrapper's hub is called back with the inner future
            # Other engines' methods run outside our lock, and the outcome
            # is read only when a waiter needs it (it may be a round trip).
            try:
                if not fut.done():
                    call_when_done(fut, self, self._wanted)  # called back too early
                    return
                failed = cheap_failed(fut)
                if failed is None and self._needs_outcome():
                    failed = outcome(fut, self.kind)[0] == FAIL
            except Exception:  # the waiting call reads it again and meets the error
                failed = True
        with _waiter.LOCK:
            if self.fired:
                return
            self.fired = True
            self.failed = failed
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
            target = self.target
            if target is not None and _HUBS.get(target.key) is self:
                del _HUBS[target.key]

    def _wanted(self) -> bool:
        """Whether a call still waits on this hub, called back before its future was done.

        If none does, the hub is retired: marked fired, so that no entry is
        added to it any more (a later call attaches a hub of its own).
        """
        with _waiter.LOCK:
            if self.fired:
                return False
            first = self.first
            if (first is not None and first.active) or any(w.active for w, _ in self.more or ()):
                return True
            self.fired = True
            target = self.target
            if target is not None and _HUBS.get(target.key) is self:
                del _HUBS[target.key]
            return False

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
    """The live hub of a future, if any; ``LOCK`` is held.

    A stdlib future holds its callbacks itself, so its hub is found there;
    other futures' hubs are found through the registry, by identity.
    """
    if kind == FAST:
        return _stdlib_hub(done_callbacks(fut))
    hub = _HUBS.get(id(fut))
    if hub is None or hub.fired:
        return None
    target = hub.target
    # Never another object's hub, even if one at the same address was missed.
    return hub if target is not None and target() is fut else None


def register(waiter: Waiter, pending: Pending) -> None:
    """Add ``waiter`` to the hub of every pending input, creating hubs as needed.

    Each occurrence gets its own entry (the same future twice is waited on
    twice), carrying its input position. A future that settles
    meanwhile, even before its new hub is attached, notifies the waiter:
    a hub attached to a future already done is called at once, and an
    occurrence whose hub fired since an earlier chunk notifies the waiter
    here. Stops early once a one-shot waiter has been woken.

    A stdlib future's new hub is attached here, under ``LOCK``, the way
    its ``add_done_callback`` does it (appended under the future's own
    condition unless the future is done; none of its code runs callbacks
    under that condition, so the two locks are always taken in this
    order): the next occurrence of the same future finds it there, and
    no call per future is left for later. A hub whose future turned out
    done is called once ``LOCK`` is released. Other engines' futures get
    theirs through their own ``add_done_callback``, outside ``LOCK``.
    """
    fresh: dict[int, _Hub] = {}
    attach: list[tuple[Any, _Hub]] = []
    one_shot = waiter.mode != STREAM
    items, positions, kinds = pending.items, pending.positions, pending.kinds
    total = len(positions)
    start = 0
    while start < total:
        stop = min(start + _CHUNK, total)
        settled: list[tuple[Any, int, _Hub]] = []
        done_now: list[tuple[Any, _Hub]] = []
        with _waiter.LOCK:
            if one_shot and waiter.signalled:
                break
            for position, kind in zip(positions[start:stop], kinds[start:stop], strict=True):
                fut = items[position]
                if kind == FAST:
                    callbacks = fut._done_callbacks
                    hub = _stdlib_hub(callbacks) if callbacks else None
                    if hub is None:
                        hub = _Hub(FAST, waiter, position, None)
                        condition = fut._condition
                        condition.acquire()
                        try:
                            if fut._state in DONE_STATES:
                                done_now.append((fut, hub))
                            else:
                                callbacks.append(hub)
                        finally:
                            condition.release()
                        continue
                else:
                    key = id(fut)
                    hub = fresh.get(key) or _find_hub(fut, kind)
                    if hub is None:
                        target = _target_of(fut, kind)
                        hub = fresh[key] = _Hub(kind, waiter, position, target)
                        attach.append((fut, hub))
                        continue
                if hub.fired:  # fired since it was attached, in an earlier chunk or not
                    settled.append((fut, position, hub))
                else:
                    hub.add(waiter, position)
        for fut, hub in done_now:
            hub(fut)  # as add_done_callback() calls a callback for a future done already
        if settled:
            _notify_settled(waiter, settled)
        start = stop
        if len(attach) >= _CHUNK:
            _attach(attach)
            attach = []
    _attach(attach)


def _stdlib_hub(callbacks: list[Any]) -> _Hub | None:
    """The live hub among a stdlib future's callbacks, if any; ``LOCK`` is held."""
    for callback in callbacks:
        if type(callback) is _Hub and not callback.fired:
            return callback
    return None


def _notify_settled(waiter: Waiter, settled: list[tuple[Any, int, _Hub]]) -> None:
    """Notify ``waiter`` of occurrences whose hub fired before they could be added."""
    for fut, position, hub in settled:
        failed = hub.failed
        if failed is None and hub.kind != FAST and waiter.mode in _NEEDS_OUTCOME:
            failed = failed_of(fut)  # outside the lock: the engine's code
        with _waiter.LOCK:
            if waiter.active:
                waiter.notify(fut, position, failed)


def _attach(attach: list[tuple[Any, _Hub]]) -> None:
    others = False
    for fut, hub in attach:
        fut.add_done_callback(hub)  # may call hub(fut) here, or on another thread
        if hub.kind == FAST:
            continue  # a stdlib future calls back at once when already done
        others = True
        target = hub.target
        if target is not None:
            with _waiter.LOCK:
                if not hub.fired:
                    _HUBS[target.key] = hub
    if others:
        # Some engines never call back a future already done, others call
        # back later on a thread of their own: look at each in input order
        # once all are attached, so that among inputs done by now the first
        # in input order is the first seen, as the scans see them.
        for fut, hub in attach:
            if hub.kind != FAST and not hub.fired and fut.done():
                hub(fut)


def expired(deadline: float | None) -> bool:
    """Whether ``deadline`` has passed: a call that cannot wait must not register."""
    return deadline is not None and deadline <= time.monotonic()


def wait_pending(
    mode: int,
    pending: Pending,
    deadline: float | None,
    on_register: Callable[[], None] | None = None,
) -> tuple[bool, tuple[Any, int] | None]:
    """Wait in ``mode`` on the pending inputs: ``(notified, trigger)``.

    ``trigger`` is the ``(future, index)`` that woke a one-shot waiter
    (the first failure, success or settled input), ``None`` when every
    entry settled. ``notified`` is ``False`` at the deadline. A call
    whose deadline has passed already (``timeout=0``: it only looks)
    cannot wait, so it registers nothing: the scan that listed
    ``pending`` was its look.
    """
    if expired(deadline):
        return False, None
    waiter = Waiter(mode, len(pending))
    try:
        register(waiter, pending)
        if on_register is not None:
            on_register()
        notified = waiter.wait(deadline)
        return notified, waiter.trigger
    finally:
        waiter.close()
