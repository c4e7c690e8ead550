"""Split and merge: what ``expand`` and the merge loop do, on seeded cases."""

from __future__ import annotations

import random
from dataclasses import dataclass

from kit.core import events as ev
from kit.core.zone import Zone
from kit.grading.trusted.memo import class_cache

from .zones import random_zone


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


def expand_misconceptions(pfn: int, low: int, high: int) -> list[tuple[object, str]]:
    """Wrong ``expand`` answers for one split, each with the rule it missed."""
    orders = range(high - 1, low - 1, -1)  # the halvings, largest half first
    right = [(pfn + (1 << o), o) for o in orders]
    lower, start = [], pfn
    for o in orders:  # the lower half freed each time, the upper one kept and split on
        lower.append((start, o))
        start += 1 << o
    wrong: list[tuple[object, str]] = [
        (lower, "put the lower half on the free list and split the upper one: the allocator "
                "keeps the lower half, so the block keeps its pfn, and frees the upper"),
        (right[::-1], "listed the halves smallest first: the block is halved from the top "
                      "order down, so the largest half goes on its list first"),
    ]
    if right:
        wrong.append((right[:-1], "stopped one halving early: the kept block must come down "
                                  "to the order asked for"))
    if low:
        wrong.append(([*right, (pfn + (1 << (low - 1)), low - 1)],
                      "halved once too often: the splitting stops at the order asked for"))
    return wrong


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


def merge_misconceptions(pfn: int, order: int, free_blocks: set[tuple[int, int]],
                         max_order: int) -> list[tuple[object, str]]:
    """Wrong ``merge`` answers for one free, each with the rule it missed."""

    def merged(*, upper: bool = False, once: bool = False, bound: bool = True) -> object:
        block, at = pfn, order
        removed: list[tuple[int, int]] = []
        while not bound or at < max_order:
            buddy = block ^ (1 << at)
            if (buddy, at) not in free_blocks or (once and removed):
                break
            removed.append((buddy, at))
            block = block | buddy if upper else block & buddy
            at += 1
        return (block, at, removed)

    return [
        (merged(upper=True), "started the merged block at the higher buddy: two buddies "
                             "form a block that starts at the lower one (pfn & buddy)"),
        (merged(once=True), "merged only once: the merged block may have a free buddy of "
                            "its own, one order up, so the merging goes on"),
        (merged(bound=False), "merged past the largest order: a block of max_order has no "
                              "buddy to merge with"),
    ]


def merge_cases(seed: int, count: int, max_order: int = 5) -> list[MergeCase]:
    """Seeded frees on random zones, with the merge the Zone performed for each."""
    return list(_merge_cases(seed, count, max_order))


@class_cache(maxsize=256)
def _merge_cases(seed: int, count: int, max_order: int) -> tuple[MergeCase, ...]:
    """The cases of a seed, made once per grader process: every student's test cell asks for
    the same ones (the class's seeds), and each costs a random zone.  Test cells only read
    them; what a student's function gets is a copy (it crosses into the sandbox)."""
    rng = random.Random(seed)
    cases: list[MergeCase] = []
    while len(cases) < count:
        zone, live = random_zone(rng, 1 << (max_order + 1), max_order)
        if not live:
            continue
        before = frozenset(zone.free_blocks())
        # Most cases should merge at least once: prefer a block whose buddy is free.
        merging = [(p, o) for p, o in live if (p ^ (1 << o), o) in before]
        pool = merging if merging and rng.random() < 0.75 else live
        pfn, order = pool[rng.randrange(len(pool))]
        removed: list[tuple[int, int]] = []
        final: list[tuple[int, int]] = []

        def watch(e: ev.Event, removed: list[tuple[int, int]] = removed,
                  final: list[tuple[int, int]] = final) -> None:
            if e.kind == ev.MERGE:
                assert e.other is not None  # a merge event names the buddy it took
                removed.append((e.other, e.order))
            elif e.kind == ev.PUT:
                final.append((e.pfn, e.order))

        zone.subscribe(watch)
        zone.free_pages(zone.pfn_to_virt(pfn), order)
        cases.append(MergeCase(pfn, order, before, max_order,
                               (final[0][0], final[0][1], removed)))
    return tuple(cases)
