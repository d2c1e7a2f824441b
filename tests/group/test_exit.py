"""How a task group ends when its exit or its body is cut short.

A Ctrl-C in the exit's last steps, or in the count that cancelling a queued
task runs in the body's thread; a nested group's body stopped by the outer
group's cancellation; a refused submit racing another. Hangs fail through
``finishes``' join timeout; a Ctrl-C is a line tracer on the body's thread.
(Found by an adversarial review on 2026-11-25.)
"""

from __future__ import annotations

import glob
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import pytest

from futures_settle import Fulfilled, TaskGroup, check_cancelled
from futures_settle._group import tasks as grouptasks
from futures_settle._group.state import GroupState

from helpers.interrupts import DoneFirstPool, finishes, interrupt_at, line_of

# -- 1. Ctrl-C in the exit's last step (_finish / read / _values) --------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("mode", "func", "needle"),
    [
        ("settled", grouptasks.read, "read_outcome(fut)"),  # reading a value into its record
        ("settled", GroupState._finish, "records = self._records"),
        ("all", GroupState._finish, "self._values = values_of("),
    ],
)
def test_ctrl_c_in_the_exits_last_step_leaves_no_half_answer(
    mode: str, func: Callable[..., Any], needle: str
) -> None:
    """Ctrl-C while the exit finishes propagates, and result() then says the group
    was interrupted (RuntimeError) or gives the complete answer: never records that
    are None, never a CancelledError for a group nobody cancelled."""
    tracer, armed = interrupt_at(func, line_of(func, needle))

    def body() -> Any:
        with DoneFirstPool(2) as pool:
            tg = TaskGroup(pool, mode=mode)
            try:
                with tg:
                    tg.submit(int, "3")
                    tg.submit(int, "4")
                    sys.settrace(tracer)  # this thread only: the exit's own steps
            except KeyboardInterrupt:
                pass
            finally:
                sys.settrace(None)
            try:
                return ("result", tg.result())
            except BaseException as error:
                return ("raised", error)

    out = finishes(body)
    assert out["done"]
    assert not armed[0], "the Ctrl-C never fired"
    kind, what = out["value"]
    if kind == "raised":
        assert isinstance(what, RuntimeError), f"result() raised {what!r} after a Ctrl-C"
    else:
        expected = [Fulfilled(3, 0), Fulfilled(4, 1)] if mode == "settled" else [3, 4]
        assert what == expected, f"result() gave {what!r} after a Ctrl-C in the exit"


def _flag_files() -> set[str]:
    return set(glob.glob(f"/dev/shm/futures_settle-{os.getpid()}-*.flag"))


@pytest.mark.timeout(120)
def test_ctrl_c_in_the_exits_last_step_removes_the_flag_file() -> None:
    """A group on a process pool removes its /dev/shm flag whatever way it ends,
    also when Ctrl-C lands while the exit finishes."""
    func = GroupState._finish
    tracer, armed = interrupt_at(func, line_of(func, "self._futures = []"))
    before = _flag_files()
    leaked: set[str] = set()
    try:
        with ProcessPoolExecutor(1) as pool:
            tg = TaskGroup(pool, mode="settled")
            try:
                with tg:
                    tg.submit(int, "3").result(60)
                    sys.settrace(tracer)
            except KeyboardInterrupt:
                pass
            finally:
                sys.settrace(None)
        assert not armed[0], "the Ctrl-C never fired"
        leaked = _flag_files() - before
        assert not leaked, f"flag files left behind: {leaked}"
    finally:
        for path in leaked:  # clean up what the group left
            os.unlink(path)


# -- 2. Ctrl-C during a count the body's cancel runs ---------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["tg.cancel", "future.cancel"])
@pytest.mark.parametrize(
    ("func", "needle"),
    [
        (grouptasks.read, "read_outcome(fut)"),  # read() lets a Ctrl-C through now
        (grouptasks.settle_thread, "index = group._index_of.pop(fut, -1)"),
    ],
)
def test_ctrl_c_while_a_cancel_in_the_body_counts_a_queued_task(
    how: str, func: Callable[..., Any], needle: str
) -> None:
    """A Ctrl-C caught in the body leaves no task uncounted (as the submit() sweep
    promises), also when it lands in the count that cancelling a queued task runs in
    the body's thread: the exit returns and every task has a record."""
    tracer, armed = interrupt_at(func, line_of(func, needle))
    gate = threading.Event()

    def body() -> Any:
        with ThreadPoolExecutor(1) as pool:
            with TaskGroup(pool, mode="settled") as tg:
                tg.submit(gate.wait, 10)  # holds the only worker
                queued = tg.submit(int, "2")
                sys.settrace(tracer)
                try:
                    if how == "tg.cancel":
                        tg.cancel()
                    else:
                        queued.cancel()
                except KeyboardInterrupt:
                    pass  # the user handles it and goes on
                finally:
                    sys.settrace(None)
                gate.set()
            return tg.result()

    out = finishes(body, 10)
    gate.set()
    assert not armed[0], "the Ctrl-C never fired"
    assert out["done"], "the exit hung: the queued task was never counted"
    records = out["value"]
    assert None not in records
    assert len(records) == 2


