"""TaskGroup on thread pools: modes, cancelling, structure, deadline, body, context, misuse."""

from __future__ import annotations

import contextlib
import contextvars
import decimal
import gc
import math
import pickle
import signal
import threading
import time
import types
import weakref
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Any

import pytest

import futures_settle
from futures_settle import Fulfilled, Rejected, SettleTimeoutError, TaskGroup, check_cancelled

from helpers import group_tasks, tasks

pytestmark = pytest.mark.timeout(30)


def fail(message: str) -> Any:
    raise ValueError(message)


def reasons(eg: BaseExceptionGroup[BaseException]) -> list[str]:
    return [f"{type(e).__name__}: {e}" for e in eg.exceptions]


def outcome(f: Future[Any]) -> BaseException | None:
    """A done future's exception; a cancelled one's is a ``CancelledError``."""
    return CancelledError() if f.cancelled() else f.exception()


def run(tg: TaskGroup[Any], body: Callable[[TaskGroup[Any]], object]) -> TaskGroup[Any]:
    """``with tg: body(tg)``, as one statement for ``pytest.raises``."""
    with tg:
        body(tg)
    return tg


class TestModes:
    def test_all_gives_values_in_submit_order(self, pool: ThreadPoolExecutor) -> None:
        """mode="all": result() is the values in submit order; each future is the pool's."""
        with TaskGroup(pool) as tg:
            futures = [tg.submit(tasks.square, i) for i in range(10)]
        assert tg.result() == [i * i for i in range(10)]
        assert all(type(f) is Future for f in futures)
        assert [f.result() for f in futures] == tg.result()

    def test_all_first_failure_cancels_the_rest(
        self, pool: ThreadPoolExecutor, gate: threading.Event
    ) -> None:
        """mode="all": a failure cancels queued work; the exit raises every failure."""
        ran: list[int] = []
        got: dict[str, Any] = {}

        def body(tg: TaskGroup[Any]) -> None:
            got["first"] = tg.submit(group_tasks.fail_when, gate, "first")
            got["second"] = tg.submit(group_tasks.fail_when, gate, "second")
            got["queued"] = [tg.submit(ran.append, i) for i in range(5)]
            gate.set()

        with pytest.raises(ExceptionGroup) as info:
            run(TaskGroup(pool), body)
        assert info.value.message == "2 of 7 tasks failed"
        assert reasons(info.value) == ["ValueError: first", "ValueError: second"]
        assert got["first"].exception() is info.value.exceptions[0]
        assert got["second"].exception() is info.value.exceptions[1]
        assert ran == []
        assert all(f.cancelled() for f in got["queued"])

    def test_settled_gives_records_and_cancels_nothing(self, pool: ThreadPoolExecutor) -> None:
        """mode="settled": a failure cancels nothing, the exit does not raise."""
        with TaskGroup(pool, mode="settled") as tg:
            tg.submit(fail, "DB error")
            for i in range(5):
                tg.submit(tasks.square, i)
        records = tg.result()
        assert [r.index for r in records] == list(range(6))
        assert isinstance(records[0], Rejected)
        assert str(records[0].reason) == "DB error"
        assert records[1:] == [Fulfilled(i * i, i + 1) for i in range(5)]

    def test_any_first_success_cancels_the_rest(
        self, pool: ThreadPoolExecutor, gate: threading.Event
    ) -> None:
        """mode="any": failures are skipped, the first success wins."""
        with TaskGroup(pool, mode="any") as tg:
            down = tg.submit(fail, "mirror 1 down")
            tg.submit(group_tasks.return_when, gate, "mirror 2")
            down.exception(30)
            gate.set()
        assert tg.result() == "mirror 2"

    def test_any_all_failed(self, pool: ThreadPoolExecutor) -> None:
        """mode="any": every task failed: an ExceptionGroup of them in submit order."""
        gates = [threading.Event() for _ in range(3)]

        def body(tg: TaskGroup[Any]) -> None:
            for i in (0, 1, 2):
                tg.submit(group_tasks.fail_when, gates[i], f"mirror {i}")
            for g in reversed(gates):  # they fail in reverse order
                g.set()

        tg: TaskGroup[Any] = TaskGroup(pool, mode="any")
        with pytest.raises(ExceptionGroup) as info:
            run(tg, body)
        assert info.value.message == "TaskGroup(mode='any') got no value: all 3 tasks failed"
        assert reasons(info.value) == [f"ValueError: mirror {i}" for i in range(3)]
        with pytest.raises(ExceptionGroup) as again:
            tg.result()
        assert again.value is info.value

    @pytest.mark.parametrize("outcome", ["value", "error"])
    def test_first_to_settle_wins(
        self, pool: ThreadPoolExecutor, gate: threading.Event, outcome: str
    ) -> None:
        """mode="first": the first to settle cancels the rest; its value, or its exception."""
        ran: list[int] = []
        queued: list[Future[Any]] = []
        quick = fail if outcome == "error" else str.upper

        def body(tg: TaskGroup[Any]) -> None:
            tg.submit(group_tasks.return_when, gate, "slow")
            tg.submit(quick, "watchdog").exception(30)
            queued.extend(tg.submit(ran.append, i) for i in range(3))
            gate.set()

        tg: TaskGroup[Any] = TaskGroup(pool, mode="first")
        if outcome == "error":
            with pytest.raises(ValueError, match="^watchdog$"):
                run(tg, body)
        else:
            assert run(tg, body).result() == "WATCHDOG"
        assert ran == []
        assert all(f.done() for f in queued)

    @pytest.mark.parametrize("mode", ["any", "first"])
    def test_any_and_first_need_a_task(self, pool: ThreadPoolExecutor, mode: Any) -> None:
        with pytest.raises(
            ValueError, match=rf"^TaskGroup\(mode='{mode}'\) needs at least one task$"
        ):
            run(TaskGroup(pool, mode=mode), lambda tg: None)

    @pytest.mark.parametrize("mode", ["all", "settled"])
    def test_empty_group(self, pool: ThreadPoolExecutor, mode: Any) -> None:
        with TaskGroup(pool, mode=mode) as tg:
            pass
        assert tg.result() == []


