"""The loop a ``SupervisedPool`` worker process runs, and the messages it speaks.

Each worker has a duplex pipe of its own and a small shared array, its
*slot* (no lock: one writer per field). Before it runs an item it writes
the item's sequence number and start time in the slot, and after it the
number again in ``FINISHED``: that is the acknowledgement. The parent reads
the slot when it needs to (the nearest deadline, or the worker's death), so
that an acknowledgement costs two stores, not a message, and a worker killed
at any instant, even halfway through a message, leaves nothing locked.

Results go back over the pipe per item for a plain task and in small
batches for a chunk (between items, once ``FLUSH`` seconds have passed
since the last; those before an item being stopped go from the stop's handler). A
second pipe carries the parent's requests for the work it has not started
(``gate``): a thread answers them at once, even while an item runs. A stop is
``SIGUSR1`` with the item's number in ``STOP``: the handler raises
``TaskStopped`` inside that item only, never in the loop's own code; an
item whose ``STOP`` was set before it returned is reported stopped, whatever
it did after the signal (caught it and returned, or raised an error of its own).

The worker ignores ``SIGINT`` (a Ctrl-C in a terminal reaches the whole
process group: the parent decides), dies with its parent
(``PR_SET_PDEATHSIG`` on Linux, and a thread that watches its parent and the
pool's process everywhere, four times a second) and reports its
initializer's failure before it exits.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable
from multiprocessing.reduction import ForkingPickler
from pickle import loads
from time import monotonic_ns, perf_counter
from traceback import format_exception
from typing import Any

from .errors import TaskStopped
from .gate import Gate, answer
from .lifeline import die_with_parent, leave_fork
from .memory import MemoryGauge

__all__ = [
    "EXIT_MESSAGE",
    "FINISHED",
    "SLOT_SIZE",
    "STARTED",
    "START_NS",
    "STOP",
    "cancel_message",
    "dumps",
    "main",
    "run_message",
]

# The slot's fields.
STARTED, START_NS, STOP, FINISHED = 0, 1, 2, 3
SLOT_SIZE = 4

# Parent -> worker.
RUN, CANCEL, EXIT = 0, 1, 2
# Worker -> parent.
READY, INIT_FAILED, RESULTS, SKIPPED, RETIRE, INITIALIZING = 0, 1, 2, 3, 4, 5
# An item's outcome: (VALUE, value), (RAISED, (exc, text)), (STOPPED, None). SKIPPED
# carries the error that fails the segment's items from an offset on, or None: not run.
VALUE, RAISED, STOPPED = 0, 1, 2
PICKLED = 3  # (PICKLED, bytes): a value pickled on its own; a RAISED payload may be bytes too
_PLAIN = frozenset({int, float, str, bytes, bool, type(None)})  # every parent unpickles these

INLINE = 65536  # bytes: a pickled payload up to this size travels inside its header
FLUSH = 0.002  # most seconds a chunk's finished items wait before they travel

_stopped = 0  # the number of the last item the stop signal raised in
_forked = False  # this process is a fork a task made of its worker: it is not the worker
_slot: Any = None
_gate = Gate()
_timed = False  # the pool has a task_timeout: each item's start time goes in the slot


def dumps(obj: object) -> bytes | memoryview:
    """Pickled as ``multiprocessing`` pickles what it sends, as bytes of its own.

    ``ForkingPickler.dumps`` gives a view of a ``BytesIO``: kept (a segment's blob lives
    on with its job, which the garbage collector may free in a cycle), the ``BytesIO`` can
    be finalized while the view still exports it, an unraisable ``BufferError`` (seen on
    3.14). The view is copied and released at once.
    """
    view = ForkingPickler.dumps(obj)
    try:
        return view.tobytes()
    finally:
        view.release()


_dumps = dumps
EXIT_MESSAGE = dumps((EXIT,))


def run_message(
    job: int, offset: int, count: int, seq_base: int, kind: int, blob: bytes | memoryview
) -> list[bytes | memoryview]:
    """The messages of a segment: one, or a header and its pickled ``(fn, items)`` if large."""
    if len(blob) <= INLINE:
        return [dumps((RUN, job, offset, count, seq_base, kind, bytes(blob)))]
    return [dumps((RUN, job, offset, count, seq_base, kind)), blob]


def cancel_message(job: int) -> bytes | memoryview:
    return dumps((CANCEL, job))


def _on_stop(signum: int, frame: object) -> None:
    """Raise ``TaskStopped`` in the item the parent stops, if it runs (once an item)."""
    global _stopped
    slot = _slot
    seq = slot[STOP]
    # Started and not finished: the loop writes both inside the try that catches it.
    if seq and seq == slot[STARTED] != slot[FINISHED] and seq != _stopped:
        _stopped = seq  # the task's own handlers see no second one
        _send_unsent(seq)
        raise TaskStopped(f"stopped by its supervised pool (signal {signum})")


# The running segment's results not sent yet: [conn, job, offset, seq_base, first, values, odd].
_unsent: list[Any] = [None, 0, 0, 0, 0, None, None]


def _send_unsent(seq: int) -> None:
    """From the stop's handler (the loop is not sending): the results waiting before item
    ``seq``, which would run again if it is killed (a stop it ignores, past its grace)."""
    conn, job, offset, seq_base, first, values, odd = _unsent
    if values is None:
        return
    n = offset + seq - seq_base - 1 - first  # the items before the running one
    if n <= 0:
        return
    with contextlib.suppress(OSError):
        _send_outcomes(conn, job, first, values[:n], {k: v for k, v in odd.items() if k < n}, 0.0)
    del values[:n]  # in place: the loop appends to these
    shifted = {k - n: v for k, v in odd.items() if k >= n}
    odd.clear()
    odd.update(shifted)
    _unsent[4] = first + n


def _in_fork() -> None:
    global _forked
    _forked = True


def _send_outcomes(
    conn: Any, job: int, offset: int, values: list[Any], odd: dict[int, Any], seconds: float
) -> None:
    """Send a batch: the values (None where an item did not return) and the other outcomes.

    Pickled twice: the parent reads which items these are even when it
    cannot unpickle the outcomes (a class it cannot import). A value of
    another type than ``_PLAIN``'s, and an exception, are pickled on their own
    too: one the parent cannot unpickle fails that item alone.
    """
    if not _PLAIN.issuperset(map(type, values)):  # in C: most batches are plain
        _pickle_each(values, odd)
    for i, outcome in odd.items():
        if outcome[0] == RAISED:
            with contextlib.suppress(BaseException):  # else replaced below
                odd[i] = (RAISED, bytes(_dumps(outcome[1])))
    try:
        blob = _dumps((values, odd))
    except BaseException:
        # One of them does not pickle: each on its own, the bad ones replaced.
        for i, value in enumerate(values):
            if i not in odd:
                outcome = _picklable((VALUE, value))
                if outcome[0] != VALUE:
                    values[i] = None
                    odd[i] = outcome
        for i, outcome in odd.items():
            odd[i] = _picklable(outcome)
        blob = _dumps((values, odd))
    if len(blob) <= INLINE:  # one message: one read for the parent, not two
        conn.send_bytes(_dumps((RESULTS, job, offset, len(values), seconds, bytes(blob))))
    else:
        conn.send_bytes(_dumps((RESULTS, job, offset, len(values), seconds)))
        conn.send_bytes(blob)


def _pickle_each(values: list[Any], odd: dict[int, Any]) -> None:
    """Pickle each value of a type not in ``_PLAIN`` on its own, into ``odd``.

    One pickler for the batch, its memo cleared between values: the same
    bytes as ``dumps(value)`` each, without a pickler (and a copy of the
    dispatch table) made per value.
    """
    buf = io.BytesIO()
    pickler = ForkingPickler(buf)
    for i, value in enumerate(values):
        if type(value) in _PLAIN or i in odd:
            continue
        pickler.clear_memo()
        buf.seek(0)
        buf.truncate()
        try:
            pickler.dump(value)
        except BaseException:  # replaced by the caller
            pickler = ForkingPickler(buf)  # a failed dump may leave it half-way
            continue
        odd[i] = (PICKLED, buf.getvalue())
        values[i] = None


def _picklable(outcome: tuple[int, Any]) -> tuple[int, Any]:
    try:
        _dumps(outcome)
        return outcome
    except BaseException as exc:
        if outcome[0] == RAISED:
            raised = outcome[1][0]
            err: BaseException = RuntimeError(
                f"the task raised {raised!r}, which could not be pickled: {exc!r}"
            )
            return (RAISED, (err, outcome[1][1]))
        try:
            exc.add_note("while sending the task's result to the parent process")
            text = "".join(format_exception(exc))
            _dumps(exc)
            err = exc
        except BaseException:
            err = RuntimeError(f"the task's result could not be pickled: {exc!r}")
            text = ""
        return (RAISED, (err, text))


def _run_segment(
    conn: Any,
    job: int,
    offset: int,
    count: int,
    seq_base: int,
    kind: int,
    blob: bytes,
    gauge: MemoryGauge | None,
) -> bool:
    """Run one segment's items; whether the worker must retire after it.

    A segment given back (``gate``) before it began is skipped without a
    word: the parent has sent its items elsewhere already.
    """
    slot = _slot
    try:
        fn, items = loads(blob)
    except BaseException as exc:  # e.g. a function the worker cannot import
        if _gate.begin(seq_base, count, run=False) is None:
            return False
        text = "".join(format_exception(exc))
        try:
            error = bytes(_dumps((exc, text)))
        except BaseException:
            error = bytes(_dumps((RuntimeError(repr(exc)), text)))
        conn.send_bytes(_dumps((SKIPPED, job, offset, error)))  # every item fails with it
        return False
    todo = _gate.begin(seq_base, count, run=True)
    if todo is None:
        return False
    popleft = todo.popleft
    values: list[Any] = []
    append = values.append
    odd: dict[int, Any] = {}
    first = offset
    start = last = checked = perf_counter()
    mark, due = -1, 0  # the clock was read after item ``mark``, and is next after ``due``
    chunk = kind != 0
    timed = _timed
    stopped = False
    _unsent[:] = (conn, job, offset, seq_base, first, values, odd)
    while todo:
        try:  # the items from the left; the gate's thread may take from the right
            i = popleft()
        except IndexError:
            break
        seq = seq_base + i + 1
        if timed:  # read by the parent for the item's deadline
            slot[START_NS] = monotonic_ns()
        # The stop signal raises only between these two stores, both inside
        # the outer try: never in this loop's own code, never twice an item.
        try:
            slot[STARTED] = seq
            try:
                if slot[STOP] == seq:  # cancelled before it started
                    raise TaskStopped
                if chunk:
                    append(fn(*items[i]))
                else:
                    args, kwargs = items[i]
                    append(fn(*args, **kwargs))
            finally:
                if _forked:  # before any write: the slot is the worker's
                    leave_fork()
                slot[FINISHED] = seq
                if slot[STOP] == seq:  # asked to stop before it returned: stopped, whatever
                    raise TaskStopped  # it did since (a value, an error of its own)
        except TaskStopped:
            slot[FINISHED] = seq  # raised before the inner try
            stopped = True
            due = -1
            first = _unsent[4]  # the stop's handler sent the items before this one
            # A value it returned once asked to stop (or that the signal came just
            # after) is not its outcome: the item holds one place, stopped.
            del values[offset + i - first :]
            odd[len(values)] = (STOPPED, None)
            append(None)
        except BaseException as exc:  # one task, one outcome: SystemExit too
            odd[len(values)] = (RAISED, (exc, "".join(format_exception(exc))))
            append(None)
        if i < due and todo:
            continue
        # The clock is read after each item, or every eighth while items
        # take under 20 µs: a result waits at most FLUSH, or eight tiny items.
        now = perf_counter()
        retire = gauge is not None and gauge.over()
        due = i + (8 if now - checked < 20e-6 * (i - mark) and gauge is None else 1)
        mark, checked = i, now
        if stopped or retire or not todo or now - last >= FLUSH:
            _send_outcomes(conn, job, first, values, odd, now - start)
            first = offset + i + 1
            values, odd = [], {}
            append = values.append
            start = last = now
            _unsent[4:] = (first, values, odd)
            if (stopped or retire) and _gate.keep_rest(todo):  # else all given back
                conn.send_bytes(_dumps((SKIPPED, job, first, None)))
            if retire:
                return True
            if stopped:
                return False
    _unsent[5] = None
    if values:  # the gate's thread took the items after these
        _send_outcomes(conn, job, first, values, odd, perf_counter() - start)
    return False


def _receive(conn: Any) -> tuple[Any, ...]:
    message: tuple[Any, ...] = loads(conn.recv_bytes())
    if message[0] == RUN and len(message) == 6:
        message += (conn.recv_bytes(),)
    return message


def main(
    conn: Any,
    reclaim: Any,
    slot: Any,
    initializer: Callable[..., object] | None,
    initargs: tuple[Any, ...],
    max_memory: int | None,
    pool_pid: int,
    timed: bool,
) -> None:
    """The worker process's body: start, then run what the pipe brings until told to exit."""
    global _slot, _timed
    _timed = timed
    _slot = memoryview(slot).cast("B").cast("q")  # faster to index than the ctypes array
    die_with_parent(pool_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, _on_stop)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_in_fork)
    if initializer is not None:
        if timed:  # the parent's clock for it starts now (a message: it wakes the parent)
            conn.send_bytes(_dumps((INITIALIZING,)))
        try:
            initializer(*initargs)
        except BaseException as exc:
            text = "".join(format_exception(exc))
            try:
                error = bytes(_dumps(exc))
            except BaseException:
                error = bytes(_dumps(RuntimeError(repr(exc))))
            if _forked:
                leave_fork()
            conn.send_bytes(_dumps((INIT_FAILED, error, text)))
            sys.exit(3)
        if _forked:
            leave_fork()
    conn.send_bytes(_dumps((READY, os.getpid())))
    gauge = None if max_memory is None else MemoryGauge(max_memory)
    threading.Thread(target=answer, args=(reclaim, _gate), name="reclaim", daemon=True).start()
    inbox: deque[Any] = deque()
    cancelled: set[int] = set()
    try:
        while True:
            if not inbox:
                inbox.append(_receive(conn))
            while conn.poll():  # cancels that came after the segments they cancel
                inbox.append(_receive(conn))
            message = inbox.popleft()
            tag = message[0]
            if tag == RUN:
                _, job, offset, count, seq_base, kind, blob = message
                del message
                if job in cancelled:
                    if _gate.begin(seq_base, count, run=False) is not None:
                        conn.send_bytes(_dumps((SKIPPED, job, offset, None)))
                    continue
                if _run_segment(conn, job, offset, count, seq_base, kind, blob, gauge):
                    conn.send_bytes(_dumps((RETIRE,)))
                    return
            elif tag == CANCEL:
                cancelled.add(message[1])
            else:
                return
    except (EOFError, OSError):  # the parent closed the pipe or died
        return
