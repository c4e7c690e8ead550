"""A zone of physical memory managed by the buddy allocator, as mm/page_alloc.c manages it.

The names follow the kernel so a student can read both side by side: ``free_area[order]`` with
its ``nr_free``, ``__rmqueue_smallest`` + ``expand`` for allocation, ``__free_one_page`` for the
buddy merge, ``split_page``, ``make_alloc_exact``, the per-CPU lists of ``rmqueue_pcplist`` and
``free_unref_page``.  It keeps the kernel's list discipline: allocation takes the first block of
the first non-empty list, split halves go to the head, a freed block goes to the tail when a
merge one order up looks likely (from 2.6.35), memory released at boot goes to the tail (from
5.10) or the head (before).

What that reproduces, exactly: the buddy lists of one zone of a freshly booted kernel of the
chosen preset, with one CPU, one migratetype (no fallback between types), no watermarks,
reclaim or compaction, no page shuffling, and a zone whose blocks are all the kit's.  With the
default ``pcp=False`` every free goes straight to the buddy lists ("textbook mode"); a real
kernel serves order-0 pages (since 5.14 also orders 1-3 and THP-order pages) from per-CPU
lists, last in first out, so its pfns differ.  ``pcp=True`` models one CPU's list with the
preset's arithmetic (orders, batch, high, the pages given back past high and refilled, see the
table in ``kit.core.presets``); no THP order, and ``high`` is the kernel's own for 2.6.27 and 5.10
but only its floor, 4 x batch, from 5.14 (the kernel takes the low watermark over the CPUs if
larger, and 6.7 on auto-tunes it upwards).

Names: the steps carry the names of current kernels for every preset (``make_alloc_exact``,
``rmqueue_pcplist``, ``free_unref_page``, ``free_pcppages_bulk``, ``__free_pages_core``).  2.6.27
did the same steps in ``alloc_pages_exact`` itself, ``buffered_rmqueue``,
``free_hot_cold_page`` / ``free_pages_bulk`` and bootmem's ``free_all_bootmem_core``.

Each free list is an ``OrderedDict`` of the pfns of its free blocks, standing in for the
kernel's ``list_head`` threaded through ``page->lru``.  Its *last* key is the list's head, so the
common steps (take the head, put a split half or a freed block at the head) are the dict's
cheapest (``popitem()``, plain insertion), putting a block at the tail is ``move_to_end(pfn,
False)``, and unlinking a buddy from the middle is ``del``: every list step is O(1) in C, and the
lists grow with the number of free blocks, not with the size of the zone.  Which pages start an
allocated block, and of which order, is one byte per page frame (the kernel keeps it in
``struct page``); that keeps the check of every free cheap even with a million pages allocated.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from . import events as ev
from .errors import BadPageState, InvalidArgument, KernelBUG, ObserverError, ObserverFailure
from .events import Event
from .orders import _require_int, get_order, page_shift, pages_for
from .presets import DEFAULT_MAX_ORDER, Preset, get_preset
from .procfs import format_buddyinfo
from .trace import Trace

#: ``PAGE_ALLOC_COSTLY_ORDER``: the highest order the per-CPU lists hold since 5.14.
PAGE_ALLOC_COSTLY_ORDER = 3
#: ``CONFIG_PCP_BATCH_SCALE_MAX`` (default 5, 6.7 on): the most a per-CPU batch is scaled by.
PCP_BATCH_SCALE_MAX = 5

#: Start of the x86-64 direct map (``PAGE_OFFSET`` without KASLR since Linux 4.20).  Addresses the
#: kit hands out are ``PAGE_OFFSET + pfn * PAGE_SIZE``, as ``page_address()`` would give.
PAGE_OFFSET = 0xFFFF888000000000


class PageAllocWarning(UserWarning):
    """The kernel's one-time ``WARN_ON_ONCE`` for an order above the largest."""


class Page:
    """What ``alloc_pages`` returns: the first page frame of an order-n block."""

    __slots__ = ("pfn", "order")

    def __init__(self, pfn: int, order: int) -> None:
        self.pfn = pfn
        self.order = order

    def __repr__(self) -> str:
        return f"Page(pfn={self.pfn}, order={self.order})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Page) and (self.pfn, self.order) == (other.pfn, other.order)

    def __hash__(self) -> int:
        return hash((self.pfn, self.order))


class FreeArea:
    """A read-only view of ``free_area[order]``: iterate for pfns from head to tail."""

    __slots__ = ("_zone", "order")

    def __init__(self, zone: Zone, order: int) -> None:
        self._zone = zone
        self.order = order

    @property
    def nr_free(self) -> int:
        """Free blocks of this order, as the kernel counts them (blocks, not pages)."""
        return len(self._zone._free_lists[self.order])

    def __len__(self) -> int:
        return self.nr_free

    def __iter__(self) -> Iterator[int]:
        # The dict's last key is the list's head.  A copy, so the zone may change meanwhile.
        return iter(list(reversed(self._zone._free_lists[self.order])))

    def __repr__(self) -> str:
        return f"free_area[{self.order}]: nr_free={self.nr_free} {list(self)}"


