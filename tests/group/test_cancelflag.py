"""The cross-process cancellation flag and check_cancelled(), piece by piece."""

from __future__ import annotations

import os
import pickle
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import CancelledError

import pytest

from futures_settle import check_cancelled
from futures_settle._group import cancelflag as _cancelflag
from futures_settle._group.cancelflag import CANCELLED, STOPPING, CancelFlag, RemoteTask

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def flag() -> Iterator[CancelFlag]:
    f = CancelFlag()
    try:
        yield f
    finally:
        f.close()


def test_file_is_one_byte_in_memory_where_possible(flag: CancelFlag) -> None:
    assert os.path.getsize(flag.path) == 1
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        assert flag.path.startswith("/dev/shm/futures_settle-")
    flag.close()
    assert not os.path.exists(flag.path)
    flag.set(CANCELLED)  # after close: nothing to set, no error
    assert flag.cancelled()  # a closed flag reads as cancelled


def test_a_pickled_flag_reads_the_same_byte(flag: CancelFlag) -> None:
    """What a worker gets: a reader of the owner's byte, in two steps."""
    reader = pickle.loads(pickle.dumps(flag))
    assert (reader.stopping(), reader.cancelled()) == (False, False)
    flag.set(STOPPING)
    assert (reader.stopping(), reader.cancelled()) == (True, False)
    flag.set(CANCELLED)
    assert (reader.stopping(), reader.cancelled()) == (True, True)
    assert pickle.loads(pickle.dumps(flag)) is reader  # mapped once per process


def test_a_flag_the_worker_cannot_open_never_cancels(flag: CancelFlag) -> None:
    """Defect 2: a worker with its own /dev/shm (a sibling container, same boot id) or
    without the right to open the file cancelled every task; now the task runs."""
    sent = pickle.dumps(RemoteTask(int, ("7",), {}, flag, "token-1"))
    flag.set(CANCELLED)  # even a cancelled group's flag: this worker cannot know it
    # The file is not where the worker looks: as in a container with its own /dev/shm.
    os.rename(flag.path, flag.path + ".elsewhere")
    try:
        task = pickle.loads(sent)
        assert task() == 7
        assert (task.flag.stopping(), task.flag.cancelled()) == (False, False)
    finally:
        os.rename(flag.path + ".elsewhere", flag.path)


def test_a_worker_reader_pickles_again(flag: CancelFlag) -> None:
    """Defect 1: a task unpickled by a third party (dask's scheduler) and pickled again
    for a worker raised "cannot pickle 'mmap.mmap' object"; it crosses as its path."""
    task = RemoteTask(int, ("3",), {}, flag, "token-1")
    twice = pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(task))))
    assert twice() == 3
    flag.set(STOPPING)
    assert twice.flag.stopping()


def test_workers_keep_only_the_last_flags_mapped() -> None:
    flags = [CancelFlag() for _ in range(_cancelflag._KEEP + 5)]
    try:
        readers = [pickle.loads(pickle.dumps(f)) for f in flags]
        assert len(_cancelflag._MAPPED) <= _cancelflag._KEEP
        flags[0].set(CANCELLED)
        assert readers[0].cancelled()  # dropped from the cache, still readable
    finally:
        for f in flags:
            f.close()


def test_remote_task_checks_the_flag_at_start(flag: CancelFlag) -> None:
    ran: list[int] = []
    task = RemoteTask(ran.append, (1,), {}, flag, "token-1")
    assert task() is None
    assert ran == [1]
    flag.set(STOPPING)
    with pytest.raises(CancelledError, match="^the task group was cancelled before this task"):
        task()
    assert ran == [1]
    assert task.__dask_tokenize__() == "token-1"


def test_check_cancelled_reads_the_running_task_flag(flag: CancelFlag) -> None:
    seen: list[bool] = []

    def step() -> None:
        try:
            check_cancelled()
        except CancelledError:
            seen.append(True)
        else:
            seen.append(False)

    task = RemoteTask(step, (), {}, flag, "t")
    task()
    flag.set(STOPPING)  # starting tasks stop; running ones are not told yet
    token = _cancelflag.enter_task(flag.cancelled)
    try:
        step()
        flag.set(CANCELLED)
        step()
    finally:
        _cancelflag.leave_task(token)
    step()  # outside a task again
    assert seen == [False, False, True, False]


def test_a_forked_child_is_not_the_task() -> None:
    """A child forked from a thread inside a task does not inherit its cancellation."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    status: list[int] = []

    def in_a_task() -> None:
        token = _cancelflag.enter_task(lambda: True)
        try:
            with pytest.raises(CancelledError):
                check_cancelled()  # here, in the task: cancelled
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
                pid = os.fork()
            if pid == 0:  # the child: same thread state, another process
                code = 3
                try:
                    inherited = _cancelflag._TASK.get() is not None
                    check_cancelled()
                    code = 0 if inherited else 2
                finally:
                    os._exit(code)
            status.append(os.waitpid(pid, 0)[1])
        finally:
            _cancelflag.leave_task(token)

    t = threading.Thread(target=in_a_task)
    t.start()
    t.join(30)
    assert status == [0]
