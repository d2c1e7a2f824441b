"""What crosses to a worker for a retry: the function, made a new submission.

Engines that merge equal submissions (dask's ``Client.submit`` is pure by
default: the same function and arguments give the same key, and the
same, already failed, task) would answer a retry with the failure it
retries. A retry submits ``Attempt(fn, number)`` instead: it calls ``fn``
as it is, and tells dask a token of its own, so each attempt is a new
task. It pickles by reference to this module under fork, forkserver and
spawn, as ``fn`` itself must.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

__all__ = ["Attempt"]

_SESSION = os.urandom(8).hex()  # attempts of two processes never share a token
_NUMBERS = itertools.count()


class Attempt:
    """``fn``, for one later attempt: called as ``fn`` is; a dask token of its own."""

    __slots__ = ("fn", "token")

    def __init__(self, fn: Any, token: str | None = None) -> None:
        self.fn = fn
        self.token = f"retry-{_SESSION}-{next(_NUMBERS)}" if token is None else token

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __dask_tokenize__(self) -> str:
        return self.token

    def __reduce__(self) -> tuple[Any, ...]:
        return (Attempt, (self.fn, self.token))

    def __repr__(self) -> str:
        return f"Attempt({self.fn!r})"
