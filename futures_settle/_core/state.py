"""Reading futures: what kind an input is (told by ``_kinds``, cached here), and how it settled.

This is the one module that reads the private state of
``concurrent.futures.Future`` (``_state``, ``_result``, ``_exception``).
It does so only for the exact class and for subclasses that keep its
methods, only after a probe at import time showed those attributes behave
as expected, and only while the GIL orders plain attribute reads; otherwise
every future goes through its public methods. ``FAST_PATH`` says which.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import CancelledError, Future
from concurrent.futures import _base as _cf
from typing import Any

from .._errors import as_exception
from .._records import Fulfilled, Rejected
from .engines import FAIL, OK, PENDING, Engine, engine_of
from .kinds import AWAITABLE, DUCK, FAST, PLAIN, compute_kind, refuse, remember

__all__ = [
    "DONE_STATES",
    "DUCK",
    "FAIL",
    "FAST",
    "FAST_PATH",
    "OK",
    "PENDING",
    "PLAIN",
    "Pending",
    "cheap_failed",
    "check",
    "done_callbacks",
    "failed_of",
    "fast_failed",
    "is_done",
    "kind_of",
    "looks_like_future",
    "outcome",
    "read",
    "read_all",
    "read_kinds",
    "read_many",
    "read_pending",
    "scan_first",
    "scan_records",
    "scan_values",
    "settled",
]

# Kinds of input (PLAIN, FAST, DUCK, from ._kinds) and outcomes of
# ``outcome()`` (PENDING, OK, FAIL, from ._engines).

_FINISHED = _cf.FINISHED
_CANCELLED = _cf.CANCELLED
_CANCELLED_AND_NOTIFIED = _cf.CANCELLED_AND_NOTIFIED
# A stdlib future's states once it is done: ``is_done(x, FAST)`` without the call.
DONE_STATES = frozenset((_FINISHED, _CANCELLED, _CANCELLED_AND_NOTIFIED))


class Pending:
    """The inputs a call still waits on: ``(position, future, kind)`` triples.

    Kept as two flat arrays over the input sequence rather than an object
    per input, so that dropping it at the end of a call frees two buffers
    instead of touching ``n`` futures: a failing ``wait_all`` raises as soon
    as it wakes, however many inputs it was waiting on.
    """

    __slots__ = ("items", "kinds", "positions")

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = items
        self.positions = array("q")
        self.kinds = bytearray()

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, j: int) -> tuple[int, Any, int]:
        position = self.positions[j]
        return position, self.items[position], self.kinds[j]

    def __iter__(self) -> Iterator[tuple[int, Any, int]]:
        items = self.items
        for position, kind in zip(self.positions, self.kinds, strict=True):
            yield position, items[position], kind

    def futures(self) -> Iterator[Any]:
        items = self.items
        return (items[position] for position in self.positions)


def _probe() -> bool:
    """Check that the stdlib Future stores its outcome the way we read it."""
    gil_enabled = getattr(sys, "_is_gil_enabled", lambda: True)
    if not gil_enabled():
        return False
    try:
        ok: Future[object] = Future()
        failed: Future[object] = Future()
        cancelled: Future[object] = Future()
        if ok._state is not _cf.PENDING:
            return False
        value, error = object(), ValueError("probe")
        ok.set_result(value)
        failed.set_exception(error)
        cancelled.cancel()
        waiting: Future[object] = Future()
        marker = object()
        waiting.add_done_callback(marker)  # type: ignore[arg-type]
        return bool(
            waiting._done_callbacks == [marker]  # type: ignore[attr-defined]
            and ok._state is _FINISHED
            and ok._result is value
            and ok._exception is None
            and failed._state is _FINISHED
            and failed._exception is error
            and cancelled._state is _CANCELLED
        )
    except Exception:  # pragma: no cover - a changed stdlib
        return False


FAST_PATH: bool = _probe()

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


def done_callbacks(x: Any) -> list[Any]:
    """A stdlib future's callback list, where the waiting core finds its hub."""
    callbacks: list[Any] = x._done_callbacks
    return callbacks


def failed_of(x: Any) -> bool:
    """Whether a settled future failed, as cheaply as its engine can tell."""
    kind = _kind(type(x))
    if kind == FAST:
        return fast_failed(x)
    failed = _engine(type(x)).failed
    if failed is not None:
        return failed(x)
    return outcome(x, kind)[0] != OK


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


def read_pending(pending: Pending) -> list[tuple[int, Any]]:
    """``read_many`` of a call's pending inputs, whose kinds are already known."""
    return _read(list(pending.futures()), pending.kinds, False)


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


