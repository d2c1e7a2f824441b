"""Flag files whose group is gone for good: removed when the next group makes its flag.

A group removes its flag file when it ends (an interrupted one when its
process exits), but a process killed with a group open (SIGKILL, the OOM
killer, a power cut for a directory that survives boots) leaves the file
for ever: there is no cleanup process. So each new flag first looks for
files of creators that are gone, at most every :data:`EVERY` seconds per
process. A file's name says who made it: ``futures_settle-<pid>-<pid
namespace>-<n>-<random>.flag``. It is stale if it was last written before
this machine booted (its creator belonged to an earlier boot), or if its
creator shares our pid namespace and no process has that pid any more.
Files of another pid namespace (a container sharing ``/dev/shm``) are left
alone: their pids mean nothing here. Files of another user cannot be
removed and are left too.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time

__all__ = ["EVERY", "PREFIX", "namespace", "sweep"]

PREFIX = "futures_settle-"
EVERY = 10.0  # seconds between two sweeps of one process
_last = [-EVERY]  # time.monotonic() of this process's last sweep


@functools.cache
def namespace() -> str:
    """This process's pid namespace, as a number ("0" where there is none to read)."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


@functools.cache
def _booted() -> float | None:
    """When this machine booted (``time.time()``), or ``None`` if it cannot tell."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # another user's process: alive
        return False
    return False


def sweep(directory: str, force: bool = False) -> list[str]:
    """Remove the stale flag files in ``directory``, unless this process swept less than
    ``EVERY`` seconds ago (``force``: sweep anyway). Returns the paths removed."""
    clock = time.monotonic()
    if not force and clock - _last[0] < EVERY:
        return []
    _last[0] = clock
    booted = _booted()
    mine = str(os.getpid())
    ns = namespace()
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if not (name.startswith(PREFIX) and name.endswith(".flag")):
            continue
        parts = name[len(PREFIX) :].split("-")
        if len(parts) < 4 or not parts[0].isdigit() or parts[0] == mine:
            continue
        try:
            written = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        before_boot = booted is not None and written < booted
        if before_boot or (parts[1] == ns and _gone(int(parts[0]))):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(entry.path)
    return removed
