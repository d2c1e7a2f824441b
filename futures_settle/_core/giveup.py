"""What a call does at its deadline, or when it ends early: count, cancel, raise.

Kept apart from the hub (whose names re-export these), as none of it
touches the hubs: it reads the pending inputs through their public
methods and cancels best effort.
"""

from __future__ import annotations

from typing import NoReturn

from .._errors import call_timeout
from .engines import cancel_quietly
from .scans import Pending
from .state import is_done

__all__ = ["cancel_pending", "give_up", "still_pending"]


def cancel_pending(pending: Pending) -> None:
    """Cancel every pending input that has not started (running work is left alone).

    Best effort (``cancel_quietly``): a future without ``cancel()``, or
    whose ``cancel()`` raises, is left as it is, and the call's answer
    stands; one that settled since the call looked keeps its outcome.
    """
    seen: set[int] = set()
    for fut in pending.futures():
        key = id(fut)
        if key not in seen:
            seen.add(key)
            cancel_quietly(fut)


def give_up(fn: str, pending: Pending, timeout: float | None, total: int, cancel: bool) -> NoReturn:
    """At the deadline: count what is unfinished, cancel if asked, raise the timeout."""
    unfinished = still_pending(pending)
    if cancel:
        cancel_pending(pending)
    raise call_timeout(fn, timeout, unfinished, total)


def still_pending(pending: Pending) -> int:
    """How many pending inputs have still not settled (no outcome is read)."""
    return sum(1 for _, fut, kind in pending if not is_done(fut, kind))
