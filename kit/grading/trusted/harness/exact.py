"""The exact allocator (exercises 11-13): the zone after a call, and after known mistakes."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kit.core.orders import get_order
from kit.core.zone import Page, Zone, ZoneState
from kit.grading.boundary.checks import Raised
from kit.grading.trusted.memo import class_cache, plain_key, trusted_key

from .zones import quietly, random_zone

#: The kernel version the exact-allocation exercises follow: tail pages are freed one by one
#: after split_page, like any page, which is what a student can write with the public calls.
EXACT_PRESET = "5.10"


def zone_state(zone: Zone) -> dict[str, Any]:
    """What a student's allocator code must leave exactly as the kit's does."""
    return {
        "nr_free": zone.nr_free(),
        "free lists": {area.order: list(area) for area in zone.free_area if area.nr_free},
        "allocated": sorted((pfn, order) for pfn, order, _ in zone.allocations()),
    }


@dataclass(frozen=True)
class ExactCase:
    """A zone state (rebuilt from a seed) and a request size for the exact-allocation tasks."""

    seed: int
    size: int

    def zone(self) -> Zone:
        """The zone in this case's starting state (a new one each call)."""
        zone = Zone(128, max_order=5, preset=EXACT_PRESET, record=False)
        zone.restore(_starting_state(self.seed))
        return zone


@class_cache(maxsize=4096)
def _starting_state(seed: int) -> ZoneState:
    """The state of a case's zone, made once per seed: a check builds it for the reference, for
    the student's call and for each known mistake, for every student of the class (the class's
    cases share their seeds), and restoring a snapshot costs a fraction of running the seeded
    allocations again."""
    zone, _ = random_zone(random.Random(seed), 128, 5, EXACT_PRESET)
    return zone.snapshot()


def exact_cases(seed: int, count: int) -> list[ExactCase]:
    """Seeded cases whose request fits in the zone's largest order."""
    rng = random.Random(seed)
    return [ExactCase(rng.randrange(1 << 30), rng.randint(1, 31 * 4096 + 100))
            for _ in range(count)]


def _pfn_or_none(zone: Zone, addr: int | None) -> int | None:
    return None if not addr else zone.virt_to_pfn(addr)


@class_cache(maxsize=4096, key=trusted_key)
def after_make_alloc_exact(case: ExactCase, function: Callable[..., Any]) -> dict[str, Any]:
    """Zone state after ``function(zone, addr, order, size)`` on a fresh get_free_pages block
    (kept for the class when ``function`` is the test cell's own reference: see
    :func:`~kit.grading.trusted.memo.trusted_key`)."""
    zone = case.zone()
    order = get_order(case.size)
    addr = quietly(lambda: zone.get_free_pages(order))
    result = quietly(lambda: function(zone, addr, order, case.size))
    return {"returned pfn": _pfn_or_none(zone, result), **zone_state(zone)}


@class_cache(maxsize=4096, key=trusted_key)
def after_free_pages_exact(case: ExactCase, function: Callable[..., Any]) -> dict[str, Any]:
    """Zone state after ``function(zone, addr, size)`` frees an exact allocation of the kit's."""
    zone = case.zone()
    addr = quietly(lambda: zone.alloc_pages_exact(case.size))
    if addr is not None:
        quietly(lambda: function(zone, addr, case.size))
    return zone_state(zone)


@class_cache(maxsize=4096, key=trusted_key)
def after_alloc_pages_exact(case: ExactCase, function: Callable[..., Any]) -> dict[str, Any]:
    """Zone state after ``function(zone, size)``, with the pfn it returned."""
    zone = case.zone()
    result = quietly(lambda: function(zone, case.size))
    return {"returned pfn": _pfn_or_none(zone, result), **zone_state(zone)}


def _trim(zone: Zone, addr: int | None, order: int, keep: int) -> int | None:
    """``make_alloc_exact`` keeping ``keep`` pages, whatever the size needs."""
    if addr is None:
        return None
    pfn = zone.virt_to_pfn(addr)
    zone.split_page(Page(pfn, order))
    for page in range(pfn + keep, pfn + (1 << order)):
        zone.free_pages(zone.pfn_to_virt(page), 0)
    return addr


def _free_run(zone: Zone, addr: int, count: int) -> None:
    for i in range(count):
        zone.free_pages(addr + i * zone.page_size, 0)


@class_cache(maxsize=4096, key=plain_key)
def exact_misconceptions(case: ExactCase, call: str) -> list[tuple[object, str]]:
    """Wrong outcomes of exercise 11, 12 or 13 (``call`` is "make", "free" or "alloc") on
    one case, each with the rule it missed: the zone state that a version with that one
    mistake leaves, computed by running it the way the student's version is run (once per case
    for the class: the case is plain data, see :func:`~kit.grading.trusted.memo.plain_key`)."""
    rounded_down = case.size // 4096  # the pages a size fills completely
    # crashes of the usual slips: what the zone says names them better than the general hint
    pfn_for_address = (Raised("KernelBUG", "not in the direct map"),
                       "passed a pfn where the zone wants an address: the page at index i of "
                       "the block is at addr + i * zone.page_size")
    if call == "make":
        return [
            (after_make_alloc_exact(case, lambda z, a, o, s: a),
             "kept the whole block: the pages beyond what the size needs go back"),
            (after_make_alloc_exact(case, lambda z, a, o, s: _trim(z, a, o, rounded_down)),
             "rounded the pages kept down: the last, partly used page is kept too"),
            (after_make_alloc_exact(case, lambda z, a, o, s: _trim(z, a, o, -(-s // 4096))
                                    and None),
             "returned nothing: make_alloc_exact returns addr (or None when addr is None)"),
            *_unsplit_and_pfns(pfn_for_address),
        ]
    if call == "free":
        return [
            (after_free_pages_exact(case, lambda z, a, s: z.free_pages(a, 0)),
             "freed only the first page: an exact allocation is freed page by page, all of "
             "them"),
            (after_free_pages_exact(case, lambda z, a, s: _free_run(z, a, rounded_down)),
             "freed size // PAGE_SIZE pages: the last, partly used page belongs to the "
             "allocation too"),
            pfn_for_address,
        ]
    whole = after_alloc_pages_exact(case, lambda z, s: z.get_free_pages(get_order(s)))
    return [(whole, "returned the whole power-of-two block: trim it to the pages the size "
                    "needs (exercise 11)"),
            *_unsplit_and_pfns(pfn_for_address)]


def _unsplit_and_pfns(pfn_for_address: tuple[Raised, str]) -> list[tuple[object, str]]:
    """The crashes of trimming a block: freeing a page of a block not split into single pages
    first, and passing pfns to calls that take addresses."""
    return [(Raised("BadPageState", "is inside the order-"),
             "freed a page inside the block: split_page(kit.Page(pfn, order)) first makes "
             "it single pages, each of which can then be freed"), pfn_for_address]
