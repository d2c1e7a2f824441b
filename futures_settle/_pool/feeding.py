"""How the supervisor hands work to its workers: which worker, how much, pickled how.

A worker holds one segment, or while items are quick and every worker is
up, up to ``DEPTH``: the one it runs and more waiting in its pipe, small
enough together to fit the pipe's buffer, so that a send never blocks the supervisor (a
big one waits until its worker is idle). ``max_tasks_per_worker`` cuts a
segment at the worker's budget. A segment that does not pickle fails the
items that do not, and the others go on.

Work sent ahead is not bound to its worker: when the queue is empty, a
worker idles and another has been silent for ``STEAL`` seconds (a slow
item: a running chunk reports every few milliseconds), the pool asks the
silent one for what it has not started (``gate``): the segments in its
pipe and the rest of the running one. What it gives back goes to the
queue's front, and it gets no new work until it speaks again. A worker
busy with a long run of quick items is not silent: what waits behind them
stays there (at most ``DEPTH`` segments of quick items). A worker whose
item is being stopped (past its limit, or cancelled) is asked too: an item
that catches the stop may run on for its whole ``grace``.
"""

from __future__ import annotations

import time
from collections import deque
from pickle import loads

from . import worker as w_
from .gate import RECLAIM
from .handle import DEPTH, QUEUED, Handle
from .jobs import Segment

__all__ = ["QUICK", "STEAL", "Feeding"]

QUICK = 0.005  # seconds: items this short on average are sent ahead (two per worker)
STEAL = 0.05  # seconds a worker holding work it has not started is silent before it is asked
_INF = float("inf")


class Feeding:
    """The supervisor's part that sends segments (a mixin: the state is the supervisor's)."""

    queue: deque[Segment]
    workers: list[Handle]
    size: int
    max_tasks: int | None
    item_seconds: float

    def _dispatch(self) -> None:
        queue = self.queue
        # More segments wait in a busy worker's pipe only while items are
        # quick and every worker is up: else one could wait behind a long one
        # while another worker idles.
        deep = self.item_seconds < QUICK and sum(h.ready for h in self.workers) >= self.size
        for round_ in range(DEPTH) if deep else (0,):
            for h in self.workers:
                if not queue:
                    return
                if not h.takes_work() or h.stalled or h.reclaiming or len(h.segments) > round_:
                    continue
                self._feed(h)
        for h in self.workers:  # max_tasks_per_worker reached and all answered: recycle
            limit = self.max_tasks
            if limit is not None and h.items >= limit and not h.segments and not h.exiting:
                h.exiting = True
                h.send(w_.EXIT_MESSAGE)

    def _feed(self, h: Handle) -> None:
        queue = self.queue
        while queue:
            seg = queue[0]
            job = seg.job
            if job.future.cancelled():
                queue.popleft()
                job.drop(seg.count)
                continue
            if self.max_tasks is not None:
                room = self.max_tasks - h.items
                if room <= 0:
                    return
                if seg.count > room:  # the rest waits for another worker
                    queue[0] = Segment(job, seg.offset + room, seg.count - room)
                    seg = Segment(job, seg.offset, room)
                    queue.appendleft(seg)
            if seg.blob is None and not self._pickle(seg):
                continue
            assert seg.blob is not None
            queued = sum(s.size for s in h.segments) + h.ghost[0]
            if (h.segments or h.ghost[0]) and len(seg.blob) + queued > QUEUED:
                return  # it waits until the worker is idle: a send never blocks this thread
            queue.popleft()
            if not h.segments:
                h.heard = time.monotonic()
            seg.seq_base = h.next_seq
            messages = w_.run_message(
                job.id, seg.offset, seg.count, seg.seq_base, job.kind, seg.blob
            )
            if not all(h.send(m) for m in messages):
                queue.appendleft(seg)
                h.eof = True
                return
            seg.size = 0 if not h.segments else len(seg.blob)  # the first is read at once
            seg.blob = None
            h.next_seq += seg.count
            h.items += seg.count
            h.segments.append(seg)
            return

    def _pickle(self, seg: Segment) -> bool:
        """Make ``seg.blob``; on failure, fail the items that do not pickle (False)."""
        job = seg.job
        items = job.items[seg.offset : seg.offset + seg.count]
        try:
            seg.blob = w_.dumps((job.fn, items))
            return True
        except Exception as exc:
            error: Exception = exc
        self.queue.popleft()
        good: list[Segment] = []
        start = None
        for i, item in enumerate(items):
            try:
                w_.dumps((job.fn, [item]))
                if start is None:
                    start = i
                continue
            except Exception as exc:
                error = exc
            if start is not None:
                good.append(Segment(job, seg.offset + start, i - start))
                start = None
            job.fail(seg.offset + i, error)
        if start is not None:
            good.append(Segment(job, seg.offset + start, len(items) - start))
        for part in reversed(good):
            self.queue.appendleft(part)
        return False

    # -- taking back what a silent worker has not started ---------------------------------
    def _steal(self, now: float) -> float:
        """Ask silent workers for their unstarted work if another idles; when to look again."""
        if self.queue or not any(
            h.takes_work() and not h.segments and not h.stalled for h in self.workers
        ):
            return _INF
        due = _INF
        for h in self.workers:
            if (
                not h.segments
                or h.reclaiming
                or h.stalled
                or (h.stopping is not None and h.stopping[1] == "init")
                or h.retiring
                or h.eof
                or h.next_seq <= h.slot[w_.STARTED]  # it started all it holds
            ):
                continue
            at = h.heard + STEAL
            if now < at:
                due = min(due, at)
                continue
            try:
                h.rconn.send_bytes(w_.dumps((RECLAIM, h.next_seq)))
                h.reclaiming = True
            except OSError:  # it died: its sentinel says so
                pass
        return due

    def _heard(self, h: Handle) -> None:
        """``h`` spoke on its main pipe."""
        h.heard = time.monotonic()
        h.stalled = False
        if h.ghost[0] and h.answered() > h.ghost[1]:  # it has read past what it gave back
            h.ghost = (0, 0)

    def _read_released(self, h: Handle) -> None:
        conn = h.rconn
        try:
            while conn.poll():
                self._released(h, loads(conn.recv_bytes())[1])
        except (EOFError, OSError):  # its death comes through the sentinel
            pass

    def _released(self, h: Handle, first: int) -> None:
        """``h`` gave back its items from number ``first`` on: to the queue's front."""
        h.reclaiming = False
        back: list[Segment] = []
        kept: deque[Segment] = deque()
        ghost = 0
        for seg in h.segments:
            if seg.seq_base + 1 >= first:  # not begun: maybe still in its pipe
                back.append(seg)
                ghost += seg.size
            elif seg.seq_base + seg.count >= first:  # the running one: cut after its part
                keep = first - 1 - seg.seq_base
                back.append(Segment(seg.job, seg.offset + keep, seg.count - keep))
                seg.count = keep
                kept.append(seg)
            else:
                kept.append(seg)
        if kept and kept[0].done == kept[0].count:  # the cut one was answered already
            kept.popleft()
        h.segments = kept
        h.stalled = bool(kept)
        if ghost:
            h.ghost = (h.ghost[0] + ghost, h.next_seq)
        for seg in reversed(back):
            h.items -= seg.count
            if seg.job.future.cancelled():
                seg.job.drop(seg.count)
            else:
                self.queue.appendleft(seg)
