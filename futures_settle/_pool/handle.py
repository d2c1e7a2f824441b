"""The parent's handle on one worker process: start it, feed it, stop it, read its slot.

The handle holds the worker's end of nothing: its process, the parent's end
of the worker's pipe, the shared slot where the worker acknowledges what it
starts, and the segments sent to it in order. Only the supervisor thread
uses a handle.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import deque
from typing import Any

from . import worker
from .inbox import Inbox
from .jobs import Segment

__all__ = ["DEPTH", "QUEUED", "Handle"]

DEPTH = 8  # most segments sent to a worker at once: one running, the rest in its pipe
QUEUED = 49152  # bytes: the segments waiting in a worker's pipe fit its buffer (64 KiB)
_SOFT = getattr(signal, "SIGUSR1", None)


class Handle:
    """One worker: its process, pipe and slot, and the segments it holds."""

    __slots__ = (
        "conn",
        "eof",
        "exitcode",
        "exiting",
        "garbled",
        "ghost",
        "heard",
        "inbox",
        "init_at",
        "items",
        "next_seq",
        "pid",
        "proc",
        "rconn",
        "ready",
        "reaped",
        "reclaiming",
        "retiring",
        "segments",
        "slot",
        "stalled",
        "stopping",
    )

    def __init__(
        self, ctx: Any, initializer: Any, initargs: tuple[Any, ...], memory: Any, timed: bool
    ) -> None:
        parent, child = ctx.Pipe()
        rparent, rchild = ctx.Pipe()  # the reclaim pipe (``gate``)
        self.slot = ctx.RawArray("q", worker.SLOT_SIZE)
        self.proc = ctx.Process(
            target=worker.main,
            args=(child, rchild, self.slot, initializer, initargs, memory, os.getpid(), timed),
            name="SupervisedPool-worker",
        )
        try:
            self.proc.start()
        finally:
            child.close()  # the worker's end lives in the worker only: its death is our EOF
            rchild.close()
        self.conn = parent
        self.inbox = Inbox(parent)
        self.rconn = rparent
        self.pid: int = self.proc.pid
        self.ready = False
        self.reaped = False  # joined and closed: its exitcode kept
        self.exitcode: int | None = None
        self.init_at: float | None = None  # when it said its initializer starts (timed pools)
        self.eof = False  # the pipe said EOF: wait on the sentinel only
        self.garbled = False  # its pipe carried what its worker would not send: killed
        self.exiting = False  # told to exit (shutdown, or max_tasks_per_worker reached)
        self.retiring = False  # said it retires (max_memory_per_worker)
        self.items = 0  # items sent, for max_tasks_per_worker
        self.next_seq = 0  # the number of the last item sent
        self.segments: deque[Segment] = deque()
        self.stopping: list[Any] | None = None  # [seq, "timeout" | "cancel", kill_at]
        # Reclaiming what it has not started (``feeding``): asked and not answered yet;
        # answered, and silent since (no new work until it speaks); when it last spoke.
        self.reclaiming = False
        self.stalled = False
        self.heard = 0.0
        self.ghost = (0, 0)  # (bytes, last seq): given-back segments maybe still in its pipe

    def takes_work(self) -> bool:
        return (
            self.ready
            and not (self.exiting or self.retiring or self.eof or self.stopping)
            and len(self.segments) < DEPTH
        )

    def expects(self, msg: tuple[Any, ...]) -> bool:
        """Whether a result (or skip) names the job and item this worker answers next."""
        if not self.segments:
            return False
        seg = self.segments[0]
        if seg.job.id != msg[1] or msg[2] != seg.offset + seg.done:
            return False
        return msg[0] != worker.RESULTS or 0 < int(msg[3]) <= seg.count - seg.done

    def send(self, data: Any) -> bool:
        """Write one message; False if the worker is gone."""
        try:
            self.conn.send_bytes(data)
            return True
        except OSError:
            return False

    def running(self) -> int:
        """The number of the item running now, or 0 (read from the slot)."""
        slot = self.slot
        started = slot[worker.STARTED]
        return started if started != slot[worker.FINISHED] and started > self.answered() else 0

    def next_to_start(self) -> int:
        """The number of the item this worker starts next, between two items.

        Not always the last started + 1: numbers given back (``gate``) are
        skipped, the next segment it holds may begin after a gap.
        """
        started: int = self.slot[worker.STARTED]
        for seg in self.segments:
            if seg.seq_base + seg.count > started:
                return max(started, seg.seq_base) + 1
        return 0

    def cancelled_held(self) -> int:
        """The item running now if its future is cancelled (a stop that a race let pass:
        the supervisor stops it); -1 if a cancelled one waits in what it holds; else 0."""
        held = 0
        started, finished = self.slot[worker.STARTED], self.slot[worker.FINISHED]
        for seg in self.segments:
            if seg.job.future.cancelled():
                if started != finished and seg.seq_base < started <= seg.seq_base + seg.count:
                    return int(started)
                held = -1
        return held

    def answered(self) -> int:
        """The number of the last item whose outcome came back (or was given up)."""
        if self.segments:
            head = self.segments[0]
            return head.seq_base + head.done
        return self.next_seq

    def started_at(self) -> float:
        return float(self.slot[worker.START_NS]) / 1e9

    def stop(self, seq: int, reason: str, grace: float) -> None:
        """Ask item ``seq`` to stop (``TaskStopped`` raised in it); killed after ``grace``."""
        self.slot[worker.STOP] = seq
        self.stopping = [seq, reason, time.monotonic() + grace]
        if _SOFT is None:
            self.kill()
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, _SOFT)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, getattr(signal, "SIGKILL", signal.SIGTERM))

    def reap(self, timeout: float = 5.0) -> int | None:
        """Wait for the process to end (killed past ``timeout``); its exit code.

        Once reaped, the process is closed: a second call (a path that breaks
        the pool while a death is being handled) gives the same code again.
        """
        if self.reaped:
            return self.exitcode
        self.proc.join(timeout)
        if self.proc.exitcode is None:
            self.kill()
            self.proc.join()
        self.exitcode = self.proc.exitcode
        self.reaped = True
        self.conn.close()
        self.rconn.close()
        self.proc.close()
        return self.exitcode
