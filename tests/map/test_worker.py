"""The chunk runner: each item settles on its own, failures travel with their tracebacks."""

from __future__ import annotations

import gc
import pickle
import traceback
import weakref
from collections.abc import Iterator
from concurrent.futures.process import _RemoteTraceback
from typing import Any

import pytest

from futures_settle._map.worker import Failures, _format, _last_line, run_chunk

from helpers import tasks

pytestmark = pytest.mark.timeout(60)


def _raise(exc: BaseException) -> None:
    raise exc


class TestRunChunk:
    def test_values_in_order(self) -> None:
        values, failures, seconds = run_chunk(pow, [(2, 2), (3, 2), (4, 2)])
        assert values == [4, 9, 16]
        assert failures is None
        assert seconds >= 0

    @pytest.mark.parametrize(
        "exc", [ValueError("v"), SystemExit("s"), KeyboardInterrupt(), StopIteration("x")]
    )
    def test_each_failure_at_its_offset(self, exc: BaseException) -> None:
        """Any exception, BaseExceptions and StopIteration too, fails its item alone."""
        values, failures, _ = run_chunk(lambda x: _raise(exc) if x == 1 else x, [(0,), (1,), (2,)])
        assert values == [0, None, 2]
        assert failures == {1: exc}
        assert failures[1] is exc  # type: ignore[index]

    def test_no_reference_cycle_through_the_traceback(self) -> None:
        """A failure's traceback keeps the runner's frame, which must not keep the failure."""

        class Boom(Exception):
            pass

        def boom() -> None:
            raise Boom  # nothing in this frame refers to the exception

        was_enabled = gc.isenabled()
        gc.disable()
        try:
            _, failures, _ = run_chunk(boom, [()])
            assert failures is not None
            ref = weakref.ref(failures[0])
            del failures
            assert ref() is None
        finally:
            if was_enabled:
                gc.enable()


def _failed_in_chunk() -> Iterator[BaseException]:
    _, failures, _ = run_chunk(tasks.fail_on, [(0, 1), (1, 1)])
    assert failures is not None
    yield failures[1]


class TestFailuresPickled:
    def test_cause_is_the_worker_traceback(self) -> None:
        """As the stdlib's process pool does for one task: the text, as a _RemoteTraceback."""
        exc = next(_failed_in_chunk())
        text = "".join(traceback.format_exception(exc))
        back = pickle.loads(pickle.dumps(Failures({1: exc})))
        assert type(back) is dict
        assert list(back) == [1]
        cause = back[1].__cause__
        assert type(cause) is _RemoteTraceback
        assert str(cause) == f'\n"""\n{text}"""'

    def test_format_is_the_stdlib_text(self) -> None:
        def nested(n: int) -> None:
            if n == 0:
                raise ValueError("deep")
            nested(n - 1)

        def chained() -> None:
            try:
                nested(0)
            except ValueError as exc:
                raise KeyError("outer") from exc

        for fn in (lambda: nested(3), lambda: nested(3), chained):
            try:
                fn()
            except Exception as exc:
                assert _format(exc) == "".join(traceback.format_exception(exc))

    def test_last_line_is_the_stdlib_text(self) -> None:
        """The fast path writes what traceback.format_exception_only writes, for every kind."""

        class Local(Exception):
            pass

        class NoStr(Exception):
            def __str__(self) -> str:
                raise RuntimeError("no")

        class OddModule(Exception):
            pass

        OddModule.__module__ = None  # type: ignore[assignment]
        noted = ValueError("n")
        noted.add_note("a note\non two lines")
        cases: list[BaseException] = [
            ValueError("v"),
            ValueError(),
            ValueError(""),
            KeyError("k"),
            SystemExit(3),
            KeyboardInterrupt(),
            Local("here"),
            NoStr(),
            OddModule("odd"),
            noted,
            SyntaxError("bad", ("f.py", 1, 2, "x y", 1, 3)),
            NameError("name 'x' is not defined", name="x"),
            AttributeError("a"),
            ModuleNotFoundError("m", name="m"),
            ExceptionGroup("g", [ValueError("1")]),
            pickle.PicklingError("p"),
        ]
        for exc in cases:
            assert _last_line(exc) == "".join(traceback.format_exception_only(exc)), exc

    def test_threads_never_pickle(self) -> None:
        """Within one process a failure is the very object, its own traceback intact."""
        exc = next(_failed_in_chunk())
        assert exc.__cause__ is None
        assert exc.__traceback__ is not None


def test_failures_is_a_dict() -> None:
    f: Any = Failures({0: ValueError()})
    assert isinstance(f, dict)