class TestSubmitCancelAsSettled:
    def test_tasks_submit_tasks_and_the_group_waits(self, pool: ThreadPoolExecutor) -> None:
        """A task may submit more tasks; the exit waits for all of them."""
        children: list[Future[Any]] = []

        def parent(depth: int) -> int:
            if depth:
                children.append(tg.submit(parent, depth - 1))
            return depth

        with TaskGroup(pool) as tg:
            tg.submit(parent, 20)
        assert tg.result() == list(range(20, -1, -1))
        assert all(f.done() for f in children)

    def test_cancel_from_the_body(self, pool: ThreadPoolExecutor, gate: threading.Event) -> None:
        """cancel(): queued tasks never run, running ones see check_cancelled(), no error."""
        ran: list[int] = []
        started = threading.Event()
        with TaskGroup(pool) as tg:
            spinner = tg.submit(group_tasks.spin, started)
            blocked = tg.submit(gate.wait, 30)
            queued = [tg.submit(ran.append, i) for i in range(3)]
            started.wait(30)
            tg.cancel()
            gate.set()
        assert isinstance(spinner.exception(), CancelledError)
        assert blocked.result() is True
        assert ran == []
        assert all(f.cancelled() for f in queued)
        with pytest.raises(CancelledError, match="^the task group was cancelled before it had"):
            tg.result()

    def test_cancel_from_a_task(self, pool: ThreadPoolExecutor) -> None:
        ran: list[int] = []
        started = threading.Event()
        with TaskGroup(pool, mode="settled") as tg:
            spinner = tg.submit(group_tasks.spin, started)
            started.wait(30)
            tg.submit(tg.cancel).result(30)
            queued = [tg.submit(ran.append, i) for i in range(3)]
        assert isinstance(spinner.exception(), CancelledError)
        assert ran == []
        assert all(f.done() for f in queued)
        late = tg.result()[2:]
        assert all(isinstance(r, Rejected) and type(r.reason) is CancelledError for r in late)

    def test_submit_after_cancel_never_runs(self, pool: ThreadPoolExecutor) -> None:
        ran: list[int] = []
        with TaskGroup(pool, mode="settled") as tg:
            tg.cancel()
            f = tg.submit(ran.append, 1)
        assert ran == []
        assert f.done()
        (record,) = tg.result()
        assert isinstance(record, Rejected)
        assert isinstance(record.reason, CancelledError)

    def test_as_settled_yields_work_added_during_iteration(self, pool: ThreadPoolExecutor) -> None:
        """as_settled(): every record as it settles, including tasks submitted meanwhile."""
        seen = []
        with TaskGroup(pool, mode="settled") as tg:
            tg.submit(tasks.identity, 3)
            for record in tg.as_settled():
                seen.append((record.index, record.unwrap()))
                if record.unwrap():
                    tg.submit(tasks.identity, record.unwrap() - 1)
        assert seen == [(0, 3), (1, 2), (2, 1), (3, 0)]
        assert [r.index for r in tg.result()] == [0, 1, 2, 3]

    def test_as_settled_ends_when_nothing_is_pending(self, pool: ThreadPoolExecutor) -> None:
        def body(tg: TaskGroup[Any]) -> None:
            assert list(tg.as_settled()) == []
            tg.submit(fail, "x")
            (record,) = list(tg.as_settled())
            assert isinstance(record, Rejected)

        with pytest.raises(ExceptionGroup):
            run(TaskGroup(pool), body)

    def test_check_cancelled_outside_a_task_does_nothing(self, pool: ThreadPoolExecutor) -> None:
        check_cancelled()
        assert pool.submit(group_tasks.cancelled_now).result() is False
        with TaskGroup(pool) as tg:
            tg.cancel()
            check_cancelled()  # the body is not a task

    def test_check_cancelled_in_a_thread_a_task_starts(self, pool: ThreadPoolExecutor) -> None:
        """A thread a task starts reads its group only in a copy of the task's context."""
        started, cancelled = threading.Event(), threading.Event()
        seen: dict[str, bool] = {}

        def probe(name: str) -> None:
            cancelled.wait(30)
            try:
                check_cancelled()
            except CancelledError:
                seen[name] = True
            else:
                seen[name] = False

        def task() -> None:
            started.set()
            plain = threading.Thread(target=probe, args=("plain",))
            copied = threading.Thread(target=contextvars.copy_context().run, args=(probe, "copied"))
            plain.start()
            copied.start()
            plain.join(30)
            copied.join(30)

        with TaskGroup(pool, mode="settled") as tg:
            tg.submit(task)
            assert started.wait(30)
            tg.cancel()
            cancelled.set()
        assert seen == {"plain": False, "copied": True}


