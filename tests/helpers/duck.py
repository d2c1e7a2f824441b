"""Futures that are not ``concurrent.futures.Future``: a polite one and hostile ones.

``DuckFuture`` is shaped like dask.distributed's: it keeps the public
Future methods, runs every done-callback on a thread of its own (never
inline, even when already finished), and its ``cancel()`` returns ``None``.
``Hostile`` futures bend the rules an engine may bend, one flag each.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any

_callbacks: queue.SimpleQueue[tuple[Callable[[Any], object], Any]] = queue.SimpleQueue()


def _run_callbacks() -> None:
    while True:
        fn, fut = _callbacks.get()
        try:
            fn(fut)
        except Exception:  # pragma: no cover - a callback's bug is not ours
            pass


threading.Thread(target=_run_callbacks, name="duck-callbacks", daemon=True).start()


class DuckFuture:
    """Wraps a stdlib future behind the public methods only."""

    def __init__(self, inner: Future[Any] | None = None) -> None:
        self._inner: Future[Any] = inner if inner is not None else Future()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[Any], object]] | None = []
        self._inner.add_done_callback(self._fire)

    def _fire(self, _inner: Future[Any]) -> None:
        with self._lock:
            callbacks, self._callbacks = self._callbacks, None
        for fn in callbacks or ():
            _callbacks.put((fn, self))

    def add_done_callback(self, fn: Callable[[Any], object]) -> None:
        with self._lock:
            if self._callbacks is not None:
                self._callbacks.append(fn)
                return
        _callbacks.put((fn, self))

    def done(self) -> bool:
        return self._inner.done()

    def cancelled(self) -> bool:
        return self._inner.cancelled()

    def result(self, timeout: float | None = None) -> Any:
        return self._inner.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self._inner.exception(timeout)

    def cancel(self) -> None:
        self._inner.cancel()

    # For tests that settle by hand.
    def set_result(self, value: Any) -> None:
        self._inner.set_result(value)

    def set_exception(self, exc: BaseException) -> None:
        self._inner.set_exception(exc)

    def set_running_or_notify_cancel(self) -> bool:
        return self._inner.set_running_or_notify_cancel()

    def running(self) -> bool:
        return self._inner.running()


class DuckExecutor:
    """Submits to a thread pool and hands out DuckFutures."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> DuckFuture:
        return DuckFuture(self._pool.submit(fn, *args, **kwargs))


class Hostile:
    """A future of an engine that bends every unwritten rule its flags name.

    It keeps ``add_done_callback``, ``done``, ``result`` and ``exception``
    (what the README asks for) and has no ``cancel()`` (``HostileCancel``
    has one). Flags:

    - ``twice``: runs every callback twice.
    - ``early``: runs the callbacks before ``done()`` turns true.
    - ``threaded``: runs each callback on a new thread, joined before the
      call that ran it returns (``add_done_callback`` of a done future runs
      it on another thread before returning).
    - ``never_if_done``: drops a callback added once it is done.
    - ``slow``: ``result()`` and ``exception()`` block this long first.
    """

    def __init__(
        self,
        *,
        twice: bool = False,
        early: bool = False,
        threaded: bool = False,
        never_if_done: bool = False,
        slow: float = 0.0,
    ) -> None:
        self.twice, self.early, self.threaded = twice, early, threaded
        self.never_if_done, self.slow = never_if_done, slow
        self._lock = threading.Lock()
        self._settling = False
        self._done = threading.Event()
        self._cancelled = False
        self._result: Any = None
        self._exception: Any = None
        self._callbacks: list[Callable[[Any], object]] = []

    def __repr__(self) -> str:
        flags = [k for k in ("twice", "early", "threaded", "never_if_done") if getattr(self, k)]
        return f"{type(self).__name__}({', '.join(flags)})"

    def _run(self, callbacks: list[Callable[[Any], object]]) -> None:
        for fn in callbacks:
            for _ in range(2 if self.twice else 1):
                if self.threaded:
                    t = threading.Thread(target=self._call, args=(fn,))
                    t.start()
                    t.join()
                else:
                    self._call(fn)

    def _call(self, fn: Callable[[Any], object]) -> None:
        try:
            fn(self)
        except Exception:  # pragma: no cover - as the stdlib, log and go on
            pass

    def _settle(self, result: Any = None, exception: Any = None, cancelled: bool = False) -> bool:
        with self._lock:
            if self._settling:
                return False
            self._settling = True
            self._result, self._exception, self._cancelled = result, exception, cancelled
            callbacks, self._callbacks = self._callbacks, []
        if not self.early:
            self._done.set()
        self._run(callbacks)
        self._done.set()
        return True

    def set_result(self, value: Any) -> None:
        self._settle(result=value)

    def set_exception(self, exc: Any) -> None:
        self._settle(exception=exc)

    def cancel_now(self) -> bool:
        """The engine cancels it (it has not started): ``exception()`` raises CancelledError."""
        return self._settle(cancelled=True)

    def add_done_callback(self, fn: Callable[[Any], object]) -> None:
        with self._lock:
            if not self._settling:
                self._callbacks.append(fn)
                return
        if self.never_if_done and self._done.is_set():
            return
        self._run([fn])

    def done(self) -> bool:
        return self._done.is_set()

    def cancelled(self) -> bool:
        return self._done.is_set() and self._cancelled

    def _wait(self, timeout: float | None) -> None:
        if self.slow:
            time.sleep(self.slow)  # an engine's round trip
        if not self._done.wait(timeout):
            raise TimeoutError("not done")
        if self._cancelled:
            raise CancelledError()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._wait(timeout)
        exc = self._exception
        return exc() if isinstance(exc, type) else exc

    def result(self, timeout: float | None = None) -> Any:
        self._wait(timeout)
        if self._exception is not None:
            raise self._exception
        return self._result


class HostileCancel(Hostile):
    """A ``Hostile`` future with ``cancel()``; ``refuse`` makes it raise instead."""

    def __init__(self, *, refuse: bool = False, **flags: Any) -> None:
        super().__init__(**flags)
        self.refuse = refuse

    def cancel(self) -> bool:
        if self.refuse:
            raise RuntimeError("this engine cannot cancel")
        return self.cancel_now()
