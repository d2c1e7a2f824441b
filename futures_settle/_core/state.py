"""Reading futures: what kind an input is (told by ``kinds``, cached here), and how it settled.

This is the one module that reads the private state of
``concurrent.futures.Future`` (``_state``, ``_result``, ``_exception``),
as ``layout`` describes it: only for the exact class and for subclasses
that keep its methods, and only where ``layout.FAST_PATH`` says the probe
passed; otherwise every future goes through its public methods. The
scans that read a whole call's input in one pass live in ``scans``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import CancelledError
from typing import Any

from .._errors import as_exception
from .engines import FAIL, OK, PENDING, Engine, engine_of
from .kinds import AWAITABLE, DUCK, FAST, PLAIN, compute_kind, refuse, remember
from .layout import CANCELLED as _CANCELLED
from .layout import CANCELLED_AND_NOTIFIED as _CANCELLED_AND_NOTIFIED
from .layout import DONE_STATES, FAST_PATH
from .layout import FINISHED as _FINISHED

__all__ = [
    "DONE_STATES",
    "DUCK",
    "FAIL",
    "FAST",
    "FAST_PATH",
    "OK",
    "PENDING",
    "PLAIN",
    "any_failed",
    "cheap_failed",
    "check",
    "failed_of",
    "fast_failed",
    "is_done",
    "kind_of",
    "looks_like_future",
    "outcome",
    "read",
    "read_kinds",
    "read_many",
    "settled",
]

# Kinds of input (PLAIN, FAST, DUCK, from .kinds) and outcomes of
# ``outcome()`` (PENDING, OK, FAIL, from .engines).

_KINDS: dict[type, int] = {}
_ENGINES: dict[type, Engine] = {}


def _kind(t: type) -> int:
    kind = _KINDS.get(t)
    if kind is None:
        kind = compute_kind(t)
        if kind == FAST and not FAST_PATH:
            kind = DUCK
        # Only kinds we can wait on are cached: scans skip ``kind_of()``
        # (and its errors) for any type found in the cache.
        if kind <= DUCK:
            remember(_KINDS, t, kind)
    return kind


def _engine(t: type) -> Engine:
    engine = _ENGINES.get(t)
    if engine is None:
        engine = engine_of(t)
        remember(_ENGINES, t, engine)
    return engine


def looks_like_future(x: object) -> bool:
    """Whether ``x`` is a future of any engine (asyncio's included)."""
    return _kind(type(x)) not in (PLAIN, AWAITABLE)


def kind_of(x: object, fn: str, index: object, items: Iterable[object] = ()) -> int:
    """Return the kind of input ``x``; raise TypeError for inputs we cannot wait on.

    ``items`` is the whole input, whose coroutines a refusal closes.
    """
    kind = _kind(type(x))
    if kind > DUCK:
        refuse(kind, x, fn, index, items or (x,))
    return kind


def check(items: Sequence[Any], fn: str, keys: Sequence[Any] | None) -> bytearray:
    """The kind of every input, refusing what cannot be waited on; reads no outcome."""
    kinds = bytearray()
    add = kinds.append
    cache = _KINDS
    for i, x in enumerate(items):
        add(cache.get(type(x)) or kind_of(x, fn, i if keys is None else keys[i], items))
    return kinds


def outcome(x: Any, kind: int) -> tuple[int, Any]:
    """Return ``(PENDING | OK | FAIL, value or exception)`` for one input."""
    if kind == FAST:
        state = x._state
        if state is _FINISHED:
            exc = x._exception
            if exc is None:
                return OK, x._result
            return FAIL, as_exception(exc)
        if state is _CANCELLED or state is _CANCELLED_AND_NOTIFIED:
            return FAIL, CancelledError()
        return PENDING, None
    if kind == PLAIN:
        return OK, x
    if x.done():  # through its engine: one round trip for dask, not exception() then result()
        return _engine(type(x)).read_many((x,))[0]
    return PENDING, None


def fast_failed(x: Any) -> bool:
    """Whether a settled stdlib future failed (an exception, or cancelled)."""
    return x._state is not _FINISHED or x._exception is not None


def failed_of(x: Any) -> bool:
    """Whether a settled future failed, as cheaply as its engine can tell."""
    kind = _kind(type(x))
    if kind == FAST:
        return fast_failed(x)
    failed = _engine(type(x)).failed
    if failed is not None:
        return failed(x)
    return outcome(x, kind)[0] != OK


def any_failed(pairs: Sequence[tuple[Any, Any]]) -> bool:
    """Whether a future among ``(settled future, anything)`` pairs failed: one pass, no calls
    for stdlib futures (a map with retries looks at every unit it gets back)."""
    kinds = _KINDS
    for x, _ in pairs:
        t = type(x)
        if kinds.get(t) == FAST:
            if x._state is not _FINISHED or x._exception is not None:
                return True
        elif failed_of(x):
            return True
    return False


def cheap_failed(x: Any) -> bool | None:
    """``failed_of()`` when the engine tells it without a round trip, else ``None``."""
    failed = _engine(type(x)).failed
    return None if failed is None else failed(x)


def read_many(futures: Sequence[Any], settled: bool = False) -> list[tuple[int, Any]]:
    """Outcomes of many inputs: stdlib futures read directly, others in one batch per engine.

    ``settled`` says the caller already saw every future done (no need to ask again).
    """
    return _read(futures, [_kind(type(x)) for x in futures], settled)


def read_kinds(futures: Sequence[Any], kinds: Sequence[int]) -> list[tuple[int, Any]]:
    """``read_many`` of inputs whose kinds are already known."""
    return _read(futures, kinds, False)


def _read(futures: Sequence[Any], kinds: Sequence[int], settled: bool) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    batches: dict[type, list[int]] = {}
    for k, (x, kind) in enumerate(zip(futures, kinds, strict=True)):
        if kind == DUCK:
            if settled or x.done():
                batches.setdefault(type(x), []).append(k)
                out.append((FAIL, None))  # filled below
            else:
                out.append((PENDING, None))
        else:
            out.append(outcome(x, kind))
    for t, positions in batches.items():
        results = _engine(t).read_many([futures[k] for k in positions])
        for k, result in zip(positions, results, strict=True):
            out[k] = result
    return out


def read(x: Any) -> tuple[int, Any]:
    """``outcome()`` of an input already checked once, its kind looked up again."""
    return outcome(x, _kind(type(x)))


def settled(x: Any) -> bool:
    """``is_done()`` of a future whose kind is looked up (read directly when it is a stdlib one)."""
    return is_done(x, _kind(type(x)))


def is_done(x: Any, kind: int) -> bool:
    if kind == FAST:
        state = x._state
        return state is _FINISHED or state is _CANCELLED or state is _CANCELLED_AND_NOTIFIED
    if kind == PLAIN:
        return True
    return bool(x.done())
