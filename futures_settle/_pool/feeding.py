"""How the supervisor hands work to its workers: which worker, how much, pickled how.

A worker holds one segment, or while items are quick and every worker is
up, up to ``DEPTH``: the one it runs and more waiting in its pipe, small
enough together to fit the pipe's buffer, so that a send never blocks the supervisor (a
big one waits until its worker is idle). ``max_tasks_per_worker`` cuts a
segment at the worker's budget. A segment that does not pickle fails the
items that do not, and the others go on.
"""

from __future__ import annotations

from collections import deque

from . import worker as w_
from .handle import DEPTH, QUEUED, Handle
from .jobs import Segment

__all__ = ["QUICK", "Feeding"]

QUICK = 0.005  # seconds: items this short on average are sent ahead (two per worker)


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
                if not h.takes_work() or len(h.segments) > round_:
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
            if h.segments and len(seg.blob) + sum(s.size for s in h.segments) > QUEUED:
                return  # it waits until the worker is idle: a send never blocks this thread
            queue.popleft()
            seg.seq_base = h.next_seq
            messages = w_.run_message(job.id, seg.offset, seg.seq_base, job.kind, seg.blob)
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
