"""The per-CPU page lists (exercises 18, 19, 24): counts after frees, seeded cases."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kit.core.errors import KitError
from kit.core.zone import Page, Zone
from kit.grading.trusted.memo import class_cache, plain_key

from .placement import free_lists_of

#: The kernel version the per-CPU exercises follow: only order-0 pages use the per-CPU list.
PCP_PRESET = "5.10"


def _order0_page(zone: Zone) -> Page:
    """An order-0 page of a zone sized to have one (the references count on it)."""
    page = zone.alloc_pages(0)
    if page is None:
        raise KitError(f"the per-CPU reference ran out of pages: {zone!r}")
    return page


@class_cache(maxsize=4096, key=plain_key)
def pcp_after_frees(count: int, batch: int, high: int) -> tuple[int, int]:
    """(pages on the per-CPU list, pages given back to the buddy lists) after ``count`` order-0
    frees into an empty per-CPU list, as the kit's ``pcp=True`` zone does them."""
    zone = Zone(count + batch, max_order=0, preset=PCP_PRESET, pcp=True, pcp_batch=batch,
                pcp_high=high, record=False)
    pages = [_order0_page(zone) for _ in range(count)]
    zone.drain_pages()  # the refills' leftovers: the list starts empty
    for page in pages:
        zone.release(page)
    return zone.pcp_count, count - zone.pcp_count


@dataclass(frozen=True)
class PcpCase:
    """A per-CPU list exercise: a zone, batch and high, and a list of operations.

    Each operation is ``"alloc"`` (one order-0 page) or an int ``i``: free the page the
    ``i``-th alloc handed out (0-based; every page is freed at most once).
    """

    nr_pages: int
    max_order: int
    batch: int
    high: int
    ops: tuple[str | int, ...]  # "alloc", or the index of an earlier allocation to free

    def textbook_zone(self) -> Zone:
        """The zone the student's per-CPU layer runs on: per-CPU lists off."""
        return Zone(self.nr_pages, max_order=self.max_order, preset=PCP_PRESET, record=False)

    def args(self) -> tuple[Zone, list[str | int], int, int]:
        return (self.textbook_zone(), list(self.ops), self.batch, self.high)


def pcp_cases(seed: int, count: int) -> list[PcpCase]:
    """Seeded per-CPU cases: small zones, batch and high both ways round, some drains."""
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        max_order = rng.randint(3, 5)
        nr_pages = rng.choice([1, 2, 3]) << max_order
        batch = rng.randint(1, 8)
        high = rng.randint(1, 12)
        ops: list[str | int] = []
        held: list[int] = []
        allocs = 0
        for _ in range(rng.randint(6, 40)):
            if held and rng.random() < 0.45:
                ops.append(held.pop(rng.randrange(len(held))))
            else:
                ops.append("alloc")
                held.append(allocs)
                allocs += 1
        cases.append(PcpCase(nr_pages, max_order, batch, high, tuple(ops)))
    return cases


@class_cache(maxsize=4096, key=plain_key)
def pcp_reference(case: PcpCase) -> dict[str, Any]:
    """What a zone with the kit's per-CPU list does with a case's operations."""
    zone = Zone(case.nr_pages, max_order=case.max_order, preset=PCP_PRESET, pcp=True,
                pcp_batch=case.batch, pcp_high=case.high, record=False)
    handed: list[int | None] = []
    for op in case.ops:
        if isinstance(op, int):
            pfn = handed[op]
            if pfn is not None:
                zone.free_pages(zone.pfn_to_virt(pfn), 0)
        else:
            page = zone.alloc_pages(0)
            handed.append(None if page is None else page.pfn)
    return {"handed out": handed, "per-CPU list": zone.pcp_lists()[0],
            "free lists": free_lists_of(zone)}


def after_pcp_run(case: PcpCase, function: Callable[..., Any]) -> dict[str, Any]:
    """``function(zone, ops, batch, high)`` on a textbook zone: what it returned and the free
    lists it left (the per-CPU layer calls the zone's buddy allocator)."""
    zone, ops, batch, high = case.args()
    result = function(zone, ops, batch, high)
    handed, pcp = result if isinstance(result, (list, tuple)) and len(result) == 2 \
        else (result, None)
    return {"handed out": handed, "per-CPU list": pcp, "free lists": free_lists_of(zone)}


@class_cache(maxsize=4096, key=plain_key)
def pcp_most_held(batch: int, high: int) -> int:
    """The most pages the kit's per-CPU list holds after any operation, measured on a run
    that first refills the list and then frees pages one by one until a drain."""
    size = 4 * (batch + high + 2)
    zone = Zone(size, max_order=0, preset=PCP_PRESET, pcp=True, pcp_batch=batch,
                pcp_high=high, record=False)
    most = 0
    pages = []
    for _ in range(batch + high + 1):
        pages.append(_order0_page(zone))
        most = max(most, zone.pcp_count)
    for page in pages:
        zone.release(page)
        most = max(most, zone.pcp_count)
    return most
