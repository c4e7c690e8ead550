"""How a problem and its solution put zones, steps and kernel versions into words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kit.core import events as ev
from kit.core.presets import PRESETS

from .programs import Step


def label(preset: str) -> str:
    return f"Linux {preset}"


def version_difference(preset: str, other: str, *, pcp: bool = False, exact: bool = False
                       ) -> str:
    """What ``other`` does differently from ``preset``, in words: the free-list placement, and
    the per-CPU list orders (``pcp``) and the exact allocator's trimming (``exact``) if asked."""
    a, b = PRESETS[preset], PRESETS[other]
    parts = []
    if a.merge_likely_to_tail != b.merge_likely_to_tail:
        tail, head = (a, b) if a.merge_likely_to_tail else (b, a)
        parts.append(
            f"{label(tail.name)} puts a freed block at the TAIL of its free list when the block "
            "one order up has a free buddy (a merge looks likely, so the next allocation should "
            f"take another block; since 2.6.35); {label(head.name)} always puts it at the HEAD")
    if pcp and a.pcp_max_order != b.pcp_max_order:
        parts.append(
            f"{label(a.name)} keeps orders 0..{a.pcp_max_order} on the per-CPU lists, "
            f"{label(b.name)} orders 0..{b.pcp_max_order} (orders 1-3 joined in 5.14); a larger "
            "order goes straight to the buddy lists")
    if pcp and a.pcp_rules != b.pcp_rules:
        parts.append(f"the per-CPU list of {label(a.name)} {a.pcp_rule_summary()}; that of "
                     f"{label(b.name)} {b.pcp_rule_summary()}")
    if exact and a.exact_trim != b.exact_trim:
        split, to_tail = (a, b) if a.exact_trim == "split_page" else (b, a)
        parts.append(
            f"{label(split.name)} splits the block with split_page() and frees each tail page "
            "like any freed page (through the per-CPU list when it is on, else onto its free "
            "list by the usual head-or-tail rule); "
            f"{label(to_tail.name)} frees each tail page straight to the TAIL of the buddy "
            "lists, so it is handed out last")
    return "; ".join(parts) or f"{label(a.name)} and {label(b.name)} agree here"


def free_lists_text(blocks: Sequence[tuple[int, int]], max_order: int) -> str:
    """The free lists, head first, one per line (only the non-empty ones).  Each block is
    named by its first pfn, and the line says so: "free_area[2]: 16" reads as 16 free blocks
    (nr_free), the count every other prompt asks for."""
    lines = []
    for order in range(max_order + 1):
        pfns = [str(pfn) for pfn, o in blocks if o == order]
        if pfns:
            what = "block at pfn" if len(pfns) == 1 else f"{len(pfns)} blocks at pfns"
            lines.append(f"  free_area[{order}]: {what} {', '.join(pfns)}")
    return "\n".join(lines) or "  (every free list is empty)"


def zone_text(config: Mapping[str, Any]) -> str:
    nr_pages, max_order = config["nr_pages"], config["max_order"]
    text = (f"A zone of {nr_pages} pages of 4 KiB (pfns 0..{nr_pages - 1}), orders 0..{max_order}, "
            f"one CPU and one migratetype, following {label(config['preset'])} (kit preset "
            f"\"{config['preset']}\").")
    if config.get("pcp"):
        text += " " + PRESETS[config["preset"]].describe_pcp(config["pcp_batch"],
                                                             config["pcp_high"])
    else:
        text += " Per-CPU lists off."
    return text


def events_text(step: Step) -> list[str]:
    lines = [f"    {event.describe()}" for event in step.events if event.kind != ev.ALLOC]
    return lines or ["    (nothing moves on the buddy lists)"]


def span_text(first: int, last: int) -> str:
    return f"pfn {first}" if first == last else f"pfns {first}..{last}"


def pages_text(count: int) -> str:
    return f"{count} page{'' if count == 1 else 's'}"


def nr_text(counts: Sequence[int]) -> str:
    return " ".join(str(c) for c in counts)
