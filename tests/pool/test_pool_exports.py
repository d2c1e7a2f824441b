"""The pool's public names: lazy (PEP 562), yet in __all__, dir() and the public path."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures.process import BrokenProcessPool

import futures_settle


def test_import_does_not_load_multiprocessing() -> None:
    """import futures_settle imports neither multiprocessing nor the stdlib process pool."""
    code = (
        "import sys, futures_settle\n"
        "print(sorted(m for m in ('multiprocessing', 'concurrent.futures.process') "
        "if m in sys.modules))\n"
        "futures_settle.SupervisedPool\n"
        "print('multiprocessing' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.split("\n")[:2] == ["[]", "True"]


def test_names_are_public_and_listed() -> None:
    """Each lazy name is in __all__ and dir(), reports futures_settle as its module."""
    for name in ("SupervisedPool", "TaskTimeoutError", "WorkerDiedError"):
        assert name in futures_settle.__all__
        assert name in dir(futures_settle)
        assert getattr(futures_settle, name).__module__ == "futures_settle"
    assert issubclass(futures_settle.WorkerDiedError, BrokenProcessPool)
    assert issubclass(futures_settle.TaskTimeoutError, TimeoutError)
    assert not issubclass(futures_settle.TaskTimeoutError, futures_settle.SettleTimeoutError)


def test_unknown_name_raises_attribute_error() -> None:
    """A missing name is an AttributeError that says so."""
    try:
        futures_settle.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert str(exc) == "module 'futures_settle' has no attribute 'NoSuchThing'"
    else:
        raise AssertionError("no AttributeError")


def test_errors_pickle_with_their_data() -> None:
    """The errors cross process boundaries with their attributes."""
    import pickle

    died = pickle.loads(pickle.dumps(futures_settle.WorkerDiedError(42, -9)))
    assert (died.pid, died.exitcode, str(died)) == (
        42,
        -9,
        "worker 42 died running the task: killed by SIGKILL",
    )
    late = pickle.loads(pickle.dumps(futures_settle.TaskTimeoutError(0.5, 7, True)))
    assert (late.timeout, late.pid, late.killed) == (0.5, 7, True)
