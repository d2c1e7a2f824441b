"""TaskGroup against hostile users and strange engines: what an adversarial review broke.

Each test here failed before the fix it names: engines that call a
done-callback twice, before the future is done, or refuse one; ``as_settled()``
iterated after the exit or from a task; exits that rewrote a task's exception
or wrapped a generator's ``GeneratorExit``.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from futures_settle import Fulfilled, Rejected, SettleTimeoutError, TaskGroup
from futures_settle._group.tasks import call_back

pytestmark = pytest.mark.timeout(30)


def run(tg: TaskGroup[Any], body: Callable[[TaskGroup[Any]], object]) -> None:
    """``with tg: body(tg)``, as one statement for ``pytest.raises``."""
    with tg:
        body(tg)


class HandExecutor:
    """Hands out futures of ``kind`` that the test settles by hand; never runs anything."""

    def __init__(self, kind: Callable[[], Future[Any]]) -> None:
        self.kind = kind
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut = self.kind()
        self.futures.append(fut)
        return fut


class TwiceFuture(Future[Any]):
    """Registers every done-callback twice: each runs two times."""

    def add_done_callback(self, fn: Callable[[Future[Any]], object]) -> None:
        super().add_done_callback(fn)
        super().add_done_callback(fn)


class EarlyFuture(Future[Any]):
    """Calls every done-callback once at once, while still pending, then again when done."""

    def add_done_callback(self, fn: Callable[[Future[Any]], object]) -> None:
        fn(self)
        super().add_done_callback(fn)


class RefusingFuture(Future[Any]):
    def add_done_callback(self, fn: Callable[[Future[Any]], object]) -> None:
        raise RuntimeError("this engine takes no callbacks")


class TestStrangeEngines:
    def test_callback_called_twice_counts_the_task_once(self) -> None:
        """A future calling its callback twice: one record, and the other task is waited for."""
        ex = HandExecutor(TwiceFuture)
        records = []
        with TaskGroup(ex, mode="settled") as tg:
            first = tg.submit(int, "1")
            second = tg.submit(int, "2")
            first.set_result(1)  # counted twice before the fix: nothing left pending
            for record in tg.as_settled():
                records.append(record)
                if record.index == 0:
                    second.set_result(2)
        assert records == [Fulfilled(1, 0), Fulfilled(2, 1)]
        assert tg.result() == records

    def test_callback_called_while_pending_is_not_an_outcome(self) -> None:
        """A callback that comes before the future is done is not read as cancelled."""
        ex = HandExecutor(EarlyFuture)
        with TaskGroup(ex) as tg:
            fut = tg.submit(int, "1")
            fut.set_result(7)
        assert tg.result() == [7]

    def test_future_refusing_a_callback_does_not_hang_the_exit(self) -> None:
        """add_done_callback() raising: submit() raises it and the exit does not wait forever."""
        ex = HandExecutor(RefusingFuture)
        with pytest.raises(BaseExceptionGroup) as info, TaskGroup(ex, mode="settled") as tg:
            tg.submit(int, "1")
        assert [repr(e) for e in info.value.exceptions] == [
            "RuntimeError('this engine takes no callbacks')"
        ]
        assert ex.futures[0].cancelled()
        (record,) = tg.result()
        assert type(record) is Rejected
        assert record.reason is info.value.exceptions[0]

    @pytest.mark.timeout(10)
    def test_an_exception_class_set_on_a_future(self) -> None:
        """set_exception(ValueError) (a class, which futures allow): a record, not a lost task."""
        ex = HandExecutor(Future)
        with TaskGroup(ex, mode="settled") as tg:
            tg.submit(int, "1")
            ex.futures[0].set_exception(ValueError)  # type: ignore[arg-type]
        (record,) = tg.result()
        assert type(record) is Rejected
        assert type(record.reason) is ValueError

    @pytest.mark.timeout(10)
    def test_a_future_whose_done_raises(self) -> None:
        """An engine's done() that raises: the task is counted, its record says why."""

        class Broken:
            def __init__(self) -> None:
                self.callbacks: list[Callable[[Any], object]] = []

            def add_done_callback(self, fn: Callable[[Any], object]) -> None:
                self.callbacks.append(fn)

            def done(self) -> bool:
                raise ConnectionError("scheduler gone")

            def exception(self) -> BaseException:
                raise ConnectionError("scheduler gone")

        broken = Broken()

        class Engine:
            def submit(self, fn: Callable[..., Any], /, *args: Any) -> Broken:
                return broken

        with TaskGroup(Engine(), mode="settled") as tg:
            tg.submit(int, "1")
            broken.callbacks[0](broken)  # the engine says it is over
        (record,) = tg.result()
        assert type(record) is Rejected
        assert repr(record.reason) == "ConnectionError('scheduler gone')"

    def test_refused_callback_body_goes_on(self) -> None:
        """The body catches the refusal and submits more: the other tasks count as usual."""
        kinds = iter([RefusingFuture, Future])
        ex = HandExecutor(lambda: next(kinds)())
        with TaskGroup(ex, mode="settled") as tg:
            with pytest.raises(RuntimeError):
                tg.submit(int, "1")
            good = tg.submit(int, "2")
            good.set_result(2)
        refused, ok = tg.result()
        assert type(refused) is Rejected
        assert ok == Fulfilled(2, 1)


