"""The cancel flag of a group on a dask cluster: a ``distributed.Event`` named for the group.

A dask task may run on any worker of the cluster, on any machine, and
its wrapper may be unpickled and pickled again on the way (by the
scheduler, by a worker that hands it on). A file on this machine means
nothing there, so a group on a dask ``Client`` (or its executor) keeps its
cancellation where every worker can ask: in a ``distributed.Event`` on the
scheduler, named for the group. The group sets it when it cancels; it then stays set
(one name on the scheduler per cancelled group), for the tasks that dask's
``cancel()`` let go of while they ran.

Its worker side (:class:`DaskReader`) pickles as the name alone. It asks
the scheduler once when its task starts (a task that starts after the
group cancelled does not run its function), then, for
``check_cancelled()``, at most once every :data:`POLL` seconds: one round
trip each, the answer in between kept. A worker that cannot reach the
scheduler reads "not cancelled": a flag that cannot be read never
cancels anything.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from .cancelflag import CANCELLED

__all__ = ["POLL", "DaskFlag", "DaskReader", "dask_client"]

POLL = 0.05  # seconds between two questions to the scheduler from one running task


def dask_client(executor: Any) -> Any:
    """The dask ``Client`` behind ``executor`` (a ``Client`` or its executor), or ``None``."""
    t = type(executor)
    if t.__module__.partition(".")[0] != "distributed":
        return None
    if t.__name__ == "Client":
        return executor
    return getattr(executor, "_client", None)  # Client.get_executor()'s ClientExecutor


def _event(name: str, client: Any) -> Any:
    from distributed import Event  # imported only for a group on dask

    make: Any = Event  # untyped
    return make(name, client=client)


class DaskFlag:
    """The group's side: sets the event when the group cancels, clears it at the end.

    One step only: a task that starts after ``set(CANCELLED)`` does not run,
    and dask cancels the queued tasks itself (``Future.cancel``).
    """

    __slots__ = ("_client", "_set", "name")

    def __init__(self, client: Any) -> None:
        self._client = client
        self._set = False
        self.name = f"futures_settle-{os.urandom(12).hex()}"

    def set(self, level: int) -> None:
        if level < CANCELLED or self._set:
            return
        self._set = True
        # A closed client or a lost scheduler: the tasks end with the cluster.
        with contextlib.suppress(Exception):
            _event(self.name, self._client).set()

    def stopping(self) -> bool:
        return self._set

    cancelled = stopping

    def close(self, keep: bool = False) -> None:
        """Nothing: a set event stays set.

        dask's ``cancel()`` ends a running task's future at once while its
        function runs on in the worker, so the group may end before that
        task asks again: the event must stay set for it. An event that was
        never set takes no room on the scheduler.
        """

    def __reduce__(self) -> tuple[type[DaskReader], tuple[str]]:
        return (DaskReader, (self.name,))


class DaskReader:
    """A worker's view of a group's event: asks the scheduler, at most every ``POLL`` s."""

    __slots__ = ("_event", "_next", "_seen", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._event: Any = None
        self._next = 0.0  # when the next question may go to the scheduler
        self._seen = False

    def stopping(self) -> bool:
        if self._seen:
            return True
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + POLL
        try:
            event = self._event
            if event is None:
                from distributed import get_client

                # The worker's client, caught in the task's thread: a
                # nested group's watcher may then ask from another thread.
                event = self._event = _event(self.name, get_client())
            self._seen = bool(event.is_set())
        except Exception:  # no scheduler to ask: the flag cannot be read, it never cancels
            return False
        return self._seen

    cancelled = stopping

    def __reduce__(self) -> tuple[type[DaskReader], tuple[str]]:
        return (DaskReader, (self.name,))
