"""Promise.all, allSettled, any and race for ``concurrent.futures``, with no event loop.

>>> from concurrent.futures import ThreadPoolExecutor
>>> from futures_settle import wait_all, wait_settled
>>> with ThreadPoolExecutor() as pool:
...     futures = [pool.submit(int, s) for s in ("1", "2", "x")]
...     [r.status for r in wait_settled(futures)]
['fulfilled', 'fulfilled', 'rejected']
"""

import typing

from ._core.deadline import remaining as remaining
from ._errors import SettleTimeoutError as SettleTimeoutError
from ._group.cancelflag import check_cancelled as check_cancelled
from ._group.group import TaskGroup as TaskGroup
from ._map.maps import map_all as map_all
from ._map.maps import map_settled as map_settled
from ._records import Fulfilled as Fulfilled
from ._records import Rejected as Rejected
from ._records import Settled as Settled
from ._retry.policy import Retry as Retry
from ._wait.combinators import wait_all as wait_all
from ._wait.combinators import wait_settled as wait_settled
from ._wait.racing import wait_any as wait_any
from ._wait.racing import wait_first as wait_first
from ._wait.streaming import as_settled as as_settled

__version__ = "0.1.0"

__all__ = (
    "Fulfilled",
    "Rejected",
    "Retry",
    "SettleTimeoutError",
    "Settled",
    "SupervisedPool",
    "TaskGroup",
    "TaskTimeoutError",
    "WorkerDiedError",
    "as_settled",
    "check_cancelled",
    "map_all",
    "map_settled",
    "remaining",
    "wait_all",
    "wait_any",
    "wait_first",
    "wait_settled",
)

# The supervised pool's names load on first use (PEP 562): they import
# multiprocessing and concurrent.futures.process, which a plain
# ``import futures_settle`` does not pay for.
_LAZY = {
    "SupervisedPool": "._pool.pool",
    "TaskTimeoutError": "._pool.errors",
    "WorkerDiedError": "._pool.errors",
}
if typing.TYPE_CHECKING:
    from ._pool.errors import TaskTimeoutError as TaskTimeoutError
    from ._pool.errors import WorkerDiedError as WorkerDiedError
    from ._pool.pool import SupervisedPool as SupervisedPool


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    for other, where in _LAZY.items():  # all three at once: the pool imports the errors
        obj = getattr(import_module(where, __name__), other)
        obj.__module__ = __name__
        globals()[other] = obj
    return globals()[name]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


# Reprs, tracebacks and documentation show the public path.
for _name in __all__:
    if _name in _LAZY:
        continue
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("futures_settle."):
        _obj.__module__ = __name__
del _name, _obj

_SETTLED_DOC = """Settled[T]: one input's outcome, ``Fulfilled[T] | Rejected``.

What ``wait_settled``, ``as_settled`` and ``map_settled`` give for each input.
Annotate with it and ``match`` on the two record classes: a type checker
knows the match is exhaustive. It is a type alias, for annotations only:
check a record with ``.status``, ``isinstance`` or ``match``.

Example:
    >>> from futures_settle import Fulfilled, Rejected, Settled
    >>> def describe(record: Settled[int]) -> str:
    ...     match record:
    ...         case Fulfilled(value):
    ...             return f"{record.index}: {value}"
    ...         case Rejected(reason):
    ...             return f"{record.index}: failed with {reason!r}"
    >>> describe(Fulfilled(42, index=0)), describe(Rejected(KeyError("x"), index=1))
    ('0: 42', "1: failed with KeyError('x')")
"""
__test__ = {"Settled": _SETTLED_DOC}

# Settled is a typing union: without this, help(Settled) shows the
# documentation of typing.Union. Python 3.14 made union objects refuse any
# attribute (python/cpython#132139): there help() shows typing's text, and
# editors still show the alias's docstring in _records.py.
try:
    Settled.__doc__ = _SETTLED_DOC
    Settled.__module__ = __name__
except (AttributeError, TypeError):  # pragma: no cover - Python 3.14+
    pass
