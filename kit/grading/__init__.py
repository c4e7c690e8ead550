"""Graded exercises: imports kit.core and kit.teaching; its three parts keep the trust boundary.

- :mod:`kit.grading.boundary` -- shared by both sides: the wire codec and the self-check API
  the test cells run (pure Python, no Jupyter import).
- :mod:`kit.grading.sandboxed` -- runs inside bubblewrap beside a student's answer cells: the
  worker.  Imports kit.core and kit.grading.boundary only.
- :mod:`kit.grading.trusted` -- the grader: ``kit release``, ``kit grade``, the bwrap
  launcher, the reference answers (:mod:`kit.grading.trusted.harness`).  Never imported by
  the sandboxed side, and never importing it.

This package and :mod:`kit.grading.boundary` import nothing themselves (the sandbox imports the
boundary); the notebook tools load when used.  The subcommands are in :mod:`kit.cli.grading`.
"""
