"""What a task group answers at its exit: the modes, the causes, the errors."""

from __future__ import annotations

from concurrent.futures import CancelledError
from typing import Any

from .._errors import SettleTimeoutError, timed_out
from .._records import Rejected

__all__ = [
    "ALL",
    "ANY",
    "BODY",
    "CANCEL",
    "DEADLINE",
    "FAILURE",
    "FIRST",
    "INTERRUPT",
    "MODES",
    "NONE",
    "OUTER",
    "SETTLED",
    "WINNER",
    "exit_error",
    "timeout_error",
]

MODES = ("all", "settled", "any", "first")
ALL, SETTLED, ANY, FIRST = range(4)
# Why the group cancelled (OUTER: the group its body runs in a task of).
NONE, FAILURE, WINNER, DEADLINE, CANCEL, BODY, INTERRUPT, OUTER = range(8)


def timeout_error(
    timeout: float | None, unfinished: int, total: int, index: int | None = None
) -> SettleTimeoutError:
    """The group's error at its deadline, or (with ``index``) a stopped task's reason."""
    where = "TaskGroup" if index is None else f"task {index} of a TaskGroup"
    return timed_out(where, "task", timeout, unfinished, total, index)


def exit_error(
    mode: int,
    cause: int,
    records: list[Any],
    total: int,
    own: list[int],
    trigger: int,
    body: BaseException | None,
    deadline_error: SettleTimeoutError,
) -> BaseException | None:
    """What the exit raises, given how every task settled and why the group cancelled.

    ``total`` counts the tasks (``records`` also has the empty slots of
    submits the executor refused), ``own`` lists the tasks that failed on
    their own (not cancelled by the group), ``trigger`` the task whose
    outcome cancelled it, ``body`` the body's exception.
    """
    if isinstance(body, (SystemExit, GeneratorExit)):
        # GeneratorExit: a generator holding the block was closed; close()
        # must see it come back, not a group.
        return body
    cancelled = None
    if isinstance(body, CancelledError):
        # A cancellation, as asyncio's TaskGroup treats one (check_cancelled()
        # answering for an outer group, a cancelled future's result()): not
        # a failure. The tasks' own failures if any, else it goes on as it is.
        cancelled, body = body, None
    failures = [records[i].reason for i in sorted(own)]
    errors: list[BaseException] = []
    if cause == DEADLINE and mode != SETTLED and not (mode == ALL and failures):
        errors = [deadline_error]
    elif mode == ALL:
        errors = failures
    elif mode == FIRST and cause == WINNER and type(records[trigger]) is Rejected:
        errors = [records[trigger].reason]
    elif mode == ANY and cause in (NONE, BODY) and failures and len(failures) == total:
        errors = failures
    if body is not None:
        errors = [body, *(e for e in errors if e is not body)]
        tail = f" and {len(errors) - 1} of {total} tasks failed" if len(errors) > 1 else ""
        return BaseExceptionGroup(f"the body of a TaskGroup raised{tail}", errors)
    if not errors:
        if cancelled is not None:
            return cancelled
        if total == 0 and mode in (ANY, FIRST) and cause == NONE:
            return ValueError(f"TaskGroup(mode={MODES[mode]!r}) needs at least one task")
        return None
    if mode == ALL and failures:
        noun = "task" if total == 1 else "tasks"
        return BaseExceptionGroup(f"{len(failures)} of {total} {noun} failed", errors)
    if mode == ANY and failures and errors is failures:
        noun = "the task" if total == 1 else f"all {total} tasks"
        return BaseExceptionGroup(f"TaskGroup(mode='any') got no value: {noun} failed", errors)
    return errors[0]
