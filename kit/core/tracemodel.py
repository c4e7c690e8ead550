"""The model beside the kernel: drive a kit Zone with one real zone's observed requests.

The trace gives the kernel's requests (orders in, frees out) for one zone; the model gets the
same requests in the same order and the two are compared quantity by quantity, with numbers.
Where they agree it is either by construction (the model is fed the kernel's orders) or a
finding; where they cannot agree the reason is named:

* unknown initial state: the model starts from a freshly booted, empty zone; the kernel's free
  lists were shaped by its uptime, and pages freed in the trace but allocated before it cannot
  be freed in the model;
* many CPUs: the kernel has one per-CPU list per CPU (2 here), the model one;
* migratetypes: the model has one free list per order, the kernel one per migratetype, so it
  has fallbacks (``mm_page_alloc_extfrag``) the model cannot have;
* 6.7+ auto-tuning: both scale a refill by powers of two of ``batch`` (``alloc_factor``), but
  the kernel's two lists share the requests while the model's one list takes them all, and
  the kernel moves ``high`` between ``high_min`` and ``high_max`` where the model keeps it;
* other processes: /proc/buddyinfo and zoneinfo count the whole machine, the trace may not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import repeat

from kit.core import events as ev
from kit.core.errors import InvalidArgument
from kit.core.kerneltrace import PageEvent
from kit.core.recording import Recording
from kit.core.trace import Trace
from kit.core.tracecolumns import TraceColumns, event_columns, read_trace_columns
from kit.core.tracesummary import summarise_columns
from kit.core.zone import Page, Zone
from kit.core.zoneinfo import ZoneInfo

__all__ = ["Comparison", "ModelReplay", "replay_beside_model"]


@dataclass(frozen=True)
class Comparison:
    """One quantity, as the kernel showed it and as the model produced it.

    ``agree`` is True or False when the two can be compared, None when the model cannot have
    the quantity at all; ``why`` says why they agree or differ.
    """

    quantity: str
    kernel: object
    model: object
    agree: bool | None
    why: str


#: The steps that end an order-0 refill, by kind and where (its buddy steps do not).
_REFILL_ENDS = ((ev.PCP_TAKE, "alloc"), (ev.PCP_TAKE, "drain"), (ev.ALLOC, ""), (ev.FREE, ""))


class _ModelCounts(Trace):
    """The model's trace, kept as the counts the comparison needs: steps by kind, where and
    order, and blocks per order-0 refill, not the operations (171,762 for the shipped trace).

    A zone hands its trace each event's fields (:meth:`Trace.record`) without making an
    :class:`~kit.core.events.Event`; an observer (``Zone.subscribe``) gets one made for each
    and called, and the shipped trace's replay, 776,101 events, took 2.1-2.8 CPU-s that way
    against 1.4-2.0 this way (lesson 08; runs taken in turn on a busy 2-core machine).  The
    fields are kept as they come and counted a batch at a time, mostly in C (:meth:`count`)."""

    def __init__(self, config: dict[str, object], max_order: int) -> None:
        super().__init__(config)
        #: A step's letter for finding the order-0 refills in a run of steps: "r" a block of
        #: such a refill, "e" a step that ends it, none for the others.
        self._letter = {(ev.PCP_PUT, "refill", 0): "r"} | {
            (kind, where, order): "e"
            for kind, where in _REFILL_ENDS for order in range(max_order + 1)}
        self.steps = Counter[tuple[str, str, int]]()  # (kind, where, order): how many
        self.refills = Counter[int]()  # blocks per order-0 refill
        self._new: list[tuple[str, str, int]] = []  # steps not yet counted
        self._in_refill = 0  # blocks of an order-0 refill not yet ended

    def record(self, kind: str, pfn: int, order: int, where: str, other: int | None) -> None:
        self._new.append((kind, where, order))

    def end_operation(self, name: str, args: tuple[int, ...], result: int | None) -> None:
        """Keeps no operations: only their steps count."""

    def count(self) -> None:
        """Count the steps recorded since the last call, in the order the zone took them."""
        new = self._new
        self.steps.update(new)
        # the refill sizes are the lengths of the runs of "r" that an "e" ends
        runs = ("r" * self._in_refill + "".join(map(self._letter.get, new, repeat("")))
                ).split("e")
        self.refills.update(len(run) for run in runs[:-1] if run)
        self._in_refill = len(runs[-1])  # a refill the next steps go on with
        new.clear()

    def close(self) -> None:
        """Count what is left, and end a refill still open, when the replay ends."""
        self.count()
        if self._in_refill:
            self.refills[self._in_refill] += 1
            self._in_refill = 0

    def kind(self, kind: str) -> int:
        """How many steps of one kind (``kit.core.events``) the model took."""
        return sum(n for (each, _, _), n in self.steps.items() if each == kind)

    @property
    def drained_pages(self) -> int:
        """Pages the model's per-CPU list gave back to the buddy lists."""
        return sum(n << order for (_, where, order), n in self.steps.items() if where == "drain")


