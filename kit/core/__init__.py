"""The core: imports only the standard library and kit.core (no Jupyter, nothing else of kit).

The allocator (:mod:`.zone`, :mod:`.orders`, :mod:`.presets`, :mod:`.events`), its traces
(:mod:`.trace`, :mod:`.replay`), its measures (:mod:`.metrics`), /proc parsing (:mod:`.procfs`,
:mod:`.samples` with the files in ``data/``), workloads (:mod:`.workload`), the errors and the
optional layers' names (:mod:`.errors`, :mod:`.extras`).  ``kit`` re-exports the public names.
"""