class TestAsSettledMisuse:
    def test_iterated_after_the_exit_yields_the_records(self, pool: ThreadPoolExecutor) -> None:
        """as_settled() taken in the body, iterated after it: the records, no IndexError."""
        with TaskGroup(pool) as tg:
            tg.submit(int, "1")
            tg.submit(int, "2")
            records = tg.as_settled()
        assert sorted(records, key=lambda r: r.index) == [Fulfilled(1, 0), Fulfilled(2, 1)]
        assert tg.result() == [1, 2]

    def test_called_in_a_task_refused(self, pool: ThreadPoolExecutor) -> None:
        """A task iterating its own group would wait for itself forever: RuntimeError."""

        def iterate(tg: TaskGroup[Any]) -> list[Any]:
            return list(tg.as_settled())

        def body(tg: TaskGroup[Any]) -> None:
            tg.submit(iterate, tg).exception(20)  # the body is still open meanwhile

        with pytest.raises(BaseExceptionGroup) as info:
            run(TaskGroup(pool, timeout=20), body)
        assert [str(e) for e in info.value.exceptions] == [
            "TaskGroup.as_settled() called in a task of the group: it would wait for itself"
        ]


class TestExitKeepsExceptions:
    def test_first_keeps_the_task_exception_cause(self, pool: ThreadPoolExecutor) -> None:
        """mode="first" raises the task's exception as it was: its __cause__ is kept."""

        def chained() -> None:
            try:
                raise KeyError("k")
            except KeyError as k:
                raise ValueError("v") from k

        with pytest.raises(ValueError) as info, TaskGroup(pool, mode="first") as tg:
            fut = tg.submit(chained)
        assert repr(info.value.__cause__) == "KeyError('k')"
        assert fut.exception() is info.value
        assert info.value.__suppress_context__

    def test_generator_exit_propagates_bare(self, pool: ThreadPoolExecutor, gate: Any) -> None:
        """Closing a generator inside a group: close() works; the tasks were waited for."""
        seen: list[Future[Any]] = []

        def gen() -> Iterator[int]:
            with TaskGroup(pool) as tg:
                seen.append(tg.submit(gate.wait, 10))
                yield 1

        g = gen()
        next(g)
        gate.set()
        g.close()  # raised BaseExceptionGroup([GeneratorExit]) before the fix
        assert seen[0].done()


class Heavy(Exception):
    """An exception that can be weakly referenced (builtin ones cannot)."""


def raise_heavy() -> None:
    raise Heavy("heavy")


class TestNoCycles:
    @pytest.mark.parametrize("mode", ["all", "any", "first"])
    def test_result_raising_keeps_no_cycle(self, pool: ThreadPoolExecutor, mode: str) -> None:
        """result() re-raising the exit's error: group and exception go once dropped, no gc."""
        gc.collect()
        gc.disable()
        try:
            with contextlib.suppress(Exception), TaskGroup(pool, mode=mode) as tg:  # type: ignore[call-overload]
                fut = tg.submit(raise_heavy)
            with pytest.raises((Heavy, ExceptionGroup)):
                tg.result()
            exc_ref = weakref.ref(fut.exception())  # type: ignore[arg-type]
            group_ref = weakref.ref(tg)
            del tg, fut
            assert group_ref() is None
            assert exc_ref() is None
        finally:
            gc.enable()


class InterruptingFuture(Future[Any]):
    """Its cancel() is where Ctrl-C lands (once): a signal arriving mid-cancel."""

    interrupted = False

    def cancel(self) -> bool:
        if not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        return super().cancel()


