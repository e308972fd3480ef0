"""The cyclic garbage collector, tuned for a service that allocates many short-lived objects per event.

Python's default thresholds (700, 10, 10) start a young collection every 700 net container allocations
and a full one every hundred young ones (once the objects promoted since the last full collection reach a
quarter of those it kept). A worker decoding a thousand events into dicts and lists reaches 700 every few
events, and each full collection walks every object the process holds: Faust's, aiokafka's, FastAPI's and
the pathway's. Measured on a triage worker draining a backlog (``make bench``, a GC callback timing each
collection): 5 % of its CPU, most of it in full collections.

:func:`tune` moves everything alive once the service is set up (modules, app, pathway) into the permanent
generation, which no collection walks, and raises the thresholds so most of a batch's objects are freed
by reference counting before a collection sees them. The collector stays on: a reference cycle left by a
library (a future and its callback, an exception and its traceback) is still collected.
"""

from __future__ import annotations

import gc


def tune(thresholds: tuple[int, int, int]) -> None:
    """Call once, after start-up and before serving."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
