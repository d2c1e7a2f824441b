"""``python -m futures_settle``: the demo prints the same text on every run, on every engine."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import futures_settle

ROOT = Path(futures_settle.__file__).resolve().parent.parent

ENGINE = """\
{name}:
  wait_all([p1, p2, p3])     raised ConnectionError: DB error
  wait_settled([p1, p2, p3]) -> [Fulfilled(value='user data', index=0), \
Rejected(reason=ConnectionError('DB error'), index=1), Fulfilled(value='cache data', index=2)]
  wait_any([p1, p2, p3])     -> 'user data'
  wait_first([p3, p1])       -> 'user data'
  as_settled([p3, p1, p2])   -> [(1, 'fulfilled'), (2, 'rejected'), (0, 'fulfilled')]
"""


def expected() -> str:
    text = "p1 = fetch_user() answers at once, p2 = query_db() fails, p3 = read_cache() is last:\n"
    text += ENGINE.format(name="ThreadPoolExecutor") + ENGINE.format(name="ProcessPoolExecutor")
    if importlib.util.find_spec("loky") is None:
        return text + "loky: not installed (pip install 'futures_settle[loky]')\n"
    return text + ENGINE.format(name="loky")


def run(*args: str) -> str:
    """Run python with ``args`` on this copy of the package: its output, after no error."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stderr) == (0, "")
    return done.stdout


@pytest.mark.timeout(300)
def test_same_text_on_every_run() -> None:
    """Two runs print the same text: each answer forced by the inputs, never by timing."""
    first = run("-m", "futures_settle")
    assert first == expected()
    assert run("-m", "futures_settle") == first


@pytest.mark.timeout(300)
def test_workers_started_by_spawn_find_the_tasks() -> None:
    """Spawned workers (macOS, Windows; forkserver on Linux from 3.14) import the tasks."""
    script = (
        "import multiprocessing, runpy; multiprocessing.set_start_method('spawn'); "
        "runpy.run_module('futures_settle', run_name='__main__', alter_sys=True)"
    )
    assert run("-c", script) == expected()
