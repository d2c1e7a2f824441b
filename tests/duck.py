"""A future that is not a ``concurrent.futures.Future``, shaped like dask.distributed's.

It keeps the public Future methods, runs every done-callback on a thread of
its own (never inline, even when already finished), and its ``cancel()``
returns ``None``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
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
