"""Recorded scenarios, and a model that replays a trace one event at a time.

The step-through player and the exact-allocation animator need the state of a zone *between*
two events of one operation (after the split, before the merge), which a ``Zone`` cannot give:
its snapshots are taken between operations.  ``EventModel`` rebuilds that state from the events
alone, the way a student reading a trace would, and offers the same read-only API the widgets
use on a zone (``free_blocks``, ``allocations``, ``pcp_lists``, ``nr_free``, ``block_at``), so a
memory map can draw either.

The scenarios are pure functions that build a zone, run a fixed (or seeded) sequence of calls
and return the recorded trace: the same name always gives the same events, so an instructor can
replay the very same demo.  This module is part of the core: it never imports ipywidgets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kit.core import events as ev
from kit.core.errors import InvalidArgument
from kit.core.events import Event
from kit.core.orders import get_order, pages_for
from kit.core.trace import Operation
from kit.core.workload import run_workload
from kit.core.zone import Zone

__all__ = ["SCENARIOS", "EventModel", "Scenario", "Step", "exact_allocation", "record_scenario",
           "workload_scenario"]


@dataclass(frozen=True)
class Scenario:
    """A named, recorded demo: the zone's settings and the operations it went through."""

    name: str
    description: str
    config: dict[str, object]
    operations: tuple[Operation, ...]

    def steps(self) -> list[Step]:
        """Every event of every operation, in order, each with its operation's index."""
        return [
            Step(index, op, event)
            for index, op in enumerate(self.operations)
            for event in op.events
        ]


@dataclass(frozen=True)
class Step:
    """One event of a trace with the operation it belongs to (the player's unit of time)."""

    op_index: int
    operation: Operation
    event: Event


class EventModel:
    """The zone's block bookkeeping rebuilt from events only (no allocator logic).

    Start it from a freshly booted zone's free blocks, then ``apply`` the events of a trace in
    order.  ``copy`` makes the checkpoints that let the player step backwards cheaply.
    """

    def __init__(self, config: dict[str, object]) -> None:
        booted = Zone(**config, record=False)  # type: ignore[arg-type]
        self.nr_pages = booted.nr_pages
        self.start_pfn = booted.start_pfn
        self.end_pfn = booted.end_pfn
        self.max_order = booted.max_order
        self.page_size = booted.page_size
        self._free: dict[int, int] = dict(booted.free_blocks())
        self._allocated: dict[int, int] = {}
        self._owner: dict[int, int] = {}
        self._pcp: dict[int, list[int]] = {}
        #: Tail pages given back by exact allocations: tail pfn -> pfn of the allocation.
        self.trimmed: dict[int, int] = {}
        self._last_alloc = -1

    def copy(self) -> EventModel:
        """An independent copy (a checkpoint)."""
        clone = object.__new__(EventModel)
        clone.__dict__.update(self.__dict__)
        clone._free = dict(self._free)
        clone._allocated = dict(self._allocated)
        clone._owner = dict(self._owner)
        clone._pcp = {order: list(pfns) for order, pfns in self._pcp.items()}
        clone.trimmed = dict(self.trimmed)
        return clone

    def apply(self, event: Event, operation: Operation | None = None) -> None:
        """Change the bookkeeping as ``event`` says; ``operation`` is the call it belongs to."""
        kind, pfn, order = event.kind, event.pfn, event.order
        if kind == ev.TAKE:
            self._free.pop(pfn, None)
        elif kind == ev.PUT:
            self._free[pfn] = order
        elif kind == ev.MERGE and event.other is not None:
            self._free.pop(event.other, None)
        elif kind == ev.ALLOC:
            self._allocated[pfn] = order
            self._last_alloc = pfn
            for page in range(pfn, pfn + (1 << order)):
                self.trimmed.pop(page, None)
            if operation is not None and operation.name == "alloc_pages_exact":
                self._split(pfn, order)
                kept = pages_for(int(operation.args[0]), self.page_size)
                for page in range(pfn, pfn + kept):
                    self._owner[page] = pfn
        elif kind == ev.SPLIT_PAGE:
            if self._allocated.get(pfn) == order:
                self._split(pfn, order)
        elif kind in (ev.FREE, ev.TRIM):
            if kind == ev.TRIM:
                self.trimmed[pfn] = self._last_alloc
            self._allocated.pop(pfn, None)
            self._owner.pop(pfn, None)
        elif kind == ev.PCP_PUT:
            self._pcp.setdefault(order, []).append(pfn)
        elif kind == ev.PCP_TAKE and pfn in self._pcp.get(order, ()):
            self._pcp[order].remove(pfn)

    def _split(self, pfn: int, order: int) -> None:
        for page in range(pfn, pfn + (1 << order)):
            self._allocated[page] = 0

    # The read-only API shared with Zone, so the widgets can draw either.
    def free_blocks(self) -> Iterator[tuple[int, int]]:
        """Free blocks as (pfn, order), by order then pfn."""
        return iter(sorted(self._free.items(), key=lambda item: (item[1], item[0])))

    def allocations(self) -> Iterator[tuple[int, int, int | None]]:
        """Allocated blocks as (pfn, order, exact_owner)."""
        for pfn, order in sorted(self._allocated.items()):
            yield pfn, order, self._owner.get(pfn)

    def pcp_lists(self) -> dict[int, list[int]]:
        """Pages on the per-CPU lists, by order."""
        return {order: list(pfns) for order, pfns in self._pcp.items()}

    def nr_free(self) -> list[int]:
        """Free blocks per order, as /proc/buddyinfo counts them."""
        counts = [0] * (self.max_order + 1)
        for order in self._free.values():
            counts[order] += 1
        return counts

    def block_at(self, pfn: int) -> tuple[str, int, int] | None:
        """Which block holds a pfn: ("free" | "allocated" | "pcp", first pfn, order), or None."""
        for order in range(self.max_order + 1):
            head = pfn & ~((1 << order) - 1)
            if self._free.get(head) == order:
                return ("free", head, order)
            if self._allocated.get(head) == order:
                return ("allocated", head, order)
            if head in self._pcp.get(order, ()):
                return ("pcp", head, order)
        return None


