"""What a real trace says about the page allocator: the summaries a lecturer would show.

One pass over a stream of :class:`~kit.core.kerneltrace.PageEvent` (so a trace of millions of
events needs memory only for the pages still allocated, for the lifetimes) gives:

* allocations by order, by GFP flags and by both; failed allocations;
* the buddy lists' share: ``mm_page_alloc_zone_locked`` fires for every block taken from the
  buddy free lists under the zone lock (Linux 5.18 and later; the events of one
  ``rmqueue_bulk`` call are consecutive on their CPU, so runs of them are per-CPU list
  refills).  Every other allocation of a per-CPU order was served from a per-CPU list.
  Caveat (6.18): the tracepoint's ``percpu_refill`` is 1 for every block of a per-CPU order
  and migratetype, even the rare one taken straight from the buddy lists, so it tells the
  order's path, not the call's;
* drains: runs of ``mm_page_pcpu_drain`` on one CPU, each one ``free_pcppages_bulk`` call,
  in pages;
* fallbacks (``mm_page_alloc_extfrag``): by (wanted, stolen-from) migratetype pair, how many
  took ownership of the pageblock and how many left it mixed ("fragmenting");
* the processes that allocated most pages; how long allocations lived (alloc to free of the
  same pfn, in decades of microseconds); allocations per CPU and, given /proc/zoneinfo, per
  zone.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kit.core.errors import InvalidArgument
from kit.core.kerneltrace import MIGRATETYPE_NAMES, PageEvent, TraceReport
from kit.core.zoneinfo import ZoneInfo

__all__ = [
    "Timeline",
    "TraceSummary",
    "lifetime_label",
    "migratetype_name",
    "summarise_trace",
    "trace_timeline",
]


def migratetype_name(number: int) -> str:
    """"Unmovable", "Movable", ... for the migratetype numbers the tracepoints print."""
    if 0 <= number < len(MIGRATETYPE_NAMES):
        return MIGRATETYPE_NAMES[number]
    return f"migratetype {number}"


def lifetime_label(decade: int) -> str:
    """The range of a lifetime decade: -1 is "< 1 us", 0 is "1-10 us", 3 is "1-10 ms"..."""
    if decade < 0:
        return "< 1 us"
    units = ("us", "ms", "s")
    low = 10**decade
    unit = min(decade // 3, 2)
    scale = 1000**unit
    return f"{low // scale}-{low * 10 // scale} {units[unit]}"


@dataclass
class TraceSummary:
    """The summaries of one trace (see the module docstring); counters keyed as named."""

    events: Counter[str] = field(default_factory=Counter)
    allocations: Counter[int] = field(default_factory=Counter)  # order -> count
    failed: Counter[int] = field(default_factory=Counter)  # order -> count
    frees: Counter[int] = field(default_factory=Counter)  # order -> count (batched incl.)
    gfp: Counter[str] = field(default_factory=Counter)
    order_gfp: Counter[tuple[int, str]] = field(default_factory=Counter)
    buddy: Counter[tuple[int, bool]] = field(default_factory=Counter)  # (order, refill)
    refills: Counter[tuple[int, int]] = field(default_factory=Counter)  # (order, blocks)
    drains: Counter[int] = field(default_factory=Counter)  # pages per drain -> count
    fallbacks: Counter[tuple[int, int]] = field(default_factory=Counter)  # (wanted, stolen)
    fallback_orders: Counter[tuple[int, int]] = field(default_factory=Counter)
    ownership_changes: int = 0
    fragmenting: int = 0
    processes: Counter[tuple[str, int]] = field(default_factory=Counter)  # pages allocated
    lifetimes: Counter[int] = field(default_factory=Counter)  # decade of us -> count
    live_at_end: int = 0
    freed_unseen: int = 0  # frees of pages allocated before the trace began
    cpus: Counter[int] = field(default_factory=Counter)  # allocations per CPU
    zones: Counter[str] = field(default_factory=Counter)  # allocations per zone
    first_time: float = 0.0
    last_time: float = 0.0
    report: TraceReport = field(default_factory=TraceReport)

    @property
    def nr_allocations(self) -> int:
        """Successful allocations (mm_page_alloc with a page)."""
        return sum(self.allocations.values())

    @property
    def pages_allocated(self) -> int:
        """Pages handed out: each allocation counts 2**order."""
        return sum(count << order for order, count in self.allocations.items())

    @property
    def pages_freed(self) -> int:
        """Pages freed: each free counts 2**order."""
        return sum(count << order for order, count in self.frees.items())

    @property
    def duration(self) -> float:
        """Seconds from the first event to the last."""
        return self.last_time - self.first_time

    @property
    def buddy_direct(self) -> int:
        """Allocations served straight from the buddy lists (not through a per-CPU list)."""
        return sum(n for (_, refill), n in self.buddy.items() if not refill)

    @property
    def pcp_share(self) -> float:
        """Share of allocations served from a per-CPU list without taking the zone lock
        themselves: every allocation but those taken straight from the buddy lists."""
        total = self.nr_allocations
        return (total - self.buddy_direct) / total if total else 0.0

    @property
    def refill_runs(self) -> int:
        """Per-CPU list refills seen (runs of refill blocks on one CPU)."""
        return sum(self.refills.values())

    def refill_sizes(self, order: int = 0) -> Counter[int]:
        """Blocks per refill of an order's per-CPU list -> how many refills took that many."""
        return Counter({n: c for (o, n), c in self.refills.items() if o == order})

    def lines(self, top: int = 5) -> list[str]:
        """The summary as short lines of text (what ``kit trace summary`` prints)."""
        out = [
            f"{self.report.events} events in {self.duration:.2f} s "
            + ", ".join(f"{name} {n}" for name, n in sorted(self.events.items())),
            f"allocations: {self.nr_allocations} ({self.pages_allocated} pages), failed "
            f"{sum(self.failed.values())}; frees: {sum(self.frees.values())} "
            f"({self.pages_freed} pages)",
            "by order: " + ", ".join(f"{o}: {n}" for o, n in sorted(self.allocations.items())),
            "top GFP flags: " + "; ".join(f"{g} {n}" for g, n in self.gfp.most_common(3)),
            f"per-CPU lists served {self.pcp_share:.1%} of allocations; "
            f"{self.buddy_direct} went straight to the buddy lists; "
            f"{self.refill_runs} refills took "
            f"{sum(n for (_, r), n in self.buddy.items() if r)} blocks",
        ]
        sizes = self.refill_sizes(0)
        if sizes:
            common = ", ".join(f"{n} blocks x{c}" for n, c in sizes.most_common(3))
            out.append(f"order-0 refill sizes (most common): {common}")
        if self.drains:
            common = ", ".join(f"{n} pages x{c}" for n, c in self.drains.most_common(3))
            out.append(f"drains: {sum(self.drains.values())} ({common})")
        fallbacks = "; ".join(
            f"{migratetype_name(a)} from {migratetype_name(b)} {n}"
            for (a, b), n in self.fallbacks.most_common()
        )
        out.append(
            f"fallbacks: {sum(self.fallbacks.values())}"
            + (f" ({fallbacks}); took ownership {self.ownership_changes}, "
               f"fragmenting {self.fragmenting}" if self.fallbacks else "")
        )
        out.append(
            "top processes (pages): "
            + ", ".join(f"{c}-{p} {n}" for (c, p), n in self.processes.most_common(top))
        )
        freed = sum(self.lifetimes.values())
        if freed:
            usual = max(self.lifetimes, key=lambda d: self.lifetimes[d])
            out.append(
                f"lifetimes: {freed} allocations freed in the trace, most often after "
                f"{lifetime_label(usual)}; {self.live_at_end} still allocated at the end; "
                f"{self.freed_unseen} frees of pages allocated before it"
            )
        if self.zones:
            out.append("by zone: " + ", ".join(f"{z} {n}" for z, n in self.zones.items()))
        return out