class TestCtrlC:
    def test_ctrl_c_during_a_cancel_still_cancels_the_rest(self) -> None:
        """Ctrl-C in the middle of tg.cancel(): the exit cancels what the cut-short loop missed."""
        kinds = iter([InterruptingFuture, Future, Future])
        ex = HandExecutor(lambda: next(kinds)())

        def body(tg: TaskGroup[Any]) -> None:
            for s in "123":
                tg.submit(int, s)
            tg.cancel()

        with pytest.raises(KeyboardInterrupt):
            run(TaskGroup(ex), body)
        assert [f.cancelled() for f in ex.futures] == [True, True, True]


class InterruptedList(list[Any]):
    """The group's list of futures, where Ctrl-C lands once: between the executor's
    submit() and the done-callback."""

    interrupted = False

    def __setitem__(self, index: Any, value: Any) -> None:
        if not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        super().__setitem__(index, value)


class TestCtrlCInSubmit:
    @pytest.mark.timeout(10)
    def test_ctrl_c_before_the_callback_is_added(self) -> None:
        """Ctrl-C after the executor took the task, caught by the body: the exit does not hang."""
        ex = HandExecutor(Future)
        with TaskGroup(ex, mode="settled") as tg:
            tg._futures = InterruptedList(tg._futures)
            with pytest.raises(KeyboardInterrupt):
                tg.submit(int, "1")
            tg.submit(int, "2").set_result(2)
        assert ex.futures[0].cancelled()
        first, second = tg.result()
        assert type(first) is Rejected
        assert type(first.reason) is KeyboardInterrupt
        assert second == Fulfilled(2, 1)


class _RefusingDict(dict[Any, Any]):
    """The group's index of thread futures, where Ctrl-C lands on the first entry."""

    def __setitem__(self, key: Any, value: Any) -> None:
        raise KeyboardInterrupt

    def setdefault(self, key: Any, value: Any = None) -> Any:
        raise KeyboardInterrupt


class _RefusingCallbacks(list[Any]):
    """A stdlib future's callback list, where Ctrl-C lands on the first append."""

    def append(self, item: Any) -> None:
        raise KeyboardInterrupt


class _Unstarted(ThreadPoolExecutor):
    """A thread pool whose futures stay pending: the test settles them."""

    def __init__(self, refuse_callbacks: bool) -> None:
        super().__init__(1)
        self.refuse_callbacks = refuse_callbacks
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        if self.refuse_callbacks:
            fut._done_callbacks = _RefusingCallbacks()  # type: ignore[attr-defined]
        self.futures.append(fut)
        return fut


class TestCtrlCOnTheThreadFastPath:
    """Thread pools' stdlib futures are indexed, then get the shared callback, without
    the lock: Ctrl-C before the callback is in place must not leave the task uncounted."""

    @pytest.mark.timeout(10)
    @pytest.mark.parametrize("where", ["index", "callbacks"])
    def test_ctrl_c_before_the_callback_is_in_place(self, where: str) -> None:
        with _Unstarted(refuse_callbacks=where == "callbacks") as ex:
            with TaskGroup(ex, mode="settled") as tg:
                if where == "index":
                    tg._index_of = _RefusingDict()
                with pytest.raises(KeyboardInterrupt):
                    tg.submit(int, "1")
            assert ex.futures[0].cancelled()
            (record,) = tg.result()
            assert type(record) is Rejected
            assert type(record.reason) is KeyboardInterrupt


class TestLockFreeCounting:
    """A thread task's value is counted without the group's lock: the exit must not
    miss the wake-up of a task that settles between its check and its wait."""

    @pytest.mark.timeout(10)
    def test_a_task_settling_between_the_exits_check_and_its_wait(self) -> None:
        with _Unstarted(refuse_callbacks=False) as ex:
            tg: TaskGroup[Any] = TaskGroup(ex)
            check = tg._all_settled
            settler: list[threading.Thread] = []

            def all_settled() -> bool:
                if check():
                    return True
                if not settler:  # the exit found the task pending: it settles now
                    settler.append(threading.Thread(target=ex.futures[0].set_result, args=(5,)))
                    settler[0].start()
                    # It finishes, or blocks on the lock this thread holds
                    # (the exit then waits, which lets it in).
                    settler[0].join(0.5)
                return False

            tg._all_settled = all_settled  # type: ignore[method-assign]
            with tg:
                tg.submit(int, "5")
            settler[0].join()
        assert tg.result() == [5]


