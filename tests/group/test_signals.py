"""An exception a signal handler raises during a group's exit: cancel, clean up, propagate.

Defect 4 of issue 17: a SIGTERM handler calling ``sys.exit(0)``, a
SIGALRM-based timeout, any exception but ``KeyboardInterrupt`` propagated
out of the exit without cancelling: queued tasks ran after the block,
``result()`` said the group "is open", the flag file stayed. The sweep
raises each exception type at each line of ``__exit__`` (a line tracer,
as a signal landing there would), in a group whose only worker is held so
that a second task stays queued; the real-signal tests send one while the
exit waits.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, ThreadPoolExecutor
from typing import Any

import pytest

from futures_settle import TaskGroup

from helpers.interrupts import finishes, interrupt_at, line_of, lines_of

pytestmark = pytest.mark.timeout(60)

ERRORS: list[Callable[[], BaseException]] = [
    lambda: SystemExit(0),  # a SIGTERM handler's sys.exit(0)
    lambda: TimeoutError("alarm"),  # a SIGALRM timeout
    lambda: RuntimeError("handler"),
]


def raising_at(
    lineno: int, make: Callable[[], BaseException], skipped: Callable[[], object]
) -> tuple[Any, list[bool]]:
    """``interrupts.interrupt_at``, raising ``make()`` instead of KeyboardInterrupt;
    ``skipped()`` once the exit passes beyond ``lineno`` without running it."""
    tracer, armed = interrupt_at(TaskGroup.__exit__, lineno)

    def wrapped(frame: Any, event: str, arg: Any) -> Any:
        local = tracer(frame, event, arg)
        if local is None:
            return None

        def step(frame: Any, event: str, arg: Any) -> Any:
            if armed[0] and event == "line" and frame.f_lineno > lineno:
                skipped()  # this path does not run the line: let the exit finish
            try:
                local(frame, event, arg)
            except KeyboardInterrupt:
                raise make() from None
            return step

        return step

    return wrapped, armed


def scenario(
    lineno: int, make: Callable[[], BaseException], body_error: bool, held: bool = True
) -> dict[str, Any]:
    """One worker held by a task, one task queued behind it, the exit hit at ``lineno``;
    not ``held``: both tasks done before the exit (for the lines after its wait)."""
    ran: list[str] = []
    gate = threading.Event()
    tracer, armed = raising_at(lineno, make, gate.set)
    got: dict[str, Any] = {"armed": armed}

    def go() -> None:
        with ThreadPoolExecutor(1) as pool:
            tg = TaskGroup(pool)
            got["tg"] = tg
            try:
                with tg:
                    if held:
                        got["held"] = tg.submit(gate.wait, 30)
                        got["queued"] = tg.submit(ran.append, "queued")
                    else:
                        tg.submit(int, "1").result(30)
                    sys.settrace(tracer)
                    if body_error:
                        raise LookupError("body")
            except BaseException as error:
                got["error"] = error
            finally:
                sys.settrace(None)
                gate.set()  # the held task ends; the pool's exit waits for what is left
        got["ran"] = list(ran)

    out = finishes(go, 30)
    assert out["done"], "the exit hung"
    return got


@pytest.mark.parametrize("make", ERRORS, ids=["SystemExit", "TimeoutError", "RuntimeError"])
@pytest.mark.parametrize("body_error", [False, True], ids=["body-ok", "body-raised"])
def test_an_exception_at_each_line_of_the_exit_cancels_and_propagates(
    make: Callable[[], BaseException], body_error: bool
) -> None:
    """Before the exit's wait and at it: the queued task is cancelled, never runs, and
    result() says the group was interrupted. After it (every task done): the exception
    propagates, and result() is the answer or says the group was interrupted."""
    wait = line_of(TaskGroup.__exit__, "self._wait(")
    fired = []
    for lineno in lines_of(TaskGroup.__exit__):
        got = scenario(lineno, make, body_error, held=lineno <= wait)
        if got["armed"][0]:
            continue  # a line this path does not run
        fired.append(lineno)
        where = f"line {lineno} of __exit__"
        error = got["error"]
        assert type(error) is type(make()), f"{where}: the exit raised {error!r}"
        if lineno <= wait:
            assert got["ran"] == [], f"{where}: a queued task ran after the block"
            assert got["queued"].cancelled(), where
        try:
            answer = got["tg"].result()
        except RuntimeError as stopped:
            assert str(stopped).startswith("TaskGroup.result(): the group was interrupted")
        except ExceptionGroup:  # the body's error, answered
            assert body_error, where
            assert lineno > wait, where
        else:
            assert lineno > wait, f"{where}: result() gave {answer!r}"
    assert wait in fired
    assert max(fired) > wait


@pytest.fixture
def handler() -> Iterator[Callable[[Callable[[], BaseException]], None]]:
    """Install a SIGUSR1 handler that raises what it is given; restored afterwards."""
    old = signal.getsignal(signal.SIGUSR1)

    def install(make: Callable[[], BaseException]) -> None:
        def raise_it(signum: int, frame: Any) -> None:
            raise make()

        signal.signal(signal.SIGUSR1, raise_it)

    try:
        yield install
    finally:
        signal.signal(signal.SIGUSR1, old)


@pytest.mark.parametrize("make", ERRORS, ids=["SystemExit", "TimeoutError", "RuntimeError"])
def test_a_real_signal_while_the_exit_waits(
    handler: Callable[[Callable[[], BaseException]], None], make: Callable[[], BaseException]
) -> None:
    """The handler's exception propagates at once; the queued task never runs."""
    main = threading.main_thread().ident
    assert main is not None
    assert threading.get_ident() == main
    handler(make)
    gate = threading.Event()
    ran: list[str] = []

    def signal_once_exiting(tg: TaskGroup[Any]) -> None:
        while not tg._idlers:  # until the exit waits
            time.sleep(0.001)
        signal.pthread_kill(main, signal.SIGUSR1)
        gate.wait(30)

    with ThreadPoolExecutor(1) as pool:
        tg: TaskGroup[Any] = TaskGroup(pool)
        futures: list[Any] = []

        def body() -> None:
            with tg:
                tg.submit(signal_once_exiting, tg)
                futures.append(tg.submit(ran.append, "queued"))

        try:
            with pytest.raises(type(make())):
                body()
        finally:
            gate.set()
    queued = futures[0]
    assert ran == []
    assert queued.cancelled()
    assert not isinstance(queued, CancelledError)
    with pytest.raises(RuntimeError, match=r"^TaskGroup.result\(\): the group was interrupted"):
        tg.result()
