"""Events: every step the allocator takes, as a value observers and traces can keep.

The widgets never poll the allocator's internals; they listen to these events.  The kinds follow
the steps of mm/page_alloc.c a student can find there: a block taken from a free list
(``__rmqueue_smallest``), halved by ``expand``, merged with its buddy in ``__free_one_page``, put
on a list at its head or tail, and the per-CPU list traffic of ``rmqueue_pcplist`` and
``free_unref_page``.  These are the names of current kernels, used for every preset; 2.6.27
called the per-CPU steps ``buffered_rmqueue`` and ``free_hot_cold_page`` / ``free_pages_bulk``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

TAKE = "take"  #: a block removed from the head of free_area[order] to satisfy an allocation
SPLIT = "split"  #: expand(): the block at pfn is halved; ``other`` is the upper half
PUT = "put"  #: a free block put on free_area[order], ``where`` is "head" or "tail"
MERGE = "merge"  #: the block at pfn merged with its free buddy ``other`` into order + 1
ALLOC = "alloc"  #: an allocation of 2**order pages at pfn handed to the caller
FREE = "free"  #: the caller freed the 2**order pages at pfn
SPLIT_PAGE = "split_page"  #: split_page(): an order-n allocation became 2**n order-0 pages
TRIM = "trim"  #: alloc_pages_exact() gives back one unneeded tail page at pfn (the helper
#: make_alloc_exact() does it since 2.6.39; 2.6.27 did it inline, so the log names the API)
PCP_PUT = "pcp_put"  #: a page went to the per-CPU list (not to the buddy lists)
PCP_TAKE = "pcp_take"  #: a page left the per-CPU list (handed out, or drained to the buddy)

KINDS = (TAKE, SPLIT, PUT, MERGE, ALLOC, FREE, SPLIT_PAGE, TRIM, PCP_PUT, PCP_TAKE)


@dataclass(frozen=True, slots=True)
class Event:
    """One step of the allocator.

    ``pfn``/``order`` name the block the step acts on.  ``other`` is the second block of a
    two-block step (the buddy of a merge, the upper half of a split); ``where`` is "head" or
    "tail" for a put, "drain" for a per-CPU page going back to the buddy lists.
    """

    kind: str
    pfn: int
    order: int
    where: str = ""
    other: int | None = None

    def describe(self) -> str:
        """A short sentence for an event log a student reads."""
        size = f"order-{self.order} block at pfn {self.pfn}"
        if self.kind == TAKE:
            return f"take the {size} from the head of free_area[{self.order}]"
        if self.kind == SPLIT:
            return (
                f"expand: halve the order-{self.order + 1} block at pfn {self.pfn}; "
                f"upper half at pfn {self.other} is free"
            )
        if self.kind == PUT:
            return f"put the {size} at the {self.where} of free_area[{self.order}]"
        if self.kind == MERGE:
            return (
                f"merge the {size} with its buddy at pfn {self.other} "
                f"into an order-{self.order + 1} block"
            )
        if self.kind == ALLOC:
            return f"allocated the {size}"
        if self.kind == FREE:
            return f"free the {size}"
        if self.kind == SPLIT_PAGE:
            return f"split_page: the {size} becomes {1 << self.order} order-0 pages"
        if self.kind == TRIM:
            return f"alloc_pages_exact: give back tail page {self.pfn}"
        if self.kind == PCP_PUT:
            return f"order-{self.order} page {self.pfn} goes to the per-CPU list ({self.where})"
        return f"order-{self.order} page {self.pfn} leaves the per-CPU list ({self.where})"


def _slot_setter(name: str) -> Any:
    """The setter of one of Event's slots (what ``make_event`` binds as a default)."""
    return vars(Event)[name].__set__


_SET_KIND, _SET_PFN, _SET_ORDER, _SET_WHERE, _SET_OTHER = map(
    _slot_setter, ("kind", "pfn", "order", "where", "other"))


def make_event(kind: str, pfn: int, order: int, where: str = "", other: int | None = None, *,
               _new: Any = object.__new__, _kind: Any = _SET_KIND, _pfn: Any = _SET_PFN,
               _order: Any = _SET_ORDER, _where: Any = _SET_WHERE, _other: Any = _SET_OTHER,
               ) -> Event:
    """``Event(kind, pfn, order, where, other)``, made in about 60 % of the time.

    A recording zone makes one event per step (a 300-step workload makes thousands, and the
    grader and its sandbox run many), and a frozen dataclass's ``__init__`` sets every field
    through ``object.__setattr__``; this sets the same slots directly, so the event is the same
    value (equal, same hash and repr).  The defaults after ``*`` are the slots' setters, bound
    once: never pass them.
    """
    event: Event = _new(Event)
    _kind(event, kind)
    _pfn(event, pfn)
    _order(event, order)
    _where(event, where)
    _other(event, other)
    return event


def apply_to_nr_free(nr_free: list[int], events: Iterable[Event]) -> list[int]:
    """Change the free-block counts per order as ``events`` say, in place; returns them.

    The buddy lists change only by a take (one block fewer), a put (one more) and a merge (the
    buddy leaves its list; the merged block is put afterwards), so counts kept this way match
    ``zone.nr_free()`` after every operation without copying the zone.
    """
    for event in events:
        if event.kind == PUT:
            nr_free[event.order] += 1
        elif event.kind in (TAKE, MERGE):
            nr_free[event.order] -= 1
    return nr_free
