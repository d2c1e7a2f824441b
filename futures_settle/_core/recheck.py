"""Done-callbacks that came too early: call them again once ``done()`` is true.

Some engines run a future's done-callbacks a moment before its ``done()``
turns true (they notify first and set the flag after). Read from inside
such a callback, the future still looks pending, and a pending reading is
never a settled one. So the waiting core hands such a callback to
:func:`call_when_done`: one thread, started on demand and gone once idle,
asks ``done()`` again with a growing pause and calls the callback back
once it is true, or drops it once no call waits for it any more (an
engine whose ``done()`` never turns true costs a call its timeout, not a
thread forever). Engines that set ``done()`` first never start it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["call_when_done"]

# The first pause is short (the engine is about to set its flag); it grows
# so that an engine whose flag never turns costs little.
_FIRST_PAUSE = 1e-4
_LONGEST_PAUSE = 0.02

_lock = threading.Lock()
_Entry = tuple[Any, Callable[[Any], object], Callable[[], bool]]
_waiting: list[_Entry] = []
_running = False
_thread: threading.Thread | None = None  # the last one started, for tests to join


def call_when_done(fut: Any, callback: Callable[[Any], object], wanted: Callable[[], bool]) -> None:
    """Call ``callback(fut)`` on a thread of this module once ``fut.done()`` is true.

    If ``done()`` raises, the callback is called too: it reads the future
    again and meets the engine's error itself. Until then, ``wanted()``
    says whether anyone still needs the callback; once it is false, the
    callback is dropped.
    """
    global _running, _thread
    with _lock:
        _waiting.append((fut, callback, wanted))
        if _running:
            return
        _running = True
    thread = threading.Thread(target=_run, name="futures_settle-recheck", daemon=True)
    try:
        thread.start()
    except BaseException:  # pragma: no cover - no thread to be had: the next call tries again
        with _lock:
            _running = False
        raise
    _thread = thread


def _run() -> None:
    global _running
    pause = _FIRST_PAUSE
    while True:
        with _lock:
            batch = _waiting[:]
            _waiting.clear()
            if not batch:
                _running = False
                return
        later = []
        for fut, callback, wanted in batch:
            try:
                ready = bool(fut.done())
            except Exception:
                ready = True
            if not ready:
                if wanted():
                    later.append((fut, callback, wanted))
                continue
            with contextlib.suppress(Exception):  # the core's callbacks never raise
                callback(fut)
        del batch
        if later:
            with _lock:
                _waiting[:0] = later
            del later
            time.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE)
        else:
            pause = _FIRST_PAUSE


def _after_fork_in_child() -> None:
    # The child has no thread of this module, and none of the parent's waiters.
    global _lock, _running
    _lock = threading.Lock()
    _waiting.clear()
    _running = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
