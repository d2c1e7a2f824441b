"""The bounded maps: ``map_all`` and ``map_settled`` over any executor.

``maps`` (the public functions), ``engine`` (the lazy loop that keeps a
bounded window of work in flight), ``seams`` (the narrow questions it asks
a journal, limits or statistics joined to it), ``args`` (their argument checks), ``chunking``
(the automatic chunk sizer and the buffer's bounds), ``batches`` (records
handed out chunk by chunk), ``submit`` (one unit handed to the executor,
its refusal a failed future), ``progress`` (``map_settled``'s hook) and
``worker`` (the chunk runner that crosses to worker processes: its
import path, ``futures_settle._map.worker``, is what a worker imports).

May import: ``_core``, ``_retry`` and the shared leaves. Imported by: the package's
``__init__``; never by ``_core``, ``_wait`` or ``_group``.
"""
