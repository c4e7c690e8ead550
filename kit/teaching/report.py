"""Plain-text tables for the lessons: what a notebook prints, computed and tested here.

The notebooks stay thin (prose and one call per cell); every table they show comes from one of
these functions, so the numbers are unit-tested and the same in JupyterLab, in Voila and in the
stored outputs nbval compares.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kit.core.events import Event
from kit.core.metrics import compare_wastage, format_index, free_blocks_suitable
from kit.core.metrics import fragmentation_indexes as _fragmentation_indexes
from kit.core.metrics import unusable_indexes as _unusable_indexes
from kit.core.orders import format_size, get_order, pages_for, parse_size
from kit.core.presets import PRESETS
from kit.core.workload import run_workload
from kit.core.zone import Zone


def _table(
    header: Sequence[str], rows: Iterable[Sequence[object]], left: Sequence[int] = (0,)
) -> str:
    """Align columns as a terminal table: text columns (``left``) left, numbers right."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        pairs = enumerate(zip(row, widths, strict=True))
        parts = [c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in pairs]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _sizes(sizes: Iterable[int | str]) -> list[int]:
    return [parse_size(size) for size in sizes]


def order_table(sizes: Iterable[int | str], page_size: int = 4096, max_order: int = 10) -> str:
    """For each request: the pages it needs, ``get_order``, and the block alloc_pages gives."""
    rows = []
    for size in _sizes(sizes):
        order = get_order(size, page_size)
        block = "fails (NULL)" if order > max_order else format_size(page_size << order)
        rows.append((f"{size:,} B", pages_for(size, page_size), order, block))
    return _table(("request", "pages needed", "get_order", "alloc_pages block"), rows, left=(0, 3))


def wastage_table(sizes: Iterable[int | str], page_size: int = 4096, max_order: int = 10) -> str:
    """Bytes granted and wasted for each request under each strategy."""
    rows = []
    for size in _sizes(sizes):
        for strategy, w in compare_wastage(size, page_size, max_order).items():
            if w.fails:
                rows.append((f"{size:,} B", strategy, "NULL", "-", "-"))
            else:
                rows.append(
                    (
                        f"{size:,} B",
                        strategy,
                        f"{w.granted:,}",
                        f"{w.wasted:,}",
                        f"{w.percent_of_granted:.1f} %",
                    )
                )
    return _table(("request", "strategy", "granted", "wasted", "of granted"), rows, left=(0, 1))


def presets_table(highest_order: int = 10) -> str:
    """How the kernels the kit models differ (see ``kit.core.presets``)."""
    rows = []
    for preset in PRESETS.values():
        rows.append(
            (
                preset.name,
                f"{preset.max_order_symbol} = {preset.max_order_constant(highest_order)}",
                "inclusive" if preset.max_order_inclusive else "exclusive",
                f"0..{preset.pcp_max_order}",
                "yes" if preset.merge_likely_to_tail else "no",
                "tail" if preset.boot_to_tail else "head",
                preset.exact_trim,
                preset.pcp_rules,
            )
        )
    header = (
        "kernel", "largest order", "meaning", "pcp orders", "tail heuristic", "boot frees to",
        "exact trim", "pcp at high",
    )
    return _table(header, rows, left=range(8))


def event_log(events: Iterable[Event]) -> str:
    """Numbered, one sentence per allocator step."""
    return "\n".join(f"{n:3}. {event.describe()}" for n, event in enumerate(events, start=1))


def free_area_table(zone: Zone, limit: int = 6) -> str:
    """nr_free and the first pfns of every list, head first, as the kernel would walk them."""
    rows = []
    for area in zone.free_area:
        pfns = list(area)
        shown = ", ".join(str(p) for p in pfns[:limit]) + (", ..." if len(pfns) > limit else "")
        rows.append((f"free_area[{area.order}]", area.nr_free, shown or "(empty)"))
    return _table(("list", "nr_free", "pfns from head to tail"), rows, left=(0, 2))


def fragmentation_table(nr_free: Sequence[int]) -> str:
    """Unusable free space index and fragmentation index per order, printed as the kernel does."""
    unusable = _unusable_indexes(nr_free)
    extfrag = _fragmentation_indexes(nr_free)
    rows = [
        (order, format_index(u), format_index(f))
        for order, (u, f) in enumerate(zip(unusable, extfrag, strict=True))
    ]
    return _table(("order", "unusable_index", "extfrag_index"), rows)


@dataclass(frozen=True)
class WorkloadComparison:
    """One seeded workload run with alloc_pages and with alloc_pages_exact."""

    strategy: str
    failures: int
    live_requested: int
    live_granted: int
    free_pages: int
    nr_free: tuple[int, ...]

    @property
    def live_wasted(self) -> int:
        """Bytes held beyond what the live allocations asked for."""
        return self.live_granted - self.live_requested


def compare_workloads(
    nr_pages: int = 1 << 16,
    *,
    seed: int = 1,
    steps: int = 3000,
    sizes: str = "buffers",
    lifetimes: str = "mixed",
) -> list[WorkloadComparison]:
    """Run the same seeded workload once per strategy on a fresh zone each time."""
    results = []
    for strategy, exact in (("alloc_pages", False), ("alloc_pages_exact", True)):
        zone = Zone(nr_pages, record=False)
        run = run_workload(
            zone, seed=seed, steps=steps, sizes=sizes, lifetimes=lifetimes, exact=exact
        )
        results.append(
            WorkloadComparison(
                strategy,
                run.failures,
                run.live_requested_bytes,
                run.live_granted_bytes,
                zone.free_pages_count,
                tuple(zone.nr_free()),
            )
        )
    return results


def workload_table(results: Sequence[WorkloadComparison], orders: Sequence[int] = (4, 6, 9)) -> str:
    """Memory held, wasted and free, and per order the free blocks and unusable index.

    Both columns per order, because the index alone misleads: it is a share of all free pages,
    so it rises when small free blocks are added even if the large ones stay (``oN blocks``).
    """
    header = ["strategy", "failures", "held", "wasted", "free pages"]
    for o in orders:
        header += [f"o{o} blocks", f"unusable o{o}"]
    rows = []
    for r in results:
        unusable = _unusable_indexes(r.nr_free)
        row = [
            r.strategy,
            r.failures,
            format_size(r.live_granted, exact=False),
            format_size(r.live_wasted, exact=False),
            f"{r.free_pages:,}",
        ]
        for o in orders:
            row += [f"{free_blocks_suitable(r.nr_free, o):,}", format_index(unusable[o])]
        rows.append(row)
    return _table(header, rows)


__all__ = [
    "WorkloadComparison",
    "compare_workloads",
    "event_log",
    "fragmentation_table",
    "free_area_table",
    "order_table",
    "presets_table",
    "wastage_table",
    "workload_table",
]
