"""Hand-made executors for the maps' tests: one that refuses after a few submits, one that
runs each task inside submit(), one whose futures refuse cancel() and settle only by hand."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class RefusingExecutor:
    """Accepts ``accept`` submits, then refuses each one with ``error`` (a pool shut down)."""

    def __init__(self, pool: Any, accept: int, error: BaseException) -> None:
        self.pool = pool
        self.accept = accept
        self.error = error
        self.submits = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        self.submits += 1
        if self.submits > self.accept:
            raise self.error
        return self.pool.submit(fn, *args)  # type: ignore[no-any-return]


class InlineExecutor:
    """Runs each task in submit(): nothing but the map holds its futures and results."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        f: Future[Any] = Future()
        try:
            f.set_result(fn(*args))
        except BaseException as exc:
            f.set_exception(exc)
        return f


class Uncancellable:
    """A future of another engine whose ``cancel()`` raises; settled by hand."""

    def __init__(self) -> None:
        self.inner: Future[Any] = Future()
        self.cancel_calls = 0

    def add_done_callback(self, fn: Callable[[Any], object]) -> None:
        self.inner.add_done_callback(lambda _: fn(self))

    def done(self) -> bool:
        return self.inner.done()

    def result(self, timeout: float | None = None) -> Any:
        return self.inner.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self.inner.exception(timeout)

    def cancel(self) -> bool:
        self.cancel_calls += 1
        raise RuntimeError("cancel is not supported")


class HandMadeExecutor:
    """Gives ``Uncancellable`` futures; the first one is settled at once, the rest never."""

    def __init__(self) -> None:
        self.futures: list[Uncancellable] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Uncancellable:
        fut = Uncancellable()
        if not self.futures:
            try:
                fut.inner.set_result(fn(*args))
            except Exception as exc:
                fut.inner.set_exception(exc)
        self.futures.append(fut)
        return fut