class TestCancelling:
    @pytest.mark.parametrize("cause", ["failure", "winner", "deadline", "cancel", "body"])
    def test_no_queued_task_starts_after_cancelling(
        self, pool: ThreadPoolExecutor, gate: threading.Event, cause: str
    ) -> None:
        """Every cause cancels queued work (none starts) and reaches running tasks' flag."""
        ran: list[int] = []
        started = [threading.Event(), threading.Event()]
        got: dict[str, Any] = {}

        def body(tg: TaskGroup[Any]) -> None:
            got["spinner"] = tg.submit(group_tasks.spin, started[0])
            if cause == "failure":  # both workers busy, then the second one fails
                tg.submit(group_tasks.fail_when, gate, "boom")
            elif cause == "winner":
                tg.submit(group_tasks.return_when, gate, "won")
            else:
                tg.submit(group_tasks.spin, started[1])
                started[1].wait(30)
            got["queued"] = [tg.submit(ran.append, i) for i in range(20)]
            started[0].wait(30)
            gate.set()
            if cause == "cancel":
                tg.cancel()
            elif cause == "body":
                raise RuntimeError("body failed")

        mode: Any = "any" if cause == "winner" else "all"
        tg: TaskGroup[Any] = TaskGroup(
            pool, mode=mode, timeout=0.5 if cause == "deadline" else None
        )
        quiet = cause in ("winner", "cancel")
        expect: Any = contextlib.nullcontext() if quiet else pytest.raises(BaseException)
        with expect as info:
            run(tg, body)
        assert ran == []
        assert all(f.cancelled() for f in got["queued"])
        assert isinstance(got["spinner"].exception(), CancelledError)
        if cause == "deadline":
            assert isinstance(info.value, SettleTimeoutError)
        elif cause == "failure":
            assert reasons(info.value) == ["ValueError: boom"]
        elif cause == "body":
            assert reasons(info.value) == ["RuntimeError: body failed"]
        elif cause == "winner":
            assert tg.result() == "won"

    def test_the_failing_worker_finds_the_queue_cancelled(self, fast_switching: None) -> None:
        """On one worker, the tasks queued behind a failure never start: cancelled in the task."""
        with ThreadPoolExecutor(1) as one:
            for _ in range(200):
                ran: list[int] = []
                queued: list[Future[Any]] = []
                gate = threading.Event()

                def body(
                    tg: TaskGroup[Any],
                    ran: list[int] = ran,
                    q: list[Any] = queued,
                    gate: threading.Event = gate,
                ) -> None:
                    tg.submit(gate.wait, 30)  # holds the worker until all is queued
                    tg.submit(fail, "boom")
                    q.extend(tg.submit(ran.append, i) for i in range(3))
                    gate.set()

                with pytest.raises(ExceptionGroup):
                    run(TaskGroup(one), body)
                assert ran == []
                assert all(f.cancelled() for f in queued)

    def test_submitting_behind_a_fast_failure(self, fast_switching: None) -> None:
        """Tasks submitted while (or after) a failure cancels the group never run."""
        with ThreadPoolExecutor(1) as one:
            for _ in range(200):
                ran: list[int] = []
                queued: list[Future[Any]] = []

                def body(tg: TaskGroup[Any], ran: list[int] = ran, q: list[Any] = queued) -> None:
                    tg.submit(fail, "boom")
                    q.extend(tg.submit(ran.append, i) for i in range(3))

                with pytest.raises(ExceptionGroup):
                    run(TaskGroup(one), body)
                assert ran == []
                assert all(type(outcome(f)) is CancelledError for f in queued)


