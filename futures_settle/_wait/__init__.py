"""The wait functions: ``wait_all``, ``wait_settled`` (``combinators``),
``wait_any``, ``wait_first`` (``racing``) and ``as_settled`` (``streaming``).

Each is a scan of its input and a wait on the core's hubs. May import:
``_core``, ``_retry`` (a retrying group's futures give records with their
attempts) and the shared leaves. Imported by: the package's ``__init__`` only.
"""
