"""The supervised process pool (``SupervisedPool``): a bad task costs that task alone.

``pool`` is the Executor users see; ``supervisor`` (with ``feeding``) is the
parent's thread that owns every worker; ``handle`` is its grip on one worker;
``jobs`` records what each future is owed; ``inbox`` cuts what a worker's
pipe holds into messages. ``worker`` is the loop a child process runs,
``gate`` its answer to a request for work it has not started, ``memory``
what it measures of its own memory, ``lifeline`` how it ends with its
parent and where a task's fork leaves. ``errors`` holds ``WorkerDiedError``,
``TaskTimeoutError`` and ``TaskStopped``.

May import: ``_core`` and the shared leaves. Imported by: the package's
``__init__`` (lazily: importing the package must not import
``multiprocessing``); ``_map`` and ``_group`` use the pool only through the
executor interface (``_map`` asks for ``_settle_submit_chunk`` by name).
"""