@dataclass(frozen=True)
class ZoneState:
    """A snapshot of everything that changes, for step-back and "what if" comparisons."""

    config: dict[str, object]
    free_lists: tuple[OrderedDict[int, None], ...]
    allocated: bytes
    exact_owner: dict[int, int]
    pcp: dict[int, deque[int]]
    pcp_count: int
    operations: int
    #: The per-CPU list's scaling state: (free_factor, or 6.8's free_count; alloc_factor;
    #: whether the last free was of an order 1..3).
    pcp_factors: tuple[int, int, bool] = (0, 0, False)


class Zone:
    """One zone of ``nr_pages`` page frames starting at ``start_pfn``.

    ``max_order`` is the highest order (inclusive; None takes the preset's, 10).  ``preset``
    picks the kernel version whose behaviour to follow (see ``kit.core.presets``).  ``pcp`` turns on
    the per-CPU page lists, which make ``/proc/buddyinfo`` lag behind frees; without them the
    pfns match a kernel's only where it would bypass those lists (see the module docstring).
    ``pcp_batch`` and ``pcp_high`` default to what the preset computes for the zone's size
    (``Preset.pcp_batch_and_high``: high 0 under 2.6.27 and 5.10 below 32 MiB, so every free
    drains; from 5.14 on only the floor, 4 x batch).
    ``record`` keeps a trace of operations and their events for replay and step-through; switch
    it off for long benchmarks.
    """

    def __init__(
        self,
        nr_pages: int,
        *,
        start_pfn: int = 0,
        page_size: int = 4096,
        max_order: int | None = None,
        preset: str = "6.8",
        pcp: bool = False,
        pcp_batch: int | None = None,
        pcp_high: int | None = None,
        record: bool = True,
    ) -> None:
        self.preset: Preset = get_preset(preset)
        self.page_size = page_size
        self.page_shift = page_shift(page_size)
        self.nr_pages = _require_int(nr_pages, "nr_pages", 1)
        self.start_pfn = _require_int(start_pfn, "start_pfn", 0)
        self.end_pfn = self.start_pfn + self.nr_pages
        #: The direct-map address of the zone's first page, the zone's size in bytes and the
        #: in-page offset bits: ``free_pages`` checks an address with these in a few steps.
        self._zone_address = PAGE_OFFSET + (self.start_pfn << self.page_shift)
        self._zone_bytes = self.nr_pages << self.page_shift
        self._page_mask = page_size - 1
        if max_order is None:
            max_order = DEFAULT_MAX_ORDER
        self.max_order = _require_int(max_order, "max_order", 0)
        if self.max_order > 20:
            raise InvalidArgument(f"max_order {max_order} is above 20, the kit's limit")
        self.pcp_enabled = bool(pcp)
        #: A freed block below this order goes to the tail when a merge looks likely (the
        #: heuristic of later kernels; 0 turns it off, as in 2008 kernels).
        self._tail_check_below = self.max_order - 1 if self.preset.merge_likely_to_tail else 0
        #: The highest order the per-CPU lists take (-1 when they are off).
        self._pcp_max_order = min(self.preset.pcp_max_order, self.max_order) if pcp else -1
        # The preset's own batch and high for this zone size; high 0 (2.6.27 and 5.10 below
        # 32 MiB) makes every free drain at once.  A batch given alone gets factor x batch.
        default_batch, default_high = self.preset.pcp_batch_and_high(self.nr_pages, page_size)
        self.pcp_batch = _require_int(default_batch if pcp_batch is None else pcp_batch,
                                      "pcp_batch", 1)
        if pcp_high is None:
            pcp_high = default_high if pcp_batch is None else (
                self.preset.pcp_high_factor * self.pcp_batch)
        self.pcp_high = _require_int(pcp_high, "pcp_high", 0)
        self.free_area = tuple(FreeArea(self, o) for o in range(self.max_order + 1))
        #: Replaced, never changed in place: an event goes to the observers subscribed when it
        #: began, even if one of them unsubscribes (itself or another) while it is called.
        self._observers: tuple[Callable[[Event], None], ...] = ()
        #: What observers raised during the current operation, raised once it completes.
        self._observer_failures: list[ObserverFailure] = []
        self._warned_order = False
        self._emitting: bool  # whether steps are reported as events (_set_emitting)
        self.trace: Trace | None = Trace(self.config()) if record else None
        self._set_emitting(record)
        self._boot()

    # ----------------------------------------------------------------- configuration and state
    def config(self) -> dict[str, object]:
        """The constructor arguments that rebuild this zone (a trace header carries them)."""
        return {
            "nr_pages": self.nr_pages,
            "start_pfn": self.start_pfn,
            "page_size": self.page_size,
            "max_order": self.max_order,
            "preset": self.preset.name,
            "pcp": self.pcp_enabled,
            "pcp_batch": self.pcp_batch,
            "pcp_high": self.pcp_high,
        }

    def _boot(self) -> None:
        """Release the zone as at boot: aligned chunks, lowest pfn first.

        From each pfn the largest order that is aligned there and fits before the zone's end,
        as ``memblock_free_pages`` -> ``__free_pages_core`` does.  Since 5.10 (commit
        7fef431be9c9) each chunk goes to the list tail, so the lowest pfn is handed out first;
        before, to the head, so the highest came first.  The preset decides.  2.6.27 released
        boot memory through bootmem's ``free_all_bootmem_core`` (mm/bootmem.c:174-199) in
        order-6 chunks (``BITS_PER_LONG`` pages) or single pages that merged in the buddy lists:
        other steps, the same final lists, head first; the kit releases it the modern way.
        """
        self._free_lists: list[OrderedDict[int, None]] = [
            OrderedDict() for _ in range(self.max_order + 1)
        ]
        #: One byte per page frame (index pfn - start_pfn): order + 1 where an allocated block
        #: starts, 0 elsewhere.
        self._allocated = bytearray(self.nr_pages)
        self._exact_owner: dict[int, int] = {}
        self._pcp: dict[int, deque[int]] = {
            o: deque() for o in range(min(self.preset.pcp_max_order, self.max_order) + 1)
        }
        self._pcp_count = 0
        #: For each order freed, the order in which ``_free_pcppages_bulk`` visits the per-CPU
        #: lists: that order's first, then upwards, wrapping round.  Made once here: below
        #: 32 MiB, 2.6.27 and 5.10 drain at every free.
        orders = sorted(self._pcp)
        self._pcp_drain_turns = {o: orders[i:] + orders[:i] for i, o in enumerate(orders)}
        #: free_factor (6.0/6.1) or free_count (6.8), alloc_factor (6.8), and 6.8's
        #: PCPF_PREV_FREE_HIGH_ORDER flag; the "batch" era keeps none.
        self._pcp_free_factor = 0
        self._pcp_alloc_factor = 0
        self._pcp_prev_free_high_order = False
        #: Counts the times the state was replaced wholesale (restore), so a view that follows
        #: the zone event by event knows when it must redraw from scratch.
        self.generation = 0
        emitting, self._emitting = self._emitting, False
        pfn = self.start_pfn
        while pfn < self.end_pfn:
            order = self.max_order
            while pfn & ((1 << order) - 1) or pfn + (1 << order) > self.end_pfn:
                order -= 1
            self._free_one_page(pfn, order, to_tail=self.preset.boot_to_tail)
            pfn += 1 << order
        self._emitting = emitting

    def snapshot(self) -> ZoneState:
        """Copy the allocator's state; ``restore`` brings it back (the trace is not included)."""
        return ZoneState(
            self.config(),
            tuple(OrderedDict(free_list) for free_list in self._free_lists),
            bytes(self._allocated),
            dict(self._exact_owner),
            {o: deque(q) for o, q in self._pcp.items()},
            self._pcp_count,
            0 if self.trace is None else len(self.trace.operations),
            (self._pcp_free_factor, self._pcp_alloc_factor, self._pcp_prev_free_high_order),
        )

    def restore(self, state: ZoneState) -> None:
        """Return to a snapshot taken of this zone; the snapshot stays usable."""
        mine = self.config()
        if state.config != mine:
            differences = ", ".join(
                f"{key} {value!r} instead of {mine[key]!r}"
                for key, value in state.config.items() if value != mine[key]
            )
            raise InvalidArgument(f"this snapshot was taken of another zone: {differences}")
        self._free_lists = [OrderedDict(free_list) for free_list in state.free_lists]
        self._allocated = bytearray(state.allocated)
        self._exact_owner = dict(state.exact_owner)
        self._pcp = {o: deque(q) for o, q in state.pcp.items()}
        self._pcp_count = state.pcp_count
        (self._pcp_free_factor, self._pcp_alloc_factor,
         self._pcp_prev_free_high_order) = state.pcp_factors
        self.generation += 1
        if self.trace is not None:
            del self.trace.operations[state.operations:]

    # ----------------------------------------------------------------------------- observers
    def subscribe(self, observer: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``observer(event)`` for every step from now on; returns an unsubscribe function.

        Observers are called as each step happens, in the order they subscribed.  One that
        raises does not stop the operation (the kernel has no such callbacks, so a call must
        never be left half done): the zone completes the call, every observer (the failed one
        included) gets every event, and only then ``ObserverError`` is raised, its
        ``__cause__`` the first exception.  Further failures in the same call are reported,
        not chained: ``ObserverError.failures`` holds each failed observer's first exception
        and how often it raised.  ``KeyboardInterrupt`` and other exceptions that are not
        ``Exception`` are re-raised as they are once the call completes.  A failed observer
        stays subscribed.  An observer may unsubscribe itself or another while it is called: the
        event under way still reaches every observer subscribed when it began, the next do not.
        """
        self._observers = (*self._observers, observer)
        self._set_emitting(True)

        def unsubscribe() -> None:
            if observer in self._observers:
                remaining = list(self._observers)
                remaining.remove(observer)
                self._observers = tuple(remaining)
            self._set_emitting(bool(self._observers) or self.trace is not None)

        return unsubscribe

    def _set_emitting(self, emitting: bool) -> None:
        """Turn events on or off; ``get_free_pages`` and ``free_pages`` go fast only when off."""
        self._emitting = emitting
        #: The lowest order the public calls serve by their fast path, which emits nothing and
        #: bypasses the per-CPU lists: above max_order (none) while events are wanted.
        self._fast_from = self.max_order + 1 if emitting else self._pcp_max_order + 1

    def _emit(
        self, kind: str, pfn: int, order: int, where: str = "", other: int | None = None
    ) -> None:
        if self.trace is not None:
            self.trace.record(kind, pfn, order, where, other)
        if self._observers:
            event = ev.make_event(kind, pfn, order, where, other)
            for observer in self._observers:
                try:
                    observer(event)
                except BaseException as error:  # the step goes on; raised after the call
                    self._observer_failed(observer, event, error)

    def _observer_failed(
        self, observer: Callable[[Event], None], event: Event, error: BaseException
    ) -> None:
        """Keep an observer's first exception of this call, count the ones after it."""
        failures = self._observer_failures
        for index, failure in enumerate(failures):
            if failure.observer is observer:
                failures[index] = failure._replace(times=failure.times + 1)
                return
        failures.append(ObserverFailure(observer, event, error, 1))

    def _raise_observer_failures(self, operation: str) -> None:
        """End a completed call that an observer raised in: one error naming the first cause."""
        failures, self._observer_failures = self._observer_failures, []
        errors = [failure for failure in failures if isinstance(failure.error, Exception)]
        stop = next((f.error for f in failures if not isinstance(f.error, Exception)), None)
        if stop is not None:  # an interrupt stays an interrupt; other failures its context
            stop.__context__ = ObserverError(operation, errors) if errors else None
            raise stop
        raise ObserverError(operation, errors) from errors[0].error

    # --------------------------------------------------------------------- the buddy free lists
    def _rmqueue_smallest(self, order: int) -> int | None:
        """Take the first block of the first non-empty list from ``order`` up, and expand it.

        This and ``_free_one_page`` are the hot path the benchmark measures, so the list steps
        are written out in place (each is one ``OrderedDict`` operation) rather than in helpers.
        """
        free_lists = self._free_lists
        current = order
        free_list = free_lists[order]
        while not free_list:  # this list is empty: look one order up
            current += 1
            if current > self.max_order:
                return None
            free_list = free_lists[current]
        pfn = free_list.popitem()[0]  # unlink the head
        emitting = self._emitting
        if emitting:
            self._emit(ev.TAKE, pfn, current)
        while current > order:  # expand(): each upper half goes to the head of its list
            current -= 1
            upper = pfn + (1 << current)
            if emitting:
                self._emit(ev.SPLIT, pfn, current, other=upper)
            free_lists[current][upper] = None
            if emitting:
                self._emit(ev.PUT, upper, current, "head")
        return pfn

    def _free_one_page(self, pfn: int, order: int, to_tail: bool) -> None:
        """Merge the block with its free buddies as far as it goes, then put it on a list.

        Unless the caller asks for the tail (boot, exact-allocation trimming), the block goes to
        the tail only when its parent's buddy is free: the block will probably merge soon, so
        a later allocation should not take it (``buddy_merge_likely``, not in 2008 kernels).
        """
        free_lists, emitting = self._free_lists, self._emitting
        top = self.max_order
        while order < top:
            buddy = pfn ^ (1 << order)
            free_list = free_lists[order]
            if buddy not in free_list:
                break
            del free_list[buddy]  # unlink the buddy from wherever it is in its list
            if emitting:
                self._emit(ev.MERGE, pfn, order, other=buddy)
            pfn &= buddy
            order += 1
        if not to_tail and order < self._tail_check_below:
            to_tail = (pfn & ~(1 << order)) ^ (2 << order) in free_lists[order + 1]
        free_list = free_lists[order]
        free_list[pfn] = None  # to the head: the dict's end
        if to_tail:
            free_list.move_to_end(pfn, False)  # to the tail: the dict's start
        if emitting:
            self._emit(ev.PUT, pfn, order, "tail" if to_tail else "head")

    # --------------------------------------------------------------------- per-CPU page lists
    # Each version's arithmetic (see the table in kit.core.presets): "batch" is 2.6.27's
    # buffered_rmqueue / free_hot_cold_page and 5.10's rmqueue_pcplist / free_unref_page_commit;
    # "free_factor" is 5.14-6.6 (6.1.20 :3395-3471, :3735-3801); "free_count" is 6.7 on
    # (6.8 :2354-2473, :2755-2860) with high held at its floor (high_min == high_max).
    def _rmqueue_pcplist(self, order: int) -> int | None:
        """Hand out the first page of the per-CPU list, refilling it when empty."""
        if self.preset.pcp_rules != "batch":
            self._pcp_free_factor >>= 1  # an allocation halves free_factor / free_count
        pages = self._pcp[order]
        if not pages:
            count = self._pcp_refill_count(order)
            for _ in range(count):
                pfn = self._rmqueue_smallest(order)
                if pfn is None:
                    break
                pages.append(pfn)  # rmqueue_bulk keeps pfn order: each after the last
                self._pcp_count += 1 << order
                if self._emitting:
                    self._emit(ev.PCP_PUT, pfn, order, "refill")
            if not pages:
                return None
        pfn = pages.popleft()
        self._pcp_count -= 1 << order
        if self._emitting:
            self._emit(ev.PCP_TAKE, pfn, order, "alloc")
        return pfn

    def _pcp_refill_count(self, order: int) -> int:
        """How many blocks an empty list of ``order`` is refilled with, by the preset's era."""
        batch, rules = self.pcp_batch, self.preset.pcp_rules
        if rules == "batch":
            return batch
        if rules == "free_count":  # nr_pcp_alloc, high fixed at its floor
            high = self.pcp_high
            if high < batch:
                return 1
            if order == 0:
                scaled = batch << self._pcp_alloc_factor
                most = max(high - self._pcp_count - batch, batch)
                if scaled <= most and self._pcp_alloc_factor < PCP_BATCH_SCALE_MAX:
                    self._pcp_alloc_factor += 1
                batch = min(scaled, most)
        return max(batch >> order, 2) if batch > 1 else batch

    def _free_unref_page(self, pfn: int, order: int) -> None:
        """Put a freed page on the per-CPU list; at the high mark, give pages back."""
        rules, batch = self.preset.pcp_rules, self.pcp_batch
        if rules == "free_count":
            self._pcp_alloc_factor >>= 1  # a free halves the refill scaling
        self._pcp[order].appendleft(pfn)
        self._pcp_count += 1 << order
        if self._emitting:
            self._emit(ev.PCP_PUT, pfn, order, "free")
        high = self.pcp_high
        if rules == "batch":
            if self._pcp_count >= high:
                self._free_pcppages_bulk(batch, order)
            return
        costly = 0 < order <= PAGE_ALLOC_COSTLY_ORDER
        if rules == "free_factor":
            free_high = costly and self._pcp_free_factor > 0
        else:
            free_high = costly and self._pcp_free_factor >= batch and \
                self._pcp_prev_free_high_order
            self._pcp_prev_free_high_order = costly
            if self._pcp_free_factor < batch << PCP_BATCH_SCALE_MAX:
                self._pcp_free_factor += 1 << order
        if free_high:
            high = 0
        if self._pcp_count < high:
            return
        if free_high:
            count = self._pcp_count if rules == "free_factor" else min(
                self._pcp_count, batch << PCP_BATCH_SCALE_MAX)
        elif high < batch:
            count = 1
        elif rules == "free_factor":
            count = batch << self._pcp_free_factor
            if count < high - batch:
                self._pcp_free_factor += 1
            count = min(max(count, batch), high - batch)
        else:
            count = min(max(self._pcp_free_factor, batch), high - batch)
        self._free_pcppages_bulk(count, order)

    def _free_pcppages_bulk(self, count: int, first_order: int = 0) -> None:
        """Return about ``count`` pages to the buddy lists, each list from its tail.

        Before 5.14 only order 0 is cached, so this takes the oldest pages of that list.  From
        5.14 (6.0 and later presets) the list of ``first_order`` (the page just freed) drains
        first, as far as ``count`` goes, then the next order up, wrapping round.
        """
        turns = self._pcp_drain_turns
        turn = turns[first_order] if first_order in turns else turns[0]
        while count > 0 and self._pcp_count:
            for order in turn:
                pages = self._pcp[order]
                while pages and count > 0:
                    pfn = pages.pop()
                    self._pcp_count -= 1 << order
                    count -= 1 << order
                    if self._emitting:
                        self._emit(ev.PCP_TAKE, pfn, order, "drain")
                    self._free_one_page(pfn, order, to_tail=False)

    def drain_pages(self) -> int:
        """Return every page on the per-CPU lists to the buddy lists (``drain_local_pages``).

        Returns the number of pages drained.  ``/proc/buddyinfo`` only counts them after this.
        """
        drained = self._pcp_count
        self._free_pcppages_bulk(drained, 0)
        self._record("drain_pages", (), drained)
        return drained

    # ------------------------------------------------------------------ addresses and checks
    def pfn_to_virt(self, pfn: int) -> int:
        """The direct-map address of a page frame of this zone (``pfn_to_virt``)."""
        pfn = _require_int(pfn, "pfn", 0)
        if not self.start_pfn <= pfn < self.end_pfn:
            raise KernelBUG(
                f"pfn {pfn} is outside this zone (pfns {self.start_pfn}..{self.end_pfn - 1})"
            )
        return PAGE_OFFSET + (pfn << self.page_shift)

    def virt_to_pfn(self, addr: int) -> int:
        """The page frame of a direct-map address (``virt_to_pfn``); it must be page aligned."""
        if isinstance(addr, bool) or not isinstance(addr, int):
            raise InvalidArgument(f"address must be an int, got {addr!r}")
        if addr < PAGE_OFFSET:
            raise KernelBUG(f"address {addr:#x} is not in the direct map (below PAGE_OFFSET)")
        offset = addr - PAGE_OFFSET
        if offset & (self.page_size - 1):
            raise KernelBUG(f"address {addr:#x} is not aligned to PAGE_SIZE ({self.page_size})")
        pfn = offset >> self.page_shift
        if not self.start_pfn <= pfn < self.end_pfn:
            raise KernelBUG(
                f"address {addr:#x} is pfn {pfn}, outside this zone "
                f"(pfns {self.start_pfn}..{self.end_pfn - 1})"
            )
        return pfn

    def _warn_order_too_large(self, order: int) -> None:
        """The kernel's ``WARN_ON_ONCE`` (5.10 on); 2.6.27 returned NULL without a word."""
        if not self._warned_order and self.preset.warns_above_max_order:
            self._warned_order = True
            warnings.warn(
                f"order {order} is above the largest order {self.max_order}: "
                "the allocation fails (the kernel warns once, then returns NULL)",
                PageAllocWarning,
                stacklevel=3,
            )

    def _allocated_order(self, pfn: int) -> int | None:
        """The order of the allocated block that starts at ``pfn``, or None if none starts there."""
        index = pfn - self.start_pfn
        if 0 <= index < self.nr_pages and self._allocated[index]:
            return self._allocated[index] - 1
        return None

    def _mark_allocated(self, pfn: int, order: int, pages: int = 1) -> None:
        """Record ``pages`` consecutive allocated blocks of ``order`` from ``pfn`` on."""
        index = pfn - self.start_pfn
        self._allocated[index:index + pages] = bytes((order + 1,)) * pages

    def _check_allocated(self, pfn: int, order: int) -> None:
        """Raise ``BadPageState`` unless pfn starts an allocated block of exactly ``order``."""
        held = self._allocated_order(pfn)
        if held == order:
            return
        if held is not None:
            raise BadPageState(
                f"Bad page state: pfn {pfn} was allocated with order {held}, "
                f"freed with order {order}"
            )
        free_head = self.block_at(pfn)
        if free_head is not None and free_head[0] == "free":
            raise BadPageState(
                f"Bad page state: double free of pfn {pfn}: it is already free "
                f"(in the order-{free_head[2]} free block at pfn {free_head[1]})"
            )
        if free_head is not None and free_head[0] == "pcp":
            raise BadPageState(
                f"Bad page state: double free of pfn {pfn}: it is already free "
                "(on the per-CPU list)"
            )
        if free_head is not None:
            raise BadPageState(
                f"Bad page state: pfn {pfn} is inside the order-{free_head[2]} allocation at "
                f"pfn {free_head[1]}; free that block from its first page"
            )
        raise BadPageState(f"Bad page state: pfn {pfn} is not allocated")

    def block_at(self, pfn: int) -> tuple[str, int, int] | None:
        """Which block holds a pfn: ("free" | "allocated" | "pcp", first pfn, order), or None.

        The allocation mark is read in place (``_allocated_order`` inlined): the memory map
        asks this for every page it reads again and every tooltip, and a page on no list
        (between two steps of a call) is looked for at every order."""
        marks, start, nr_pages, pcp = self._allocated, self.start_pfn, self.nr_pages, self._pcp
        for order, free_list in enumerate(self._free_lists):
            head = pfn & ~((1 << order) - 1)
            if head in free_list:
                return ("free", head, order)
            if 0 <= head - start < nr_pages and marks[head - start] == order + 1:
                return ("allocated", head, order)
            if order in pcp and head in pcp[order]:
                return ("pcp", head, order)
        return None

    # ------------------------------------------------------------------------ the public API
    def alloc_pages(self, order: int) -> Page | None:
        """Allocate 2**order contiguous pages; None when no block is free (never raises)."""
        pfn = self._alloc(order)
        self._record("alloc_pages", (order,), pfn)
        return None if pfn is None else Page(pfn, order)

    def get_free_pages(self, order: int) -> int | None:
        """``__get_free_pages``: like ``alloc_pages`` but returns the address (None = NULL)."""
        pfn: int | None
        if order.__class__ is int and self._fast_from <= order <= self.max_order:
            # Fast path when nobody listens and no per-CPU list is involved: _alloc, inlined.
            free_list = self._free_lists[order]
            if free_list:  # no split needed: take the head here, saving a call
                pfn = free_list.popitem()[0]
            else:
                pfn = self._rmqueue_smallest(order)
                if pfn is None:
                    return None
            self._allocated[pfn - self.start_pfn] = order + 1
            return PAGE_OFFSET + (pfn << self.page_shift)
        pfn = self._alloc(order)
        self._record("alloc_pages", (order,), pfn)
        return None if pfn is None else PAGE_OFFSET + (pfn << self.page_shift)

    def _alloc(self, order: int) -> int | None:
        if order.__class__ is not int or not 0 <= order <= self.max_order:
            _require_int(order, "order")
            self._warn_order_too_large(order)
            return None
        if order <= self._pcp_max_order:
            pfn = self._rmqueue_pcplist(order)
        else:
            pfn = self._rmqueue_smallest(order)
        if pfn is not None:
            self._mark_allocated(pfn, order)
            if self._emitting:
                self._emit(ev.ALLOC, pfn, order)
        return pfn

    def free_pages(self, addr: int | None, order: int) -> None:
        """Free the 2**order pages at a direct-map address; NULL (None or 0) is ignored."""
        offset = addr - self._zone_address if addr.__class__ is int else -1
        index = offset >> self.page_shift  # pfn - start_pfn
        allocated = self._allocated
        if (
            0 <= offset < self._zone_bytes
            and not offset & self._page_mask
            and order.__class__ is int
            and allocated[index] == order + 1
        ):
            pfn = index + self.start_pfn
        elif addr is None or addr == 0:
            return
        else:
            # The unusual case: say exactly what is wrong (bad address, order or page state).
            pfn = self.virt_to_pfn(addr)
            self._check_allocated(pfn, _require_int(order, "order"))
            index = pfn - self.start_pfn
        if order >= self._fast_from and not self._exact_owner:
            # Fast path when nobody listens and no per-CPU list is involved: _free, inlined.
            allocated[index] = 0
            free_lists = self._free_lists
            if pfn ^ (1 << order) in free_lists[order] or (
                order < self._tail_check_below
                and (pfn & ~(1 << order)) ^ (2 << order) in free_lists[order + 1]
            ):
                self._free_one_page(pfn, order, False)
            else:  # no merge now or soon: straight to the head here, saving a call
                free_lists[order][pfn] = None
            return
        self._free(pfn, order)
        self._record("free_pages", (pfn, order), None)

    def release(self, page: Page) -> None:
        """``__free_pages(page, order)``: free what ``alloc_pages`` returned."""
        if not isinstance(page, Page):
            raise InvalidArgument(f"release() takes a Page from alloc_pages, got {page!r}")
        self.free_pages(self.pfn_to_virt(page.pfn), page.order)

    def _free(self, pfn: int, order: int) -> None:
        """Free a block already checked to be allocated with this order."""
        self._allocated[pfn - self.start_pfn] = 0
        if self._exact_owner:
            self._exact_owner.pop(pfn, None)
        if self._emitting:
            self._emit(ev.FREE, pfn, order)
        if order <= self._pcp_max_order:
            self._free_unref_page(pfn, order)
        else:
            self._free_one_page(pfn, order, to_tail=False)

    def split_page(self, page: Page) -> list[Page]:
        """Turn an order-n allocation into 2**n order-0 pages, each to be freed on its own."""
        if not isinstance(page, Page):
            raise InvalidArgument(f"split_page() takes a Page from alloc_pages, got {page!r}")
        self._check_allocated(page.pfn, page.order)
        self._split_page(page.pfn, page.order)
        self._record("split_page", (page.pfn, page.order), None)
        return [Page(page.pfn + i, 0) for i in range(1 << page.order)]

    def _split_page(self, pfn: int, order: int) -> None:
        if self._emitting:
            self._emit(ev.SPLIT_PAGE, pfn, order)
        self._mark_allocated(pfn, 0, 1 << order)

    def make_alloc_exact(self, addr: int | None, order: int, size: int) -> int | None:
        """Keep the first ``ceil(size / PAGE_SIZE)`` pages of an order-n block, free the rest.

        The tail pages are given back one at a time in ascending order.  Up to Linux 6.0 the
        block is first split with ``split_page`` and each tail page freed with ``free_page()``
        like any page (through the per-CPU lists when they are on; 6.0.1 mm/page_alloc.c
        :5789-5803); from 6.1 each is freed with ``__free_pages_ok(page, 0, FPI_TO_TAIL)``
        straight to the buddy lists, at the tail, so it merges at once and is handed out last
        (6.1.20 :5790-5806).  2.6.27 did this inline in ``alloc_pages_exact`` (:1720-1737); the
        helper ``make_alloc_exact`` dates from 2.6.39.
        """
        if addr is None or addr == 0:
            return None
        pfn = self.virt_to_pfn(addr)
        self._make_alloc_exact(pfn, _require_int(order, "order"), _require_int(size, "size"))
        self._record("make_alloc_exact", (pfn, order, size), pfn)
        return addr

    def _make_alloc_exact(self, pfn: int, order: int, size: int) -> None:
        self._check_allocated(pfn, order)
        keep = pages_for(size, self.page_size)
        if keep > 1 << order:
            raise InvalidArgument(
                f"size {size} needs {keep} pages, more than the order-{order} block holds"
            )
        split = self.preset.exact_trim == "split_page"
        if split:
            self._split_page(pfn, order)
        else:
            self._mark_allocated(pfn, 0, 1 << order)
        self._exact_owner.update(dict.fromkeys(range(pfn, pfn + keep), pfn))
        for tail in range(pfn + keep, pfn + (1 << order)):
            if self._emitting:
                self._emit(ev.TRIM, tail, 0)
            if split:
                self._free(tail, 0)
            else:
                self._allocated[tail - self.start_pfn] = 0
                self._free_one_page(tail, 0, to_tail=True)

    def alloc_pages_exact(self, size: int) -> int | None:
        """Allocate ``size`` bytes as whole pages without rounding up to a power of two.

        Takes an order-``get_order(size)`` block and gives back its unneeded tail pages (Timur
        Tabi, Linux 2.6.27).  Returns the address, or None (NULL) when it cannot be had:
        size 0 gives ``get_order`` 52, far above any order, so it fails as in the kernel.
        """
        size = _require_int(size, "size")
        order = get_order(size, self.page_size)
        pfn = self._alloc(order)
        if pfn is not None:
            self._make_alloc_exact(pfn, order, size)
        self._record("alloc_pages_exact", (size,), pfn)
        return None if pfn is None else PAGE_OFFSET + (pfn << self.page_shift)

    def free_pages_exact(self, addr: int | None, size: int) -> None:
        """Free the pages of an exact allocation, one page at a time in ascending order.

        Every page must be an allocated order-0 page; if one is not, nothing is freed.
        """
        size = _require_int(size, "size")
        count = pages_for(size, self.page_size)
        if count == 0:
            return
        if addr is None or addr == 0:
            raise KernelBUG(f"free_pages_exact(NULL, {size}): no allocation at address 0")
        pfn = self.virt_to_pfn(addr)
        if pfn + count > self.end_pfn:
            raise KernelBUG(
                f"free_pages_exact: {count} pages from pfn {pfn} run past the zone's end"
            )
        index = pfn - self.start_pfn
        if self._allocated.count(1, index, index + count) != count:  # not all order-0 pages:
            for page in range(pfn, pfn + count):  # find the first bad one and say what it is
                self._check_allocated(page, 0)
        for page in range(pfn, pfn + count):
            self._free(page, 0)
        self._record("free_pages_exact", (pfn, size), None)

    def _record(self, name: str, args: tuple[int, ...], result: int | None) -> None:
        """End a public call: close its trace entry, then raise what observers raised in it."""
        if self.trace is not None:
            self.trace.end_operation(name, args, result)
        if self._observer_failures:
            self._raise_observer_failures(name)

    # ------------------------------------------------------------------------------ metrics
    def nr_free(self) -> list[int]:
        """Free blocks per order on the buddy lists, as ``/proc/buddyinfo`` shows them."""
        return [len(free_list) for free_list in self._free_lists]

    @property
    def free_pages_count(self) -> int:
        """Pages on the buddy lists (pages on the per-CPU lists are not counted, as in vmstat)."""
        return sum(len(free_list) << order for order, free_list in enumerate(self._free_lists))

    @property
    def pcp_count(self) -> int:
        """Pages waiting on the per-CPU lists."""
        return self._pcp_count

    def pcp_lists(self) -> dict[int, list[int]]:
        """The per-CPU lists by order, each from head to tail."""
        return {order: list(pages) for order, pages in self._pcp.items()}

    def format_buddyinfo(self, node: int = 0, name: str = "Normal") -> str:
        """This zone's ``/proc/buddyinfo`` line, byte for byte (ends with a space, no newline)."""
        return format_buddyinfo(self.nr_free(), node=node, zone=name)

    def free_blocks(self) -> Iterator[tuple[int, int]]:
        """Every free block as (pfn, order), by order, each list from head to tail."""
        for area in self.free_area:
            for pfn in area:
                yield pfn, area.order

    def exact_owners(self) -> Mapping[int, int]:
        """A read-only view: each page kept by an exact allocation -> that allocation's pfn."""
        return MappingProxyType(self._exact_owner)

    def allocations(self) -> Iterator[tuple[int, int, int | None]]:
        """Every allocated block as (pfn, order, exact_owner), by pfn.

        Between operations every page is free, on a per-CPU list or in exactly one allocated
        block, so the allocated blocks tile the gaps between the others: walking the gaps finds
        them without scanning a byte per page (a zone of millions of pages has few blocks).
        """
        marks, start = bytes(self._allocated), self.start_pfn  # a copy: the zone may change
        others = [(pfn, order) for order, free_list in enumerate(self._free_lists)
                  for pfn in free_list]
        others += [(pfn, order) for order, pages in self._pcp.items() for pfn in pages]
        others.sort()
        pfn = start
        for next_pfn, order in [*others, (self.end_pfn, 0)]:
            while pfn < next_pfn:
                held = marks[pfn - start] - 1
                if held < 0:  # an observer asks between two steps of one operation
                    pfn += 1
                    continue
                yield pfn, held, self._exact_owner.get(pfn)
                pfn += 1 << held
            pfn = next_pfn + (1 << order)

    def __repr__(self) -> str:
        return (
            f"Zone({self.nr_pages} pages from pfn {self.start_pfn}, preset {self.preset.name}, "
            f"orders 0..{self.max_order}, free {self.free_pages_count}, nr_free {self.nr_free()})"
        )

