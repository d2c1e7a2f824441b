"""The task group: ``TaskGroup`` and ``check_cancelled``.

``group`` (the public class), ``state`` (what a group knows and how it
ends), ``tasks`` (running and counting its tasks on each kind of
executor), ``answer`` (what the exit gives or raises for each mode),
``values`` (mode "all"'s answer), ``opening`` (a group's flag, deadline
and outer group, set up at entry), ``watch`` (the one thread that cancels
groups at their deadlines and with their outer groups), ``cancelflag``
(the flag that tells tasks in other processes the group was cancelled; it
crosses to workers, so its import path matters), ``daskflag`` (that flag
on a dask cluster: an event on its scheduler) and ``staleflags`` (removing
the flag files of killed processes).

May import: ``_core``, ``_retry`` and the shared leaves. Imported by: the package's
``__init__``; never by ``_core``, ``_wait`` or ``_map``.
"""
