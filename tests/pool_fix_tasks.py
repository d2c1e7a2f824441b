"""Tasks for the supervised pool's regression tests: importable by workers of every start method."""

from __future__ import annotations

import os
import signal
import time
from typing import Any


class KillsWhenPickled:
    """A result whose pickling kills its worker (the OOM killer striking while a big result
    is pickled): the item finished, its result never reaches the pool."""

    def __reduce__(self) -> Any:
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(5)
        raise AssertionError("not killed")


def result_kills_in_pickling(x: Any) -> Any:
    return KillsWhenPickled() if x == "bad" else x


def hang_init() -> None:
    time.sleep(3600)
