"""bqplot and numpy, imported when a widget first uses them, not with ``kit.widgets``.

Importing bqplot imports pandas and numpy: ~0.35 of the ~0.45 CPU-s that ``import kit.widgets``
took in a lesson's kernel, though five of the eight lessons build no chart when they run (a
``Predict`` builds its demo only when the reader has answered; quizzes, polls and practice sets
draw none).  Every student's kernel and every run of a lesson in the suite paid for it.  The
widgets use ``bq`` and ``np`` from here, modules whose code runs at the first use of one of
their names (the standard library's ``importlib.util.LazyLoader``), so a lesson that draws no
chart never loads them, and one that does loads them at its first chart, as it did before.
Names the widgets' modules use at import time (decorators, defaults, class bodies) would load
them at once: none do.  Annotations are not evaluated (``from __future__ import annotations``).
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING

__all__ = ["bq", "deferred", "np"]


def deferred(name: str) -> ModuleType:
    """The module ``name``, imported now if it was already, else at the first use of one of its
    attributes; it is in ``sys.modules`` at once, so a later ``import name`` anywhere gets the
    same module (and loads it at its first use too)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:  # require_extra has named the extra to install
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    import bqplot as bq
    import numpy as np
else:
    bq = deferred("bqplot")
    np = deferred("numpy")
