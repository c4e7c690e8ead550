"""/proc/buddyinfo and /proc/pagetypeinfo (exercises 20, 21): parses as plain data, random files."""

from __future__ import annotations

import random
from typing import Any

from kit.core.procfs import (
    PAGETYPEINFO_CAP,
    PageBlockCount,
    PageTypeFree,
    PageTypeInfo,
    format_buddyinfo,
    parse_buddyinfo,
    parse_pagetypeinfo,
)
from kit.grading.boundary.checks import Raised
from kit.grading.trusted.memo import class_cache, plain_key


def buddyinfo_rows(text: str) -> list[tuple[int, str, list[int]]]:
    """The kit's parse of a buddyinfo text as plain data: (node, zone, nr_free) per line."""
    return [(z.node, z.zone, z.nr_free) for z in parse_buddyinfo(text)]


def free_pages_by_zone(text: str) -> dict[tuple[int, str], int]:
    """Free pages per (node, zone) of a buddyinfo text, from the kit's parser."""
    return {(z.node, z.zone): z.free_pages for z in parse_buddyinfo(text)}


def buddyinfo_misconceptions() -> list[tuple[object, str]]:
    """The usual crash of a buddyinfo parser (exercise 21): "Node 0, zone DMA" split on
    spaces leaves the comma on the node number, which int() refuses."""
    return [(Raised("ValueError", ",'"), "a comma sticks to the word before it ('0,'): drop "
                                         "the commas before splitting")]


@class_cache(maxsize=256, key=plain_key)  # a text: the same for every student
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
            for block in blocks:
                lines.append(f"Node {block.node}, zone {block.zone:>8} "
                             + "".join(f"{block.counts[t]:12d} " for t in types))
    return "\n".join(lines) + "\n"


@class_cache(maxsize=256, key=plain_key)  # a text: the same for every student
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