def scan_values(
    items: Sequence[Any] | list[Any], fn: str
) -> tuple[list[Any], Pending, tuple[Any, BaseException] | None]:
    """One pass for ``wait_all``: values so far, pending inputs, first failure.

    Returns the list of values (``None`` where pending), the pending inputs
    as ``(position, future, kind)``, and ``(future, exception)`` of the
    first input in input order found failed, or ``None``. The whole input
    is checked even after a failure, so that bad input is always reported.
    """
    values: list[Any] = []
    append = values.append
    pending = Pending(items)
    add_position, add_kind = pending.positions.append, pending.kinds.append
    failure: tuple[Any, BaseException] | None = None
    failure_at = -1
    deferred: list[int] = []  # settled futures of other engines, read in one batch
    kinds = _KINDS
    for i, x in enumerate(items):
        kind = kinds.get(type(x)) or kind_of(x, fn, i, items)
        if kind == FAST:
            state = x._state
            if state is _FINISHED:
                exc = x._exception
                if exc is None:
                    append(x._result)
                    continue
            elif state is not _CANCELLED and state is not _CANCELLED_AND_NOTIFIED:
                append(None)
                add_position(i)
                add_kind(kind)
                continue
            else:
                exc = CancelledError()
        elif kind == PLAIN:
            append(x)
            continue
        else:
            append(None)
            if x.done():
                deferred.append(i)
            else:
                add_position(i)
                add_kind(kind)
            continue
        append(None)
        if failure is None:
            failure, failure_at = (x, as_exception(exc)), i
    if deferred:
        for i, (code, payload) in zip(
            deferred, read_many([items[i] for i in deferred], settled=True), strict=True
        ):
            if code == OK:
                values[i] = payload
            elif failure is None or i < failure_at:
                failure, failure_at = (items[i], payload), i
    return values, pending, failure


def scan_records(
    items: Sequence[Any] | list[Any], keys: Sequence[Any] | None, fn: str
) -> tuple[list[Any], Pending]:
    """One pass for ``wait_settled``: records so far (``None`` where pending), pending inputs."""
    records: list[Any] = []
    append = records.append
    pending = Pending(items)
    deferred: list[int] = []  # settled futures of other engines, read in one batch
    kinds = _KINDS
    for i, x in enumerate(items):
        kind = kinds.get(type(x)) or kind_of(x, fn, i if keys is None else keys[i], items)
        if kind == FAST:
            state = x._state
            if state is _FINISHED:
                exc = x._exception
                if exc is None:
                    append(Fulfilled(x._result, i if keys is None else keys[i]))
                else:
                    append(Rejected(as_exception(exc), i if keys is None else keys[i]))
                continue
            if state is _CANCELLED or state is _CANCELLED_AND_NOTIFIED:
                append(Rejected(CancelledError(), i if keys is None else keys[i]))
                continue
            append(None)
            pending.positions.append(i)
            pending.kinds.append(kind)
            continue
        if kind == PLAIN:
            append(Fulfilled(x, i if keys is None else keys[i]))
            continue
        append(None)
        if x.done():
            deferred.append(i)
        else:
            pending.positions.append(i)
            pending.kinds.append(kind)
    if deferred:
        for i, (code, payload) in zip(
            deferred, read_many([items[i] for i in deferred], settled=True), strict=True
        ):
            index = i if keys is None else keys[i]
            records[i] = Fulfilled(payload, index) if code == OK else Rejected(payload, index)
    return records, pending


def read_all(items: Sequence[Any], kinds: Sequence[int]) -> tuple[list[tuple[int, Any]], Pending]:
    """Read every input, its kind known: ``(outcomes, pending)``.

    ``outcomes[i]`` is ``outcome()`` of input ``i``; ``pending`` lists the
    inputs still pending as ``(position, future, kind)``.
    """
    outcomes = _read(items, kinds, False)
    pending = Pending(items)
    for i, (code, _) in enumerate(outcomes):
        if code == PENDING:
            pending.positions.append(i)
            pending.kinds.append(kinds[i])
    return outcomes, pending


def scan_first(
    items: Sequence[Any], kinds: Sequence[int], fulfilled: bool
) -> tuple[tuple[Any, int, Any] | None, Pending]:
    """The first input in input order already settled, or already ``fulfilled``, and the rest.

    Returns ``(input, code, payload)`` of that input (``None`` if there is
    none) and the inputs still pending. Reading an outcome may be a round
    trip (dask), so only that input's is read, plus, when ``fulfilled``,
    those of settled inputs before it whose engine cannot tell a failure
    without reading one.
    """
    pending = Pending(items)
    add_position, add_kind = pending.positions.append, pending.kinds.append
    first: tuple[Any, int, Any] | None = None
    for i, x in enumerate(items):
        kind = kinds[i]
        if not is_done(x, kind):
            add_position(i)
            add_kind(kind)
        elif first is None and not (fulfilled and _cheaply_failed(x, kind)):
            code, payload = outcome(x, kind)
            if code == OK or not fulfilled:
                first = (x, code, payload)
    return first, pending


def _cheaply_failed(x: Any, kind: int) -> bool:
    """Whether a settled input failed, when that is known without reading it, else False."""
    if kind == FAST:
        return fast_failed(x)
    if kind == PLAIN:
        return False
    failed = _engine(type(x)).failed
    return failed is not None and failed(x)
