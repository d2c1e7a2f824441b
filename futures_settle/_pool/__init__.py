"""The supervised process pool (``SupervisedPool``): a room for it, empty until it lands.

May import: ``_core`` and the shared leaves. Imported by: the package's
``__init__``, and by ``_map`` and ``_group`` where they treat its futures
specially; never by ``_core`` or ``_wait``.
"""
