"""Task functions for the peer benchmarks, importable by worker processes."""

from __future__ import annotations

import time


def tiny(x: int) -> int:
    """A task of a microsecond or so: ``x * x``, raising for 1% of the items."""
    if x % 100 == 99:
        raise ValueError(f"bad item {x}")
    return x * x


def tiny_wrapped(x: int) -> object:
    """``tiny`` for peers that stop at the first exception: the failure is returned."""
    try:
        return tiny(x)
    except ValueError as exc:
        return exc


def medium(x: int) -> int:
    """About a millisecond of CPU work."""
    end = time.perf_counter() + 0.001
    while time.perf_counter() < end:
        pass
    return x


def medium_wrapped(x: int) -> object:
    return medium(x)
