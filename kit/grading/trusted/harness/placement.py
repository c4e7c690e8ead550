"""Where a freed block goes on its free list, head or tail (exercises 16, 17)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from kit.core import events as ev
from kit.core.presets import PRESETS
from kit.core.zone import Zone
from kit.grading.trusted.memo import class_cache

from .zones import random_zone

#: The presets in the kit's order (oldest first): answers listing presets use this order.
PRESETS_ORDER = tuple(PRESETS)


def free_lists_of(zone: Zone) -> dict[int, list[int]]:
    """Every order's free list, head to tail (empty lists too): what ``__free_one_page`` edits."""
    return {area.order: list(area) for area in zone.free_area}


@dataclass(frozen=True)
class PlacementCase:
    """A free on a random zone of one preset, and where the Zone put the block."""

    preset: str
    max_order: int
    pfn: int
    order: int
    lists_before: dict[int, list[int]]
    lists_after: dict[int, list[int]]
    placed: tuple[int, int, str]  # the block as it went on a list: pfn, order, "head"/"tail"

    def blocks_when_placed(self) -> set[tuple[int, int]]:
        """The free blocks at the moment of placement: before, minus the buddies merged."""
        after = {(p, o) for o, pfns in self.lists_after.items() for p in pfns}
        return after - {self.placed[:2]}


def placement_cases(seed: int, count: int, max_order: int = 5) -> list[PlacementCase]:
    """Seeded frees on random zones of every preset, about half of them placed at the tail
    (where the preset has the heuristic), so both outcomes are exercised."""
    return list(_placement_cases(seed, count, max_order))


@class_cache(maxsize=256)
def _placement_cases(seed: int, count: int, max_order: int) -> tuple[PlacementCase, ...]:
    """The cases of a seed, made once per grader process, as ``merge_cases``'s are."""
    rng = random.Random(seed)
    cases: list[PlacementCase] = []
    while len(cases) < count:
        preset = PRESETS_ORDER[len(cases) % len(PRESETS_ORDER)]
        zone, live = random_zone(rng, 1 << (max_order + 1), max_order, preset)
        if not live:
            continue
        want_tail = rng.random() < 0.5
        pool = [(p, o) for p, o in live if _tail_likely(zone, p, o)] if want_tail else []
        pfn, order = rng.choice(pool or live)
        before = free_lists_of(zone)
        puts: list[tuple[int, int, str]] = []
        def watch(e: ev.Event, puts: list[tuple[int, int, str]] = puts) -> None:
            if e.kind == ev.PUT:
                puts.append((e.pfn, e.order, e.where))

        zone.subscribe(watch)
        zone.free_pages(zone.pfn_to_virt(pfn), order)
        cases.append(PlacementCase(preset, max_order, pfn, order, before, free_lists_of(zone),
                                   puts[-1]))
    return tuple(cases)


def _tail_likely(zone: Zone, pfn: int, order: int) -> bool:
    """Whether freeing this block would (after merging) find its parent's buddy free."""
    blocks = set(zone.free_blocks())
    while order < zone.max_order and (pfn ^ (1 << order), order) in blocks:
        pfn &= ~(1 << order)
        order += 1
    return ((pfn & ~(1 << order)) ^ (2 << order), order + 1) in blocks
