"""The records that describe how one input settled: ``Fulfilled`` and ``Rejected``."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Literal, NoReturn, TypeAlias, TypeVar, final

from ._errors import reraise

__all__ = ["Fulfilled", "Rejected", "Settled", "retried"]

T = TypeVar("T", covariant=True)


def _refuse(kind: str, verb: str, name: str) -> NoReturn:
    raise AttributeError(f"{kind} records are immutable, cannot {verb} {name!r}")


def _tries_repr(record: Fulfilled[Any] | Rejected) -> str:
    tries = getattr(record, "_tries", None)
    return "" if tries is None else f", attempts={tries[0]}"


def _no_truth(kind: str) -> NoReturn:
    # Every record would be true, failures included: ``[r for r in rs if r]``
    # would keep them silently. Refuse, as trio's Event does.
    raise TypeError(
        f"a {kind} record has no truth value; test its .status "
        f'("fulfilled" or "rejected"), or use isinstance or match'
    )


class _Record:
    """What both records hold: the input's index, and the attempts a ``Retry`` made.

    Private: the public types are the two final classes below, which add
    their own payload (``value`` or ``reason``). As trio's ``outcome``
    keeps what ``Value`` and ``Error`` share in one place.
    """

    # ``_tries`` is set only on a record made after retries (``retried()``):
    # the records of a map are built by the million, and an unset slot
    # costs nothing to build.
    __slots__ = ("_index", "_tries")

    _index: Any

    @property
    def index(self) -> Any:
        """The input's position, or its key when the input was a mapping."""
        return self._index

    @index.setter
    def index(self, _: object) -> NoReturn:
        _refuse(type(self).__name__, "set", "index")

    @index.deleter
    def index(self) -> NoReturn:
        _refuse(type(self).__name__, "delete", "index")

    @property
    def attempts(self) -> int:
        """How many times the item ran: ``1`` unless a ``Retry`` ran it again."""
        tries = getattr(self, "_tries", None)
        return 1 if tries is None else tries[0]

    @property
    def earlier(self) -> tuple[BaseException, ...]:
        """The exceptions of the earlier attempts, oldest first; ``()`` when it ran once."""
        tries = getattr(self, "_tries", None)
        return () if tries is None else tries[1]


@final
class Fulfilled(_Record, Generic[T]):
    """An input that settled with a value: JavaScript's ``{status: 'fulfilled', value}``.

    Records are immutable, compare equal when type, value and index are
    equal, and hash like a tuple of them (so only when the value is
    hashable); ``attempts`` and ``earlier`` take no part in it. They have
    no truth value: ``bool(record)`` raises ``TypeError`` (every record
    would be true, failures included); check ``.status``, ``isinstance``
    or ``match``.

    Attributes:
        value: What the future returned (or the plain value given as input).
        index: The input's position, or its key when the input was a mapping.
        status: Always ``"fulfilled"``.
        attempts: How many times the item ran: ``1`` unless a
            :class:`Retry` ran it again after a failure.
        earlier: The exceptions of the failed attempts before the one
            that succeeded, oldest first (``()`` when it ran once).

    Example:
        >>> r = Fulfilled("user data", index=0)
        >>> r.status, r.value, r.index
        ('fulfilled', 'user data', 0)
        >>> match r:
        ...     case Fulfilled(value):
        ...         print("got", value)
        got user data
    """

    __slots__ = ("_value",)
    __match_args__ = ("value",)
    status: ClassVar[Literal["fulfilled"]] = "fulfilled"

    def __init__(self, value: T, index: Any = None) -> None:
        # Plain slot writes: records are made by the million, and this is
        # the cheapest construction Python offers. The public names are
        # read-only properties. (A class-level __setattr__ that refuses,
        # with slots written through their descriptors, reads faster but
        # builds about 50% slower: measured, 290 ns against 185 ns.)
        self._value = value
        self._index = index

    @property
    def value(self) -> T:
        """What the future returned (or the plain value given as input)."""
        return self._value

    @value.setter
    def value(self, _: object) -> NoReturn:
        _refuse("Fulfilled", "set", "value")

    @value.deleter
    def value(self) -> NoReturn:
        _refuse("Fulfilled", "delete", "value")

    def unwrap(self) -> T:
        """Return the value.

        Example:
            >>> Fulfilled(42).unwrap()
            42
        """
        return self._value

    def __repr__(self) -> str:
        return f"Fulfilled(value={self._value!r}, index={self._index!r}{_tries_repr(self)})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not Fulfilled:
            return NotImplemented
        return bool(self._value == other._value and self._index == other._index)

    def __hash__(self) -> int:
        return hash((Fulfilled, self._value, self._index))

    def __bool__(self) -> NoReturn:
        _no_truth("Fulfilled")

    def __reduce__(self) -> tuple[object, ...]:
        tries = getattr(self, "_tries", None)
        if tries is not None:
            return (retried, (Fulfilled(self._value, self._index), *tries))
        return (Fulfilled, (self._value, self._index))