class TestHugeTimeout:
    @pytest.mark.parametrize("timeout", [1e10, 1e300])
    def test_a_timeout_beyond_the_platform_wait_limit(
        self, pool: ThreadPoolExecutor, gate: threading.Event, timeout: float
    ) -> None:
        """timeout=1e10 ("forever"): no OverflowError from the exit, as_settled() or a timer."""
        assert timeout > threading.TIMEOUT_MAX
        with TaskGroup(pool, mode="settled", timeout=timeout) as tg:
            fut = tg.submit(gate.wait, 10)
            threading.Timer(0, gate.set).start()  # settles while as_settled() waits
            records = list(tg.as_settled())
            slow = tg.submit(gate.wait, 10)
        assert records == [Fulfilled(True, 0)]
        assert fut.result() is True
        assert slow.result() is True

    def test_an_int_timeout_beyond_any_float(self, pool: ThreadPoolExecutor) -> None:
        """timeout=10**400 waits forever and -10**400 is expired: no OverflowError at the exit."""
        with TaskGroup(pool, timeout=10**400) as tg:
            tg.submit(int, "1")
        assert tg.result() == [1]
        with pytest.raises(SettleTimeoutError) as info:
            run(TaskGroup(pool, timeout=-(10**400)), lambda tg: tg.submit(int, "1"))
        assert str(info.value) == "TaskGroup timed out after -inf s with 1 of 1 task unfinished"


class TestDeadlineMessage:
    def test_tasks_submitted_after_the_deadline_count_as_unfinished(
        self, pool: ThreadPoolExecutor
    ) -> None:
        """timeout=0: the tasks never ran; the message said '0 of 0 tasks unfinished'."""
        with pytest.raises(SettleTimeoutError) as info:
            run(TaskGroup(pool, timeout=0), lambda tg: tg.submit(int, "1"))
        assert str(info.value) == "TaskGroup timed out after 0 s with 1 of 1 task unfinished"
        with TaskGroup(pool, mode="settled", timeout=0) as tg:
            tg.submit(int, "1")
            tg.submit(int, "2")
        # Each record counts as of the moment its task was stopped.
        assert [str(r.reason) for r in tg.result()] == [  # type: ignore[union-attr]
            "task 0 of a TaskGroup timed out after 0 s with 1 of 1 task unfinished",
            "task 1 of a TaskGroup timed out after 0 s with 2 of 2 tasks unfinished",
        ]


class TestMisuse:
    def test_an_executor_class_is_refused_before_any_work(self) -> None:
        """TaskGroup(ThreadPoolExecutor) (the class): TypeError at once, not at the first submit."""
        with pytest.raises(TypeError) as info:
            TaskGroup(ThreadPoolExecutor)
        assert str(info.value) == (
            "TaskGroup() expected an executor with submit(), got the class "
            "ThreadPoolExecutor; pass an instance, e.g. ThreadPoolExecutor()"
        )


