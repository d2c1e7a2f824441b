from __future__ import annotations

import gc
import logging
import multiprocessing
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import pytest

sys.path.insert(0, __file__.rsplit("/", 1)[0])

from helpers.duck import DuckExecutor, DuckFuture

START_METHODS = ("fork", "forkserver", "spawn")
# Markers that name a process-using test: a test module that mentions one of these
# words is marked ``processes``, so that CI can run it again under each start method.
_PROCESS_WORDS = ("ProcessPoolExecutor", "multiprocessing", "process_pool", "loky", "mp_context")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--start-method",
        choices=START_METHODS,
        default=None,
        help="start worker processes this way (default: spawn in fixtures, the platform's "
        "default elsewhere); CI runs the tests marked 'processes' under each",
    )


def pytest_configure(config: pytest.Config) -> None:
    method = config.getoption("--start-method")
    if method is not None:
        # Pools made without mp_context (ours and the tests') start workers this way too.
        multiprocessing.set_start_method(method, force=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mentions: dict[str, bool] = {}
    for item in items:
        path = str(item.path)
        if path not in mentions:
            try:
                text = item.path.read_text()
            except (OSError, UnicodeDecodeError):
                text = ""
            mentions[path] = path.endswith(".py") and any(w in text for w in _PROCESS_WORDS)
        if mentions[path]:
            item.add_marker(pytest.mark.processes)


@pytest.fixture(scope="session")
def start_method(request: pytest.FixtureRequest) -> str:
    """How the suite's process fixtures start workers: ``--start-method``, else spawn."""
    return str(request.config.getoption("--start-method") or "spawn")


def mp_context(method: str) -> Any:
    return multiprocessing.get_context(method)


def done(value: Any) -> Future[Any]:
    f: Future[Any] = Future()
    f.set_result(value)
    return f


def failed(exc: BaseException) -> Future[Any]:
    f: Future[Any] = Future()
    f.set_exception(exc)
    return f


def cancelled() -> Future[Any]:
    """Cancelled before any executor saw it: the stdlib's wait() misses it (gh-92001)."""
    f: Future[Any] = Future()
    f.cancel()
    return f


@pytest.fixture(params=["stdlib", "duck"])
def make(request: pytest.FixtureRequest) -> Callable[[], Any]:
    """A factory of pending futures settled by hand: stdlib ones, or duck ones."""
    return Future if request.param == "stdlib" else DuckFuture


@pytest.fixture
def fast_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


@pytest.fixture(scope="session")
def thread_pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as pool:
        yield pool


@pytest.fixture(scope="session")
def process_pool(start_method: str) -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(2, mp_context=mp_context(start_method)) as pool:
        yield pool


@pytest.fixture(scope="session")
def loky_pool() -> Any:
    loky = pytest.importorskip("loky", reason="loky is an optional extra")
    return loky.get_reusable_executor(max_workers=2)


@pytest.fixture(scope="session")
def manager(start_method: str) -> Iterator[Any]:
    with mp_context(start_method).Manager() as m:
        yield m


@pytest.fixture(params=["threads", "processes", "loky", "duck"])
def executor(request: pytest.FixtureRequest) -> Any:
    """One suite over every engine: hand-made duck futures, threads, processes, loky."""
    if request.param == "threads":
        return request.getfixturevalue("thread_pool")
    if request.param == "processes":
        return request.getfixturevalue("process_pool")
    if request.param == "loky":
        return request.getfixturevalue("loky_pool")
    return DuckExecutor(request.getfixturevalue("thread_pool"))


@pytest.fixture
def event(executor: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """An event that tasks of this executor can wait on; set at teardown."""
    if isinstance(executor, (ThreadPoolExecutor, DuckExecutor)):
        ev: Any = threading.Event()
    else:
        ev = request.getfixturevalue("manager").Event()
    try:
        yield ev
    finally:
        ev.set()


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """An in-process dask cluster and its client, for one test module."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed comes with [dask]")
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    """A fresh pool of two workers: tests block them on purpose to keep work queued."""
    with ThreadPoolExecutor(2) as p:
        yield p


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """An event that is set when the test ends, so nothing waits on it past the test."""
    ev = threading.Event()
    try:
        yield ev
    finally:
        ev.set()


@pytest.fixture
def make_pool() -> Iterator[Callable[..., Any]]:
    """SupervisedPools made here are shut down at the end, and none of their workers may survive.

    ``make(*args, method=None, **kwargs)`` builds a ``SupervisedPool``
    (``method`` names the start method). At teardown each pool is shut down
    (``wait=True``) as a user's ``with`` block would; a shutdown that has not
    returned within 30 s is a failure, and ``terminate()`` then ends the pool
    all the same, so that no worker outlives a failing test either. (Here, not
    in ``tests/pool/conftest.py``: a second module named ``conftest`` would
    shadow this one for the tests that import helpers from it.)
    """
    from futures_settle import SupervisedPool

    from helpers import pool_tasks as pt

    bound = 30.0  # seconds: only a hung shutdown crosses it
    made: list[SupervisedPool] = []

    def make(*args: Any, method: str | None = None, **kwargs: Any) -> SupervisedPool:
        if method is not None:
            kwargs["mp_context"] = multiprocessing.get_context(method)
        pool = SupervisedPool(*args, **kwargs)
        made.append(pool)
        return pool

    yield make
    hung = []
    for pool in made:
        ending = threading.Thread(target=pool.shutdown, name="make_pool-teardown", daemon=True)
        ending.start()
        ending.join(bound)
        if ending.is_alive():
            hung.append(pool)
        pool.terminate()  # nothing to do after a shutdown that returned
    for pool in made:
        assert pt.gone(pool._worker_pids(ever=True), pt.worker_parents())
    assert not hung, f"shutdown() did not return within {bound:g} s"


@pytest.fixture
def no_gc() -> Iterator[None]:
    """Only reference counts free objects: a leak cannot hide behind the cyclic GC."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
