"""How a worker's process ends: with its parent, and where a task's fork leaves the task.

``die_with_parent`` makes a worker exit when the pool's process dies, even
by ``SIGKILL`` (``PR_SET_PDEATHSIG`` on Linux, and a thread that watches the
parent's pid everywhere); ``leave_fork`` ends a process a task forked of its
worker where it comes back to the worker's code, so that it never writes the
worker's slot or pipe.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from typing import NoReturn

__all__ = ["die_with_parent", "leave_fork", "pid_alive"]

_WATCH = 0.25  # how often the watchdog thread looks for its parent


def leave_fork() -> NoReturn:
    """A fork a task made came back to the worker's code: it ends here, not as a worker.

    Else it would write the worker's slot and pipe (a result for the worker's
    item, read the worker's next message). Its exit code: 0 for a return, a
    ``SystemExit``'s code, 1 for another exception.
    """
    exc = sys.exc_info()[1]
    code = 0 if exc is None else 1
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    os._exit(code)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


def die_with_parent(pool_pid: int) -> None:
    parent = os.getppid()  # the pool's process, or the forkserver
    server = getattr(sys.modules.get("multiprocessing.forkserver"), "_forkserver", None)
    alive = getattr(server, "_forkserver_alive_fd", None)
    if parent != pool_pid and alive is not None:
        # A forkserver's child holds the forkserver's alive pipe: closed, the
        # forkserver ends with the pool's process, and PR_SET_PDEATHSIG (set
        # below, in the kernel: no GIL needed) kills this worker then.
        os.close(alive)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        # A forkserver outlives the pool's process while its children hold
        # its alive pipe (each gets a copy): the pool's pid is watched too.
        while os.getppid() == parent and pid_alive(pool_pid):
            time.sleep(_WATCH)
        os._exit(70)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