class _Zones:
    """pfn -> zone name, from /proc/zoneinfo's start_pfn and spanned."""

    def __init__(self, zones: Sequence[ZoneInfo]) -> None:
        spans = sorted(
            (z.start_pfn, z.start_pfn + z.spanned, z.zone)
            for z in zones if z.start_pfn is not None and z.spanned
        )
        self.starts = [start for start, _, _ in spans]
        self.spans = spans

    def name(self, pfn: int) -> str:
        i = bisect.bisect_right(self.starts, pfn) - 1
        if i >= 0 and pfn < self.spans[i][1]:
            return self.spans[i][2]
        return "?"


def summarise_trace(
    events: Iterable[PageEvent],
    zones: Sequence[ZoneInfo] | None = None,
    report: TraceReport | None = None,
) -> TraceSummary:
    """Summarise a stream of events in one pass.  Pass the ``report`` the reader filled to
    keep it with the summary; ``zones`` (from /proc/zoneinfo) adds allocations per zone."""
    s = TraceSummary(report=report if report is not None else TraceReport())
    zone_of = _Zones(zones).name if zones else None
    live: dict[int, float] = {}
    runs: dict[int, list[int]] = {}  # cpu -> [kind, order, length]; kind 1 refill, 2 drain
    first = None
    time = 0.0

    def close(cpu: int) -> None:
        kind, order, length = runs.pop(cpu)
        if kind == 1:
            s.refills[order, length] += 1
        else:
            s.drains[length] += 1

    for e in events:
        time, cpu, name = e.time, e.cpu, e.event
        if first is None:
            first = time
        s.events[name] += 1
        run = runs.get(cpu)
        if name == "mm_page_alloc_zone_locked":
            s.buddy[e.order, e.percpu_refill] += 1
            if e.percpu_refill:
                if run is not None and run[0] == 1 and run[1] == e.order:
                    run[2] += 1
                    continue
                if run is not None:
                    close(cpu)
                runs[cpu] = [1, e.order, 1]
                continue
        elif name == "mm_page_pcpu_drain":
            if run is not None and run[0] == 2:
                run[2] += 1 << e.order
                continue
            if run is not None:
                close(cpu)
            runs[cpu] = [2, 0, 1 << e.order]
            continue
        elif name == "mm_page_alloc_extfrag":
            s.fallbacks[e.migratetype, e.fallback_migratetype] += 1
            s.fallback_orders[e.order, e.fallback_order] += 1
            s.ownership_changes += e.change_ownership
            s.fragmenting += e.fragmenting
            continue  # inside a refill or an allocation: it does not end a run
        if run is not None:
            close(cpu)
        if name == "mm_page_alloc":
            if e.pfn is None:
                s.failed[e.order] += 1
                continue
            s.allocations[e.order] += 1
            s.gfp[e.gfp_flags] += 1
            s.order_gfp[e.order, e.gfp_flags] += 1
            s.processes[e.comm, e.pid] += 1 << e.order
            s.cpus[cpu] += 1
            if zone_of is not None:
                s.zones[zone_of(e.pfn)] += 1
            live[e.pfn] = time
        elif name == "mm_page_free" or name == "mm_page_free_batched":
            s.frees[e.order] += 1
            born = live.pop(e.pfn, None) if e.pfn is not None else None
            if born is None:
                s.freed_unseen += 1
            else:
                micros = (time - born) * 1e6
                s.lifetimes[math.floor(math.log10(micros)) if micros >= 1 else -1] += 1
    for cpu in list(runs):
        close(cpu)
    s.first_time, s.last_time = first or 0.0, time
    s.live_at_end = len(live)
    return s


