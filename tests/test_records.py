"""Fulfilled and Rejected: immutable, slotted, matchable, comparable records."""

from __future__ import annotations

import gc
import pickle
import sys
import traceback
import weakref

import pytest

from futures_settle import Fulfilled, Rejected, Settled


class TestFulfilled:
    def test_fields(self) -> None:
        """status, value and index are what JavaScript's {status, value} says, plus the index."""
        r = Fulfilled("user data", 0)
        assert (r.status, r.value, r.index) == ("fulfilled", "user data", 0)
        assert r.unwrap() == "user data"

    def test_immutable(self) -> None:
        """Assigning or deleting a field is refused."""
        r = Fulfilled(1, 0)
        with pytest.raises(
            AttributeError, match="^Fulfilled records are immutable, cannot set 'value'$"
        ):
            r.value = 2  # type: ignore[misc]
        with pytest.raises(
            AttributeError, match="^Fulfilled records are immutable, cannot delete 'index'$"
        ):
            del r.index
        with pytest.raises(AttributeError):
            r.extra = 1  # type: ignore[attr-defined]

    def test_slotted(self) -> None:
        """No __dict__: records stay small."""
        assert not hasattr(Fulfilled(1, 0), "__dict__")

    def test_equality_and_hash(self) -> None:
        """Equal by type, value and index; a Rejected or a tuple is never equal."""
        assert Fulfilled(1, 0) == Fulfilled(1, 0)
        assert hash(Fulfilled(1, 0)) == hash(Fulfilled(1, 0))
        assert Fulfilled(1, 0) != Fulfilled(1, 1)
        assert Fulfilled(1, 0) != Fulfilled(2, 0)
        assert Fulfilled(1, 0) != (1, 0)
        assert Fulfilled(ValueError, 0) != Rejected(ValueError(), 0)

    def test_match(self) -> None:
        """case Fulfilled(v) binds the value."""
        match Fulfilled("x", 3):
            case Fulfilled(v):
                assert v == "x"
            case _:  # pragma: no cover
                pytest.fail("no match")

    def test_repr(self) -> None:
        assert repr(Fulfilled("x", 3)) == "Fulfilled(value='x', index=3)"

    def test_pickle(self) -> None:
        r = Fulfilled([1, 2], "key")
        assert pickle.loads(pickle.dumps(r)) == r

    def test_no_truth_value(self) -> None:
        """bool() is refused: [r for r in rs if r] would silently keep the failures."""
        message = (
            '^a Fulfilled record has no truth value; test its .status \\("fulfilled" or '
            '"rejected"\\), or use isinstance or match$'
        )
        with pytest.raises(TypeError, match=message):
            bool(Fulfilled(0, 0))
        with pytest.raises(TypeError, match=message):
            [r for r in [Fulfilled(1, 0)] if r]


class TestRejected:
    def test_fields(self) -> None:
        err = ValueError("DB error")
        r = Rejected(err, 1)
        assert (r.status, r.reason, r.index) == ("rejected", err, 1)
        assert r.reason is err

    def test_reason_must_be_exception(self) -> None:
        with pytest.raises(
            TypeError, match="^Rejected\\(\\) expected an exception as reason, got str$"
        ):
            Rejected("DB error")  # type: ignore[arg-type]

    def test_unwrap_raises_the_very_object(self) -> None:
        err = ValueError("DB error")
        with pytest.raises(ValueError, match="DB error") as info:
            Rejected(err).unwrap()
        assert info.value is err

    def test_unwrap_does_not_grow_traceback(self) -> None:
        """Raising one reason again and again keeps its depth (Future.result() grows it)."""
        try:
            raise ValueError("boom")
        except ValueError as e:
            err = e
        r = Rejected(err, 0)
        depths = []
        for _ in range(5):
            try:
                r.unwrap()
            except ValueError as e:
                depths.append(len(traceback.extract_tb(e.__traceback__)))
        assert len(set(depths)) == 1, depths

    def test_unwrap_leaves_no_reference_cycle(self) -> None:
        """unwrap() deletes its locals: the traceback does not point back at the exception."""

        class Marker(Exception):
            pass

        gc.collect()
        gc.disable()
        try:
            r = Rejected(Marker(), 0)
            try:
                r.unwrap()
            except Marker:
                pass
            ref = weakref.ref(r.reason)
            del r
            assert ref() is None, "the exception is kept alive by a cycle"
        finally:
            gc.enable()

    def test_base_exception_reason(self) -> None:
        r = Rejected(KeyboardInterrupt(), 0)
        with pytest.raises(KeyboardInterrupt):
            r.unwrap()

    def test_equality(self) -> None:
        err = ValueError()
        assert Rejected(err, 0) == Rejected(err, 0)
        assert hash(Rejected(err, 0)) == hash(Rejected(err, 0))
        assert Rejected(err, 0) != Rejected(ValueError(), 0)

    def test_match(self) -> None:
        match Rejected(KeyError("k"), 0):
            case Fulfilled(_):  # pragma: no cover
                pytest.fail("matched Fulfilled")
            case Rejected(KeyError() as e):
                assert e.args == ("k",)

    def test_repr(self) -> None:
        assert repr(Rejected(ValueError("x"), 1)) == "Rejected(reason=ValueError('x'), index=1)"

    def test_no_truth_value(self) -> None:
        """bool() is refused: a failure must not pass a truth test."""
        with pytest.raises(
            TypeError,
            match='^a Rejected record has no truth value; test its .status \\("fulfilled" or '
            '"rejected"\\), or use isinstance or match$',
        ):
            not Rejected(ValueError(), 0)


