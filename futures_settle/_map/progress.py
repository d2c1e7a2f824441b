"""The progress hook of ``map_settled``: called with each record as it settles, never in the way."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Generator
from typing import Any

__all__ = ["Hook", "notify_progress"]


class Hook:
    """A map's progress hook, and what became of its calls."""

    __slots__ = ("fn", "interrupt", "warned")

    def __init__(self, fn: Callable[[Any], object]) -> None:
        self.fn = fn
        self.warned = False
        self.interrupt: BaseException | None = None  # for the engine to raise

    def raise_interrupt(self) -> None:
        """Raise the ``BaseException`` a call of the hook handed to the engine, if any."""
        if self.interrupt is not None:
            interrupt, self.interrupt = self.interrupt, None
            try:
                raise interrupt
            finally:
                del interrupt


def notify_progress(hook: Hook, filed: list[list[Any]]) -> Generator[Any, None, None]:
    """Call the hook with each record filed: a batch of no items, run by the map's iterator.

    The engine yields this generator rather than calling the hook itself,
    so the hook runs outside the engine, as the map's iterator's current
    batch: a hook that calls ``next()`` on its own map reaches this running
    generator, which refuses ("generator already executing"), and the
    iterator keeps its place. Called from inside the engine, the refusal
    would come from the engine, and the map's iterator (a ``chain``) drops
    an engine that raises: the map would end after its current batch.

    An exception of the hook is reported once, as a warning. A
    ``BaseException`` (Ctrl-C in the hook) is handed to the engine, which
    raises it when the iterator pulls it next, at once: the map ends as
    it would have, its queued work cancelled.
    """
    try:
        for records in filed:
            for record in records:
                try:
                    hook.fn(record)
                except Exception as exc:  # a progress hook never breaks the aggregation
                    if not hook.warned:
                        hook.warned = True
                        warnings.warn(
                            f"progress hook raised {exc!r}; "
                            "the map goes on, further errors are ignored",
                            RuntimeWarning,
                            stacklevel=2,  # the consumer's line, whose next() runs this
                        )
    except BaseException as exc:
        hook.interrupt = exc
    del filed
    yield from ()
