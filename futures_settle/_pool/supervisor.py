"""The parent's thread that runs a ``SupervisedPool``: one loop, every worker watched at once.

It waits with ``multiprocessing.connection.wait()`` on each worker's pipe and
process sentinel and on a wake-up pipe for ``submit()``, with a timeout
computed from the nearest deadline (a task's limit, a stopped worker's
grace): no polling. It alone sends work, reads answers, reads the slots,
stops and kills and replaces workers; the other threads only hand it
jobs, cancellations and orders under one short lock.

How a death is attributed: after draining what the dead worker sent, its
slot says which item it had started and whether it finished it. That item
alone fails (``WorkerDiedError``, or ``TaskTimeoutError`` if the pool killed
it for its limit); the items it had not answered go back to the queue's
front, to run in another worker.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from concurrent.futures import Future, InvalidStateError
from multiprocessing.connection import wait
from pickle import loads
from typing import Any

from . import worker as w_
from .errors import (
    GARBLED,
    TaskTimeoutError,
    WorkerDiedError,
    crash_loop,
    describe_exit,
    initializer_timeout,
    unpickled,
)
from .feeding import Feeding
from .handle import Handle
from .inbox import Inbox
from .jobs import Job, Segment, remote

__all__ = ["Supervisor"]

CRASH_LOOP = 3  # workers in a row that die before they are ready: the pool is broken
EXIT_GRACE = 2.0  # seconds an idle worker told to exit may take before it is killed


class Supervisor(Feeding):
    """The pool's state and the thread that owns it."""

    def __init__(self, ctx: Any, workers: int, options: dict[str, Any]) -> None:
        self.ctx = ctx
        self.size = workers
        self.options = options
        self.timeout: float | None = options["task_timeout"]
        self.grace: float = options["grace"]
        self.max_tasks: int | None = options["max_tasks_per_worker"]
        self.lock = threading.Lock()
        # Under the lock: what other threads hand over.
        self.incoming: deque[Segment] = deque()
        self.cancels: list[Future[Any]] = []
        self.closing = False  # shutdown() called: no new jobs
        self.terminating = False
        self.cancel_queued = False  # shutdown(cancel_futures=True): the queue goes
        self.woken = False
        self.broken: BaseException | None = None
        # The thread's own.
        self.queue: deque[Segment] = deque()
        self.workers: list[Handle] = []
        self.started: list[int] = []  # every worker's pid, for tests that check none is left
        self.failed_starts = 0
        self.item_seconds = 1.0  # a moving average of the items' durations
        self.init_error: tuple[BaseException, str] | None = None
        self.exit_deadline: float | None = None
        self.wake_r: Any
        self.wake_r, self.wake_w = ctx.Pipe(duplex=False)
        self.wake_inbox = Inbox(self.wake_r)
        self.thread = threading.Thread(target=self._main, name="SupervisedPool", daemon=True)
        self.on_exit: Any = lambda sup: None  # the pool's: forget this supervisor

    # -- called by other threads, under the lock -------------------------------------------
    def wake(self) -> None:
        if not self.woken:
            self.woken = True
            self.wake_w.send_bytes(b"")

    def on_done(self, future: Future[Any]) -> None:
        """Every job's done-callback: a cancelled future's task is stopped where it runs."""
        if future.cancelled():
            # As the stdlib's pools do: else its waiters (wait(), as_completed()) never see it.
            future.set_running_or_notify_cancel()
            with self.lock:
                if not self.terminating:
                    self.cancels.append(future)
                    self.wake()

    # -- the thread ------------------------------------------------------------------------
    def _main(self) -> None:
        try:
            for _ in range(self.size):
                self.workers.append(self._spawn())
            while self._step():
                pass
        except BaseException as exc:  # a defect of ours: no future may wait forever
            self._break(exc)
        finally:
            self.on_exit(self)
            with self.lock:
                self.woken = True  # wake() is a no-op from now on: then the pipe goes
                self.wake_w.close()
            self.wake_r.close()

    def _spawn(self) -> Handle:
        o = self.options
        h = Handle(
            self.ctx,
            o["initializer"],
            o["initargs"],
            o["max_memory_per_worker"],
            self.timeout is not None,
        )
        self.started.append(h.pid)
        return h

    def _step(self) -> bool:
        """One turn of the loop; False when the pool is finished."""
        with self.lock:
            self.woken = False
            self.queue.extend(self.incoming)
            self.incoming.clear()
            cancels, self.cancels = self.cancels, []
            closing, terminating = self.closing, self.terminating
            cancel_queued, self.cancel_queued = self.cancel_queued, False
        if cancel_queued:
            for seg in self.queue:
                seg.job.future.cancel()
            self.queue.clear()
        if terminating:
            self._terminate()
            return False
        for future in cancels:
            self._cancel(future)
        self._dispatch()
        now = time.monotonic()
        nearest = min(self._deadlines(now), self._steal(now))
        busy = self.queue or any(h.segments for h in self.workers)
        if closing and not busy:
            if not self.workers:
                return False
            if self.exit_deadline is None:
                self.exit_deadline = now + EXIT_GRACE
                for h in self.workers:
                    if not h.exiting:
                        h.exiting = True
                        h.send(w_.EXIT_MESSAGE)
            elif now >= self.exit_deadline:
                for h in self.workers:
                    h.kill()
            nearest = min(nearest, self.exit_deadline)
        handles: dict[Any, tuple[Handle, bool | None]] = {}
        for h in self.workers:
            handles[h.proc.sentinel] = (h, True)
            if not h.eof:
                handles[h.conn] = (h, False)
                handles[h.rconn] = (h, None)
        timeout = None if nearest == float("inf") else max(0.0, nearest - time.monotonic())
        wake: Any = self.wake_r
        ready: list[Any] = wait([wake, *handles], timeout)
        for obj in ready:
            if obj is wake:
                self.wake_inbox.read()  # one read: at most one wake-up is pending
                continue
            h, is_sentinel = handles[obj]
            if is_sentinel is None:
                self._read_released(h)
            elif not is_sentinel:
                self._read(h)
        for obj in ready:
            # A crash loop detected at one death breaks the pool and reaps every
            # worker: the other sentinels of this wait are of closed processes.
            if obj is not self.wake_r and handles[obj][1] and self.broken is None:
                self._died(handles[obj][0])
        return self.broken is None

    def _read(self, h: Handle) -> None:
        """What ``h`` sent since (its pipe is readable): one read (``inbox``)."""
        inbox = h.inbox
        try:
            for raw in inbox.read():
                if h.eof:  # garbled (``_message``): nothing more it sent is believed
                    break
                if inbox.held is not None:  # a large batch's payload after its header
                    message, inbox.held = (*inbox.held, raw), None
                else:
                    message = loads(raw)
                    if message[0] == w_.RESULTS and len(message) == 5:
                        inbox.held = message
                        continue
                self._message(h, message)
            self._heard(h)
        except (EOFError, OSError):
            h.eof = True

    def _message(self, h: Handle, msg: tuple[Any, ...]) -> None:
        tag = msg[0]
        if tag in (w_.RESULTS, w_.SKIPPED) and not h.expects(msg):
            # Not what its worker would send (a process the task forked, writing on
            # the pipe?): nothing it says is believed; its death tells what it ran.
            h.garbled = h.eof = True
            h.kill()
            return
        if tag == w_.RESULTS:
            _, _job, offset, count, seconds, blob = msg
            seg = h.segments[0]
            job = seg.job
            job.seconds += seconds
            self.item_seconds += (seconds / count - self.item_seconds) * 0.25
            try:
                values, odd = loads(blob)
            except BaseException as exc:  # a result the parent cannot unpickle
                values = [None] * count
                odd = dict.fromkeys(range(count), (w_.RAISED, (exc, "")))
            seq = seg.seq_base + seg.done + 1  # the batch's first item
            seg.done += count
            if not job.done():
                job.take(offset, values, len(odd))
                for i, (flag, payload) in odd.items():
                    if flag == w_.PICKLED:
                        try:
                            job.give(offset + i, loads(payload))
                        except BaseException as exc:  # a value the parent cannot unpickle
                            job.fail(offset + i, exc)
                    elif flag == w_.RAISED:
                        if isinstance(payload, bytes):
                            payload = unpickled(payload, 2)
                        job.fail(offset + i, remote(*payload))
                    else:
                        self._stopped(h, job, offset + i, seq + i, killed=False, code=None)
            if h.stopping is not None and h.stopping[0] <= seg.seq_base + seg.done:
                h.stopping = None
            if seg.done == seg.count:
                h.segments.popleft()
        elif tag == w_.SKIPPED:
            _, _job, offset, error = msg
            seg = h.segments.popleft()
            rest = seg.rest(offset - seg.offset)
            if h.stopping is not None and h.stopping[0] <= seg.seq_base + seg.count:
                h.stopping = None
            if rest is not None:
                if error is not None and rest.count > 1:  # maybe one item's: each on its own
                    for i in reversed(range(rest.count)):
                        self.queue.appendleft(Segment(rest.job, rest.offset + i, 1))
                elif error is not None:
                    failure, text = unpickled(error, 2)
                    for i in range(rest.count):
                        rest.job.fail(rest.offset + i, remote(failure, text) if i == 0 else failure)
                elif rest.job.future.cancelled():
                    rest.job.drop(rest.count)
                else:
                    self.queue.appendleft(rest)
        elif tag == w_.READY:
            h.ready = True
            self.failed_starts = 0
            self.init_error = None
        elif tag == w_.INIT_FAILED:
            self.init_error = (unpickled(msg[1], 1)[0], msg[2])
        elif tag == w_.RETIRE:
            h.retiring = True
        elif tag == w_.INITIALIZING:
            h.init_at = time.monotonic()

    def _stopped(
        self, h: Handle, job: Job, offset: int, seq: int, killed: bool, code: int | None
    ) -> None:
        """Item ``seq`` was stopped (or died): its outcome, from why the pool stopped it."""
        reason = h.stopping[1] if h.stopping is not None and h.stopping[0] == seq else None
        if job.future.cancelled():
            job.drop(1)
        elif reason == "timeout" or (reason is None and not killed and self.timeout):
            job.fail(offset, TaskTimeoutError(self.timeout or 0.0, h.pid, killed))
        else:  # a death nobody asked for (or a cancel the future does not show)
            err = WorkerDiedError(h.pid, code)
            if h.garbled:
                err.add_note(GARBLED)
            job.fail(offset, err)

    def _died(self, h: Handle) -> None:
        with contextlib.suppress(OSError):
            while not h.eof and h.conn.poll():
                self._read(h)
        self._read_released(h)
        code = h.reap()
        self.workers.remove(h)
        # The last item it acknowledged, running or finished with its result
        # not received: the worker died before that result reached the pool.
        started = h.slot[w_.STARTED]
        blamed = started if started > h.answered() else 0
        again: list[Segment] = []
        for seg in h.segments:
            start = seg.done
            if seg.seq_base < blamed <= seg.seq_base + seg.count:
                k = blamed - seg.seq_base - 1
                if k > start:
                    again.append(Segment(seg.job, seg.offset + start, k - start))
                job = seg.job
                if not job.done():
                    self._stopped(h, job, seg.offset + k, blamed, killed=True, code=code)
                start = k + 1
            rest = seg.rest(start)
            if rest is not None:
                again.append(rest)
        h.segments.clear()
        for seg in reversed(again):
            if seg.job.future.cancelled():
                seg.job.drop(seg.count)
            else:
                self.queue.appendleft(seg)
        if not h.ready:
            self.failed_starts += 1
            if self.failed_starts >= CRASH_LOOP:
                init = self.init_error  # its exception, if the initializer raised
                cause = None if init is None else remote(*init)
                self._break(crash_loop(CRASH_LOOP, cause, describe_exit(code)))
                return
        with self.lock:
            done = self.closing and not self.queue and not self.incoming
        if not done or any(x.segments for x in self.workers):
            self.workers.append(self._spawn())

    def _deadlines(self, now: float) -> float:
        nearest = float("inf")
        for h in self.workers:
            if not h.ready and self.timeout is not None and h.stopping is None:
                begun = h.init_at  # its message woke this loop: the clock runs from then
                if begun is not None:
                    deadline = begun + self.timeout
                    if now >= deadline:  # a failed start: toward the crash loop
                        self.init_error = (initializer_timeout(self.timeout), "")
                        h.kill()
                        h.stopping = [0, "init", float("inf")]  # its death: the sentinel
                        continue
                    nearest = min(nearest, deadline)
                continue
            if h.stopping is None and h.segments and (late := h.cancelled_held()):
                if late > 0:  # cancelled while a race let it start (``_cancel``): stopped now
                    h.stop(late, "cancel", self.grace)
                nearest = min(nearest, now + 0.02)  # looked at again until it is answered
            if h.stopping is not None:
                if now >= h.stopping[2]:
                    h.kill()
                    h.stopping[2] = float("inf")  # its death comes through the sentinel
                nearest = min(nearest, h.stopping[2])
            elif self.timeout is not None and h.segments:
                seq = h.running()
                if seq:
                    deadline = h.started_at() + self.timeout
                    if now >= deadline:
                        h.stop(seq, "timeout", self.grace)
                        nearest = min(nearest, h.stopping[2])  # type: ignore[index]
                        continue
                else:
                    deadline = now + self.timeout  # nothing started yet: none can be due sooner
                nearest = min(nearest, deadline)
        return nearest

    def _cancel(self, future: Future[Any]) -> None:
        for h in self.workers:
            for seg in h.segments:
                if seg.job.future is future:
                    # Segments it has not begun skip the job (it reads the pipe
                    # between segments); the item running, or the next one of
                    # this segment if it is between two, is stopped.
                    h.send(w_.cancel_message(seg.job.id))
                    if h.stopping is not None:
                        break
                    mine = range(seg.seq_base + 1, seg.seq_base + seg.count + 1)
                    seq = h.running()
                    if seq and seq in mine:
                        h.stop(seq, "cancel", self.grace)
                    elif not seq and (nxt := h.next_to_start()) in mine:
                        h.slot[w_.STOP] = nxt  # it stops at once if it starts now
                        if h.slot[w_.STARTED] == nxt:  # it started meanwhile: maybe past the check
                            h.stop(nxt, "cancel", self.grace)
                    break

    def _jobs(self) -> list[Job]:
        jobs = {id(s.job): s.job for s in self.queue}
        with self.lock:
            jobs.update({id(s.job): s.job for s in self.incoming})
            self.incoming.clear()
        for h in self.workers:
            jobs.update({id(s.job): s.job for s in h.segments})
        self.queue.clear()
        return list(jobs.values())

    def _terminate(self) -> None:
        for h in self.workers:
            h.kill()
        for job in self._jobs():
            job.future.cancel()
        for h in self.workers:
            h.reap()
        self.workers.clear()

    def _break(self, error: BaseException) -> None:
        with self.lock:
            if self.broken is None:  # the first error is the pool's: a later one is its echo
                self.broken = error
            error = self.broken
        for h in self.workers:
            h.kill()
        for job in self._jobs():
            job.left = 0
            if not job.future.done():
                with contextlib.suppress(InvalidStateError):  # cancelled meanwhile
                    job.future.set_exception(error)
        for h in self.workers:
            h.reap()
        self.workers.clear()
