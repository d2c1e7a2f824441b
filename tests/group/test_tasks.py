"""The task group on thread pools: one shared callback, values counted without the lock.

A thread pool's stdlib futures are indexed by future and share the group's
one done-callback; ``submit()`` counts a future that settled meanwhile
itself. These tests attack that path with executors that reuse, pre-settle,
answer from a cache or retry, and with a Ctrl-C landing at every line of
``submit()`` and of the count it may run, caught by the body. Hangs fail
through the join timeout in ``finishes`` (and pytest-timeout).
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from futures_settle import Fulfilled, Rejected, TaskGroup
from futures_settle._group import tasks as grouptasks
from futures_settle._group.state import GroupState

from helpers.interrupts import DoneFirstPool, finishes, interrupt_at, line_of, lines_of

pytestmark = pytest.mark.timeout(120)


class SingleFlightPool(ThreadPoolExecutor):
    """Hands out the same future for every submit while it is pending."""

    def __init__(self) -> None:
        super().__init__(2)
        self.shared: Future[Any] | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self.shared is None or self.shared.done():
            self.shared = super().submit(fn, *args, **kwargs)
        return self.shared


class CachedPool(ThreadPoolExecutor):
    """Answers every task from a cache: the future has a value, the task never runs."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        fut.set_result("cached")
        return fut


class _SettlesOnAppend(list[Any]):
    """A future's callback list whose append settles the future: its callbacks run
    (ours among them) before submit() looks again, which then finds it done."""

    fut: Future[Any]

    def append(self, item: Any) -> None:
        super().append(item)
        self.fut.set_result(5)


class SettlingPool(ThreadPoolExecutor):
    """Returns pending futures that settle the moment a callback is added."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        fut._done_callbacks = callbacks = _SettlesOnAppend()  # type: ignore[attr-defined]
        callbacks.fut = fut
        return fut


class TestOddExecutors:
    def test_one_future_for_two_tasks_counts_both(self) -> None:
        """A single-flight executor returns one pending future twice: both tasks settle."""
        gate = threading.Event()

        def slow() -> int:
            gate.wait(10)
            return 1

        def body() -> object:
            with SingleFlightPool() as pool:
                with TaskGroup(pool, mode="settled") as tg:
                    first = tg.submit(slow)
                    assert tg.submit(slow) is first
                    gate.set()
                return tg.result()

        out = finishes(body)
        gate.set()
        assert out["done"], "the exit hung: the first task's index was overwritten"
        assert out["value"] == [Fulfilled(1, 0), Fulfilled(1, 1)]

    @pytest.mark.parametrize("mode", ["all", "settled"])
    def test_settled_between_the_callback_and_the_second_look_counts_once(self, mode: Any) -> None:
        """The future settles as the shared callback is added: the callback counts the
        task, submit()'s own look finds its turn taken; one record, one value."""
        with SettlingPool(1) as pool:
            with TaskGroup(pool, mode=mode) as tg:
                tg.submit(int, "5")
                tg.submit(int, "5")
                seen = [r.index for r in tg.as_settled()]
            assert seen == [0, 1]
            answer = tg.result()
        assert answer == ([5, 5] if mode == "all" else [Fulfilled(5, 0), Fulfilled(5, 1)])

    @pytest.mark.parametrize("mode", ["any", "first"])
    def test_a_value_the_executor_set_wins(self, mode: Any) -> None:
        """'any'/'first': a value set without running the task is the answer."""
        with CachedPool(2) as pool:
            with TaskGroup(pool, mode=mode) as tg:
                tg.submit(str, "x")
                tg.submit(str, "y")
            assert tg.result() == "cached"

    def test_values_of_a_done_first_pool(self) -> None:
        """Futures done before submit() returns: each counted once, in every mode."""
        with DoneFirstPool(2) as pool:
            with TaskGroup(pool) as tg:
                for i in range(20):
                    tg.submit(int, str(i))
            assert tg.result() == list(range(20))
            with TaskGroup(pool, mode="settled") as tg2:
                tg2.submit(int, "1")
                tg2.submit(int, "x")
                seen = sorted(r.index for r in tg2.as_settled())
            assert seen == [0, 1]


