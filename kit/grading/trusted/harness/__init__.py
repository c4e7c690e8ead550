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

from kit.core import events as ev
from kit.core.errors import KitError
from kit.core.metrics import ContigPageInfo
from kit.core.orders import get_order, page_align, pages_for
from kit.core.presets import PRESETS
from kit.core.procfs import (
    PAGETYPEINFO_CAP,
    PageBlockCount,
    PageTypeFree,
    PageTypeInfo,
    format_buddyinfo,
    parse_buddyinfo,
    parse_pagetypeinfo,
)
from kit.core.replay import replay
from kit.core.zone import Page, Zone
from kit.teaching.practice import order_misconceptions

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
        block, at, removed = pfn, order, []
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


def exact_misconceptions(case: ExactCase, call: str) -> list[tuple[object, str]]:
    """Wrong outcomes of exercise 11, 12 or 13 (``call`` is "make", "free" or "alloc") on
    one case, each with the rule it missed: the zone state that a version with that one
    mistake leaves, computed by running it the way the student's version is run."""
    rounded_down = case.size // 4096  # the pages a size fills completely
    if call == "make":
        return [
            (after_make_alloc_exact(case, lambda z, a, o, s: a),
             "kept the whole block: the pages beyond what the size needs go back"),
            (after_make_alloc_exact(case, lambda z, a, o, s: _trim(z, a, o, rounded_down)),
             "rounded the pages kept down: the last, partly used page is kept too"),
        ]
    if call == "free":
        return [
            (after_free_pages_exact(case, lambda z, a, s: z.free_pages(a, 0)),
             "freed only the first page: an exact allocation is freed page by page, all of "
             "them"),
            (after_free_pages_exact(case, lambda z, a, s: _free_run(z, a, rounded_down)),
             "freed size // PAGE_SIZE pages: the last, partly used page belongs to the "
             "allocation too"),
        ]
    whole = after_alloc_pages_exact(case, lambda z, s: z.get_free_pages(get_order(s)))
    return [(whole, "returned the whole power-of-two block: trim it to the pages the size "
                    "needs (exercise 11)")]


# ------------------------------------------------------------------ placement (exercises 16, 17)
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
    rng = random.Random(seed)
    cases: list[PlacementCase] = []
    while len(cases) < count:
        preset = PRESETS_ORDER[len(cases) % len(PRESETS_ORDER)]
        zone, live = _random_zone(rng, 1 << (max_order + 1), max_order, preset)
        if not live:
            continue
        want_tail = rng.random() < 0.5
        pool = [(p, o) for p, o in live if _tail_likely(zone, p, o)] if want_tail else []
        pfn, order = rng.choice(pool or live)
        before = free_lists_of(zone)
        puts: list[tuple[int, int, str]] = []
        zone.subscribe(lambda e, puts=puts: puts.append((e.pfn, e.order, e.where))
                       if e.kind == ev.PUT else None)
        zone.free_pages(zone.pfn_to_virt(pfn), order)
        cases.append(PlacementCase(preset, max_order, pfn, order, before, free_lists_of(zone),
                                   puts[-1]))
    return cases


def _tail_likely(zone: Zone, pfn: int, order: int) -> bool:
    """Whether freeing this block would (after merging) find its parent's buddy free."""
    blocks = set(zone.free_blocks())
    while order < zone.max_order and (pfn ^ (1 << order), order) in blocks:
        pfn &= ~(1 << order)
        order += 1
    return ((pfn & ~(1 << order)) ^ (2 << order), order + 1) in blocks


# ------------------------------------------------------------------- per-CPU lists (18, 19, 24)
#: The kernel version the per-CPU exercises follow: only order-0 pages use the per-CPU list.
PCP_PRESET = "5.10"


def pcp_after_frees(count: int, batch: int, high: int) -> tuple[int, int]:
    """(pages on the per-CPU list, pages given back to the buddy lists) after ``count`` order-0
    frees into an empty per-CPU list, as the kit's ``pcp=True`` zone does them."""
    zone = Zone(count + batch, max_order=0, preset=PCP_PRESET, pcp=True, pcp_batch=batch,
                pcp_high=high, record=False)
    pages = [zone.alloc_pages(0) for _ in range(count)]
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
    ops: tuple[object, ...]

    def textbook_zone(self) -> Zone:
        """The zone the student's per-CPU layer runs on: per-CPU lists off."""
        return Zone(self.nr_pages, max_order=self.max_order, preset=PCP_PRESET, record=False)

    def args(self) -> tuple[Zone, list[object], int, int]:
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
        ops: list[object] = []
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