# ------------------------------------------------------------------------------- the scenarios
def _record(zone: Zone, name: str, description: str) -> Scenario:
    assert zone.trace is not None
    return Scenario(name, description, dict(zone.trace.config), tuple(zone.trace.operations))


def _thirty_three_pages() -> Scenario:
    zone = Zone(256)
    size = 33 * zone.page_size
    page = zone.alloc_pages(6)
    addr = zone.alloc_pages_exact(size)
    if page is not None:
        zone.release(page)
    if addr is not None:
        zone.free_pages_exact(addr, size)
    return _record(
        zone,
        "33 pages: alloc_pages vs alloc_pages_exact",
        "33 pages asked for twice: alloc_pages(6) keeps all 64 pages of the block, "
        "alloc_pages_exact keeps 33 and gives the 31 tail pages back at once; then both are "
        "freed and merge back.",
    )


def _split_and_merge() -> Scenario:
    zone = Zone(64)
    page = zone.alloc_pages(0)
    if page is not None:
        zone.release(page)
    return _record(
        zone,
        "one page: split down, merge back up",
        "alloc_pages(0) from a zone of one order-6 block splits it six times; freeing the page "
        "merges the buddies back into one block.",
    )


def _fragmentation() -> Scenario:
    zone = Zone(1024)
    run_workload(zone, seed=1, steps=60, sizes="pages", lifetimes="mixed")
    return _record(
        zone,
        "fragmentation after a random workload",
        "60 seeded steps of small allocations with mixed lifetimes (seed 1): the long-lived "
        "ones stay scattered and the free memory ends up in small blocks.",
    )


#: Scenario name -> function recording it (deterministic: same name, same trace).
SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "33 pages: alloc_pages vs alloc_pages_exact": _thirty_three_pages,
    "one page: split down, merge back up": _split_and_merge,
    "fragmentation after a random workload": _fragmentation,
}


def record_scenario(name: str) -> Scenario:
    """Record the named scenario (see ``SCENARIOS``)."""
    if name not in SCENARIOS:
        raise InvalidArgument(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    return SCENARIOS[name]()


def exact_allocation(
    size: int, *, nr_pages: int | None = None, page_size: int = 4096, preset: str = "6.8"
) -> Scenario:
    """Record one ``alloc_pages_exact(size)`` on an empty zone (by default just the block).

    The animator shows this one call step by step: the order-n block taken, the pages kept and
    each tail page given back, merging with its buddies.
    """
    order = get_order(size, page_size)
    if nr_pages is None:
        if order > 20:
            raise InvalidArgument(f"alloc_pages_exact({size}) needs order {order}, above 20")
        zone = Zone(1 << order, page_size=page_size, preset=preset, max_order=order)
    else:
        zone = Zone(nr_pages, page_size=page_size, preset=preset)
    if zone.alloc_pages_exact(size) is None:
        raise InvalidArgument(
            f"alloc_pages_exact({size}) fails on a zone of {zone.nr_pages} pages "
            f"(it needs an order-{order} block)"
        )
    return _record(zone, f"alloc_pages_exact({size})", "one exact allocation, step by step")


def workload_scenario(nr_pages: int, *, seed: int, steps: int, sizes: str = "mixed",
                      lifetimes: str = "mixed", exact: bool = False) -> Scenario:
    """Record a seeded ``kit.run_workload`` on a fresh zone of ``nr_pages`` (the 6.8 preset).

    A lesson plays it with the player and asks about its end first (``kit.teaching.predict``): both
    read this one recording, so the question and the demo cannot disagree.
    """
    zone = Zone(nr_pages)
    run_workload(zone, seed=seed, steps=steps, sizes=sizes, lifetimes=lifetimes, exact=exact)
    call = "alloc_pages_exact" if exact else "alloc_pages"
    return _record(
        zone, f"workload: {steps} {call} steps, seed {seed}",
        f"{steps} seeded steps of {call} on {nr_pages} pages (sizes {sizes!r}, lifetimes "
        f"{lifetimes!r}); what is still allocated at the end stays allocated.")