@dataclass
class ModelReplay:
    """The result of :func:`replay_beside_model`: the zone and the compared quantities."""

    zone: str
    rows: list[Comparison]

    def row(self, quantity: str) -> Comparison:
        """The comparison of one quantity, by the name in its first column."""
        for row in self.rows:
            if row.quantity == quantity:
                return row
        raise InvalidArgument(f"no quantity {quantity!r}; have {[r.quantity for r in self.rows]}")

    def lines(self) -> list[str]:
        """A text table: quantity, kernel, model, verdict and reason."""
        mark = {True: "agree", False: "differ", None: "cannot"}
        width = max(len(r.quantity) for r in self.rows)
        return [
            f"{r.quantity:<{width}}  kernel {r.kernel!s:<14} model {r.model!s:<14} "
            f"{mark[r.agree]:<7} {r.why}"
            for r in self.rows
        ]


def _zone(zones: list[ZoneInfo], name: str) -> ZoneInfo:
    for zone in zones:
        if zone.zone == name and zone.start_pfn is not None and zone.managed:
            return zone
    names = [z.zone for z in zones if z.managed]
    raise InvalidArgument(f"no populated zone {name!r} in the zoneinfo; zones: {names}")


def _nr_free_change(recording: Recording, zone: ZoneInfo) -> list[int]:
    """buddyinfo after minus before, for the zone (blocks per order)."""
    lines = []
    for when in ("before", "after"):
        match = [z for z in recording.buddyinfo(when) if (z.node, z.zone) == (zone.node,
                                                                                zone.zone)]
        if not match:
            raise InvalidArgument(f"the buddyinfo {when} the trace has no zone {zone.zone}")
        lines.append(match[0].nr_free)
    return [a - b for a, b in zip(lines[1], lines[0], strict=True)]


def _most_common(counter: Counter[int], n: int = 3) -> str:
    return ",".join(str(size) for size, _ in counter.most_common(n)) or "-"


