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

:func:`summarise_trace` takes typed records; :func:`summarise_trace_file` reads a file in bulk
(kit.core.tracecolumns) to the same summary and report, several times faster.  Both feed the
same summariser, batches of columns run by run.
"""

from __future__ import annotations

import bisect
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import ge, is_not, mul, ne, sub
from typing import Any

from kit.core.errors import InvalidArgument
from kit.core.kerneltrace import MIGRATETYPE_NAMES, PageEvent, TraceReport
from kit.core.tracecolumns import (
    Fields,
    TraceColumns,
    event_columns,
    read_trace_columns,
)
from kit.core.zoneinfo import ZoneInfo

__all__ = [
    "Timeline",
    "TraceSummary",
    "lifetime_label",
    "migratetype_name",
    "summarise_columns",
    "summarise_trace",
    "summarise_trace_file",
    "timeline_columns",
    "trace_timeline",
    "trace_timeline_file",
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
    processes: Counter[int] = field(default_factory=Counter)  # pid -> pages allocated
    #: pid -> the last name the trace gives it.  The tracer names a pid from a cache it updates
    #: when the task is next switched in, so a command started by a program (``dd`` run from
    #: Python) is traced under its parent's name for its first allocations after exec: keyed by
    #: name, one process would be listed twice, under two names.
    names: dict[int, str] = field(default_factory=dict)
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
            + ", ".join(f"{self.names[p]}-{p} {n}" for p, n in self.processes.most_common(top))
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
        # Every boundary, each with the name of the range it begins ("?" between zones), so
        # one bisect names a pfn.
        self.bounds: list[int] = []
        self.names: list[str] = []
        for start, end, name in spans:
            if self.bounds and self.bounds[-1] == start:
                self.names[-1] = name
            else:
                self.bounds.append(start)
                self.names.append(name)
            self.bounds.append(end)
            self.names.append("?")

    def count(self, pfns: Iterable[str]) -> Counter[str]:
        """Allocations per zone of pfns in hex text."""
        slots = Counter(map(bisect.bisect_right, repeat(self.bounds), map(int, pfns, repeat(16))))
        named: Counter[str] = Counter()
        for slot, n in slots.items():
            named[self.names[slot - 1] if slot else "?"] += n
        return named


_MISSING = object()  # what a free of a page allocated before the trace finds in ``live``
_FREES = ("mm_page_free", "mm_page_free_batched")


class _Summariser:
    """The one pass of :func:`summarise_trace`, batch by batch of columns, run by run of
    equal (process and CPU, event, fields): counts add a run's length, and what depends on
    order takes a run at a time, its pfns and times in C: lifetimes (``live`` maps a pfn to
    the time it was allocated) and the refill and drain runs of each CPU (``runs``: [kind,
    order, length], kind 1 a refill of ``length`` blocks, 2 a drain of ``length`` pages).
    """

    def __init__(self, s: TraceSummary, zones: Sequence[ZoneInfo] | None) -> None:
        self.s = s
        self.zones = _Zones(zones) if zones else None
        self.live: dict[str, str | float] = {}
        self.born: list[Any] = []  # what this batch's frees found in ``live`` (or _MISSING)
        self.freed: list[str | float] = []  # and their times
        self.runs: dict[int, list[int]] = {}
        self.first: str | float | None = None
        self.last: str | float = 0.0

    def add(self, batch: TraceColumns) -> None:
        if not batch.events:
            return
        if self.first is None:
            self.first = batch.times[0]
        self.last = batch.times[-1]
        s = self.s
        for start, end, comm, pid, cpu, event, fields in batch.runs:
            n = end - start
            s.events[event] += n
            if event == "mm_page_alloc":
                self._close(cpu)
                self._allocations(batch, start, end, fields, comm, pid, cpu)
            elif event in _FREES:
                self._close(cpu)
                s.frees[fields[0]] += n
                self.born.extend(map(self.live.pop, batch.pfns[start:end], repeat(_MISSING)))
                self.freed.extend(batch.times[start:end])
            elif event == "mm_page_alloc_zone_locked":
                s.buddy[fields[0], fields[2]] += n
                if fields[2]:  # blocks of a per-CPU list's refill
                    self._extend(cpu, 1, fields[0], n)
                else:
                    self._close(cpu)
            elif event == "mm_page_pcpu_drain":
                self._extend(cpu, 2, 0, n << fields[0])
            else:  # mm_page_alloc_extfrag: inside a refill or an allocation, ends no run
                s.fallbacks[fields[2], fields[3]] += n
                s.fallback_orders[fields[0], fields[1]] += n
                s.ownership_changes += n * fields[5]
                s.fragmenting += n * fields[4]
        self._lifetimes()

    def _allocations(
        self, batch: TraceColumns, start: int, end: int, fields: Fields, comm: str, pid: int,
        cpu: int,
    ) -> None:
        s = self.s
        order, gfp = fields[0], fields[2]
        pfns, times = batch.pfns[start:end], batch.times[start:end]
        failed = pfns.count("")  # a failed allocation holds no page
        if failed:
            s.failed[order] += failed
            kept = list(map(ne, pfns, repeat("")))
            pfns, times = list(compress(pfns, kept)), list(compress(times, kept))
            if not pfns:
                return
        n = len(pfns)
        s.allocations[order] += n
        s.gfp[gfp] += n
        s.order_gfp[order, gfp] += n
        s.processes[pid] += n << order
        s.names[pid] = comm
        s.cpus[cpu] += n
        self.live.update(zip(pfns, times, strict=True))
        if self.zones is not None:
            s.zones.update(self.zones.count(pfns))

    def _lifetimes(self) -> None:
        """The lifetimes of the batch's frees: ``born`` holds what each found in ``live``,
        ``freed`` its time."""
        born, freed = self.born, self.freed
        if not born:
            return
        self.born, self.freed = [], []
        seen = list(map(is_not, born, repeat(_MISSING)))
        matched = seen.count(True)
        self.s.freed_unseen += len(born) - matched
        if matched < len(born):
            born, freed = list(compress(born, seen)), list(compress(freed, seen))
        micros = list(map(mul, map(sub, map(float, freed), map(float, born)), repeat(1e6)))
        long_lived = list(compress(micros, map(ge, micros, repeat(1.0))))
        if len(long_lived) < len(micros):  # under a microsecond (or not a number)
            self.s.lifetimes[-1] += len(micros) - len(long_lived)
        self.s.lifetimes.update(map(math.floor, map(math.log10, long_lived)))

    def _extend(self, cpu: int, kind: int, order: int, length: int) -> None:
        """``length`` more blocks of a refill (kind 1) or pages of a drain (kind 2)."""
        run = self.runs.get(cpu)
        if run is not None and run[0] == kind and run[1] == order:
            run[2] += length
            return
        self._close(cpu)
        self.runs[cpu] = [kind, order, length]

    def _close(self, cpu: int) -> None:
        run = self.runs.pop(cpu, None)
        if run is None:
            return
        kind, order, length = run
        if kind == 1:
            self.s.refills[order, length] += 1
        else:
            self.s.drains[length] += 1

    def finish(self) -> TraceSummary:
        for cpu in list(self.runs):
            self._close(cpu)
        s = self.s
        s.first_time = float(self.first) if self.first is not None else 0.0
        s.last_time = float(self.last)
        s.live_at_end = len(self.live)
        return s


def summarise_columns(
    batches: Iterable[TraceColumns],
    zones: Sequence[ZoneInfo] | None = None,
    report: TraceReport | None = None,
) -> TraceSummary:
    """Summarise batches of columns (see kit.core.tracecolumns) in one pass."""
    summariser = _Summariser(TraceSummary(report=report if report is not None
                                          else TraceReport()), zones)
    for batch in batches:
        summariser.add(batch)
    return summariser.finish()


def summarise_trace(
    events: Iterable[PageEvent],
    zones: Sequence[ZoneInfo] | None = None,
    report: TraceReport | None = None,
) -> TraceSummary:
    """Summarise a stream of events in one pass.  Pass the ``report`` the reader filled to
    keep it with the summary; ``zones`` (from /proc/zoneinfo) adds allocations per zone."""
    return summarise_columns(event_columns(events), zones, report)


def summarise_trace_file(
    path: str | os.PathLike[str],
    zones: Sequence[ZoneInfo] | None = None,
    report: TraceReport | None = None,
) -> TraceSummary:
    """Read and summarise a trace file (``.gz`` too): the same summary as
    ``summarise_trace(read_trace(path, report), zones, report)``, several times faster,
    because raw tracefs lines are cut a chunk at a time (kit.core.tracecolumns)."""
    report = report if report is not None else TraceReport()
    return summarise_columns(read_trace_columns(path, report), zones, report)


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
    return timeline_columns(event_columns(events), bins)


def trace_timeline_file(path: str | os.PathLike[str], bins: int = 60) -> Timeline:
    """Read and bin a trace file (``.gz`` too): the same timeline as
    ``trace_timeline(read_trace(path), bins)``, ten times faster (kit.core.tracecolumns)."""
    return timeline_columns(read_trace_columns(path), bins)


def timeline_columns(batches: Iterable[TraceColumns], bins: int = 60) -> Timeline:
    """Bin batches of columns (see kit.core.tracecolumns) in time, run by run."""
    if bins < 1:
        raise InvalidArgument(f"bins must be at least 1, got {bins}")
    series: dict[str, list[float]] = {"alloc": [], "buddy": [], "refill": [], "drain": []}
    weights: list[int] = []
    in_refill: dict[int, bool] = {}
    for batch in batches:
        seconds, pfns = batch.times, batch.pfns
        for start, end, _comm, _pid, cpu, name, fields in batch.runs:
            if name == "mm_page_alloc_extfrag":
                continue
            # a run is one CPU's events of one kind: a refill begins at its first, if any
            refilling = name == "mm_page_alloc_zone_locked" and fields[2]
            if refilling and not in_refill.get(cpu):
                series["refill"].append(float(seconds[start]))
            in_refill[cpu] = refilling
            if name == "mm_page_alloc":  # a failed one (no pfn) took nothing
                series["alloc"] += map(float, compress(seconds[start:end], pfns[start:end]))
            elif name == "mm_page_alloc_zone_locked":
                series["buddy"] += map(float, seconds[start:end])
            elif name == "mm_page_pcpu_drain":
                series["drain"] += map(float, seconds[start:end])
                weights += repeat(1 << fields[0], end - start)
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
