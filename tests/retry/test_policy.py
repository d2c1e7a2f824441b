"""Retry: what it retries, the waits it computes, and the misuse it refuses at the call."""

from __future__ import annotations

import math
import pickle
import random
from concurrent.futures import CancelledError, Future
from typing import Any

import pytest

from futures_settle import Retry, map_all, map_settled


class TestOn:
    def test_a_class(self) -> None:
        """A class retries its instances and its subclasses' only."""
        retry = Retry(ConnectionError)
        assert retry.retries(ConnectionResetError())
        assert not retry.retries(ValueError())

    def test_a_tuple(self) -> None:
        """A tuple retries any of its classes."""
        retry = Retry((ConnectionError, TimeoutError))
        assert retry.retries(TimeoutError())
        assert retry.retries(ConnectionError())
        assert not retry.retries(KeyError())

    def test_a_predicate(self) -> None:
        """A predicate decides with the exception; its result is read as a truth value."""
        retry = Retry(lambda e: "503" in str(e))
        assert retry.retries(OSError("HTTP 503"))
        assert not retry.retries(OSError("HTTP 404"))

    def test_a_predicate_that_raises(self) -> None:
        """The predicate's error comes out of retries() (the machinery makes it the item's)."""

        def broken(exc: BaseException) -> bool:
            raise LookupError("no rule")

        with pytest.raises(LookupError, match="^no rule$"):
            Retry(broken).retries(ValueError())

    def test_cancellation_never(self) -> None:
        """A CancelledError is never retried, even when named or matched by a predicate."""
        assert not Retry(CancelledError).retries(CancelledError())
        assert not Retry(Exception).retries(CancelledError())
        assert not Retry(lambda e: True).retries(CancelledError())

    def test_any_exception_class(self) -> None:
        """Any exception class may be named (the supervised pool's WorkerDiedError too)."""

        class WorkerDiedError(RuntimeError):
            pass

        assert Retry(WorkerDiedError).retries(WorkerDiedError())
        assert not Retry(ConnectionError).retries(WorkerDiedError())


class TestWait:
    def test_backoff_and_cap(self) -> None:
        """delay, times backoff each run, capped at max_delay."""
        retry = Retry(OSError, delay=0.5, backoff=3, max_delay=10, jitter=0)
        assert [retry.wait(k) for k in range(1, 6)] == [0.5, 1.5, 4.5, 10, 10]

    def test_jitter_spreads_within_bounds(self) -> None:
        """Up to jitter seconds added at random; the cap holds after it."""
        random.seed(7)
        retry = Retry(OSError, delay=1, backoff=1, max_delay=1.5, jitter=1)
        waits = [retry.wait(1) for _ in range(200)]
        assert all(1 <= w <= 1.5 for w in waits)
        assert len(set(waits)) > 100
        assert max(waits) == 1.5

    def test_overflow_is_the_cap(self) -> None:
        """A backoff past a float's range waits max_delay, it does not raise."""
        assert Retry(OSError, backoff=10, jitter=0).wait(10_000) == 5.0

    def test_defaults(self) -> None:
        """stamina's waits (0.1 s, doubling, capped at 5 s), three attempts, 0.1 s of jitter."""
        retry = Retry(OSError)
        assert (retry.attempts, retry.delay, retry.backoff, retry.max_delay, retry.jitter) == (
            3,
            0.1,
            2.0,
            5.0,
            0.1,
        )
        assert repr(retry) == (
            "Retry(OSError, attempts=3, delay=0.1, backoff=2, max_delay=5, jitter=0.1)"
        )

    def test_no_cap(self) -> None:
        """max_delay=math.inf caps nothing."""
        assert Retry(OSError, delay=1, max_delay=math.inf, jitter=0).wait(11) == 1024


class TestObject:
    def test_immutable(self) -> None:
        """A policy shared by maps cannot be changed under them."""
        retry = Retry(OSError)
        with pytest.raises(AttributeError, match="^Retry is immutable, cannot set 'attempts'$"):
            retry.attempts = 5  # type: ignore[misc]
        with pytest.raises(AttributeError, match="^Retry is immutable, cannot delete 'delay'$"):
            del retry.delay

    def test_pickles(self) -> None:
        """A policy of classes pickles (it never has to cross, but may travel with its caller)."""
        retry = pickle.loads(pickle.dumps(Retry((OSError, KeyError), attempts=5, jitter=0)))
        assert repr(retry) == (
            "Retry((OSError, KeyError), attempts=5, delay=0.1, backoff=2, max_delay=5, jitter=0)"
        )


class TestMisuse:
    @pytest.mark.parametrize(
        ("kwargs", "error", "message"),
        [
            (
                {"on": 3},
                TypeError,
                "Retry() on must be an exception class, a tuple of them or a "
                "predicate taking the exception, got 3 that is an int",
            ),
            (
                {"on": int},
                TypeError,
                "Retry() on must be an exception class, a tuple of them or "
                "a predicate taking the exception, got <class 'int'> that is a type",
            ),
            (
                {"on": None},
                TypeError,
                "Retry() on must be an exception class, a tuple of them or "
                "a predicate taking the exception, got None that is a NoneType",
            ),
            ({"on": ()}, ValueError, "Retry() on must name at least one exception class, got ()"),
            (
                {"on": (OSError, "x")},
                TypeError,
                "Retry() on must be a tuple of exception classes, got 'x' in it that is a str",
            ),
            ({"attempts": 0}, ValueError, "Retry() attempts must be >= 1, got 0"),
            (
                {"attempts": True},
                TypeError,
                "Retry() attempts must be an int >= 1, got True that is a bool",
            ),
            (
                {"attempts": 2.0},
                TypeError,
                "Retry() attempts must be an int >= 1, got 2.0 that is a float",
            ),
            ({"delay": -1}, ValueError, "Retry() delay must be >= 0 and finite, got -1"),
            ({"delay": math.nan}, ValueError, "Retry() delay must be >= 0 and finite, got nan"),
            ({"delay": math.inf}, ValueError, "Retry() delay must be >= 0 and finite, got inf"),
            (
                {"delay": "1"},
                TypeError,
                "Retry() delay must be a number of seconds, got '1' that is a str",
            ),
            ({"backoff": 0.5}, ValueError, "Retry() backoff must be >= 1 and finite, got 0.5"),
            ({"max_delay": -0.1}, ValueError, "Retry() max_delay must be >= 0, got -0.1"),
            ({"jitter": -2}, ValueError, "Retry() jitter must be >= 0 and finite, got -2"),
        ],
    )
    def test_refused_with_the_rule(self, kwargs: dict[str, Any], error: type, message: str) -> None:
        """Each misuse is refused with its whole message."""
        kwargs = {"on": OSError, **kwargs}
        with pytest.raises(error) as info:
            Retry(**kwargs)
        assert str(info.value) == message

    def test_retry_not_a_policy(self) -> None:
        """retry="x" is refused at the call, before any item is read or submitted."""
        submitted: list[Any] = []

        class Recording:
            def submit(self, fn: Any, *args: Any) -> Future[Any]:  # pragma: no cover
                submitted.append(fn)
                raise AssertionError("submitted")

        def items() -> Any:  # pragma: no cover - never read
            raise AssertionError("read")
            yield

        for fn, name in ((map_all, "map_all"), (map_settled, "map_settled")):
            with pytest.raises(TypeError) as info:
                fn(str, items(), executor=Recording(), retry="x")  # type: ignore[arg-type]
            assert str(info.value) == (
                f"{name}() expected a Retry or None as retry, got 'x' that is a str"
            )
        assert submitted == []