def replay_beside_model(
    recording: Recording, zone: str = "Normal", events: Iterable[PageEvent] | None = None
) -> ModelReplay:
    """Replay the recording's allocations and frees in ``zone`` on a kit Zone of the same size,
    ``batch`` and ``high`` (from zoneinfo before the trace, CPU 0), per-CPU lists on, and
    compare the two.  ``events`` replaces the recording's trace (e.g. a prefix of it)."""
    before, after = recording.zoneinfo("before"), recording.zoneinfo("after")
    real = _zone(before, zone)
    real_after = _zone(after, zone)
    assert real.start_pfn is not None
    start, end = real.start_pfn, real.start_pfn + real.spanned
    pageset = real.pagesets[0] if real.pagesets else None
    model = Zone(
        real.managed, start_pfn=start, pcp=True, record=True, preset="6.8",
        pcp_batch=pageset.batch if pageset else None,
        pcp_high=pageset.high if pageset and pageset.high > 0 else None,
    )
    model.trace = counts = _ModelCounts(model.config(), model.max_order)
    free_before = model.free_pages_count
    nr_free_before = model.nr_free()

    held: dict[int, Page] = {}  # kernel pfn -> the model's block for the same request
    failed = same_pfn = unseen = 0  # model failures, pfns like the kernel's, frees never seen
    alloc_pages, release, forget = model.alloc_pages, model.release, held.pop

    def zone_batches() -> Iterator[TraceColumns]:
        """The zone's events as columns (read in bulk, kit.core.tracecolumns), each replayed
        on the model as it passes to the summary: an allocation is made on the model, a free
        frees the model's block for the same kernel pfn.  What a run's event asks of the
        model is looked up once per run, not once per event (the shipped trace's 274,647
        events, all zones, come in 6,089 runs)."""
        nonlocal failed, same_pfn, unseen
        batches = read_trace_columns(recording.trace) if events is None else event_columns(
            events)
        for batch in batches:
            times, pfns = batch.times, batch.pfns
            kept = TraceColumns([], [], [])
            keep_time, keep_pfn = kept.times.append, kept.pfns.append
            for run in batch.runs:
                first = len(kept)
                event, order = run.event, run.fields[0]
                allocates = event == "mm_page_alloc"
                frees = event in ("mm_page_free", "mm_page_free_batched")
                for row in range(run.start, run.end):
                    raw = pfns[row]
                    if not raw:  # b"": a failed allocation
                        continue
                    pfn = int(raw, 16)
                    if not start <= pfn < end:
                        continue
                    if allocates:
                        page = alloc_pages(order)
                        if page is None:
                            failed += 1
                        else:
                            held[pfn] = page
                            same_pfn += page.pfn == pfn
                    elif frees:
                        freed = forget(pfn, None)
                        if freed is None:
                            unseen += 1
                        else:
                            release(freed)
                    keep_time(times[row])
                    keep_pfn(raw)
                if len(kept) > first:  # a run cut short is still a run (as at a batch's end)
                    kept.runs.append(run._replace(start=first, end=len(kept)))
            counts.count()
            yield kept

    kernel = summarise_columns(zone_batches())
    counts.close()

    allocs = kernel.nr_allocations
    frees = sum(kernel.frees.values())
    kernel_refills = kernel.refill_sizes(0)
    kernel_drained = sum(pages * count for pages, count in kernel.drains.items())
    kernel_locked = sum(kernel.buddy.values())
    free_delta_kernel = real_after.free - real.free
    free_delta_model = model.free_pages_count - free_before
    cpus = len(real.pagesets) or 1
    model_nr_free = [a - b for a, b in zip(model.nr_free(), nr_free_before, strict=True)]
    kernel_nr_free = _nr_free_change(recording, real)
    rows = [
        Comparison("allocations", allocs, allocs - failed, failed == 0,
                   "by construction: the model is given the kernel's orders"
                   + (f"; {failed} failed in the model" if failed else "")),
        Comparison("frees replayed", frees, frees - unseen, unseen == 0,
                   f"unknown initial state: {unseen} frees were of pages allocated before "
                   "the trace, which the model never handed out"),
        Comparison("same pfn as the kernel", allocs, same_pfn, same_pfn == allocs,
                   "unknown initial state, migratetypes and per-CPU lists decide the pfn: "
                   "the model's empty zone hands out other blocks"),
        Comparison("blocks taken from buddy lists", kernel_locked, counts.kind(ev.TAKE),
                   kernel_locked == counts.kind(ev.TAKE),
                   f"{cpus} CPUs' lists in the kernel, one in the model, each refilled and "
                   "drained by its own history"),
        Comparison("order-0 refills", sum(kernel_refills.values()),
                   sum(counts.refills.values()),
                   sum(kernel_refills.values()) == sum(counts.refills.values()),
                   f"both scale a refill by 2^alloc_factor while a list keeps emptying (6.7 "
                   f"on); the model's one list takes every request, the kernel's {cpus} share "
                   "them"),
        Comparison("usual blocks per refill", _most_common(kernel_refills),
                   _most_common(counts.refills),
                   kernel_refills.most_common(1) == counts.refills.most_common(1),
                   f"zoneinfo batch {pageset.batch if pageset else '?'}, times 2^alloc_factor "
                   "in both; how far the factor climbs depends on how the requests fall on "
                   "the lists"),
        Comparison("pages drained from per-CPU lists", kernel_drained, counts.drained_pages,
                   kernel_drained == counts.drained_pages,
                   f"the model's high stays {model.pcp_high}; the kernel's moves between "
                   f"high_min and high_max, and {cpus} lists drain"),
        Comparison("splits", "no tracepoint", counts.kind(ev.SPLIT), None,
                   "the kernel traces no split (expand) or merge; only the model shows them"),
        Comparison("merges", "no tracepoint", counts.kind(ev.MERGE), None,
                   "freed buddies merge in __free_one_page, which has no tracepoint"),
        Comparison("fallbacks to another migratetype", sum(kernel.fallbacks.values()), 0,
                   None, "the model has one migratetype, so nothing to fall back to"),
        Comparison("change of free pages (buddy lists)", free_delta_kernel, free_delta_model,
                   free_delta_kernel == free_delta_model,
                   "zoneinfo counts the whole machine (every process, every CPU's list); the "
                   "model only this trace's requests"),
        Comparison("change of nr_free, orders 0-3", kernel_nr_free[:4], model_nr_free[:4],
                   kernel_nr_free[:4] == model_nr_free[:4],
                   "buddyinfo moves with every process of the machine and starts from a "
                   "fragmented zone; the model's zone starts whole"),
    ]
    return ModelReplay(zone, rows)
