"""Graded exercises: self-checks, ``kit release`` and the ``kit grade`` auto-grader.

- :mod:`kit.exercises.checks` -- the checks test cells run (pure Python, no Jupyter import).
- :mod:`kit.exercises.harness` -- reference answers computed with the simulator.
- :mod:`kit.exercises.notebooks` -- nbgrader metadata, solution/hidden-test regions, files.
- :mod:`kit.exercises.release` -- ``solutions/`` -> ``exercises/``.
- :mod:`kit.exercises.grading` -- rebuild, run under nbval, score, write the gradebook.
- :mod:`kit.exercises.commands` -- the ``kit release`` / ``kit grade`` subcommands.

This package imports nothing heavy itself; the notebook tools load when used.
"""
