"""Retries scheduled by the caller: the ``Retry`` policy and the machinery that applies it.

``policy`` (the public ``Retry`` class: what is retried, how often, how
long to wait; its argument checks), ``schedule`` (the maps' heap of due
retries, which the map's own loop consults: a failed item waits there,
not in a worker) and ``submitter`` (the task group's adapter: an
executor whose ``submit()`` returns a future that settles with the last
attempt, the attempts resubmitted by one timer thread of the caller's)
and ``attempt`` (what a retry submits: the function, as a submission new
to engines that merge equal ones; it crosses to workers).

May import: ``_core`` and the shared leaves. Imported by: ``_map`` and
``_group`` (which hook it in), ``_wait`` (whose records of a retrying
group's futures tell their attempts, ``submitter.tagged``) and the
package's ``__init__``; never by ``_core``.
"""
