"""``SupervisedPool``: a process pool where a task that hangs or crashes costs itself alone.

The public face: argument checks, ``submit()``, ``shutdown()``,
``terminate()`` and the context manager. The work happens in the
supervisor thread (``supervisor``) and the workers (``worker``).
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from .jobs import CHUNK, SINGLE, Job, Segment
from .supervisor import Supervisor

__all__ = ["SupervisedPool"]

P = ParamSpec("P")
T = TypeVar("T")

# The running supervisors, held strongly: a pool dropped without shutdown()
# is still shut down at exit (else multiprocessing's exit hook would wait
# forever for its idle workers).
_LIVE: set[Supervisor] = set()


def _default_workers() -> int:
    count = getattr(os, "process_cpu_count", os.cpu_count)() or 1
    return min(count, 61) if sys.platform == "win32" else count


def _positive(name: str, value: object, kind: type | tuple[type, ...], zero: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be a number or None, got {type(value).__name__}")
    if value < 0 or (value == 0 and not zero):  # type: ignore[operator]
        raise ValueError(f"{name} must be {'>= 0' if zero else '> 0'}, got {value!r}")


class SupervisedPool(Executor):
    """A process pool where a task that hangs or kills its worker costs that task alone.

    Use it instead of ``ProcessPoolExecutor`` when an item may crash its
    process (a segfault, the OOM killer), hang, or leak: the stdlib pool
    breaks at the first dead worker and fails every pending task.

    - A worker's death fails exactly the task it was running, with
      ``WorkerDiedError`` (a ``BrokenProcessPool``); the tasks it had not
      started run in other workers, and a new worker replaces it at once.
    - ``task_timeout``: a task running longer is stopped softly (a
      ``TaskStopped`` exception raised inside it, so that its ``finally``
      blocks run; this reaches Python code, not a C call that never
      returns), then, ``grace`` seconds later, killed with its worker; its
      future fails with ``TaskTimeoutError``, whatever the task does once
      asked to stop (catch ``TaskStopped`` and return a value, raise an
      error of its own); one that returns before the pool asks keeps its
      outcome. With chunked maps (``map_all``/``map_settled``) the limit is
      per item.
    - ``future.cancel()`` on a running task stops it the same way and
      returns ``True``; the future stays cancelled whatever the task does
      next; ``future.running()`` stays ``False``.
    - Quick tasks are sent ahead, a few to each worker; if a worker is held
      by a slow one (50 ms without a word) while another idles with
      nothing queued, the pool takes back what the held worker has not
      started, the rest of a chunk included, and runs it in the idle one.
      A worker busy with a long run of quick items is not held: what
      waits behind them stays.
    - ``max_tasks_per_worker`` (items, for chunks) and
      ``max_memory_per_worker`` (the worker's own resident bytes, checked
      after each item) recycle a worker. Pages a fork-started worker still
      shares with its parent are not its own (on Linux: its private pages;
      elsewhere its peak resident size counts).
    - An initializer that fails (or workers that die before they are
      ready) three times in a row breaks the pool: pending futures fail
      with a ``BrokenProcessPool`` whose ``__cause__`` is the initializer's
      exception, with the worker's traceback as its own cause.
    - A task may ``os.fork()``: a child that returns from the task (or
      raises out of it) exits there (code 0, 1, or a ``SystemExit``'s),
      never as its worker. A result on a worker's pipe for work it does not
      hold gets the worker killed: its task's ``WorkerDiedError`` says so
      in a note, no other task is touched.
    - A worker exits when its parent dies, even by ``SIGKILL``; it ignores
      ``SIGINT``, so a Ctrl-C is the parent's to handle: leaving the
      ``with`` block on ``KeyboardInterrupt`` (or any exception that is not
      an ``Exception``) calls ``terminate()``.

    Stopping everything now: ``terminate()`` cancels every queued and
    running task (each future ends cancelled, or keeps the outcome it had),
    kills the workers and returns once none remains.

    Args:
        max_workers: Worker processes; default as ``ProcessPoolExecutor``.
        mp_context: A ``multiprocessing`` context; default the running
            Python's default start method (``fork``, ``forkserver`` and
            ``spawn`` all work).
        initializer: Called in each worker with ``initargs`` before it runs tasks.
        initargs: Its arguments.
        task_timeout: Seconds a task (an item, in a chunk) may run; None: no limit.
            The initializer has as long, from its call: past it its worker is
            killed and replaced, a failed start that costs no task (the
            waiting ones run in the new worker; three failed starts in a row
            break the pool). Without it the initializer has no limit either,
            as in ``ProcessPoolExecutor``: tasks wait for a ready worker, and
            ``shutdown(cancel_futures=True)`` or ``terminate()`` end the pool.
        grace: Seconds a stopped task has to return before its worker is killed.
        max_tasks_per_worker: Items a worker runs before it is replaced.
        max_memory_per_worker: Resident bytes of its own (not the pages a
            forked worker shares with its parent) above which a worker is
            replaced (checked between items).

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: A number is out of range.

    Example:
        >>> import os
        >>> from futures_settle import SupervisedPool, WorkerDiedError, wait_settled
        >>> with SupervisedPool(2) as pool:
        ...     futures = [pool.submit(pow, 2, 10), pool.submit(os._exit, 3)]
        ...     [r.value if r.status == "fulfilled" else r.reason for r in wait_settled(futures)]
        [1024, WorkerDiedError(...)]
        >>> str(futures[1].exception())
        'worker ... died running the task: exited with code 3'

    """

    _settle_process_based = True  # the maps chunk for it as for a process pool

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        mp_context: Any = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        task_timeout: float | None = None,
        grace: float = 1.0,
        max_tasks_per_worker: int | None = None,
        max_memory_per_worker: int | None = None,
    ) -> None:
        if max_workers is None:
            max_workers = _default_workers()
        _positive("max_workers", max_workers, int)
        _positive("task_timeout", task_timeout, (int, float))
        _positive("grace", grace, (int, float), zero=True)
        if grace is None:
            raise TypeError("grace must be a number, got NoneType")
        _positive("max_tasks_per_worker", max_tasks_per_worker, int)
        _positive("max_memory_per_worker", max_memory_per_worker, int)
        if initializer is not None and not callable(initializer):
            raise TypeError(
                f"initializer must be callable or None, got {type(initializer).__name__}"
            )
        if not isinstance(initargs, tuple):
            raise TypeError(f"initargs must be a tuple, got {type(initargs).__name__}")
        self._max_workers = max_workers
        self._ctx = multiprocessing.get_context() if mp_context is None else mp_context
        self._supervisor = Supervisor(
            self._ctx,
            max_workers,
            {
                "initializer": initializer,
                "initargs": initargs,
                "task_timeout": None if task_timeout is None else float(task_timeout),
                "grace": float(grace),
                "max_tasks_per_worker": max_tasks_per_worker,
                "max_memory_per_worker": max_memory_per_worker,
            },
        )
        self._ids = itertools.count(1)
        self._started = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Schedule ``fn(*args, **kwargs)`` in a worker; its future.

        The future is a plain ``concurrent.futures.Future``: every wait
        function reads it. It fails with ``WorkerDiedError`` if the worker
        dies running the task, with ``TaskTimeoutError`` past ``task_timeout``;
        ``cancel()`` stops the task even while it runs.

        Raises:
            RuntimeError: The pool is shut down.
            BrokenProcessPool: The pool broke (its workers could not start).

        Example:
            >>> from futures_settle import SupervisedPool
            >>> with SupervisedPool(1) as pool:
            ...     pool.submit(divmod, 7, 2).result(timeout=30)
            (3, 1)
        """
        return self._submit(fn, [(args, kwargs)], SINGLE)

    def _settle_submit_chunk(self, fn: Callable[..., Any], items: Sequence[Any]) -> Future[Any]:
        """Run ``fn(*args)`` for each ``args`` in ``items``, each with its own outcome.

        The future's value has the shape of ``_map``'s ``run_chunk``:
        ``(values, {offset: exception} or None, seconds)``; an item that killed
        its worker or ran past ``task_timeout`` has its error at its offset,
        the others their own outcomes.
        """
        return self._submit(fn, list(items), CHUNK)

    def _submit(self, fn: Any, items: list[Any], kind: int) -> Future[Any]:
        sup = self._supervisor
        future: Future[Any] = Future()
        job = Job(next(self._ids), future, fn, items, kind)
        with sup.lock:
            if sup.broken is not None:
                raise BrokenProcessPool(str(sup.broken)) from sup.broken
            if sup.closing:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if not self._started:
                self._started = True
                _LIVE.add(sup)
                sup.on_exit = _LIVE.discard
                sup.thread.start()
            sup.incoming.append(Segment(job, 0, len(items)))
            sup.wake()
        future.add_done_callback(sup.on_done)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Finish the queued tasks (or cancel them) and let the workers exit.

        A hung task holds it no longer than its ``task_timeout`` + ``grace``
        (without a ``task_timeout``, as long as it runs). A Ctrl-C while it
        waits calls ``terminate()`` and propagates.

        Args:
            wait: Return only once every worker has exited (not when called
                from a done-callback, which runs in the pool's own thread).
            cancel_futures: Cancel the tasks not sent to a worker yet.

        Example:
            >>> from futures_settle import SupervisedPool
            >>> pool = SupervisedPool(1)
            >>> f = pool.submit(abs, -3)
            >>> pool.shutdown()
            >>> f.result(), pool._worker_pids()
            (3, [])
        """
        sup = self._supervisor
        with sup.lock:
            sup.closing = True
            if cancel_futures:
                sup.cancel_queued = True
            if self._started:
                sup.wake()
            else:
                queued, sup.incoming = list(sup.incoming), sup.incoming.__class__()
        if not self._started:
            for s in queued:
                s.job.future.cancel()
        # From a done-callback (the supervisor's thread) it cannot wait for itself.
        if wait and self._started and threading.current_thread() is not sup.thread:
            try:
                while sup.thread.is_alive():
                    sup.thread.join(0.25)
            except BaseException:
                self.terminate()
                raise

    def terminate(self) -> None:
        """Stop everything now: cancel every queued and running task, kill the workers.

        Every future of the pool has an outcome when it returns (the ones
        not done are cancelled) and no worker remains; the pool is shut down.
        ``shutdown()`` after it does nothing. Called from a done-callback
        (the pool's own thread), it takes effect once the callback returns.
        Leaving the ``with`` block on a ``KeyboardInterrupt`` calls it.

        Example:
            >>> import time
            >>> from futures_settle import SupervisedPool
            >>> pool = SupervisedPool(1)
            >>> stuck = pool.submit(time.sleep, 3600)
            >>> queued = pool.submit(pow, 2, 8)
            >>> pool.terminate()
            >>> stuck.cancelled(), queued.cancelled()
            (True, True)
        """
        sup = self._supervisor
        with sup.lock:
            sup.closing = True
            sup.terminating = True
            if self._started:
                sup.wake()
            started = self._started
        if started:
            if threading.current_thread() is not sup.thread:  # else it ends after the callback
                sup.thread.join()
        else:
            for s in list(sup.incoming):
                s.job.future.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and not isinstance(exc, Exception):
            self.terminate()  # Ctrl-C, SystemExit: stop now
        else:
            self.shutdown(wait=True)

    def _worker_pids(self, ever: bool = False) -> list[int]:
        """The workers' pids now, or of every worker started (for tests, read without a lock)."""
        if ever:
            return list(self._supervisor.started)
        return [h.pid for h in list(self._supervisor.workers) if h.ready]


@atexit.register
def _shutdown_all() -> None:
    for sup in list(_LIVE):
        with sup.lock:
            sup.closing = True
            sup.wake()
        sup.thread.join()
