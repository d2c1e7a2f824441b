"""What a worker runs for a chunk of ``map_all``/``map_settled`` items.

A chunk is one submitted task that calls ``fn`` on several items, each on
its own: a failing item (even with a ``BaseException`` such as
``SystemExit``) is caught and recorded at its offset, and its neighbours
run on. The values travel back as one plain list, as ``Executor.map``
sends them; the rare failures ride beside them in a dict keyed by offset.

A process pool sends an unchunked task's exception back with the worker's
traceback as its ``__cause__`` (a ``_RemoteTraceback``), since tracebacks
cannot be pickled. The failures of a chunk do the same when, and only
when, they are pickled: within one process (a thread pool) each keeps its
own ``__traceback__``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from time import perf_counter
from traceback import format_exception, format_exception_only, format_tb
from types import CodeType
from typing import Any

from .._core.deadline import Deadline, within

__all__ = ["Failures", "run_chunk"]


class Failures(dict[int, BaseException]):
    """A chunk's failed items, ``{offset: exception}``, that pickle with their tracebacks."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        # The text the stdlib's process pool sends for one task's failure
        # (concurrent/futures/process.py, _ExceptionWithTraceback).
        return (
            _rebuild,
            ([(offset, exc, '\n"""\n' + _format(exc) + '"""') for offset, exc in self.items()],),
        )


_STACKS: dict[tuple[tuple[CodeType, int], ...], str] = {}
_MAX_STACKS = 256


def _format(exc: BaseException) -> str:
    """``"".join(traceback.format_exception(exc))``, its stack part cached.

    Formatting a stack reads source lines and parses each to place the
    carets: some 100 µs, far more than a small task. The failures of one
    map mostly come from the same few places, and a stack's text depends
    only on its code objects and positions.
    """
    if exc.__cause__ is not None or exc.__context__ is not None:
        return "".join(format_exception(exc))  # chained: formatted whole, as is rare
    key = []
    tb = exc.__traceback__
    node = tb
    while node is not None:
        key.append((node.tb_frame.f_code, node.tb_lasti))
        node = node.tb_next
    stack = _STACKS.get(tuple(key))
    if stack is None:
        stack = "".join(format_tb(tb))
        if len(_STACKS) >= _MAX_STACKS:
            _STACKS.clear()
        _STACKS[tuple(key)] = stack
    return "Traceback (most recent call last):\n" + stack + _last_line(exc)


# Exceptions whose last line the stdlib may add to (a SyntaxError's source
# line, a NameError's "Did you mean", notes) are formatted by it.
_RICH = (SyntaxError, NameError, AttributeError, ImportError)


def _last_line(exc: BaseException) -> str:
    """``"".join(traceback.format_exception_only(exc))``, without its 5 µs of set-up.

    For a plain exception the line is its type's qualified name and its
    ``str()``, as ``traceback`` writes it; anything richer goes to the stdlib.
    """
    cls = type(exc)
    if issubclass(cls, _RICH) or getattr(exc, "__notes__", None) is not None:
        return "".join(format_exception_only(exc))
    name = cls.__qualname__
    module = cls.__module__
    if module not in ("__main__", "builtins"):
        name = (module if isinstance(module, str) else "<unknown>") + "." + name
    try:
        text = str(exc)
    except BaseException:  # as traceback's _safe_string
        text = "<exception str() failed>"
    return f"{name}: {text}\n" if text else f"{name}\n"


def _rebuild(failed: list[tuple[int, BaseException, str]]) -> dict[int, BaseException]:
    from concurrent.futures.process import _RemoteTraceback

    for _, exc, text in failed:
        exc.__cause__ = _RemoteTraceback(text)  # type: ignore[arg-type]  # typeshed: a str
    return {offset: exc for offset, exc, _ in failed}


def run_chunk(
    fn: Callable[..., Any],
    chunk: Sequence[tuple[Any, ...]],
    deadline: Deadline | None = None,
) -> tuple[list[Any], Failures | None, float]:
    """Call ``fn(*args)`` for each item: ``(values, failures or None, seconds)``.

    ``values`` has ``None`` at failed offsets; ``seconds`` is the time the
    worker spent on the chunk, which the automatic chunk sizer feeds on.
    With the map's ``deadline`` (it crosses to worker processes with the
    chunk), each item runs under it: ``remaining()`` gives the time left.
    """
    if deadline is None:
        return _run(fn, chunk)
    with within(deadline):
        return _run(fn, chunk)


def _run(
    fn: Callable[..., Any], chunk: Sequence[tuple[Any, ...]]
) -> tuple[list[Any], Failures | None, float]:
    start = perf_counter()
    values: list[Any] = []
    append = values.append
    failures: Failures | None = None
    args: tuple[Any, ...] = ()
    for args in chunk:
        try:
            append(fn(*args))
        except BaseException as exc:  # one item, one outcome, as with chunksize=1
            if failures is None:
                failures = Failures()
            failures[len(values)] = exc
            append(None)
    try:
        return values, failures, perf_counter() - start
    finally:
        # A failure's traceback keeps this frame: leave it no path back to
        # the failures (a reference cycle) or to the items.
        del values, append, failures, chunk, args
