"""Measurements after a seeded workload (exercises 15 and 20), computed once per grader process.

A hidden case of these exercises runs a 300-step workload on a 4096-page zone; with the class's
one seed per exercise every student's hidden case is the same workload, so the grader keeps the
figures it measured (a few dozen at most: one per seed and setting) instead of running it again
for each student.  The zones here record no trace: the figures are the same as a recording
zone's (``tests/test_harness.py`` compares them), at a fraction of the cost.
"""

from __future__ import annotations

from kit.core.metrics import free_blocks_suitable, unusable_index
from kit.core.workload import run_workload
from kit.core.zone import Zone
from kit.grading.trusted.memo import class_cache

#: How many seeds and settings a grader process keeps the figures of.
KEPT = 256


@class_cache(maxsize=KEPT)
def fragmentation_measure(exact: bool, seed: int) -> tuple[int, int, int]:
    """(free pages, order-6 blocks free, unusable index at order 6) after the seeded "mixed"
    workload, with ``alloc_pages_exact`` for every request when ``exact``."""
    zone = Zone(4096, record=False)
    run_workload(zone, seed=seed, steps=300, sizes="mixed", exact=exact)
    nr_free = zone.nr_free()
    return zone.free_pages_count, free_blocks_suitable(nr_free, 6), unusable_index(nr_free, 6)


def more_blocks_reference(seed: int) -> str:
    """Which allocator leaves more order-6 blocks free after the seeded workload: "same",
    "alloc_pages_exact" or "alloc_pages"."""
    plain, exact = fragmentation_measure(False, seed)[1], fragmentation_measure(True, seed)[1]
    return "same" if plain == exact else "alloc_pages_exact" if exact > plain else "alloc_pages"


@class_cache(maxsize=KEPT)
def pcp_measure(seed: int, batch: int, high: int) -> tuple[int, int, int]:
    """(pages on the per-CPU list, free pages shown, free pages shown after a drain) after the
    seeded "pages" workload on a 5.10 zone with per-CPU lists of ``batch`` and ``high``."""
    zone = Zone(4096, preset="5.10", pcp=True, pcp_batch=batch, pcp_high=high, record=False)
    run_workload(zone, seed=seed, steps=300, sizes="pages")
    hidden, shown = zone.pcp_count, zone.free_pages_count
    zone.drain_pages()
    return hidden, shown, zone.free_pages_count
