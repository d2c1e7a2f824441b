"""The supervised process pool (``SupervisedPool``): a bad task costs that task alone.

``pool`` is the Executor users see; ``supervisor`` (with ``feeding``) is the
parent's thread that owns every worker; ``handle`` is its grip on one worker;
``jobs`` records what each future is owed; ``worker`` is the loop a child
process runs and ``memory`` what it measures of its own memory; ``errors``
holds ``WorkerDiedError``, ``TaskTimeoutError`` and ``TaskStopped``.

May import: ``_core`` and the shared leaves. Imported by: the package's
``__init__`` (lazily: importing the package must not import
``multiprocessing``); ``_map`` and ``_group`` use the pool only through the
executor interface (``_map`` asks for ``_settle_submit_chunk`` by name).
"""