class TestStructure:
    @pytest.mark.parametrize("cause", ["failure", "deadline", "body"])
    def test_exit_waits_for_running_tasks(self, pool: ThreadPoolExecutor, cause: str) -> None:
        """A task that ignores check_cancelled() is waited for: nothing outlives the block."""
        started = threading.Event()
        events: list[str] = []
        running: list[Future[Any]] = []

        def stubborn() -> str:
            started.set()
            # Sees the group cancelling, and goes on regardless for a while.
            give_up = time.monotonic() + 30
            while time.monotonic() < give_up:
                try:
                    check_cancelled()
                except CancelledError:
                    break
                time.sleep(0.001)
            time.sleep(0.05)
            events.append("task ended")
            return "done"

        def body(tg: TaskGroup[Any]) -> None:
            running.append(tg.submit(stubborn))
            assert started.wait(30)
            if cause == "failure":
                tg.submit(fail, "boom").exception(30)
            if cause == "body":
                raise RuntimeError("body failed")

        # The deadline is long enough for the task to start on a busy machine;
        # it ends the group while the task runs.
        with pytest.raises(Exception):  # noqa: B017
            run(TaskGroup(pool, timeout=1.0 if cause == "deadline" else None), body)
        events.append("exit returned")
        assert events == ["task ended", "exit returned"]
        assert running[0].result() == "done"

    def test_ctrl_c_in_the_body_propagates_at_once(
        self, pool: ThreadPoolExecutor, gate: threading.Event
    ) -> None:
        """KeyboardInterrupt cancels queued work and propagates without waiting."""
        ran: list[int] = []
        started = threading.Event()
        got: dict[str, Any] = {}

        def body(tg: TaskGroup[Any]) -> None:
            got["blocked"] = tg.submit(gate.wait, 30)
            got["spinner"] = tg.submit(group_tasks.spin, started)
            got["queued"] = [tg.submit(ran.append, i) for i in range(3)]
            started.wait(30)
            got["start"] = time.monotonic()
            raise KeyboardInterrupt

        tg: TaskGroup[Any] = TaskGroup(pool)
        with pytest.raises(KeyboardInterrupt):
            run(tg, body)
        assert time.monotonic() - got["start"] < 1
        assert not got["blocked"].done()
        assert all(f.cancelled() for f in got["queued"])
        assert isinstance(got["spinner"].exception(30), CancelledError)
        with pytest.raises(RuntimeError, match=r"^TaskGroup.result\(\): the group was interrupted"):
            tg.result()
        gate.set()
        assert ran == []

    def test_ctrl_c_while_the_exit_waits(
        self, pool: ThreadPoolExecutor, gate: threading.Event
    ) -> None:
        """A real SIGINT while the exit waits for a stubborn task: propagates under a second."""
        main = threading.main_thread().ident
        assert main is not None
        assert threading.get_ident() == main
        got: dict[str, Any] = {}

        def interrupt_once_exiting() -> None:
            while True:  # as_settled() refuses once the exit has started
                try:
                    tg.as_settled()
                except RuntimeError:
                    break
                time.sleep(0.001)
            got["start"] = time.monotonic()
            signal.pthread_kill(main, signal.SIGINT)

        def body(tg: TaskGroup[Any]) -> None:
            got["blocked"] = tg.submit(gate.wait, 30)
            tg.submit(interrupt_once_exiting)

        tg: TaskGroup[Any] = TaskGroup(pool)
        old = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            with pytest.raises(KeyboardInterrupt):
                run(tg, body)
            elapsed = time.monotonic() - got["start"]
        finally:
            signal.signal(signal.SIGINT, old)
        assert elapsed < 1
        assert not got["blocked"].done()


