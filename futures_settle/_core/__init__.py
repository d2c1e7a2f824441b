"""The waiting core: how futures are read and waited on, for every function above it.

Holds the only code that touches locks and future internals: ``layout``
(the stdlib future's private layout, probed once), ``kinds`` and ``engines``
(what an input is, and how its engine reports an outcome), ``state`` (one
future's outcome), ``scans`` (a call's whole input in one pass), ``waiter``,
``hub`` and ``recheck`` (one done-callback per future, shared by every call),
``giveup`` (a call's end at its deadline), ``deadline`` (the deadline a task
runs under), and ``inputs`` (argument checks shared by the public functions).

May import: the shared leaves ``futures_settle._errors`` and
``futures_settle._records``. Imported by: ``_wait``, ``_map``, ``_group``,
``_pool``; never imports any of them.
"""
