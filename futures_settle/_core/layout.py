"""The stdlib future's private layout, probed once: whether it may be read directly.

``concurrent.futures.Future`` keeps its outcome in ``_state``, ``_result``
and ``_exception`` and its callbacks in ``_done_callbacks``, guarded by
``_condition``. Reading them
directly is what makes the waiting core cheap, and it is only safe while
they behave as the probe below checks at import time, and while the GIL
orders plain attribute reads. ``FAST_PATH`` says whether they do; every
other module learns the layout from here.
"""

from __future__ import annotations

import sys
from concurrent.futures import Future
from concurrent.futures import _base as _cf
from typing import Any

__all__ = [
    "CANCELLED",
    "CANCELLED_AND_NOTIFIED",
    "DONE_STATES",
    "FAST_PATH",
    "FINISHED",
    "done_callbacks",
]

FINISHED = _cf.FINISHED
CANCELLED = _cf.CANCELLED
CANCELLED_AND_NOTIFIED = _cf.CANCELLED_AND_NOTIFIED
# A stdlib future's states once it is done: ``is_done(x, FAST)`` without the call.
DONE_STATES = frozenset((FINISHED, CANCELLED, CANCELLED_AND_NOTIFIED))

_FINISHED, _CANCELLED = FINISHED, CANCELLED


def _probe() -> bool:
    """Check that the stdlib Future stores its outcome the way we read it."""
    gil_enabled = getattr(sys, "_is_gil_enabled", lambda: True)
    if not gil_enabled():
        return False
    try:
        ok: Future[object] = Future()
        failed: Future[object] = Future()
        cancelled: Future[object] = Future()
        if ok._state is not _cf.PENDING:
            return False
        value, error = object(), ValueError("probe")
        ok.set_result(value)
        failed.set_exception(error)
        cancelled.cancel()
        waiting: Future[object] = Future()
        marker = object()
        waiting.add_done_callback(marker)  # type: ignore[arg-type]
        condition = waiting._condition  # the hub is attached under it, as add_done_callback does
        return bool(
            callable(getattr(condition, "acquire", None))
            and callable(getattr(condition, "release", None))
            and waiting._done_callbacks == [marker]  # type: ignore[attr-defined]
            and ok._state is _FINISHED
            and ok._result is value
            and ok._exception is None
            and failed._state is _FINISHED
            and failed._exception is error
            and cancelled._state is _CANCELLED
        )
    except Exception:  # pragma: no cover - a changed stdlib
        return False


FAST_PATH: bool = _probe()


def done_callbacks(x: Any) -> list[Any]:
    """A stdlib future's callback list, where the waiting core finds its hub."""
    callbacks: list[Any] = x._done_callbacks
    return callbacks