@dataclass
class Timeline:
    """Per time bin of equal width from the first event to the last: allocations, blocks taken
    from the buddy lists, refills begun and pages drained (one list per series, ``bins`` long);
    ``starts`` holds each bin's start in seconds from the first event."""

    starts: list[float]
    allocations: list[int]
    buddy_blocks: list[int]
    refills: list[int]
    drained_pages: list[int]


def trace_timeline(events: Iterable[PageEvent], bins: int = 60) -> Timeline:
    """Bin a stream of events in time: what the per-CPU lists and the buddy lists did when.

    A refill counts in the bin where its first block was taken (as in summarise_trace, a run
    of refill blocks on one CPU); drained pages in the bin of each drain event."""
    if bins < 1:
        raise InvalidArgument(f"bins must be at least 1, got {bins}")
    series: dict[str, list[float]] = {"alloc": [], "buddy": [], "refill": [], "drain": []}
    weights: list[int] = []
    in_refill: dict[int, bool] = {}
    for e in events:
        name = e.event
        if name == "mm_page_alloc_extfrag":
            continue
        refilling = name == "mm_page_alloc_zone_locked" and e.percpu_refill
        if refilling and not in_refill.get(e.cpu):
            series["refill"].append(e.time)
        in_refill[e.cpu] = refilling
        if name == "mm_page_alloc" and e.pfn is not None:
            series["alloc"].append(e.time)
        elif name == "mm_page_alloc_zone_locked":
            series["buddy"].append(e.time)
        elif name == "mm_page_pcpu_drain":
            series["drain"].append(e.time)
            weights.append(1 << e.order)
    times = [t for values in series.values() for t in values]
    first, last = (min(times), max(times)) if times else (0.0, 0.0)
    width = (last - first) / bins or 1.0

    def histogram(values: list[float], weight: list[int] | None = None) -> list[int]:
        counts = [0] * bins
        for i, t in enumerate(values):
            counts[min(int((t - first) / width), bins - 1)] += weight[i] if weight else 1
        return counts

    return Timeline(
        [i * width for i in range(bins)], histogram(series["alloc"]),
        histogram(series["buddy"]), histogram(series["refill"]),
        histogram(series["drain"], weights),
    )
