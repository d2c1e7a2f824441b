"""``python -m futures_settle``: the seed article's quick example on every engine at hand.

p1 resolves at once, p2 fails with "DB error", p3 takes a moment: each
function's answer is printed for a thread pool, a process pool and, when
installed, loky.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from . import as_settled, wait_all, wait_any, wait_first, wait_settled


def fetch_user() -> str:
    return "user data"


def query_db() -> str:
    raise ConnectionError("DB error")


def read_cache() -> str:
    time.sleep(0.1)
    return "cache data"


def _show(label: str, call: Callable[[], Any]) -> None:
    try:
        print(f"  {label:<13} -> {call()!r}")
    except BaseException as e:  # a demonstration: show what the call raised
        print(f"  {label:<13} raised {type(e).__name__}: {e}")


def demo(name: str, pool: Executor) -> None:
    print(f"{name}:")
    wait_all([pool.submit(fetch_user) for _ in range(4)])  # start the workers first

    def submit() -> list[Any]:
        return [pool.submit(fetch_user), pool.submit(query_db), pool.submit(read_cache)]

    _show("wait_all", lambda: wait_all(submit()))
    _show("wait_settled", lambda: wait_settled(submit()))
    _show("wait_any", lambda: wait_any(submit()))
    _show("wait_first", lambda: wait_first([pool.submit(read_cache), pool.submit(fetch_user)]))
    _show("as_settled", lambda: [(r.index, r.status) for r in as_settled(submit())])


def main() -> int:
    with ThreadPoolExecutor(4) as threads:
        demo("ThreadPoolExecutor", threads)
    with ProcessPoolExecutor(2) as processes:
        demo("ProcessPoolExecutor", processes)
    try:
        import loky  # type: ignore[import-untyped]
    except ImportError:
        print("loky: not installed (pip install 'futures_settle[loky]')")
    else:
        demo("loky", loky.get_reusable_executor(max_workers=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
