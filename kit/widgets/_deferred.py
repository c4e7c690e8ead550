"""bqplot and numpy, imported when a widget first uses them, not with ``kit.widgets``.

Importing bqplot imports pandas and numpy: ~0.35 of the ~0.45 CPU-s that ``import kit.widgets``
took in a lesson's kernel, though five of the eight lessons build no chart when they run (a
``Predict`` builds its demo only when the reader has answered; quizzes, polls and practice sets
draw none).  Every student's kernel and every run of a lesson in the suite paid for it.  The
widgets use ``bq`` and ``np`` from here: stand-ins that import their module at the first use of
one of its names, so a lesson that draws no chart never loads them, and one that does loads
them at its first chart, as it did before.

The stand-ins are not put in ``sys.modules``: code that asks whether a module is loaded there
must not be told yes and load it (IPython's display hook, at a cell's first result, sets up
numpy's float printing when it finds ``"numpy"`` in ``sys.modules``; a lazily loaded module
from ``importlib.util.LazyLoader`` sitting there made every lesson load numpy that way).
Names the widgets' modules use at import time (decorators, defaults, class bodies) would load
them at once: none do.  Annotations are not evaluated (``from __future__ import annotations``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["Deferred", "bq", "np"]


class Deferred:
    """A module, imported by its name at the first use of one of its attributes.

    The module's names are then copied onto the stand-in, so that later uses are plain
    attribute reads (a name the module gains later is still found through it)."""

    def __init__(self, name: str) -> None:
        self.__module_name = name

    def __getattr__(self, attr: str) -> Any:  # only for names not copied here yet
        module = importlib.import_module(self.__module_name)
        vars(self).update(vars(module))
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<deferred module {self.__module_name!r}>"


if TYPE_CHECKING:
    import bqplot as bq
    import numpy as np
else:
    bq = Deferred("bqplot")
    np = Deferred("numpy")