@final
class Rejected(_Record):
    """An input that settled with an exception: JavaScript's ``{status: 'rejected', reason}``.

    ``reason`` is the exception object itself, the very one the task raised
    (a ``concurrent.futures.CancelledError`` for a cancelled future, a
    ``SettleTimeoutError`` for an input still pending at a deadline). It
    may be a ``BaseException`` such as ``KeyboardInterrupt`` raised inside
    a task. A future failed with an exception *class*
    (``f.set_exception(ValueError)``) gives a new instance of it each time
    a call reads it, as ``Future.result()`` raises one.

    Two records are equal when they hold the very same exception object at
    the same index: exceptions compare by identity, so a ``Rejected`` made
    from an equal-looking ``ValueError("x")`` is not equal. Hash and truth
    value as for :class:`Fulfilled`.

    Attributes:
        reason: The exception.
        index: The input's position, or its key when the input was a mapping.
        status: Always ``"rejected"``.
        attempts: How many times the item ran: ``1`` unless a
            :class:`Retry` ran it again; ``reason`` is the last attempt's.
        earlier: The exceptions of the attempts before the last one,
            oldest first (``()`` when it ran once).

    Example:
        >>> r = Rejected(ValueError("DB error"), index=1)
        >>> r.status, r.reason, r.index
        ('rejected', ValueError('DB error'), 1)
        >>> match r:
        ...     case Rejected(ValueError() as err):
        ...         print("failed:", err)
        failed: DB error
    """

    __slots__ = ("_reason",)
    __match_args__ = ("reason",)
    status: ClassVar[Literal["rejected"]] = "rejected"

    def __init__(self, reason: BaseException, index: Any = None) -> None:
        if not isinstance(reason, BaseException):
            raise TypeError(
                f"Rejected() expected an exception as reason, got {type(reason).__name__}"
            )
        self._reason = reason
        self._index = index

    @property
    def reason(self) -> BaseException:
        """The exception, the very object the task raised."""
        return self._reason

    @reason.setter
    def reason(self, _: object) -> NoReturn:
        _refuse("Rejected", "set", "reason")

    @reason.deleter
    def reason(self) -> NoReturn:
        _refuse("Rejected", "delete", "reason")

    def unwrap(self) -> NoReturn:
        """Raise ``reason``, the very exception object.

        Raising it again and again does not grow its traceback.

        Raises:
            BaseException: Always, the record's ``reason``.

        Example:
            >>> Rejected(ValueError("DB error")).unwrap()
            Traceback (most recent call last):
            ...
            ValueError: DB error
        """
        reason = self._reason
        try:
            reraise(reason, self)
        finally:
            # This frame stays in the traceback: keep no path back to the
            # exception (a cycle) through it.
            del reason, self

    def __repr__(self) -> str:
        return f"Rejected(reason={self._reason!r}, index={self._index!r}{_tries_repr(self)})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not Rejected:
            return NotImplemented
        return self._reason is other._reason and bool(self._index == other._index)

    def __hash__(self) -> int:
        return hash((Rejected, id(self._reason), self._index))

    def __bool__(self) -> NoReturn:
        _no_truth("Rejected")

    def __reduce__(self) -> tuple[object, ...]:
        tries = getattr(self, "_tries", None)
        if tries is not None:
            return (retried, (Rejected(self._reason, self._index), *tries))
        return (Rejected, (self._reason, self._index))


R = TypeVar("R", bound="Fulfilled[Any] | Rejected")


def retried(record: R, attempts: int, earlier: tuple[BaseException, ...]) -> R:
    """``record``, now telling it took ``attempts`` runs, the earlier ones failing with ``earlier``.

    Only the retry machinery calls it, on a record nobody has seen yet
    (records are immutable once handed out); ``attempts`` is at least 1
    and ``earlier`` holds ``attempts - 1`` exceptions.

    Example:
        >>> r = retried(Fulfilled(1, 0), 2, (ConnectionError("reset"),))
        >>> r.attempts, r.earlier, r
        (2, (ConnectionError('reset'),), Fulfilled(value=1, index=0, attempts=2))
    """
    if attempts > 1:  # a record that ran once stays as any other
        type(record)._tries.__set__(record, (attempts, earlier))  # type: ignore[attr-defined]
    return record


Settled: TypeAlias = Fulfilled[T] | Rejected
"""One input's outcome: ``Fulfilled[T] | Rejected``, for exhaustive ``match``."""
