"""Unlimited practice, OSTEP-style: seeded allocator problems to predict first, then check.

The OSTEP homework simulators teach with one loop: a seed makes a problem, the student predicts,
the simulator shows the answer only when asked.  This module makes such problems for the buddy
allocator on small zones, in four kinds (``KINDS``):

* ``sequence``: alloc_pages/free_pages steps; predict each returned pfn, nr_free per order after
  each step and the zone's /proc/buddyinfo line;
* ``order``: get_order and the bytes alloc_pages and alloc_pages_exact waste for a few sizes;
* ``exact``: which tail pages alloc_pages_exact gives back and the free blocks they merge into;
* ``pcp``: the per-CPU list (batch, high, LIFO) and the buddyinfo that lags behind it.

No answer is typed in: every expected value is read off a ``Zone`` running the problem (its
events and its state), and every misconception the checker names is the answer of a wrong model,
computed as well: the same steps under another kernel preset or with the per-CPU lists off,
nr_free counted in pages, the upper half kept by a split, and so on.  A ``(kind, seed, level)``
gives the same problem on every machine (``random.Random`` seeded with a string is stable across
platforms and Python versions).  The zones are sized so that no order has two blocks at boot,
which keeps the answers independent of where boot puts its blocks (tail since 5.10, head before).

Pure Python: the ``Practice`` widget (``kit.widgets.practice``) and ``kit practice`` only present
what is built here.  One module per job: :mod:`.problems` (the problems, verdicts and marking),
:mod:`.reading` (reading typed predictions), :mod:`.misconceptions` (the wrong models),
:mod:`.programs` (running calls on a zone), :mod:`.words` (zones and versions in words),
:mod:`.drafts` (a problem being built), and one generator per kind: :mod:`.sequence`,
:mod:`.order`, :mod:`.exact`, :mod:`.pcp`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from kit.core.errors import InvalidArgument
from kit.core.orders import _require_int
from kit.core.presets import get_preset

from .drafts import Draft
from .exact import exact_problem
from .order import order_problem
from .pcp import pcp_problem
from .problems import KINDS, LEVELS, Mark, Misconception, Problem, Verdict, mark
from .reading import Field, Unreadable
from .sequence import sequence_problem
from .words import version_difference

__all__ = [
    "KINDS",
    "LEVELS",
    "Field",
    "Mark",
    "Misconception",
    "Problem",
    "Unreadable",
    "Verdict",
    "generate",
    "mark",
    "practice_set",
    "version_difference",
]


#: kind -> the generator that drafts its problems (one module per kind).
_GENERATORS: dict[str, Callable[[random.Random, int, str | None], Draft]] = {
    "sequence": sequence_problem, "order": order_problem, "exact": exact_problem,
    "pcp": pcp_problem}


def generate(kind: str, seed: int, level: int = 1, preset: str | None = None) -> Problem:
    """The problem of this kind for this seed and difficulty level (1 to 3).

    ``preset`` makes the problem follow that kernel version instead of the one the kind and
    level choose (6.8 below level 3, one drawn from the seed at level 3); the ``order`` kind is
    the same in every version.
    """
    if kind not in _GENERATORS:
        raise InvalidArgument(f"unknown practice kind {kind!r}; choose one of {', '.join(KINDS)}")
    seed = _require_int(seed, "seed")
    level = _require_int(level, "level", 1)
    if level not in LEVELS:
        raise InvalidArgument(f"level must be 1, 2 or 3, got {level}")
    if preset is not None:
        preset = get_preset(preset).name
    draft = _GENERATORS[kind](random.Random(f"pagealloc-kit/{kind}/{level}/{seed}"), level,
                              preset)
    return Problem(
        kind=kind, seed=seed, level=level, preset=draft.preset, title=draft.title,
        text=draft.text, fields=tuple(draft.fields), answer=dict(draft.answer),
        solution="\n".join(draft.solution),
        misconceptions={key: tuple(found) for key, found in draft.misconceptions.items()},
        trace=draft.trace, preset_asked=preset is not None)


def practice_set(seed: int, count: int = 4, kind: str | None = None, level: int = 1,
                 preset: str | None = None) -> list[Problem]:
    """``count`` problems from seed on: of one kind, or (kind None) cycling through ``KINDS``."""
    seed = _require_int(seed, "seed")
    count = _require_int(count, "count", 1)
    return [generate(kind or KINDS[i % len(KINDS)], seed + i, level, preset)
            for i in range(count)]