class TestDeadline:
    @pytest.mark.parametrize("mode", ["all", "any", "first"])
    def test_raises_settle_timeout(self, pool: ThreadPoolExecutor, mode: Any) -> None:
        """At the deadline "all"/"any"/"first" cancel and exit with SettleTimeoutError."""
        ran: list[int] = []
        started = [threading.Event(), threading.Event()]

        def body(tg: TaskGroup[Any]) -> None:
            for ev in started:
                tg.submit(group_tasks.spin, ev)
            for ev in started:
                ev.wait(30)
            for i in range(3):
                tg.submit(ran.append, i)

        tg: TaskGroup[Any] = TaskGroup(pool, mode=mode, timeout=0.5)
        with pytest.raises(SettleTimeoutError) as info:
            run(tg, body)
        assert str(info.value) == "TaskGroup timed out after 0.5 s with 5 of 5 tasks unfinished"
        assert (info.value.timeout, info.value.unfinished, info.value.total) == (0.5, 5, 5)
        assert ran == []
        with pytest.raises(SettleTimeoutError) as again:
            tg.result()
        assert again.value is info.value

    def test_settled_gives_timeout_records_for_stopped_tasks(
        self, pool: ThreadPoolExecutor
    ) -> None:
        """mode="settled": tasks the deadline stopped are Rejected(SettleTimeoutError)."""
        started = threading.Event()
        with TaskGroup(pool, mode="settled", timeout=0.5) as tg:
            tg.submit(str, "done early").result(30)
            tg.submit(group_tasks.spin, started)
            tg.submit(tasks.identity, "queued")  # may run before the deadline, or be stopped
            started.wait(30)
        early, spun, queued = tg.result()
        assert early == Fulfilled("done early", 0)
        assert isinstance(spun, Rejected)
        assert isinstance(spun.reason, SettleTimeoutError)
        assert spun.reason.index == 1
        assert str(spun.reason).startswith("task 1 of a TaskGroup timed out after 0.5 s with ")
        if isinstance(queued, Rejected):
            assert isinstance(queued.reason, SettleTimeoutError)
        else:
            assert queued == Fulfilled("queued", 2)

    def test_deadline_zero_cancels_at_once(self, pool: ThreadPoolExecutor) -> None:
        ran: list[int] = []
        with pytest.raises(SettleTimeoutError):
            run(TaskGroup(pool, timeout=0), lambda tg: tg.submit(ran.append, 1))
        assert ran == []

    def test_all_done_before_the_deadline(self, pool: ThreadPoolExecutor) -> None:
        with TaskGroup(pool, timeout=30) as tg:
            tg.submit(str, 1)
        assert tg.result() == ["1"]


class TestBody:
    def test_body_exception_with_task_failures(self, pool: ThreadPoolExecutor) -> None:
        """Cancel, wait, then an ExceptionGroup of the body's exception and the failures."""

        def body(tg: TaskGroup[Any]) -> None:
            tg.submit(fail, "task failed").exception(30)
            raise KeyError("body failed")

        with pytest.raises(ExceptionGroup) as info:
            run(TaskGroup(pool), body)
        assert info.value.message == "the body of a TaskGroup raised and 1 of 1 tasks failed"
        assert reasons(info.value) == ["KeyError: 'body failed'", "ValueError: task failed"]
        assert info.value.__cause__ is None
        assert info.value.__suppress_context__

    def test_body_reraising_a_task_failure_is_not_doubled(self, pool: ThreadPoolExecutor) -> None:
        with pytest.raises(ExceptionGroup) as info:
            run(TaskGroup(pool), lambda tg: tg.submit(fail, "task failed").result(30))
        assert info.value.message == "the body of a TaskGroup raised"
        assert reasons(info.value) == ["ValueError: task failed"]

    @pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
    def test_keyboard_interrupt_and_system_exit_propagate_bare(
        self, pool: ThreadPoolExecutor, exc: type[BaseException]
    ) -> None:
        gate = threading.Event()
        started = threading.Event()
        blocked: list[Future[Any]] = []

        def hold() -> None:
            started.set()
            gate.wait(30)

        def body(tg: TaskGroup[Any]) -> None:
            tg.submit(fail, "task failed").exception(30)
            blocked.append(tg.submit(hold))
            started.wait(30)
            if exc is SystemExit:  # the exit waits for it
                threading.Timer(0.05, gate.set).start()
            raise exc()

        with pytest.raises(exc) as info:
            run(TaskGroup(pool, mode="settled"), body)
        assert type(info.value) is exc
        assert blocked[0].done() is (exc is SystemExit)  # Ctrl-C does not wait
        gate.set()