def test_settled_alias_is_the_union() -> None:
    """Settled[int] is Fulfilled[int] | Rejected, for annotations and exhaustive matching."""
    assert Settled[int] == (Fulfilled[int] | Rejected)


def test_record_size() -> None:
    """Two slots, no dict: a record costs what an object with two fields costs."""
    assert sys.getsizeof(Fulfilled(None, 0)) <= 56


class TestAttempts:
    """attempts and earlier: what a record tells after retries, free when nothing was retried."""

    def test_once_by_default(self) -> None:
        """A record made as always ran once: attempts 1, no earlier exceptions, as before."""
        for r in (Fulfilled(1, 0), Rejected(ValueError(), 0)):
            assert r.attempts == 1
            assert r.earlier == ()
        assert repr(Fulfilled(1, 0)) == "Fulfilled(value=1, index=0)"

    def test_wait_settled_and_as_settled_records(self) -> None:
        """The wait functions' records ran once."""
        from concurrent.futures import Future

        from futures_settle import as_settled, wait_settled

        ok: Future[int] = Future()
        ok.set_result(1)
        bad: Future[int] = Future()
        bad.set_exception(KeyError("k"))
        records = [*wait_settled([ok, bad]), *as_settled([ok, bad])]
        assert [r.attempts for r in records] == [1, 1, 1, 1]
        assert [r.earlier for r in records] == [(), (), (), ()]

    def test_retried(self) -> None:
        """A retried record tells its runs and the earlier exceptions, oldest first."""
        from futures_settle._records import retried

        first, second, last = OSError("1"), OSError("2"), OSError("3")
        r = retried(Rejected(last, 4), 3, (first, second))
        assert (r.attempts, r.earlier, r.reason) == (3, (first, second), last)
        assert repr(r) == "Rejected(reason=OSError('3'), index=4, attempts=3)"
        ok = retried(Fulfilled("v", 0), 2, (first,))
        assert (ok.attempts, ok.earlier) == (2, (first,))

    def test_equality_ignores_attempts(self) -> None:
        """Records compare by outcome and index; how many runs it took is not the outcome."""
        from futures_settle._records import retried

        assert retried(Fulfilled(1, 0), 2, (OSError(),)) == Fulfilled(1, 0)

    def test_immutable(self) -> None:
        """attempts and earlier cannot be set."""
        r = Fulfilled(1, 0)
        with pytest.raises(AttributeError):
            r.attempts = 2  # type: ignore[misc]
        with pytest.raises(AttributeError):
            r.earlier = ()  # type: ignore[misc]

    def test_pickle_keeps_attempts(self) -> None:
        """A retried record crosses a process with its runs and earlier exceptions."""
        from futures_settle._records import retried

        r = pickle.loads(pickle.dumps(retried(Rejected(KeyError("b"), 1), 2, (KeyError("a"),))))
        assert (r.attempts, repr(r.earlier), repr(r.reason)) == (
            2,
            "(KeyError('a'),)",
            "KeyError('b')",
        )
        plain = pickle.loads(pickle.dumps(Fulfilled(1, 0)))
        assert (plain.attempts, plain.earlier) == (1, ())

    def test_plain_records_leave_it_unset(self) -> None:
        """The field costs no write when a record is built: a plain record leaves it unset."""
        assert not hasattr(Fulfilled(1, 0), "_tries")
        assert not hasattr(Rejected(OSError(), 0), "_tries")


class TestSharedBase:
    """What both records hold is defined once: index, attempts and earlier."""

    def test_one_definition_of_the_shared_fields(self) -> None:
        """Fulfilled and Rejected read index, attempts and earlier through the same properties."""
        for name in ("index", "attempts", "earlier"):
            assert getattr(Fulfilled, name) is getattr(Rejected, name), name
        assert Fulfilled.__mro__[1] is Rejected.__mro__[1]

    def test_no_dict_on_either(self) -> None:
        """The base adds no __dict__: a record is its slots alone."""
        assert not hasattr(Fulfilled(1, 0), "__dict__")
        assert not hasattr(Rejected(OSError(), 0), "__dict__")

    def test_messages_name_the_public_class(self) -> None:
        """A refused write names the record's own class, not the base."""
        with pytest.raises(
            AttributeError, match=r"^Rejected records are immutable, cannot set 'index'$"
        ):
            Rejected(OSError(), 0).index = 1  # type: ignore[misc]
        with pytest.raises(
            AttributeError, match=r"^Fulfilled records are immutable, cannot delete 'index'$"
        ):
            del Fulfilled(1, 0).index  # type: ignore[misc]