def pcp_reference(case: PcpCase) -> dict[str, Any]:
    """What a zone with the kit's per-CPU list does with a case's operations."""
    zone = Zone(case.nr_pages, max_order=case.max_order, preset=PCP_PRESET, pcp=True,
                pcp_batch=case.batch, pcp_high=case.high, record=False)
    handed: list[int | None] = []
    for op in case.ops:
        if op == "alloc":
            page = zone.alloc_pages(0)
            handed.append(None if page is None else page.pfn)
        else:
            pfn = handed[op]  # type: ignore[index]
            if pfn is not None:
                zone.free_pages(zone.pfn_to_virt(pfn), 0)
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


def pcp_most_held(batch: int, high: int) -> int:
    """The most pages the kit's per-CPU list holds after any operation, measured on a run
    that first refills the list and then frees pages one by one until a drain."""
    size = 4 * (batch + high + 2)
    zone = Zone(size, max_order=0, preset=PCP_PRESET, pcp=True, pcp_batch=batch,
                pcp_high=high, record=False)
    most = 0
    pages = []
    for _ in range(batch + high + 1):
        pages.append(zone.alloc_pages(0))
        most = max(most, zone.pcp_count)
    for page in pages:
        zone.release(page)
        most = max(most, zone.pcp_count)
    return most


# ----------------------------------------------------------------- /proc files (exercises 20, 21)
def get_order_misconceptions(size: int, page_size: int = 4096) -> list[tuple[object, str]]:
    """Wrong ``get_order`` answers for one size, each with the rule it missed (the ones
    ``kit practice`` names), as ``Checks.expect``'s ``misconceptions``."""
    if size <= 0:
        return []  # size 0 has its own hint in the test cell
    order, pages = get_order(size, page_size), pages_for(size, page_size)
    return [(wrong.value, f"{wrong.name}: {wrong.explanation}")
            for wrong in order_misconceptions(size, order, pages, page_size)]


