"""The records that describe how one input settled: ``Fulfilled`` and ``Rejected``."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Literal, NoReturn, TypeAlias, TypeVar, final

from ._errors import reraise

__all__ = ["Fulfilled", "Rejected", "Settled"]

T = TypeVar("T", covariant=True)


@final
class Fulfilled(Generic[T]):
    """An input that settled with a value: JavaScript's ``{status: 'fulfilled', value}``.

    Records are immutable, compare equal when type, value and index are
    equal, and hash like a tuple of them (so only when the value is
    hashable). They have no truthiness of their own: check ``.status``,
    ``isinstance`` or ``match``.

    Attributes:
        value: What the future returned (or the plain value given as input).
        index: The input's position, or its key when the input was a mapping.
        status: Always ``"fulfilled"``.

    Example:
        >>> r = Fulfilled("user data", index=0)
        >>> r.status, r.value, r.index
        ('fulfilled', 'user data', 0)
        >>> match r:
        ...     case Fulfilled(value):
        ...         print("got", value)
        got user data
    """

    __slots__ = ("index", "value")
    __match_args__ = ("value",)
    status: ClassVar[Literal["fulfilled"]] = "fulfilled"

    value: T
    index: Any

    def __init__(self, value: T, index: Any = None) -> None:
        _set_value(self, value)
        _set_f_index(self, index)

    def unwrap(self) -> T:
        """Return the value.

        Example:
            >>> Fulfilled(42).unwrap()
            42
        """
        return self.value

    def __repr__(self) -> str:
        return f"Fulfilled(value={self.value!r}, index={self.index!r})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not Fulfilled:
            return NotImplemented
        return bool(self.value == other.value and self.index == other.index)

    def __hash__(self) -> int:
        return hash((Fulfilled, self.value, self.index))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Fulfilled records are immutable, cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Fulfilled records are immutable, cannot delete {name!r}")

    def __reduce__(self) -> tuple[object, ...]:
        return (Fulfilled, (self.value, self.index))


@final
class Rejected:
    """An input that settled with an exception: JavaScript's ``{status: 'rejected', reason}``.

    ``reason`` is the exception object itself, the very one the task raised
    (a ``concurrent.futures.CancelledError`` for a cancelled future, a
    ``SettleTimeoutError`` for an input still pending at a deadline). It
    may be a ``BaseException`` such as ``KeyboardInterrupt`` raised inside
    a task.

    Attributes:
        reason: The exception.
        index: The input's position, or its key when the input was a mapping.
        status: Always ``"rejected"``.

    Example:
        >>> r = Rejected(ValueError("DB error"), index=1)
        >>> r.status, r.reason, r.index
        ('rejected', ValueError('DB error'), 1)
        >>> match r:
        ...     case Rejected(ValueError() as err):
        ...         print("failed:", err)
        failed: DB error
    """

    __slots__ = ("index", "reason")
    __match_args__ = ("reason",)
    status: ClassVar[Literal["rejected"]] = "rejected"

    reason: BaseException
    index: Any

    def __init__(self, reason: BaseException, index: Any = None) -> None:
        if not isinstance(reason, BaseException):
            raise TypeError(
                f"Rejected() expected an exception as reason, got {type(reason).__name__}"
            )
        _set_reason(self, reason)
        _set_r_index(self, index)

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
        reason = self.reason
        try:
            reraise(reason, self)
        finally:
            # This frame stays in the traceback: keep no path back to the
            # exception (a cycle) through it.
            del reason, self

    def __repr__(self) -> str:
        return f"Rejected(reason={self.reason!r}, index={self.index!r})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not Rejected:
            return NotImplemented
        return self.reason is other.reason and bool(self.index == other.index)

    def __hash__(self) -> int:
        return hash((Rejected, id(self.reason), self.index))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Rejected records are immutable, cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Rejected records are immutable, cannot delete {name!r}")

    def __reduce__(self) -> tuple[object, ...]:
        return (Rejected, (self.reason, self.index))


Settled: TypeAlias = Fulfilled[T] | Rejected
"""One input's outcome: ``Fulfilled[T] | Rejected``, for exhaustive ``match``."""

# Slot descriptors, bound once: the records' __setattr__ refuses every
# assignment, so construction writes the slots through these.
_set_value = Fulfilled.__dict__["value"].__set__
_set_f_index = Fulfilled.__dict__["index"].__set__
_set_reason = Rejected.__dict__["reason"].__set__
_set_r_index = Rejected.__dict__["index"].__set__
