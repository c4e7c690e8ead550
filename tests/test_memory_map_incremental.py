"""The memory map's incremental updates against a full recompute and a page-by-page oracle.

After every operation of a seeded random workload (alloc_pages, alloc_pages_exact, frees,
split_page, drain_pages; both exact-allocation presets; with and without the per-CPU lists) the
state the map kept up to date event by event must equal what a full recompute gives, and what
an independent, page-by-page reading of the zone gives: the cells' states, free fractions,
block outlines, and the per-page and per-cell bookkeeping behind them.
"""

from __future__ import annotations

import functools
import itertools
import operator
import random
from collections.abc import Iterable

import numpy as np
import pytest

import kit
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
    alloc_pfns, alloc_orders, exact_owners = (
        zip(*allocations, strict=True) if allocations else ((), (), ()))
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
