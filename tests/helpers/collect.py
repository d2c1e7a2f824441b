"""Drain a map that may end by raising: its records, and the error it ended with."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def records_then_error(records: Iterable[Any]) -> tuple[list[Any], BaseException | None]:
    """Every record ``records`` yields, and the exception that ended it (``None``: it ended)."""
    out: list[Any] = []
    try:
        out.extend(records)  # no loop variable: this frame, in the error's traceback, holds none
    except Exception as exc:
        return out, exc
    return out, None
