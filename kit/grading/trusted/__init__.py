"""TRUSTED, the grader: imports kit.core, kit.teaching, kit.grading.boundary, never sandboxed.

Only this side computes expected values and scores: :mod:`.release` (``solutions/`` ->
``exercises/``), :mod:`.grading` (rebuild, run, score), :mod:`.gradebook`, :mod:`.notebooks`
(nbgrader metadata, regions, files), :mod:`.remote` (calls into the worker), :mod:`.bwrap`
(starts the worker in bubblewrap) and :mod:`.harness` (the reference answers the check cells
compare against).  It starts the sandboxed worker by module name, never imports it.
"""
