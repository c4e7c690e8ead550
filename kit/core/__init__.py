"""The core: imports only the standard library and kit.core (no Jupyter, nothing else of kit).

The allocator (:mod:`.zone`, :mod:`.orders`, :mod:`.presets`, :mod:`.events`), its traces
(:mod:`.trace`, :mod:`.replay`), its measures (:mod:`.metrics`), /proc parsing (:mod:`.procfs`,
:mod:`.samples` with the files in ``data/``), workloads (:mod:`.workload`), the errors and the
optional layers' names (:mod:`.errors`, :mod:`.extras`).  The real kernel beside the model:
its kmem traces read (:mod:`.kerneltrace`), recorded (:mod:`.tracefs`, into a
:mod:`.recording` folder; one ships in ``data/``), summarised (:mod:`.tracesummary`) and
replayed on a zone (:mod:`.tracemodel`); ``/proc/zoneinfo`` and ``/proc/vmstat``
(:mod:`.zoneinfo`, :mod:`.vmstat`).  ``kit`` re-exports the public names.
"""