class TestCtrlC:
    @pytest.mark.parametrize(
        ("where", "arg"),
        [
            ("submit", "3"),
            ("submit", "x"),
            ("settle_thread", "3"),  # a value: counted without the lock
            ("settle_thread", "x"),
            ("_settle", "x"),  # a failure: counted under the lock
        ],
    )
    def test_at_every_line_handled_in_the_body(self, where: str, arg: str) -> None:
        """Ctrl-C at any line of submit() or of the count it runs for a done future,
        caught by the body: the exit returns, every task has a record, the next
        submit works."""
        func = {
            "submit": TaskGroup.submit,
            "settle_thread": grouptasks.settle_thread,
            "_settle": GroupState._settle,
        }[where]
        fired = 0
        for lineno in lines_of(func):
            tracer, armed = interrupt_at(func, lineno)

            def body(tracer: Any = tracer) -> object:
                with DoneFirstPool(2) as pool:
                    with TaskGroup(pool, mode="settled") as tg:
                        sys.settrace(tracer)  # this thread only
                        try:
                            tg.submit(int, arg)
                        except KeyboardInterrupt:
                            pass  # the user handles it and goes on
                        finally:
                            sys.settrace(None)
                        tg.submit(int, "4")
                    return tg.result()

            out = finishes(body)
            if armed[0]:
                continue  # this line did not run for this task
            fired += 1
            assert out["done"], f"the exit hung: Ctrl-C at {where} line {lineno}"
            assert "error" not in out, f"{out['error']!r}: Ctrl-C at {where} line {lineno}"
            records = out["value"]
            assert None not in records, f"{records}: Ctrl-C at {where} line {lineno}"
            assert records[-1] == Fulfilled(4, len(records) - 1)
            if len(records) == 2:
                first = records[0]
                assert type(first) is Rejected or first == Fulfilled(3, 0)
        assert fired, "no line ran"

    def test_while_as_settled_reads_a_value_propagates(self) -> None:
        """Ctrl-C while as_settled() reads a thread task's value: it propagates, it
        never becomes that task's Rejected record."""
        read = grouptasks.read
        tracer, armed = interrupt_at(read, line_of(read, "read_outcome(fut)"))
        out: dict[str, Any] = {}
        with ThreadPoolExecutor(2) as pool:
            try:
                with TaskGroup(pool, mode="settled") as tg:
                    done = threading.Event()
                    tg.submit(int, "1").add_done_callback(lambda _: done.set())
                    assert done.wait(10)
                    while tg._pending:  # counted by the shared callback, not read yet
                        threading.Event().wait(0.001)
                    sys.settrace(tracer)
                    try:
                        out["records"] = list(tg.as_settled())
                    finally:
                        sys.settrace(None)
            except KeyboardInterrupt:
                out["interrupted"] = True
        assert not armed[0]
        assert out.get("interrupted"), f"Ctrl-C swallowed: as_settled gave {out.get('records')}"


class TestContexts:
    def test_a_task_submitted_from_an_empty_context_runs_in_a_new_empty_one(self) -> None:
        """From an empty context, tasks run in new empty ones: nothing of the worker
        thread's own context, nothing of each other."""
        var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

        def set_it() -> None:
            var.set("set by a task")

        with ThreadPoolExecutor(1) as pool:
            pool.submit(var.set, "the worker thread's own").result()  # no copy: it stays

            def body() -> list[Any]:
                assert not len(contextvars.copy_context())
                with TaskGroup(pool) as tg:
                    tg.submit(var.get)
                    tg.submit(set_it)
                    tg.submit(var.get)
                return tg.result()

            values = contextvars.Context().run(body)
        assert values == ["unset", None, "unset"]

    def test_a_task_submitted_from_a_context_with_values_sees_a_copy(self) -> None:
        var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

        def body() -> list[Any]:
            var.set("request 7")
            with ThreadPoolExecutor(1) as pool, TaskGroup(pool) as tg:
                tg.submit(var.get)
                tg.submit(var.set, "changed in a task")
                tg.submit(var.get)
            assert var.get() == "request 7"
            return tg.result()

        values = contextvars.Context().run(body)
        assert values[0] == values[2] == "request 7"