class TestContext:
    def test_tasks_run_in_a_copy_of_the_submitters_context(self, pool: ThreadPoolExecutor) -> None:
        """Request ids and decimal contexts follow the work into pool threads made earlier."""
        request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
        pool.submit(str).result()  # the worker thread exists before the variable is set

        def read() -> tuple[str, int]:
            return request_id.get(), decimal.getcontext().prec

        def outer() -> tuple[str, int]:
            request_id.set("set in a task")  # stays in the task's copy
            return tg.submit(read).result(30)  # a task's own submissions inherit its context

        token = request_id.set("req-42")
        try:
            with decimal.localcontext(prec=5), TaskGroup(pool) as tg:
                direct = tg.submit(read)
                nested = tg.submit(outer)
            assert direct.result() == ("req-42", 5)
            assert nested.result() == ("set in a task", 5)
            assert request_id.get() == "req-42"
        finally:
            request_id.reset(token)


class TestMisuse:
    def test_no_executor(self) -> None:
        with pytest.raises(
            TypeError, match=r"^TaskGroup\(\) expected an executor with submit\(\), got NoneType$"
        ):
            TaskGroup(None)

    def test_unknown_mode(self, pool: ThreadPoolExecutor) -> None:
        with pytest.raises(
            ValueError,
            match=r"^TaskGroup\(\) mode must be 'all', 'settled', 'any' or 'first', got 'race'$",
        ):
            TaskGroup(pool, mode="race")  # type: ignore[call-overload]

    def test_bad_timeout(self, pool: ThreadPoolExecutor) -> None:
        with pytest.raises(
            ValueError, match="^timeout must be a number of seconds or None, got nan$"
        ):
            TaskGroup(pool, timeout=math.nan)
        with pytest.raises(
            TypeError, match="^timeout must be a number of seconds or None, got '1' that is a str$"
        ):
            TaskGroup(pool, timeout="1")  # type: ignore[call-overload]

    def test_lifecycle_errors(self, pool: ThreadPoolExecutor) -> None:
        """Entering twice, submit() before or after, result() while open: RuntimeError."""
        tg: TaskGroup[Any] = TaskGroup(pool)
        with pytest.raises(
            RuntimeError, match=r"^TaskGroup.submit\(\) called before the group was entered$"
        ):
            tg.submit(str)
        with pytest.raises(
            RuntimeError, match=r"^TaskGroup.result\(\) called before the group was entered$"
        ):
            tg.result()
        with pytest.raises(
            RuntimeError, match=r"^TaskGroup.cancel\(\) called before the group was entered$"
        ):
            tg.cancel()
        with tg:
            with pytest.raises(
                RuntimeError, match="^TaskGroup entered twice; a group runs once, make a new one$"
            ):
                tg.__enter__()
            with pytest.raises(
                RuntimeError,
                match=r"^TaskGroup.result\(\) called while the group is open; call it after the",
            ):
                tg.result()
            with pytest.raises(
                TypeError, match=r"^TaskGroup.submit\(\) expected a callable, got int$"
            ):
                tg.submit(3)  # type: ignore[arg-type]
        with pytest.raises(
            RuntimeError, match=r"^TaskGroup.submit\(\) called after the group finished$"
        ):
            tg.submit(str)
        with pytest.raises(
            RuntimeError, match=r"^TaskGroup.as_settled\(\) must be called inside the group's body$"
        ):
            tg.as_settled()
        with pytest.raises(RuntimeError, match="^TaskGroup entered twice"):
            tg.__enter__()
        with pytest.raises(TypeError, match="^a TaskGroup cannot be sent to another process"):
            pickle.dumps(tg)

    def test_all_lists_the_public_names(self) -> None:
        modules = {n for n, v in vars(futures_settle).items() if isinstance(v, types.ModuleType)}
        public = {n for n in dir(futures_settle) if not n.startswith("_")} - modules
        assert set(futures_settle.__all__) == public - {"annotations"}
        for name in futures_settle.__all__:
            obj = getattr(futures_settle, name)
            if isinstance(obj, (type, types.FunctionType)):
                assert obj.__module__ == "futures_settle", name


