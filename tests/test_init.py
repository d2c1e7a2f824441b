"""The package's public face: what help() shows for the names it exports."""

from __future__ import annotations

import pydoc
import sys
import typing

import pytest

from futures_settle import Fulfilled, Rejected, Settled


@pytest.mark.skipif(
    sys.version_info >= (3, 14), reason="3.14 unions refuse a __doc__ (python/cpython#132139)"
)
def test_help_on_settled_shows_our_text() -> None:
    """help(Settled) documents the alias, not typing.Union."""
    text = pydoc.render_doc(Settled, renderer=pydoc.plaintext)
    assert "in module futures_settle" in text
    assert "Settled[T]: one input's outcome, ``Fulfilled[T] | Rejected``." in text
    assert "Union[X, Y]" not in text  # the first line of typing.Union's own help


def test_settled_alias_unchanged_by_its_documentation() -> None:
    """Documenting the alias keeps it the same union, whose repr names both records.

    Python 3.14 prints unions as ``A | B`` where earlier versions print
    ``typing.Union[A, B]``; what matters is the union and the public names.
    """
    assert Settled[int] == (Fulfilled[int] | Rejected)
    assert typing.get_args(Settled[int]) == (Fulfilled[int], Rejected)
    text = repr(Settled[int])
    assert text in (
        "typing.Union[futures_settle.Fulfilled[int], futures_settle.Rejected]",
        "futures_settle.Fulfilled[int] | futures_settle.Rejected",
    )