class _SettledBeforeReturn(ThreadPoolExecutor):
    """A thread pool whose submit() returns only once the task's future settled."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut = super().submit(fn, *args, **kwargs)
        done = threading.Event()
        fut.add_done_callback(lambda _: done.set())
        assert done.wait(10)
        return fut


class TestCallbackWithoutTheFutureLock:
    """On a thread pool the group appends its callback to the stdlib future's list
    (no lock): a future that settled first must still be counted, once."""

    def test_the_callback_of_a_done_stdlib_future_runs_at_once(self) -> None:
        with ThreadPoolExecutor(1) as pool:
            tg: TaskGroup[Any] = TaskGroup(pool)
            with tg:
                tg._pending.add(0)  # a task reserved by hand, as submit() does
                tg._futures.append(None)
                tg._records.append(None)
                fut: Future[int] = Future()
                fut.set_result(1)
                tg._futures[0] = fut
                call_back(fut, tg._ref, 0)  # counted here: the exit does not wait
        assert tg.result() == [1]

    def test_the_callback_of_a_pending_stdlib_future_runs_when_it_settles(self) -> None:
        with ThreadPoolExecutor(1) as pool:
            tg: TaskGroup[Any] = TaskGroup(pool, mode="settled")
            with tg:
                tg._pending.add(0)
                tg._futures.append(None)
                tg._records.append(None)
                fut: Future[int] = Future()
                tg._futures[0] = fut
                call_back(fut, tg._ref, 0)
                assert tg._pending == {0}
                fut.cancel()
                assert not tg._pending
        assert [type(r) for r in tg.result()] == [Rejected]

    def test_tasks_settled_before_submit_returns_are_counted_once(self) -> None:
        with _SettledBeforeReturn(2) as pool:
            with TaskGroup(pool, mode="settled") as tg:
                futs = [tg.submit(int, s) for s in ("1", "2", "x", "4")]
            assert [f.done() for f in futs] == [True] * 4
            records = tg.result()
            assert [type(r) for r in records] == [Fulfilled, Fulfilled, Rejected, Fulfilled]
            assert [r.index for r in records] == [0, 1, 2, 3]
            with pytest.raises(BaseExceptionGroup) as info, TaskGroup(pool) as tg:  # noqa: PT012
                tg.submit(int, "1")
                tg.submit(int, "x")
            assert str(info.value) == "1 of 2 tasks failed (1 sub-exception)"


class TestKeptFutures:
    def test_a_kept_future_keeps_neither_the_group_nor_the_arguments(
        self, pool: ThreadPoolExecutor, gate: threading.Event
    ) -> None:
        """On a thread pool the task object is also its future's callback: once the
        task ran, or was cancelled before it started, it lets go of both."""

        class Arg:
            pass

        gc.collect()
        arg, queued_arg = Arg(), Arg()
        arg_ref, queued_ref = weakref.ref(arg), weakref.ref(queued_arg)
        tg: TaskGroup[Any] = TaskGroup(pool, mode="settled")
        with tg:
            blockers = [tg.submit(gate.wait, 30) for _ in range(2)]  # both workers busy
            ran = tg.submit(id, arg)
            queued = tg.submit(id, queued_arg)
            tg.cancel()  # the queued tasks never start
            gate.set()
        group_ref = weakref.ref(tg)
        del tg, arg, queued_arg
        gc.collect()
        assert [f.done() for f in (*blockers, ran, queued)] == [True] * 4
        assert (group_ref(), arg_ref(), queued_ref()) == (None, None, None)
        blockers.clear()
        with TaskGroup(pool) as tg2:
            value = Arg()
            value_ref = weakref.ref(value)
            done = tg2.submit(id, value)
        del value, tg2
        gc.collect()
        assert done.result() > 0
        assert value_ref() is None


class _RetryingPool(ThreadPoolExecutor):
    """A thread pool that calls a submitted callable again when it raises, once."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def retried() -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:
                return fn(*args, **kwargs)

        return super().submit(retried)


class TestExecutorRunningATaskTwice:
    def test_a_retried_task_calls_its_function_again(self) -> None:
        """An executor that retries the callable it was given runs the function again, not
        an AttributeError from a task object that let go of its group after the first run."""
        calls: list[int] = []

        def flaky() -> str:
            calls.append(len(calls))
            if len(calls) == 1:
                raise ValueError("first try")
            return "second try"

        with _RetryingPool(1) as pool:
            with TaskGroup(pool, mode="settled") as tg:
                tg.submit(flaky)
            assert tg.result() == [Fulfilled("second try", 0)]
        assert calls == [0, 1]

    def test_a_failure_through_an_executors_frame_keeps_no_cycle(self) -> None:
        """A failure's traceback holds the executor's frame, which holds the task object it
        ran: that object must not lead back to the group (which holds the failure)."""

        class Wrapped(Future[Any]):
            pass

        class WrappingPool(ThreadPoolExecutor):
            def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
                out: Wrapped = Wrapped()

                def run() -> None:
                    try:
                        out.set_result(fn(*args, **kwargs))
                    except BaseException as exc:
                        out.set_exception(exc)

                super().submit(run).result()  # settled before submit returns
                return out

        def fail() -> None:
            raise ValueError("boom")

        with WrappingPool(1) as pool:
            gc.collect()
            gc.disable()
            try:
                with TaskGroup(pool, mode="settled") as tg:
                    failed = tg.submit(fail)
                group_ref = weakref.ref(tg)
                del tg
                assert group_ref() is None  # freed by reference counting alone
            finally:
                gc.enable()
        assert type(failed.exception()) is ValueError

    @pytest.mark.parametrize("mode", ["all", "first"])
    def test_a_retried_failure_is_reported_not_the_groups_refusal(self, mode: Any) -> None:
        """The executor runs a failed task again after the group stopped: the exit
        reports the failure, never the CancelledError with which the group refused it."""
        calls: list[int] = []

        def flaky() -> str:
            calls.append(1)
            if len(calls) == 1:
                raise OSError("transient")
            return "ok"

        with _RetryingPool(2) as pool:
            tg = TaskGroup(pool, mode=mode)
            with pytest.raises(BaseException) as info, tg:
                tg.submit(flaky)
        error = info.value
        raised = list(error.exceptions) if isinstance(error, BaseExceptionGroup) else [error]
        assert [type(e) for e in raised] == [OSError]
        assert len(calls) == 1  # the group refused the retry