# -- 3. A nested group's body: check_cancelled answers for the outer group -----


def _inner_group(pool: ThreadPoolExecutor, started: threading.Event) -> str:
    with TaskGroup(pool) as inner:
        inner.submit(time.sleep, 0.01)
        started.set()
        for _ in range(1000):
            check_cancelled()  # the body of a group in a task: answers for the outer group
            time.sleep(0.01)
    return "inner done"


@pytest.mark.timeout(60)
def test_outer_cancel_stopping_a_nested_body_is_not_a_failure() -> None:
    """tg.cancel(): the exit does not raise for the cancellation, and a CancelledError
    the group caused is never one of its failures, also when it was raised by
    check_cancelled() in the body of a group nested in one of its tasks."""
    with ThreadPoolExecutor(4) as pool:
        started = threading.Event()

        def body() -> Any:
            with TaskGroup(pool) as outer:
                outer.submit(_inner_group, pool, started)
                assert started.wait(10)
                outer.cancel()
            return "exit returned"

        out = finishes(body, 30)
    assert out["done"]
    assert "error" not in out, f"the exit raised {out['error']!r}"


@pytest.mark.timeout(60)
def test_outer_failure_stopping_a_nested_body_reports_only_the_failure() -> None:
    """mode 'all': the exit's ExceptionGroup holds the tasks' own failures only, not the
    cancellation the group caused in a task running a nested group's body."""
    with ThreadPoolExecutor(4) as pool:
        started = threading.Event()

        def body() -> Any:
            with TaskGroup(pool) as outer:
                outer.submit(_inner_group, pool, started)
                assert started.wait(10)
                outer.submit(int, "x")
            return "exit returned"

        out = finishes(body, 30)
    assert out["done"]
    error = out.get("error")
    assert isinstance(error, BaseExceptionGroup), repr(error)
    assert [type(e) for e in error.exceptions] == [ValueError], repr(error.exceptions)


# -- 4. A refused submission racing another submit ----------------------------


class _RefusingPool(ThreadPoolExecutor):
    """Refuses the task whose argument is 'refuse' (a pool shutting down), but only once
    another submit has reserved the next slot."""

    def __init__(self) -> None:
        super().__init__(2)
        self.next_reserved = threading.Event()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        task_args = repr(args[-2:])  # (the task's args, kwargs) at the end of ours
        if "'refuse'" in task_args:
            self.next_reserved.wait(10)
            raise RuntimeError("cannot schedule new futures after shutdown")
        if "'b'" in task_args:
            self.next_reserved.set()
        return super().submit(fn, *args, **kwargs)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["all", "settled"])
def test_a_refused_submit_racing_another_takes_no_place_in_the_answer(mode: Any) -> None:
    """A submit the executor refuses raises its error and leaves nothing in the answer,
    also when another submit took the next number meanwhile: 'all' gives the values
    (it was a CancelledError), 'settled' the records, whose numbers skip the refused one."""
    with _RefusingPool() as pool:
        with TaskGroup(pool, mode=mode) as tg:
            tg.submit(str, "a")
            refused: list[BaseException] = []

            def submit_refused() -> None:
                try:
                    tg.submit(str, "refuse")
                except RuntimeError as error:
                    refused.append(error)

            t = threading.Thread(target=submit_refused)
            t.start()
            time.sleep(0.1)  # it holds slot 1 inside the executor's submit
            tg.submit(str, "b")
            t.join(10)
        assert [str(e) for e in refused] == ["cannot schedule new futures after shutdown"]
        answer = tg.result()
    if mode == "all":
        assert answer == ["a", "b"]
    else:
        assert answer == [Fulfilled("a", 0), Fulfilled("b", 2)]
