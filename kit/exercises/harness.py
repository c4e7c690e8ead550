"""Reference answers the test cells compare against, computed by running the simulator.

The exercises ask students to write small pieces of the allocator (the split step, the merge
step, ``make_alloc_exact`` ...).  The expected values are never typed into the notebooks: they
come from the kit's own Zone, watched through its events, on seeded cases, so the exercises and
the simulator cannot drift apart.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kit import events as ev
from kit.orders import get_order
from kit.zone import Zone

#: The kernel version the exact-allocation exercises follow: tail pages are freed one by one
#: after split_page, like any page, which is what a student can write with the public calls.
EXACT_PRESET = "5.10"


def expand_by_zone(pfn: int, low: int, high: int) -> list[tuple[int, int]]:
    """The (pfn, order) blocks ``expand`` puts on the free lists when an order-``high`` block
    at ``pfn`` is split down to order ``low``, as the Zone does it (in the order it does it)."""
    zone = Zone(1 << high, start_pfn=pfn, max_order=high, record=False)
    puts: list[tuple[int, int]] = []
    unsubscribe = zone.subscribe(lambda e: puts.append((e.pfn, e.order)) if e.kind == ev.PUT
                                 else None)
    zone.alloc_pages(low)
    unsubscribe()
    return puts


def split_cases(seed: int, count: int) -> list[tuple[int, int, int]]:
    """Seeded (pfn, low, high) cases with pfn aligned to 2**high."""
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        high = rng.randint(1, 10)
        low = rng.randint(0, high)
        cases.append((rng.randint(0, 64) << high, low, high))
    return cases


@dataclass(frozen=True)
class MergeCase:
    """A free about to happen: the block, the free blocks before it, and what the Zone did."""

    pfn: int
    order: int
    free_blocks: frozenset[tuple[int, int]]
    max_order: int
    merged: tuple[int, int, list[tuple[int, int]]]

    def args(self) -> tuple[int, int, set[tuple[int, int]], int]:
        """The arguments of the student's ``merge``; the set is a fresh copy each time."""
        return (self.pfn, self.order, set(self.free_blocks), self.max_order)


def _random_zone(rng: random.Random, nr_pages: int, max_order: int,
                 preset: str = "6.8") -> tuple[Zone, list[tuple[int, int]]]:
    """A zone after a seeded mix of allocations and frees; returns it and its live blocks."""
    zone = Zone(nr_pages, max_order=max_order, preset=preset, record=False)
    live: list[tuple[int, int]] = []
    for _ in range(rng.randint(4, 40)):
        if live and rng.random() < 0.4:
            pfn, order = live.pop(rng.randrange(len(live)))
            zone.free_pages(zone.pfn_to_virt(pfn), order)
        else:
            order = rng.randint(0, max(0, max_order - 2))
            page = zone.alloc_pages(order)
            if page is not None:
                live.append((page.pfn, page.order))
    return zone, live


def merge_cases(seed: int, count: int, max_order: int = 5) -> list[MergeCase]:
    """Seeded frees on random zones, with the merge the Zone performed for each."""
    rng = random.Random(seed)
    cases: list[MergeCase] = []
    while len(cases) < count:
        zone, live = _random_zone(rng, 1 << (max_order + 1), max_order)
        if not live:
            continue
        before = frozenset(zone.free_blocks())
        # Most cases should merge at least once: prefer a block whose buddy is free.
        merging = [(p, o) for p, o in live if (p ^ (1 << o), o) in before]
        pool = merging if merging and rng.random() < 0.75 else live
        pfn, order = pool[rng.randrange(len(pool))]
        removed: list[tuple[int, int]] = []
        final: list[tuple[int, int]] = []

        def watch(e: ev.Event, removed: list = removed, final: list = final) -> None:
            if e.kind == ev.MERGE:
                removed.append((e.other, e.order))
            elif e.kind == ev.PUT:
                final.append((e.pfn, e.order))

        zone.subscribe(watch)
        zone.free_pages(zone.pfn_to_virt(pfn), order)
        cases.append(MergeCase(pfn, order, before, max_order,
                               (final[0][0], final[0][1], removed)))
    return cases


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
        zone, _ = _random_zone(random.Random(self.seed), 128, 5, EXACT_PRESET)
        return zone


def exact_cases(seed: int, count: int) -> list[ExactCase]:
    """Seeded cases whose request fits in the zone's largest order."""
    rng = random.Random(seed)
    return [ExactCase(rng.randrange(1 << 30), rng.randint(1, 31 * 4096 + 100))
            for _ in range(count)]


def _quietly(call: Callable[[], Any]) -> Any:
    # An order above the largest warns once; the warning names a file and line, which would
    # make stored outputs differ between machines.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call()


def _pfn_or_none(zone: Zone, addr: int | None) -> int | None:
    return None if not addr else zone.virt_to_pfn(addr)


def after_make_alloc_exact(case: ExactCase, function: Callable[..., Any]) -> dict[str, Any]:
    """Zone state after ``function(zone, addr, order, size)`` on a fresh get_free_pages block."""
    zone = case.zone()
    order = get_order(case.size)
    addr = _quietly(lambda: zone.get_free_pages(order))
    result = _quietly(lambda: function(zone, addr, order, case.size))
    return {"returned pfn": _pfn_or_none(zone, result), **zone_state(zone)}


def after_free_pages_exact(case: ExactCase, function: Callable[..., Any]) -> dict[str, Any]:
    """Zone state after ``function(zone, addr, size)`` frees an exact allocation of the kit's."""
    zone = case.zone()
    addr = _quietly(lambda: zone.alloc_pages_exact(case.size))
    if addr is not None:
        _quietly(lambda: function(zone, addr, case.size))
    return zone_state(zone)


def after_alloc_pages_exact(case: ExactCase, function: Callable[..., Any]) -> dict[str, Any]:
    """Zone state after ``function(zone, size)``, with the pfn it returned."""
    zone = case.zone()
    result = _quietly(lambda: function(zone, case.size))
    return {"returned pfn": _pfn_or_none(zone, result), **zone_state(zone)}