class TestNoLeakNoHang:
    def test_no_reference_to_results_once_dropped(self, pool: ThreadPoolExecutor) -> None:
        """Without the garbage collector: the results go with the group (no cycles)."""

        class Big:
            pass

        gc.collect()
        gc.disable()
        try:
            with TaskGroup(pool) as tg:
                tg.submit(Big)
            values = tg.result()
            ref = weakref.ref(values[0])
            failed = Big()
            failed_ref = weakref.ref(failed)
            with TaskGroup(pool, mode="settled") as tg2:
                tg2.submit(fail, failed)  # the exception holds it
            records = tg2.result()
            del values, tg, records, tg2, failed
            assert ref() is None
            assert failed_ref() is None
            with TaskGroup(pool) as tg3:
                kept = tg3.submit(str, "kept")
                tg3.submit(Big)
            other = weakref.ref(tg3.result()[1])
            del tg3
            assert other() is None  # a future the caller keeps does not keep the group
            assert kept.result() == "kept"
        finally:
            gc.enable()

    def test_racing_failures_while_tasks_submit_tasks(
        self, fast_switching: None, thread_pool: ThreadPoolExecutor
    ) -> None:
        """Failures while tasks submit tasks: never a hang, a lost task or a wrong answer."""

        def spawn(n: int) -> int:
            if n > 1:
                for i in range(n):
                    tg.submit(spawn if i % 2 else fail, n - 1)
            return n

        for _ in range(1000):
            futures: list[Future[Any]] = []

            def body(g: TaskGroup[Any], futures: list[Any] = futures) -> None:
                futures.extend((g.submit(spawn, 3), g.submit(fail, "boom"), g.submit(spawn, 3)))

            tg: TaskGroup[Any] = TaskGroup(thread_pool)
            with pytest.raises(ExceptionGroup) as info:
                run(tg, body)
            assert all(f.done() for f in futures)
            failed = [outcome(f) for f in futures if type(outcome(f)) is ValueError]
            assert all(type(e) is ValueError for e in info.value.exceptions)
            assert set(map(id, failed)) <= set(map(id, info.value.exceptions))

    def test_as_settled_racing_completions_sees_each_task_once(
        self, fast_switching: None, thread_pool: ThreadPoolExecutor
    ) -> None:
        """Thread tasks counted without the lock while as_settled() and the exit wait:
        every task's record once, none lost, no hang."""

        def spawn(n: int) -> int:
            if n > 0:
                tg.submit(spawn, n - 1)
            return n

        for _ in range(500):
            with TaskGroup(thread_pool, mode="settled") as tg:
                for _ in range(3):
                    tg.submit(spawn, 2)
                seen = [r.index for r in tg.as_settled()]
            assert sorted(seen) == list(range(9))
            values = [r.value for r in tg.result()]  # type: ignore[union-attr]
            assert sorted(values) == [0, 0, 0, 1, 1, 1, 2, 2, 2]

    @pytest.mark.parametrize("mode", ["settled", "any", "first"])
    def test_cancel_racing_completion_loses_no_answer(
        self, fast_switching: None, thread_pool: ThreadPoolExecutor, mode: Any
    ) -> None:
        """tg.cancel() racing tasks that finish: every record is the truth, no hang."""
        for _ in range(1000):
            with TaskGroup(thread_pool, mode=mode) as tg:
                futures = [tg.submit(tasks.identity, i) for i in range(4)]
                if mode == "settled":
                    tg.cancel()
            assert all(f.done() for f in futures)
            if mode != "settled":
                winner = tg.result()
                assert futures[winner].result() == winner
                continue
            for f, r in zip(futures, tg.result(), strict=True):
                if type(outcome(f)) is CancelledError:
                    assert isinstance(r, Rejected)
                    assert isinstance(r.reason, CancelledError)
                else:
                    assert r == Fulfilled(f.result(), r.index)
