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
(kit.core.tracecolumns) to the same summary and report, several times faster, a big plain
file on every core (kit.core.traceparts: each part summarised into a :class:`PartialSummary`,
the parts merged in file order).  Both feed the same summariser, batches of columns run by run.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import is_not, mul, ne, sub, truediv
from typing import Any

from kit.core.errors import InvalidArgument
from kit.core.kerneltrace import MIGRATETYPE_NAMES, PageEvent, TraceReport
from kit.core.tracecolumns import (
    Fields,
    TraceColumns,
    event_columns,
    read_trace_columns,
)
from kit.core.traceparts import Span, can_fork, line_spans, map_spans, part_count
from kit.core.zoneinfo import ZoneInfo

__all__ = [
    "PartialSummary",
    "Timeline",
    "TraceSummary",
    "lifetime_label",
    "migratetype_name",
    "summarise_and_bin_trace_file",
    "summarise_columns",
    "summarise_part",
    "summarise_span",
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

    def count(self, pfns: Iterable[bytes]) -> Counter[str]:
        """Allocations per zone of pfns in hex (ASCII bytes)."""
        slots = Counter(map(bisect.bisect_right, repeat(self.bounds), map(int, pfns, repeat(16))))
        named: Counter[str] = Counter()
        for slot, n in slots.items():
            named[self.names[slot - 1] if slot else "?"] += n
        return named


_MISSING = object()  # what a free of a page allocated before the trace finds in ``live``
_FREES = ("mm_page_free", "mm_page_free_batched")
#: The counters of a TraceSummary that parts add up.
_COUNTERS = tuple(
    f.name for f in dataclasses.fields(TraceSummary) if str(f.type).startswith("Counter")
)


def _add_lifetimes(lifetimes: Counter[int], born: list[Any], freed: list[Any]) -> None:
    """Count the lifetimes (in decades of microseconds) of frees at times ``freed`` of pages
    allocated at times ``born`` (seconds as ASCII bytes or float).

    Sorted (floats compare fast in a sort), the lifetimes of each decade are one stretch,
    found by bisecting at its powers of ten: a few C calls a batch where a logarithm, a
    floor and a count each would cost some 600 instructions a lifetime.  Under a
    microsecond, or not a finite number (times of hundreds of digits), counts as -1."""
    micros = list(map(mul, map(sub, map(float, freed), map(float, born)), repeat(1e6)))
    if not micros:
        return
    if not math.isfinite(sum(micros)):  # a NaN would leave the sort out of order
        finite = list(filter(math.isfinite, micros))
        lifetimes[-1] += len(micros) - len(finite)
        micros = finite
    micros.sort()
    low = bisect.bisect_left(micros, 1.0)
    if low:
        lifetimes[-1] += low
    decade = 0
    while low < len(micros):
        high = bisect.bisect_left(micros, 10.0 ** (decade + 1), low)
        if high > low:
            lifetimes[decade] += high - low
        low, decade = high, decade + 1


_Packed = tuple[int, bytes | list[Any]]


def _packed(items: Iterable[Any]) -> _Packed:
    """Items for pickling: bytes (pfns, times) joined into one string, which pickle copies at
    memory speed, where 100,000 short strings cost tens of milliseconds each way (the result
    of the worker reading a 1 M-event trace's second half was a 2.2 MB pickle, some 0.1 s
    of dumping and loading after the reading); anything else as it is."""
    listed = list(items)
    try:
        return len(listed), b"\x00".join(listed)  # no pfn or time holds a NUL
    except TypeError:  # times as floats (summarise_trace's parts)
        return len(listed), listed


def _unpacked(packed: _Packed) -> list[Any]:
    """The items :func:`_packed` packed, in order."""
    count, items = packed
    if isinstance(items, list):
        return items
    return items.split(b"\x00") if count else []


class PartialSummary:
    """The summary of one part of a trace, in one pass, batch by batch of columns, run by run
    of equal (process and CPU, event, fields), and what it must carry to the parts around it.

    Counts add a run's length; what depends on order takes a run at a time, its pfns and times
    in C: lifetimes (``live`` maps a pfn to the time it was allocated) and the refill and drain
    runs of each CPU (``runs``: [kind, order, length, leading], kind 1 a refill of ``length``
    blocks, 2 a drain of ``length`` pages).

    A part that does not begin the trace (``at_start`` False) cannot know what came before
    it, so it keeps, for :meth:`merge` with the part before: the frees of pages it did not see
    allocated (``open_frees``, each the first event of its pfn in the part: the part before may
    hold the allocation; ``seen`` the pfns the part allocated or freed so: in the file read
    in one pass, those replace what the part before left allocated); and per CPU the
    first refill or drain run if nothing ended a run before it (``leading``: it may continue
    the part before's last run; None where the CPU's first event ends a run; an open run that
    began the part has ``leading`` 1).  Line numbers count from the part's first line; merging
    adds the lines before.
    """

    def __init__(
        self, zones: Sequence[ZoneInfo] | None = None, report: TraceReport | None = None,
        at_start: bool = True,
    ) -> None:
        self.s = TraceSummary(report=report if report is not None else TraceReport())
        self.zones = _Zones(zones) if zones else None
        self.at_start = at_start
        self.live: dict[bytes, bytes | float] = {}
        self.born: list[Any] = []  # what this batch's frees found in ``live`` (or _MISSING)
        self.freed: list[bytes | float] = []  # and their times
        self.runs: dict[int, list[int]] = {}
        self.leading: dict[int, tuple[int, int, int] | None] = {}
        self.open_frees: list[tuple[bytes, bytes | float]] = []
        self.seen: set[bytes] = set()
        self.first: bytes | float | None = None
        self.last: bytes | float = 0.0

    def __getstate__(self) -> dict[str, Any]:
        """What a worker sends back: the pfns and times it holds as a few long strings."""
        state = self.__dict__.copy()
        state["live"] = (_packed(self.live), _packed(self.live.values()))
        state["seen"] = _packed(self.seen)
        state["open_frees"] = (_packed(pfn for pfn, _ in self.open_frees),
                               _packed(time for _, time in self.open_frees))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        pfns, times = state["live"]
        state["live"] = dict(zip(_unpacked(pfns), _unpacked(times), strict=True))
        state["seen"] = set(_unpacked(state["seen"]))
        pfns, times = state["open_frees"]
        state["open_frees"] = list(zip(_unpacked(pfns), _unpacked(times), strict=True))
        self.__dict__.update(state)

    def add(self, batch: TraceColumns) -> None:
        """Summarise the next batch of the part."""
        if not batch.times:
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
                pfns, times = batch.pfns[start:end], batch.times[start:end]
                found = list(map(self.live.pop, pfns, repeat(_MISSING)))
                if not self.at_start and _MISSING in found:
                    found, times = self._open(pfns, times, found)
                self.born.extend(found)
                self.freed.extend(times)
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
        failed = pfns.count(b"")  # a failed allocation holds no page
        if failed:
            s.failed[order] += failed
            kept = list(map(ne, pfns, repeat(b"")))
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
        if not self.at_start:
            self.seen.update(pfns)
        if self.zones is not None:
            s.zones.update(self.zones.count(pfns))

    def _open(
        self, pfns: list[bytes], times: list[Any], found: list[Any]
    ) -> tuple[list[Any], list[Any]]:
        """Set aside the frees whose page the part before may have allocated (the first event
        of their pfn here); the others stay, with what they found."""
        kept_found, kept_times = [], []
        seen = self.seen
        for pfn, time, born in zip(pfns, times, found, strict=True):
            if born is _MISSING and pfn not in seen:
                seen.add(pfn)
                self.open_frees.append((pfn, time))
            else:
                kept_found.append(born)
                kept_times.append(time)
        return kept_found, kept_times

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
        _add_lifetimes(self.s.lifetimes, born, freed)

    def _extend(self, cpu: int, kind: int, order: int, length: int) -> None:
        """``length`` more blocks of a refill (kind 1) or pages of a drain (kind 2)."""
        run = self.runs.get(cpu)
        if run is not None and run[0] == kind and run[1] == order:
            run[2] += length
            return
        if run is None:
            leading = not self.at_start and cpu not in self.leading
            self.runs[cpu] = [kind, order, length, leading]
        else:
            self._close(cpu)
            self.runs[cpu] = [kind, order, length, False]

    def _close(self, cpu: int) -> None:
        run = self.runs.pop(cpu, None)
        if run is None:
            if not self.at_start and cpu not in self.leading:
                self.leading[cpu] = None  # the CPU's first event here ends any run before
            return
        self._settle(cpu, run)

    def _settle(self, cpu: int, run: list[int]) -> None:
        """A run that has ended: counted, or kept as the part's leading run of its CPU."""
        kind, order, length, leading = run
        if leading:
            self.leading[cpu] = (kind, order, length)
        elif kind == 1:
            self.s.refills[order, length] += 1
        else:
            self.s.drains[length] += 1

    def merge(self, later: PartialSummary) -> None:
        """Add the summary of the part that comes right after this one in the file."""
        s, other = self.s, later.s
        s.report.merge(other.report)
        for name in _COUNTERS:
            getattr(s, name).update(getattr(other, name))
        s.names.update(other.names)
        s.ownership_changes += other.ownership_changes
        s.fragmenting += other.fragmenting
        s.freed_unseen += other.freed_unseen
        self._merge_frees(later)
        self._merge_runs(later)
        if self.first is None:
            self.first = later.first
        if later.first is not None:
            self.last = later.last

    def _merge_frees(self, later: PartialSummary) -> None:
        """Frees the later part could not match meet this part's allocations; pages still
        allocated at the end are this part's then the later part's."""
        born, freed = [], []
        for pfn, time in later.open_frees:
            allocated = self.live.pop(pfn, _MISSING)
            if allocated is not _MISSING:
                born.append(allocated)
                freed.append(time)
            elif self.at_start or pfn in self.seen:
                self.s.freed_unseen += 1
            else:  # still open: a part before this one may hold the allocation
                self.seen.add(pfn)
                self.open_frees.append((pfn, time))
        _add_lifetimes(self.s.lifetimes, born, freed)
        # An allocation of a pfn in the later part replaces one here, as a trace read in one
        # pass overwrites it: only what the later part never touched stays.
        live, seen = self.live, later.seen
        if len(seen) < len(live):
            for pfn in seen:
                live.pop(pfn, None)
        else:
            self.live = live = {pfn: t for pfn, t in live.items() if pfn not in seen}
        live.update(later.live)
        if not self.at_start:
            self.seen.update(seen)

    def _merge_runs(self, later: PartialSummary) -> None:
        """Join each CPU's last run here with its first run in the later part when they are
        one run (same kind and order, nothing in between ended it)."""
        for cpu, lead in later.leading.items():  # the later part's first run ended there
            run = self.runs.pop(cpu, None)
            if run is None:
                if self.at_start or cpu in self.leading:
                    if lead is not None:
                        self._settle(cpu, [*lead, False])
                else:  # this part never touched the CPU: what is before still decides
                    self.leading[cpu] = lead
            elif lead is not None and (run[0], run[1]) == lead[:2]:
                run[2] += lead[2]
                self._settle(cpu, run)
            else:
                self._settle(cpu, run)
                if lead is not None:
                    self._settle(cpu, [*lead, False])
        for cpu, later_run in later.runs.items():  # runs open at the later part's end
            run = self.runs.get(cpu)
            if later_run[3] and run is not None and (run[0], run[1]) == (later_run[0],
                                                                         later_run[1]):
                run[2] += later_run[2]  # one run through the whole later part
                continue
            if later_run[3]:
                if run is not None:
                    del self.runs[cpu]
                    self._settle(cpu, run)
                later_run = [*later_run[:3], run is None and not self.at_start
                             and cpu not in self.leading]
            self.runs[cpu] = later_run

    def finish(self) -> TraceSummary:
        """The summary, with what is still open counted as it stands: call it on the part
        that begins the trace (after merging the others into it)."""
        for cpu, lead in list(self.leading.items()):
            if lead is not None:
                self._settle(cpu, [*lead, False])
        self.leading.clear()
        for cpu in list(self.runs):
            self._settle(cpu, [*self.runs.pop(cpu)[:3], False])
        s = self.s
        # Runs and lifetimes are counted when they end, which is another order when parts
        # are merged: keyed in order, the top sizes of equal counts are the same either way.
        s.refills = Counter(dict(sorted(s.refills.items())))
        s.drains = Counter(dict(sorted(s.drains.items())))
        s.lifetimes = Counter(dict(sorted(s.lifetimes.items())))
        s.freed_unseen += len(self.open_frees)
        self.open_frees = []
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
    return summarise_part(batches, zones, report).finish()


def summarise_part(
    batches: Iterable[TraceColumns],
    zones: Sequence[ZoneInfo] | None = None,
    report: TraceReport | None = None,
    at_start: bool = True,
) -> PartialSummary:
    """The partial summary of batches of columns: a part of a trace, the first one when
    ``at_start``; merge the parts in file order, then finish the first."""
    partial = PartialSummary(zones, report, at_start)
    for batch in batches:
        partial.add(batch)
    return partial


def summarise_trace(
    events: Iterable[PageEvent],
    zones: Sequence[ZoneInfo] | None = None,
    report: TraceReport | None = None,
) -> TraceSummary:
    """Summarise a stream of events in one pass.  Pass the ``report`` the reader filled to
    keep it with the summary; ``zones`` (from /proc/zoneinfo) adds allocations per zone."""
    return summarise_columns(event_columns(events), zones, report)


def summarise_span(
    span: Span, path: str | os.PathLike[str], zones: Sequence[ZoneInfo] | None = None
) -> PartialSummary:
    """The partial summary of the bytes ``span`` of a plain trace file (a worker's job)."""
    report = TraceReport()
    return summarise_part(read_trace_columns(path, report, span), zones, report, span[0] == 0)


def summarise_trace_file(
    path: str | os.PathLike[str],
    zones: Sequence[ZoneInfo] | None = None,
    report: TraceReport | None = None,
    processes: int | None = None,
) -> TraceSummary:
    """Read and summarise a trace file (``.gz`` too): the same summary as
    ``summarise_trace(read_trace(path, report), zones, report)``, several times faster:
    raw tracefs lines are cut a chunk at a time (kit.core.tracecolumns), and a big plain file
    is cut into parts summarised at once on every core (kit.core.traceparts; ``processes``
    sets how many, default one per core for files of at least 4 MiB a part, where this
    process runs no other thread)."""
    report = report if report is not None else TraceReport()
    parts = _part_count(path, processes)
    if parts is None:
        return summarise_columns(read_trace_columns(path, report), zones, report)
    name = os.fspath(path)
    partials = map_spans(summarise_span, line_spans(name, parts), name, zones)
    whole = partials[0]
    for partial in partials[1:]:
        whole.merge(partial)
    report.merge(whole.s.report)  # the caller's report: lines go on from what it holds
    whole.s.report = report
    return whole.finish()


def _part_count(path: str | os.PathLike[str], processes: int | None) -> int | None:
    """How many parts summarise_trace_file cuts a plain file into; None for one stream (a
    ``.gz``, or a path that is no file: its one-line error comes from reading it)."""
    name = os.fspath(path)
    if name.endswith(".gz") or not os.path.isfile(name):
        return None
    parts = processes if processes is not None else part_count(
        os.path.getsize(name)) if can_fork() else 1
    return max(1, parts)


def summarise_and_bin_trace_file(
    path: str | os.PathLike[str],
    zones: Sequence[ZoneInfo] | None = None,
    report: TraceReport | None = None,
    bins: int = 60,
) -> tuple[TraceSummary, Timeline]:
    """``summarise_trace_file(path, zones, report)`` and ``trace_timeline_file(path, bins)``
    from one reading of a file that one process reads whole (a ``.gz``, a small file, a
    process with other threads, such as a Jupyter kernel): the kernel-trace view shows both,
    and reading the shipped trace took 0.25 CPU-s each time.  A file cut into parts is
    summarised on every core and read again for the timeline."""
    if bins < 1:
        raise InvalidArgument(f"bins must be at least 1, got {bins}")
    report = report if report is not None else TraceReport()
    if (_part_count(path, None) or 1) > 1:
        return summarise_trace_file(path, zones, report), trace_timeline_file(path, bins)
    series = _TimelineSeries()

    def binned() -> Iterator[TraceColumns]:
        for batch in read_trace_columns(path, report):
            series.add(batch)
            yield batch

    return summarise_columns(binned(), zones, report), series.bin(bins)


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
    series = _TimelineSeries()
    for batch in batches:
        series.add(batch)
    return series.bin(bins)


class _TimelineSeries:
    """The times of a trace's allocations, blocks taken from the buddy lists, refills begun and
    drains (with their pages), gathered batch by batch and binned once all are in."""

    def __init__(self) -> None:
        self.series: dict[str, list[float]] = {"alloc": [], "buddy": [], "refill": [],
                                               "drain": []}
        self.weights: list[int] = []
        self.in_refill: dict[int, bool] = {}

    def add(self, batch: TraceColumns) -> None:
        """Take the times of one batch of columns, run by run."""
        series, weights, in_refill = self.series, self.weights, self.in_refill
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

    def bin(self, bins: int) -> Timeline:
        """The timeline: ``bins`` bins of equal width from the first event to the last."""
        series = self.series
        filled = [values for values in series.values() if values]
        first = min(map(min, filled)) if filled else 0.0
        last = max(map(max, filled)) if filled else 0.0
        width = (last - first) / bins or 1.0

        def histogram(values: list[float], weight: list[int] | None = None) -> list[int]:
            """Each time in bin ``int((t - first) / width)``, the last bin taking the end: the
            bins are found by map (in C), not a Python loop over the ~170,000 times of the
            shipped trace (a view of it spent 0.05 CPU-s here)."""
            found = map(int, map(truediv, map(sub, values, repeat(first)), repeat(width)))
            counts = [0] * bins
            if weight:
                for index, pages in zip(found, weight, strict=True):
                    counts[min(index, bins - 1)] += pages
                return counts
            for index, times in Counter(found).items():
                counts[min(index, bins - 1)] += times
            return counts

        return Timeline(
            [i * width for i in range(bins)], histogram(series["alloc"]),
            histogram(series["buddy"]), histogram(series["refill"]),
            histogram(series["drain"], self.weights),
        )
