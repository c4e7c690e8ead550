"""The memory map's incremental updates against a full recompute and a page-by-page oracle.

After every operation of a seeded random workload (alloc_pages, alloc_pages_exact, frees,
split_page, drain_pages; both exact-allocation presets; with and without the per-CPU lists) the
state the map kept up to date event by event must equal what a full recompute gives, and what
an independent, page-by-page reading of the zone gives: the cells' states, free fractions,
block outlines, and the per-page and per-cell bookkeeping behind them.  A call an exception cuts
short after a step must leave no page the zone holds painted "on no list" (the map's recheck);
a call the zone completes must never need that recheck (hypothesis, every public call).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import operator
import random
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kit
from kit.core.errors import KitError
from kit.widgets import MemoryMap
from kit.widgets.memory_map import outline_boxes


def paint(page: np.ndarray, firsts: np.ndarray, lengths: np.ndarray,
          values: np.ndarray | int) -> None:
    """Set every page of each block (first page, pages) to its value, all at once."""
    if len(firsts):
        ends = np.cumsum(lengths)
        page[np.arange(ends[-1]) - np.repeat(ends - lengths - firsts, lengths)] = \
            np.repeat(values, lengths) if isinstance(values, np.ndarray) else values


@functools.cache
def cell_keys(total: int, pages_per_cell: int, kinds: int) -> np.ndarray:
    """Each page's cell times ``kinds``: adding a page's state gives its (cell, state) slot."""
    return np.arange(total) // pages_per_cell * kinds


def integers(values: Iterable[int], count: int = -1) -> np.ndarray:
    """The values as an int64 array, read by numpy one by one (no list of tuples between)."""
    return np.fromiter(values, dtype=np.int64, count=count)


#: The columns of ``zone.allocations()``: pfn, order, exact owner.
COLUMNS = tuple(map(operator.itemgetter, range(3)))


def oracle(memory: MemoryMap, zone: kit.Zone, *, full: bool = True) -> dict[str, object]:
    """What the map should show, computed page by page from the zone's public API: the cells'
    states, free fractions and page counts, and unless ``full`` is false (the check after
    each event compares only those) the block outlines and the kept pages' owners too.

    The blocks are read into numpy arrays (pfn, order) as the zone lists them, each kind of
    block painted over the pages at once: no Python loop runs per page, nor per block but the
    zone's own listing and the owners' dictionary."""
    ppc, start = memory.pages_per_cell, zone.start_pfn
    total = memory.rows * memory.columns * ppc
    none = memory.NONE
    page = np.full(total, none, dtype=np.int64)
    page[zone.nr_pages:] = memory.OUTSIDE
    free = integers(itertools.chain.from_iterable(zone.free_blocks())).reshape(-1, 2)
    free_first, free_order = free[:, 0] - start, free[:, 1]
    allocations = list(zone.allocations())
    # each column read by C iterators (unpacking hundreds of tuples into zip cost more)
    alloc_pfns, alloc_orders, exact_owners = (list(map(COLUMNS[0], allocations)),
                                              list(map(COLUMNS[1], allocations)),
                                              list(map(COLUMNS[2], allocations)))
    alloc_first = integers(alloc_pfns, len(allocations)) - start
    alloc_order = integers(alloc_orders, len(allocations))
    exact = np.fromiter(map(operator.is_not, exact_owners, itertools.repeat(None)),
                        dtype=bool, count=len(allocations))
    pcp = integers(itertools.chain.from_iterable(
        (pfn, order) for order, pfns in zone.pcp_lists().items() for pfn in pfns)).reshape(-1, 2)
    pcp_first, pcp_order = pcp[:, 0] - start, pcp[:, 1]
    paint(page, free_first, 1 << free_order, free_order)
    in_free_block = page <= memory.max_order
    # in this order: a later kind covers an earlier one
    paint(page, alloc_first, 1 << alloc_order,
          np.where(exact, memory.EXACT, memory.ALLOCATED))
    paint(page, pcp_first, 1 << pcp_order, memory.PCP)
    live = set(exact_owners)  # the exact allocations that still keep pages
    live.discard(None)
    tails = integers([pfn for pfn, owner in memory._trimmed.items() if owner in live]) - start
    trimmed = tails[in_free_block[tails]]
    page[trimmed] = memory.TRIMMED
    cells = memory.rows * memory.columns
    counts = np.bincount(cell_keys(total, ppc, none + 1) + page,
                         minlength=cells * (none + 1)).reshape(cells, none + 1)
    expected: dict[str, object] = {
        "states": counts.argmax(axis=1).reshape(memory.rows, memory.columns),
        "free_fraction": (counts[:, :memory.max_order + 1].sum(axis=1)
                          + counts[:, memory.TRIMMED]) / ppc,
        "counts": counts}
    if full:
        expected["owners"] = {pfn: owner for pfn, owner in zip(alloc_pfns, exact_owners,
                                                              strict=True) if owner is not None}
        firsts = np.concatenate([free_first, alloc_first, pcp_first, [zone.nr_pages]])
        lengths = np.concatenate([1 << free_order, 1 << alloc_order, 1 << pcp_order,
                                  [total - zone.nr_pages]])
        wide = lengths >= ppc  # the padding outside the zone too, if it fills a cell
        firsts, lengths = firsts[wide], lengths[wide]
        if ppc == 1:
            firsts = np.concatenate([firsts, trimmed])
            lengths = np.concatenate([lengths, np.ones_like(trimmed)])
        order = np.lexsort((lengths, firsts))  # by first page, then pages
        x, y = memory._rectangles(firsts[order], lengths[order])
        expected["outlines_x"], expected["outlines_y"] = x.reshape(-1, 5), y.reshape(-1, 5)
    return expected


def shown(memory: MemoryMap, keys: tuple[str, ...] | None = None) -> dict[str, object]:
    """What the map shows and keeps, copied: everything, or only ``keys`` (a check after each
    event compares three of them and copies only those)."""
    arrays = {"states": memory.states, "free_fraction": memory.free_fraction,
              "counts": memory._counts, "base": memory._base, "tail_live": memory._tail_live}
    copies: dict[str, object] = {key: arrays[key].copy() for key in keys or arrays
                                 if key in arrays}
    if keys is None or "outlines_x" in keys or "outlines_y" in keys:
        copies["outlines_x"], copies["outlines_y"] = outline_boxes(memory.outlines)
    if keys is None or "color" in keys:
        copies["color"] = np.array(memory.grid.color).copy()
    if keys is None or "owners" in keys:
        copies["owners"] = dict(memory._owners)
    return copies


def assert_same(a: dict, b: dict, keys: tuple[str, ...], context: str) -> None:
    for key in keys:
        if isinstance(a[key], dict):
            assert a[key] == b[key], f"{key} differs {context}"
        elif not np.array_equal(a[key], b[key]):  # numpy's assertion, slower, says where
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{key} differs {context}")


ORACLE_KEYS = ("states", "free_fraction", "outlines_x", "outlines_y", "counts", "owners")
ALL_KEYS = (*ORACLE_KEYS, "color", "base", "tail_live")


def random_operation(zone: kit.Zone, rng: random.Random, live: list) -> str:
    """One random call on the zone; ``live`` holds what can be freed later."""
    page_size = zone.page_size
    roll = rng.random()
    if roll < 0.3 or not live:
        order = rng.choice([0, 0, 0, 1, 2, 3, 4, 5])
        page = zone.alloc_pages(order)
        if page is not None:
            live.append(("pages", page))
        return f"alloc_pages({order})"
    if roll < 0.55:
        size = rng.randint(1, 40 * page_size)
        if rng.random() < 0.2:
            size = rng.choice([1, 2, 4, 8, 16, 32]) * page_size  # no tail to give back
        addr = zone.alloc_pages_exact(size)
        if addr is not None:
            live.append(("exact", (addr, size)))
        return f"alloc_pages_exact({size})"
    if roll < 0.6:
        candidates = [i for i, (kind, value) in enumerate(live)
                      if kind == "pages" and value.order > 0]
        if candidates:
            index = rng.choice(candidates)
            _, page = live.pop(index)
            live.extend(("pages", p) for p in zone.split_page(page))
            return f"split_page({page})"
    if roll < 0.63 and zone.pcp_enabled:
        zone.drain_pages()
        return "drain_pages()"
    kind, value = live.pop(rng.randrange(len(live)))
    if kind == "pages":
        zone.release(value)
        return f"release({value})"
    zone.free_pages_exact(*value)
    return f"free_pages_exact{value}"


ZONES = {  # (zone arguments, cell budget): one page per cell, and aggregated cells
    "small": ({"nr_pages": 256}, 4096),
    "large": ({"nr_pages": 1 << 14, "start_pfn": 1 << 14}, 256),
    "unaligned": ({"nr_pages": 3000, "start_pfn": 5}, 128),
}


@pytest.mark.parametrize("zone_kind", list(ZONES))
@pytest.mark.parametrize("preset", ["2.6.27", "6.8"])
@pytest.mark.parametrize("pcp", [False, True])
@pytest.mark.parametrize("mode", ["hold", "per_event"])
def test_incremental_updates_equal_a_full_recompute(zone_kind, preset, pcp, mode):
    arguments, budget = ZONES[zone_kind]
    zone = kit.Zone(**arguments, preset=preset, pcp=pcp, record=False)
    memory = MemoryMap(zone, cell_budget=budget)
    if zone_kind == "small":
        assert memory.pages_per_cell == 1
    else:
        assert memory.pages_per_cell > 1
    full_redraws = []
    memory.refresh = lambda: full_redraws.append(1)  # an incremental update never calls it
    mid_operation = []
    if mode == "per_event":
        # every event redraws at once (no kernel loop); check each one, between two events
        def check(event: kit.Event) -> None:
            mid_operation.append(event)
            keys = ("states", "free_fraction", "counts")
            assert_same(shown(memory, keys), oracle(memory, zone, full=False), keys,
                        f"after the event {event}")
        zone.subscribe(check)
    rng = random.Random(f"{zone_kind}-{preset}-{pcp}-{mode}")
    live: list = []
    steps = (150 if zone_kind == "small" else 250) // (2 if mode == "per_event" else 1)
    for step in range(steps):
        if mode == "hold":
            with memory.hold():
                name = random_operation(zone, rng, live)
        else:
            name = random_operation(zone, rng, live)
            memory._update()  # what the next event's redraw does first: reread the pages
            # that changed after the last event (split_page, an exact block with no tail)
        context = f"after step {step}, {name}"
        incremental = shown(memory)
        assert_same(incremental, oracle(memory, zone), ORACLE_KEYS, context)
        assert not full_redraws, context
        MemoryMap.refresh(memory)  # the full recompute
        assert_same(incremental, shown(memory), ALL_KEYS, context)
    assert memory._trimmed, "the workload should leave some tail pages given back"
    if mode == "per_event":
        assert len(mid_operation) > steps


def test_restore_without_refresh_falls_back_to_a_full_recompute():
    zone = kit.Zone(1 << 12, record=False)
    memory = MemoryMap(zone, cell_budget=256)
    state = zone.snapshot()
    for order in (0, 3, 5, 1):
        zone.alloc_pages(order)
    zone.restore(state)  # nobody tells the map
    zone.alloc_pages(2)  # the map sees that the zone's lists were replaced
    expected = oracle(memory, zone)
    assert_same(shown(memory), expected, ORACLE_KEYS, "after restore")


def test_a_long_batch_falls_back_to_a_full_recompute():
    zone = kit.Zone(1 << 12, record=False)
    memory = MemoryMap(zone, cell_budget=256)
    memory.queue_limit = 50
    with memory.hold():
        kit.run_workload(zone, seed=3, steps=200)
        assert not memory._live and not memory._queue
    assert memory._live
    assert_same(shown(memory), oracle(memory, zone), ORACLE_KEYS, "after the workload")


def test_drawing_another_source_then_following_the_zone_again():
    zone = kit.Zone(256, record=False)
    memory = MemoryMap(zone)
    other = kit.Zone(256, record=False)
    other.alloc_pages(3)
    memory.draw(other, highlight=[(0, 8)])
    assert not memory._live
    assert memory.states.reshape(-1)[0] == memory.ALLOCATED
    zone.alloc_pages(0)  # the map follows its zone again: a full recompute
    assert memory._live and outline_boxes(memory.highlights)[0].shape == (0, 5)
    assert_same(shown(memory), oracle(memory, zone), ORACLE_KEYS, "after drawing back")


def test_outlines_are_worked_out_only_when_their_blocks_change():
    """An event that leaves every outlined block as it was (a page taken inside a cell of 16)
    works out no rectangles; outlines changed by anyone but the map are drawn again."""
    zone = kit.Zone(1 << 16, record=False)
    memory = MemoryMap(zone)
    assert memory.pages_per_cell == 16
    rectangles = memory._rectangles

    def rectangles_worked_out(call) -> int:  # noqa: ANN001 - a zone call
        worked_out = []
        memory._rectangles = lambda *ranges: worked_out.append(ranges) or rectangles(*ranges)
        try:
            with memory.hold():
                call()
        finally:
            del memory._rectangles
        return len(worked_out)

    # splitting the first block changes the blocks of 16 pages and more
    assert rectangles_worked_out(lambda: zone.alloc_pages(0)) == 1
    # pfn 1, then pfn 2 out of an order-1 block: both inside cell 0
    assert rectangles_worked_out(lambda: (zone.alloc_pages(0), zone.alloc_pages(0))) == 0
    assert_same(shown(memory), oracle(memory, zone), ORACLE_KEYS, "after two pages in a cell")
    memory.outlines.x, memory.outlines.y = [], []  # someone else draws on the mark
    assert rectangles_worked_out(lambda: zone.alloc_pages(0)) == 1  # pfn 3: the mark changed
    assert_same(shown(memory), oracle(memory, zone), ORACLE_KEYS, "after the mark was cleared")


def test_an_update_sends_nothing_when_no_cell_changes():
    zone = kit.Zone(1 << 16, record=False)
    memory = MemoryMap(zone)
    sent = []
    memory.grid.observe(lambda change: sent.append("color"), "color")
    memory.outlines.observe(lambda change: sent.append("outlines"), "x")
    with memory.hold():  # one redraw for the whole call, as in a kernel
        page = zone.alloc_pages(0)  # splits the first 16-page cell: colour and outlines change
    assert sent == ["color", "outlines"]
    sent.clear()
    with memory.hold():
        zone.release(page)  # merges back: the same picture as at the start
    assert sent == ["color", "outlines"]
    sent.clear()
    with memory.hold():  # allocated and freed within one redraw: nothing to send
        zone.release(zone.alloc_pages(0))
    assert sent == []


@pytest.mark.parametrize("preset", ["2.6.27", "6.8"])
def test_split_and_owned_pages_with_no_event_after_them_are_caught_up(preset):
    """split_page and make_alloc_exact of a whole block change pages after their last event
    (or with none at all): the next redraw rereads them."""
    zone = kit.Zone(256, preset=preset, record=False)
    memory = MemoryMap(zone)
    page = zone.alloc_pages(3)
    zone.split_page(page)  # one event, before the block is split
    addr = zone.get_free_pages(3)
    zone.alloc_pages(0)  # a redraw in between: the map caught up with the first two calls
    assert_same(shown(memory), oracle(memory, zone), ORACLE_KEYS, "after split_page")
    zone.make_alloc_exact(addr, 3, 8 * 4096)  # keeps every page: no event at all on 6.8
    zone.alloc_pages(1)
    assert_same(shown(memory), oracle(memory, zone), ORACLE_KEYS, "after make_alloc_exact")
    assert memory._live


def _cut_short(kind: str) -> tuple[kit.Zone, MemoryMap]:
    """A zone whose call an interrupt stops at the first event of ``kind``: the zone has
    already done that step, the map never hears of it (Ctrl-C landing in the zone's own code;
    an observer that raises no longer cuts a call short, tests/test_zone_observers.py).  The
    map redraws once the call has ended, as after a cell in a kernel."""
    zone = kit.Zone(64, pcp=kind == "pcp_put", record=False)
    held = zone.alloc_pages(3) if kind == "put" else None  # something to free
    memory = MemoryMap(zone)
    emit = zone._emit

    def emit_or_stop(event_kind: str, *step: Any, **more: Any) -> None:
        if event_kind == kind:
            raise KeyboardInterrupt
        emit(event_kind, *step, **more)

    zone._emit = emit_or_stop  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt), memory.hold():
        if held is not None:
            zone.release(held)  # freed, merged, then put: the put is lost
        else:
            zone.alloc_pages(0)  # taken, then allocated (or put on the per-CPU list): lost
    del zone._emit
    return zone, memory


@pytest.mark.parametrize("kind", ["put", "alloc", "pcp_put"])
def test_a_call_cut_short_after_a_step_leaves_no_page_falsely_on_no_list(kind):
    """A call an exception stops between two steps (an interrupt) leaves the map without the
    event that says where taken pages went.  The map must not paint
    "taken off the free lists" a page the zone has in a block (``_recheck_stray`` reads those
    pages again): it shows what a full recompute shows."""
    zone, memory = _cut_short(kind)
    states = memory.states.reshape(-1)
    stray = [pfn for pfn in range(zone.nr_pages)
             if zone.block_at(pfn) is not None and states[pfn] == memory.NONE]
    assert not stray, f"pages in a block painted on no list after the {kind} event was lost: " \
        f"{stray}"
    incremental = shown(memory)
    context = f"after the {kind} event was lost"
    assert_same(incremental, oracle(memory, zone), ORACLE_KEYS, context)
    MemoryMap.refresh(memory)
    assert_same(incremental, shown(memory), ALL_KEYS, context)


CALLS = st.one_of(
    st.tuples(st.sampled_from(["alloc_pages", "get_free_pages"]), st.integers(0, 6)),
    st.tuples(st.just("alloc_pages_exact"), st.integers(1, 70 * 4096)),
    st.tuples(st.just("make_alloc_exact"), st.integers(0, 5), st.integers(1, 40 * 4096)),
    st.tuples(st.sampled_from(["free", "split_page", "bad_free"]), st.integers(0, 99)),
    st.tuples(st.sampled_from(["drain_pages", "snapshot", "restore"])),
)


def call(zone: kit.Zone, what: tuple, live: list, snapshots: list) -> None:
    """One public call on the zone; ``live`` holds (kind, pfn, order or size) to free."""
    name = what[0]
    if name in ("alloc_pages", "get_free_pages", "make_alloc_exact"):
        order = min(what[1], zone.max_order)
        if name == "alloc_pages":
            page = zone.alloc_pages(order)
            pfn = None if page is None else page.pfn
        else:
            addr = zone.get_free_pages(order)
            pfn = None if addr is None else zone.virt_to_pfn(addr)
        if pfn is not None and name == "make_alloc_exact":
            size = min(what[2], zone.page_size << order)
            zone.make_alloc_exact(zone.pfn_to_virt(pfn), order, size)
            live.append(("exact", pfn, size))
        elif pfn is not None:
            live.append(("pages", pfn, order))
    elif name == "alloc_pages_exact":
        addr = zone.alloc_pages_exact(what[1])
        if addr is not None:
            live.append(("exact", zone.virt_to_pfn(addr), what[1]))
    elif name in ("free", "split_page", "bad_free") and live:
        kind, pfn, amount = live[what[1] % len(live)]
        if name == "bad_free":  # refused: a kernel BUG, nothing changes
            with pytest.raises(KitError):
                zone.free_pages(zone.pfn_to_virt(pfn), amount + 1)
        elif name == "split_page" and kind == "pages" and amount > 0:
            live.remove((kind, pfn, amount))
            live.extend(("pages", p.pfn, 0) for p in zone.split_page(kit.Page(pfn, amount)))
        elif name == "free":
            live.remove((kind, pfn, amount))
            if kind == "pages":
                zone.free_pages(zone.pfn_to_virt(pfn), amount)
            else:
                zone.free_pages_exact(zone.pfn_to_virt(pfn), amount)
    elif name == "drain_pages":
        zone.drain_pages()
    elif name == "snapshot":
        snapshots.append((zone.snapshot(), list(live)))
    elif name == "restore" and snapshots:
        state, then = snapshots[-1]
        zone.restore(state)  # nobody tells the map: the next redraw sees it
        live[:] = then


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(preset=st.sampled_from(["2.6.27", "5.10", "6.0", "6.1", "6.8"]),
       pcp=st.sampled_from([None, {}, {"pcp_batch": 1, "pcp_high": 0},
                            {"pcp_batch": 2, "pcp_high": 8}]),
       geometry=st.sampled_from([(64, 0, 10), (100, 5, 10), (256, 0, 4)]),
       per_event=st.booleans(), calls=st.lists(CALLS, min_size=1, max_size=20))
def test_a_complete_call_never_needs_the_stray_recheck(preset, pcp, geometry, per_event, calls):
    """Every call the zone completes emits, after each event that leaves pages on no list
    (take, free, per-CPU take, merge), the one that places them (put, per-CPU put, alloc):
    with ``_recheck_stray`` switched off, the map still equals the zone page by page after
    every public call, for every preset and per-CPU configuration, redrawn per call or per
    event.  So the recheck repairs only calls cut short, and masks no zone that forgets an
    event: this fails if the zone ever emits an incomplete sequence."""
    nr_pages, start_pfn, max_order = geometry
    zone = kit.Zone(nr_pages, start_pfn=start_pfn, max_order=max_order, preset=preset,
                    pcp=pcp is not None, record=False, **(pcp or {}))
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore", kit.PageAllocWarning)  # an order above max_order
        patch.setattr(MemoryMap, "_recheck_stray", lambda self: None)
        memory = MemoryMap(zone)
        live: list = []
        snapshots: list = []
        for index, what in enumerate(calls):
            with contextlib.nullcontext() if per_event else memory.hold():
                call(zone, what, live, snapshots)
            memory._update()  # what the next redraw does first (split_page, restore)
            context = f"after {calls[:index + 1]}"
            states = memory.states.reshape(-1)[:zone.nr_pages]
            assert not (states == memory.NONE).any(), f"a page on no list {context}"
            assert_same(shown(memory), oracle(memory, zone), ORACLE_KEYS, context)
        memory.close()