def pages_for_misconceptions(size: int) -> list[tuple[object, str]]:
    """Wrong ``pages_for`` answers (exercise 2), each with the rule it missed."""
    return [(size // 4096, "rounded down: a partly used page is a whole page too"),
            (size // 4096 + 1, "added a page even where the size fills its pages exactly: "
                               "4096 bytes are one page")]


def page_align_misconceptions(size: int) -> list[tuple[object, str]]:
    """Wrong ``page_align`` answers (exercise 2), each with the rule it missed."""
    return [(pages_for(size), "gave pages, not bytes: page_align is the size rounded up to "
                              "whole pages, in bytes"),
            (size // 4096 * 4096, "rounded down: a partly used page is a whole page too")]


def waste_misconceptions(size: int, strategy: str) -> list[tuple[object, str]]:
    """Wrong waste answers (exercises 4 and 5) for ``strategy`` "alloc_pages" or
    "alloc_pages_exact", each with the rule it missed."""
    block = 4096 << get_order(size)
    whole_pages = page_align(size)
    wasted = block - size if strategy == "alloc_pages" else whole_pages - size
    wrong: list[tuple[object, str]] = [
        (wasted // 4096, "counted pages, not bytes: the waste is asked in bytes"),
        (size + wasted, "gave the bytes granted: the waste is what is granted beyond the "
                        "size"),
    ]
    if strategy == "alloc_pages":
        wrong.append((whole_pages - size, "gave alloc_pages_exact's waste: alloc_pages keeps "
                                          "the whole power-of-two block"))
    else:
        wrong.append((block - size, "gave alloc_pages's waste: alloc_pages_exact keeps only "
                                    "the whole pages the size needs"))
    return wrong


def pages_returned_misconceptions(size: int) -> list[tuple[object, str]]:
    """Wrong ``pages_returned`` answers (exercise 5), each with the rule it missed."""
    return [(pages_for(size), "gave the pages kept: the pages returned are the rest of the "
                              "block"),
            (1 << get_order(size), "gave the whole block: the pages the size needs are kept")]


def kmalloc_misconceptions(size: int) -> list[tuple[object, str]]:
    """Wrong ``kmalloc_granted`` answers (exercise 6), each with the rule it missed."""
    power = 1 << max(3, (size - 1).bit_length())
    return [(page_align(size), "gave whole pages: above 8 KiB kmalloc takes a power-of-two "
                               "block from the page allocator"),
            (power, "rounded to a power of two: 96 and 192 bytes are size classes too"),
            (size, "granted the size asked: kmalloc serves a request from a fixed size class")]


def buddy_misconceptions(pfn: int, order: int) -> list[tuple[object, str]]:
    """Wrong ``buddy_of`` answers (exercise 8), each with the rule it missed."""
    return [(pfn + (1 << order), "added 2^order: that finds the buddy only of a lower buddy; "
                                 "flipping bit `order` finds it from either side"),
            (pfn - (1 << order), "subtracted 2^order: that finds the buddy only of an upper "
                                 "buddy; flipping bit `order` finds it from either side"),
            (pfn ^ order, "flipped the bits of the number `order`: the buddy differs in bit "
                          "number `order`, the value 1 << order")]


def merged_start_misconceptions(pfn: int, order: int) -> list[tuple[object, str]]:
    """Wrong ``merged_start`` answers (exercise 8), each with the rule it missed."""
    return [(pfn, "kept the freed block's own start: the merged block starts at the lower "
                  "buddy"),
            (pfn | (1 << order), "started at the higher buddy: the merged block starts at the "
                                 "lower one, bit `order` cleared")]


def unusable_misconceptions(nr_free: list[int], order: int) -> list[tuple[object, str]]:
    """Wrong unusable indexes for one case, each with the mistake that gives it.

    A student's answer equal to one of them is told that mistake (``Checks.expect``'s
    ``misconceptions``) instead of a general tip: counting blocks is the common one, and a
    hint about division would send them looking in the wrong place.
    """
    info = ContigPageInfo.from_nr_free(nr_free, order)
    free, blocks = info.free_pages, info.free_blocks_total
    usable, usable_blocks = info.free_blocks_suitable << order, sum(nr_free[order:])
    wrong: list[tuple[object, str]] = []
    if blocks:
        wrong.append(((blocks - usable_blocks) * 1000 // blocks,
                      "counted free blocks, not free pages: an order-o block holds 1 << o "
                      "pages, and the index is a share of free *memory*"))
    if free:
        wrong += [
            (usable * 1000 // free, "gave the share of pages that *can* serve the order; the "
             "index is the share that cannot"),
            ((free - usable + (nr_free[order] << order)) * 1000 // free,
             "left out the blocks of exactly this order: an order-n block serves an order-n "
             "request"),
            ((free - usable) * 1000 / free, "divided with /: the kernel's index is whole "
             "thousandths (integer division, //)"),
        ]
    else:
        wrong.append((0, "returned 0 for a zone with no free page: nothing there is usable, "
                         "so the kernel says 1000"))
    return wrong


def buddyinfo_rows(text: str) -> list[tuple[int, str, list[int]]]:
    """The kit's parse of a buddyinfo text as plain data: (node, zone, nr_free) per line."""
    return [(z.node, z.zone, z.nr_free) for z in parse_buddyinfo(text)]


def free_pages_by_zone(text: str) -> dict[tuple[int, str], int]:
    """Free pages per (node, zone) of a buddyinfo text, from the kit's parser."""
    return {(z.node, z.zone): z.free_pages for z in parse_buddyinfo(text)}


def random_buddyinfo(seed: int) -> str:
    """A seeded buddyinfo text in the kernel's format: several nodes, zones, wide counts."""
    rng = random.Random(seed)
    lines = []
    orders = rng.choice([11, 11, 12])
    for node in range(rng.randint(1, 3)):
        for zone in rng.sample(["DMA", "DMA32", "Normal", "HighMem", "Movable"], 3):
            counts = [rng.choice([0, rng.randint(0, 400), rng.randint(0, 3_000_000)])
                      for _ in range(orders)]
            lines.append(format_buddyinfo(counts, node=node, zone=zone))
    return "\n".join(lines) + "\n"


def pagetypeinfo_summary(text: str) -> dict[str, Any]:
    """The kit's parse of a pagetypeinfo text as plain data (what exercise 21 returns)."""
    info = parse_pagetypeinfo(text)
    return {
        "pageblock_order": info.pageblock_order,
        "pages_per_block": info.pages_per_block,
        "free": {(r.node, r.zone, r.migratetype): r.counts for r in info.free},
        "capped": sorted((r.node, r.zone, r.migratetype, o)
                         for r in info.free for o, c in enumerate(r.capped) if c),
        "blocks": {(r.node, r.zone): r.counts for r in info.blocks},
    }


def format_pagetypeinfo(info: PageTypeInfo) -> str:
    """A pagetypeinfo text in the kernel's layout (mm/vmstat.c, Linux 5.4+: ``>`` marks a
    count that stopped at 100000), one node's sections after another."""
    lines = [f"Page block order: {info.pageblock_order}",
             f"Pages per block:  {info.pages_per_block}", ""]
    nodes = sorted({r.node for r in info.free} | {r.node for r in info.blocks})
    for index, node in enumerate(nodes):
        rows = [r for r in info.free if r.node == node]
        orders = max((len(r.counts) for r in rows), default=0)
        if index:
            lines.append("")
        lines.append(f"{'Free pages count per migrate type at order':<43} "
                     + "".join(f"{o:6d} " for o in range(orders)))
        for r in rows:
            cells = "".join((">" if capped else "") + f"{count:6d} "
                            for count, capped in zip(r.counts, r.capped, strict=True))
            lines.append(f"Node {r.node:4d}, zone {r.zone:>8}, type {r.migratetype:>12} {cells}")
        blocks = [r for r in info.blocks if r.node == node]
        if blocks:
            lines.append("")
            types = list(blocks[0].counts)
            lines.append(f"{'Number of blocks type':<23}" + "".join(f"{t:>12} " for t in types))
            for r in blocks:
                lines.append(f"Node {r.node}, zone {r.zone:>8} "
                             + "".join(f"{r.counts[t]:12d} " for t in types))
    return "\n".join(lines) + "\n"


def random_pagetypeinfo(seed: int) -> str:
    """A seeded pagetypeinfo text: one or two nodes, CMA on or off, some capped counts."""
    rng = random.Random(seed)
    types = ["Unmovable", "Movable", "Reclaimable", "HighAtomic"]
    if rng.random() < 0.5:
        types.append("CMA")
    types.append("Isolate")
    order = rng.choice([9, 10])
    info = PageTypeInfo(order, 1 << order)
    for node in range(rng.randint(1, 2)):
        zones = rng.sample(["DMA", "DMA32", "Normal", "Movable"], rng.randint(1, 3))
        for zone in zones:
            for migratetype in types:
                counts, capped = [], []
                for _ in range(11):
                    big = rng.random() < 0.06
                    counts.append(PAGETYPEINFO_CAP if big else rng.choice(
                        [0, rng.randint(0, 300), rng.randint(0, 99_999)]))
                    capped.append(big)
                info.free.append(PageTypeFree(node, zone, migratetype, counts, capped))
        for zone in zones:
            info.blocks.append(PageBlockCount(node, zone,
                                              {t: rng.randint(0, 3000) for t in types}))
    return format_pagetypeinfo(info)


# --------------------------------------------------------------- which kernel (exercise 23)
def anonymous_trace(zone: Zone) -> str:
    """A zone's trace text with the preset taken out of its header: what a student observes."""
    assert zone.trace is not None
    header, _, body = zone.trace.to_text().partition("\n")
    header = " ".join(word for word in header.split(" ") if not word.startswith("preset="))
    return header + "\n" + body


def consistent_presets(text: str) -> list[str]:
    """The presets (oldest first) under which the kit reproduces an anonymous trace: every
    allocation returns the recorded pfn and every drain drains the recorded number of pages."""
    header, _, body = text.partition("\n")
    found = []
    for name in PRESETS_ORDER:
        candidate = f"{header} preset={name}\n{body}"
        try:
            zone = replay(candidate)
        except KitError:
            continue
        assert zone.trace is not None
        if _drains(zone.trace.to_text()) == _drains(candidate):
            found.append(name)
    return found


def _drains(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("kit_drain_pages")]


def trace_cases(seed: int, count: int) -> list[str]:
    """Seeded anonymous traces of small zones of every preset: allocations of orders 0..3,
    frees, exact allocations, per-CPU lists on or off, drains; none with a failed allocation."""
    rng = random.Random(seed)
    texts: list[str] = []
    while len(texts) < count:
        preset = PRESETS_ORDER[(len(texts) + seed) % len(PRESETS_ORDER)]
        max_order = rng.randint(3, 5)
        pcp = rng.random() < 0.5
        zone = Zone(rng.randint(2, 4) << max_order, max_order=max_order, preset=preset,
                    pcp=pcp, pcp_batch=rng.randint(1, 4), pcp_high=rng.randint(2, 8))
        live: list[tuple[str, int, int]] = []
        for _ in range(rng.randint(4, 14)):
            roll = rng.random()
            if live and roll < 0.35:
                kind, addr, arg = live.pop(rng.randrange(len(live)))
                if kind == "exact":
                    zone.free_pages_exact(addr, arg)
                else:
                    zone.free_pages(addr, arg)
            elif pcp and roll < 0.42:
                zone.drain_pages()
            elif roll < 0.6:
                size = rng.randint(1, 7) * zone.page_size - rng.randint(0, 100)
                addr = _quietly(lambda zone=zone, size=size: zone.alloc_pages_exact(size))
                if addr is not None:
                    live.append(("exact", addr, size))
            else:
                order = rng.randint(0, 3)
                addr = zone.get_free_pages(order)
                if addr is not None:
                    live.append(("pages", addr, order))
        text = anonymous_trace(zone)
        if " failed" not in text:  # every allocation of a case succeeded: nothing to guess
            texts.append(text)
    return texts
