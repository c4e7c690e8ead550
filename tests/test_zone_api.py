"""Unit tests of the Zone's public API: addresses, bad input, presets, PCP, events, snapshots."""

import random
import warnings

import pytest

from kit import (
    PAGE_OFFSET,
    PRESETS,
    BadPageState,
    InvalidArgument,
    KernelBUG,
    Page,
    PageAllocWarning,
    Zone,
    replay,
)
from kit.core import events as ev
from kit.core.replay import ReplayMismatch
from kit.core.workload import free_workload, run_workload


def state_of(zone):
    return (
        zone.nr_free(),
        [list(area) for area in zone.free_area],
        sorted(zone.allocations()),
        zone.free_pages_count,
        zone.pcp_lists(),
    )


# ------------------------------------------------------------------- construction and layout
def test_zone_at_an_unaligned_start_is_released_in_aligned_chunks():
    zone = Zone(1000, start_pfn=3)
    blocks = sorted(zone.free_blocks())
    assert blocks[:4] == [(3, 0), (4, 2), (8, 3), (16, 4)]
    assert sum(1 << order for _, order in blocks) == 1000
    assert all(pfn % (1 << order) == 0 for pfn, order in blocks)
    assert blocks[-1][0] + (1 << blocks[-1][1]) == 1003


def test_boot_puts_blocks_on_the_tail_so_lowest_pfn_comes_first():
    zone = Zone(4096)
    assert list(zone.free_area[10]) == [0, 1024, 2048, 3072]


def test_max_order_is_configurable_and_bounds_merging():
    zone = Zone(64, max_order=3)
    assert zone.nr_free() == [0, 0, 0, 8]
    zone.release(zone.alloc_pages(0))
    assert zone.nr_free() == [0, 0, 0, 8]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nr_pages": 0}, "nr_pages must be >= 1"),
        ({"nr_pages": 1.5}, "nr_pages must be an int"),
        ({"nr_pages": 8, "page_size": 3000}, "3000"),
        ({"nr_pages": 8, "preset": "4.19"}, "unknown kernel preset '4.19'"),
        ({"nr_pages": 8, "max_order": -1}, "max_order must be >= 0"),
        ({"nr_pages": 8, "start_pfn": -4}, "start_pfn must be >= 0"),
    ],
)
def test_bad_zone_arguments_name_the_problem(kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        Zone(**kwargs)


def test_presets_describe_max_order_the_way_each_kernel_names_it():
    assert PRESETS["2.6.27"].describe_max_order(10).startswith("Linux 2.6.27: MAX_ORDER = 11")
    assert "MAX_ORDER = 10" in PRESETS["6.1"].describe_max_order(9)
    assert PRESETS["6.8"].describe_max_order(10).startswith("Linux 6.8: MAX_PAGE_ORDER = 10")
    assert PRESETS["6.8"].max_order_constant(10) == 10
    assert PRESETS["5.10"].max_order_constant(10) == 11


# ------------------------------------------------------------------------------ addresses
def test_addresses_are_in_the_direct_map_and_round_trip():
    zone = Zone(64, start_pfn=1 << 20)
    addr = zone.get_free_pages(2)
    assert addr == PAGE_OFFSET + ((1 << 20) << 12)
    assert zone.virt_to_pfn(addr) == 1 << 20
    assert zone.pfn_to_virt(zone.virt_to_pfn(addr)) == addr


@pytest.mark.parametrize(
    ("addr", "error", "message"),
    [
        (PAGE_OFFSET + 5, KernelBUG, "not aligned"),
        (4096, KernelBUG, "not in the direct map"),
        (PAGE_OFFSET + 64 * 4096, KernelBUG, "outside this zone"),
        ("0xffff", InvalidArgument, "must be an int"),
    ],
)
def test_bad_addresses_are_refused(addr, error, message):
    zone = Zone(64)
    with pytest.raises(error, match=message):
        zone.virt_to_pfn(addr)


def test_pfn_to_virt_refuses_pfns_outside_the_zone():
    with pytest.raises(KernelBUG, match="pfn 64 is outside"):
        Zone(64).pfn_to_virt(64)


# --------------------------------------------------------------------------- bad frees
def bad_free_cases():
    return {
        "double free": (lambda z, a: (z.free_pages(a, 0), z.free_pages(a, 0)), "double free"),
        "wrong order": (lambda z, a: z.free_pages(a, 1), "allocated with order 0"),
        "never allocated": (lambda z, a: z.free_pages(a + 4096 * 8, 0), "already free"),
        "inside a block": (
            lambda z, a: z.free_pages(z.pfn_to_virt(z.alloc_pages(3).pfn + 1), 0),
            "inside the order-3 allocation",
        ),
        "unaligned": (lambda z, a: z.free_pages(a + 1, 0), "not aligned"),
        "negative order": (lambda z, a: z.free_pages(a, -1), "order must be >= 0"),
        "float order": (lambda z, a: z.free_pages(a, 0.0), "order must be an int"),
        "bool order": (lambda z, a: z.free_pages(a, False), "order must be an int"),
        "past the zone": (lambda z, a: z.free_pages(a + 4096 * 256, 0), "outside this zone"),
        "below the zone": (lambda z, a: z.free_pages(a - 4096, 0), "outside this zone"),
        "exact free of a block": (
            lambda z, a: z.free_pages_exact(z.get_free_pages(2), 3 * 4096),
            "allocated with order 2",
        ),
    }


# A zone that records nothing takes the fast paths of get_free_pages and free_pages: both kinds
# must refuse the same bad calls in the same words.
RECORDING_AND_QUIET = pytest.mark.parametrize("record", [True, False], ids=["recording", "quiet"])


@pytest.mark.parametrize("preset", ["2.6.27", "6.8"])
def test_a_quiet_zone_takes_its_fast_paths_to_the_same_state(preset):
    """A seeded stream of get_free_pages/free_pages, with and without recording, step by step."""
    recording, quiet = Zone(4096, start_pfn=5, preset=preset), Zone(
        4096, start_pfn=5, preset=preset, record=False
    )
    rng = random.Random(7)
    live = []
    for step in range(3000):
        if live and rng.random() < 0.5:
            addr, order = live.pop(rng.randrange(len(live)))
            recording.free_pages(addr, order)
            quiet.free_pages(addr, order)
        else:
            order = rng.choice((0, 0, 0, 1, 2, 3, 5))
            addr = recording.get_free_pages(order)
            assert quiet.get_free_pages(order) == addr, f"step {step}"
            if addr is not None:
                live.append((addr, order))
        assert state_of(quiet)[:2] == state_of(recording)[:2], f"step {step}"
    assert state_of(quiet) == state_of(recording)
    assert any(e.where == "tail" for e in recording.trace.events()) == (preset == "6.8")


@RECORDING_AND_QUIET
@pytest.mark.parametrize("case", list(bad_free_cases()))
def test_bad_frees_raise_a_named_error_and_leave_the_state_intact(case, record):
    action, message = bad_free_cases()[case]
    zone = Zone(256, start_pfn=256, record=record)
    addr = zone.get_free_pages(0)
    with pytest.raises((BadPageState, KernelBUG, InvalidArgument), match=message):
        action(zone, addr)
    after_error = state_of(zone)
    # The failed call changed nothing: a second look gives the same state, and the original
    # allocation can still be freed normally afterwards (unless the case freed it first).
    assert state_of(zone) == after_error
    assert after_error[3] + sum(1 << o for _, o, _ in zone.allocations()) + zone.pcp_count == 256


def test_failed_exact_free_frees_nothing():
    zone = Zone(256)
    addr = zone.alloc_pages_exact(5 * 4096)
    before = state_of(zone)
    with pytest.raises(BadPageState, match="pfn 5"):
        zone.free_pages_exact(addr, 6 * 4096)
    assert state_of(zone) == before


@pytest.mark.parametrize("pcp", [False, True])
def test_failed_exact_free_names_its_first_bad_page(pcp):
    # Pages 2 and 4 of an exact allocation freed on their own: the exact free names page 2,
    # the first bad one, and frees none of the others.
    zone = Zone(256, pcp=pcp)
    addr = zone.alloc_pages_exact(5 * 4096)
    zone.free_pages(addr + 4 * 4096, 0)
    zone.free_pages(addr + 2 * 4096, 0)
    before = state_of(zone)
    with pytest.raises(BadPageState, match=rf"double free of pfn {zone.virt_to_pfn(addr) + 2}\b"):
        zone.free_pages_exact(addr, 5 * 4096)
    assert state_of(zone) == before


def test_bad_frees_are_also_bad_page_state_for_pcp_pages():
    zone = Zone(256, pcp=True)
    addr = zone.get_free_pages(0)
    zone.free_pages(addr, 0)
    with pytest.raises(BadPageState, match="per-CPU list"):
        zone.free_pages(addr, 0)


@RECORDING_AND_QUIET
@pytest.mark.parametrize("order", [-1, 1.0, "2", True, None])
def test_bad_orders_are_refused(order, record):
    with pytest.raises(InvalidArgument, match="order"):
        Zone(64, record=record).alloc_pages(order)
    with pytest.raises(InvalidArgument, match="order"):
        Zone(64, record=record).get_free_pages(order)


@pytest.mark.parametrize("size", [-1, 4096.0, "4096", None])
def test_bad_sizes_are_refused(size):
    with pytest.raises(InvalidArgument, match="size"):
        Zone(64).alloc_pages_exact(size)


def test_order_above_the_largest_warns_once_and_returns_null():
    zone = Zone(64)
    with pytest.warns(PageAllocWarning, match="order 11 is above the largest order 10"):
        assert zone.alloc_pages(11) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert zone.get_free_pages(12) is None


def test_running_out_of_memory_returns_none():
    zone = Zone(8)
    assert [zone.alloc_pages(1) is not None for _ in range(5)] == [True] * 4 + [False]
    assert zone.alloc_pages(0) is None
    assert zone.alloc_pages_exact(4096) is None


@RECORDING_AND_QUIET
def test_free_of_null_is_ignored_like_the_kernel(record):
    zone = Zone(8, record=record)
    zone.free_pages(None, 3)
    zone.free_pages(0, 3)
    zone.free_pages_exact(zone.get_free_pages(0), 0)
    assert zone.free_pages_count == 7


def test_release_and_split_page_take_pages_only():
    zone = Zone(8)
    with pytest.raises(InvalidArgument, match="Page"):
        zone.release(0)
    with pytest.raises(InvalidArgument, match="Page"):
        zone.split_page((0, 1))


# ------------------------------------------------------------------- split_page and exact
def test_split_page_makes_order0_pages_that_free_one_by_one():
    zone = Zone(16)
    block = zone.alloc_pages(2)
    pages = zone.split_page(block)
    assert pages == [Page(0, 0), Page(1, 0), Page(2, 0), Page(3, 0)]
    with pytest.raises(BadPageState, match="allocated with order 0, freed with order 2"):
        zone.release(block)
    for page in pages:
        zone.release(page)
    assert zone.nr_free() == [0, 0, 0, 0, 1] + [0] * 6


def test_make_alloc_exact_on_a_block_from_get_free_pages():
    zone = Zone(1024)
    addr = zone.get_free_pages(6)
    assert zone.make_alloc_exact(addr, 6, 33 * 4096) == addr
    assert zone.nr_free() == [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0]
    assert zone.make_alloc_exact(None, 6, 4096) is None
    with pytest.raises(InvalidArgument, match="more than the order-0 block"):
        zone.make_alloc_exact(zone.get_free_pages(0), 0, 8192)


def test_exact_allocations_are_owned_pages():
    zone = Zone(64)
    zone.alloc_pages_exact(3 * 4096)
    owners = {pfn: owner for pfn, order, owner in zone.allocations()}
    assert owners == {0: 0, 1: 0, 2: 0}


def test_2008_and_modern_trims_give_different_events():
    old, new = Zone(64, preset="2.6.27"), Zone(64, preset="6.8")
    old.alloc_pages_exact(5 * 4096)
    new.alloc_pages_exact(5 * 4096)
    old_kinds = [e.kind for e in old.trace.operations[-1].events]
    new_kinds = [e.kind for e in new.trace.operations[-1].events]
    assert ev.SPLIT_PAGE in old_kinds and ev.SPLIT_PAGE not in new_kinds
    assert old_kinds.count(ev.TRIM) == new_kinds.count(ev.TRIM) == 3
    tail_puts = [e.where for e in new.trace.operations[-1].events if e.kind == ev.PUT][-3:]
    assert tail_puts == ["tail", "tail", "tail"]


def test_split_page_trim_goes_through_the_pcp_lists_up_to_6_0_only():
    # 6.0.1 mm/page_alloc.c:5789-5803 split_page + free_page; 6.1.20 :5790-5806 FPI_TO_TAIL
    old = Zone(1024, preset="6.0", pcp=True)
    new = Zone(1024, preset="6.1", pcp=True)
    old.alloc_pages_exact(33 * 4096)
    new.alloc_pages_exact(33 * 4096)
    assert old.pcp_lists()[0] == [63]  # the last tail page freed still waits there
    assert new.pcp_count == 0
    assert new.nr_free()[:5] == [1, 1, 1, 1, 1]  # the tail went straight to the buddy lists


# ----------------------------------------------------------------------------- PCP
def test_pcp_is_off_by_default_and_frees_reach_the_buddy_lists_at_high():
    zone = Zone(1024, pcp=True, pcp_batch=4, pcp_high=8)
    pages = [zone.alloc_pages(0) for _ in range(12)]  # three refills of 4: the list is empty
    assert zone.pcp_count == 0
    buddyinfo = zone.format_buddyinfo()
    for page in pages[:7]:
        zone.release(page)
    assert zone.pcp_count == 7
    assert zone.format_buddyinfo() == buddyinfo  # the frees have not reached the buddy lists
    zone.release(pages[7])  # the 8th page reaches pcp_high: a batch of 4 goes back
    assert zone.pcp_count == 4
    assert zone.format_buddyinfo() != buddyinfo
    assert Zone(8).pcp_enabled is False


def test_pcp_holds_higher_orders_only_from_5_14():
    old = Zone(1024, preset="5.10", pcp=True)
    new = Zone(1024, preset="6.8", pcp=True)
    assert list(old.pcp_lists()) == [0]
    assert list(new.pcp_lists()) == [0, 1, 2, 3]
    new.alloc_pages(2)
    assert new.pcp_batch == 1 and new.pcp_lists()[2] == []  # batch 1: a refill of 1 block
    big = Zone(1024, preset="6.8", pcp=True, pcp_batch=8, pcp_high=32)
    big.alloc_pages(2)
    assert len(big.pcp_lists()[2]) == max(8 >> 2, 2) - 1  # scaled by order when batch > 1


# -------------------------------------------------------------- events, traces, snapshots
def test_observers_see_every_step_and_can_unsubscribe():
    zone = Zone(16, record=False)
    seen = []
    unsubscribe = zone.subscribe(seen.append)
    page = zone.alloc_pages(0)
    assert [e.kind for e in seen] == [ev.TAKE] + [ev.SPLIT, ev.PUT] * 4 + [ev.ALLOC]
    seen.clear()
    zone.release(page)
    assert [e.kind for e in seen] == [ev.FREE] + [ev.MERGE] * 4 + [ev.PUT]
    assert all(e.describe() for e in seen)
    unsubscribe()
    zone.alloc_pages(0)
    assert [e.kind for e in seen] == [ev.FREE] + [ev.MERGE] * 4 + [ev.PUT]


def test_trace_text_is_modelled_on_kmem_tracepoints():
    zone = Zone(64)
    page = zone.alloc_pages(1)
    zone.release(page)
    with pytest.warns(PageAllocWarning):
        zone.alloc_pages(11)
    lines = zone.trace.to_text().splitlines()
    assert lines[0].startswith("# pagealloc-kit trace nr_pages=64 start_pfn=0")
    assert lines[1] == "mm_page_alloc: pfn=0x0 order=1 migratetype=0 gfp_flags=GFP_KERNEL"
    assert lines[2] == "mm_page_free: pfn=0x0 order=1"
    assert lines[3] == "# alloc_pages order=11 failed"


def test_replay_detects_a_diverging_trace():
    zone = Zone(64)
    zone.alloc_pages(0)
    text = zone.trace.to_text().replace("pfn=0x0", "pfn=0x5")
    with pytest.raises(ReplayMismatch, match="recorded pfn 0x5, the replay got 0x0"):
        replay(text)


def test_replay_rejects_text_that_is_not_a_trace():
    with pytest.raises(InvalidArgument, match="starts with"):
        replay("mm_page_alloc: pfn=0x0 order=0\n")
    with pytest.raises(InvalidArgument, match="line 2"):
        replay("# pagealloc-kit trace nr_pages=8\nhello world\n")


def test_snapshot_and_restore_step_back():
    zone = Zone(256, pcp=True)
    first = zone.alloc_pages(0)
    saved = zone.snapshot()
    before = state_of(zone)
    zone.release(first)
    zone.alloc_pages_exact(5 * 4096)
    assert state_of(zone) != before
    zone.restore(saved)
    assert state_of(zone) == before
    assert len(zone.trace.operations) == 1
    zone.release(first)
    zone.restore(saved)
    assert state_of(zone) == before


def test_restore_refuses_a_snapshot_of_another_shape():
    with pytest.raises(InvalidArgument, match="another zone: max_order 10 instead of 3"):
        Zone(64, max_order=3).restore(Zone(64).snapshot())
    with pytest.raises(InvalidArgument, match="nr_pages 128 instead of 64"):
        Zone(64).restore(Zone(128).snapshot())
    with pytest.raises(InvalidArgument, match="start_pfn 64 instead of 0"):
        Zone(64).restore(Zone(64, start_pfn=64).snapshot())


def test_block_at_reports_free_allocated_and_pcp_pages():
    zone = Zone(64, pcp=True, pcp_batch=2)
    page = zone.alloc_pages(0)
    assert zone.block_at(page.pfn) == ("allocated", 0, 0)
    assert zone.block_at(1) == ("pcp", 1, 0)
    assert zone.block_at(40) == ("free", 32, 5)


def blocks_listed(zone: Zone) -> dict[int, tuple[str, int, int]]:
    """Each page of a block, read from the zone's listings (not ``block_at``)."""
    listed = [("free", pfn, order) for pfn, order in zone.free_blocks()]
    listed += [("allocated", pfn, order) for pfn, order, _owner in zone.allocations()]
    listed += [("pcp", pfn, order) for order, pfns in zone.pcp_lists().items() for pfn in pfns]
    return {pfn: block for block in listed
            for pfn in range(block[1], block[1] + (1 << block[2]))}


def test_block_at_agrees_with_the_listings_page_by_page_and_between_steps():
    """Every pfn of an unaligned zone and around it, after each call of a workload and
    between the steps of each call (where a taken block is on no list: None)."""
    zone = Zone(96, start_pfn=5, pcp=True, pcp_batch=3)
    pfns = range(zone.start_pfn - 40, zone.end_pfn + 40)

    def agree(_event: object = None) -> None:
        listed = blocks_listed(zone)
        assert [zone.block_at(pfn) for pfn in pfns] == [listed.get(pfn) for pfn in pfns]

    zone.subscribe(agree)
    result = run_workload(zone, seed=5, steps=16, exact=True)
    agree()
    free_workload(zone, result)
    agree()


# ---------------------------------------------------------------------------- workloads
def test_workload_is_deterministic_for_a_seed_and_frees_cleanly():
    results = []
    for _ in range(2):
        zone = Zone(4096)
        result = run_workload(zone, seed=7, steps=400)
        results.append((state_of(zone), result.allocations, result.failures))
    assert results[0] == results[1]
    zone = Zone(4096)
    result = run_workload(zone, seed=7, steps=400, exact=True)
    assert result.live_wasted_bytes < 4096 * len(result.live)
    free_workload(zone, result)
    assert zone.nr_free() == [0] * 10 + [4]


def test_workload_rejects_unknown_mixes():
    with pytest.raises(InvalidArgument, match="unknown size mix 'huge'"):
        run_workload(Zone(64), sizes="huge")
    with pytest.raises(InvalidArgument, match="unknown lifetime mix"):
        run_workload(Zone(64), lifetimes="forever")


def test_exact_owners_is_a_read_only_view_and_restore_bumps_the_generation():
    zone = Zone(64)
    saved = zone.snapshot()
    zone.alloc_pages_exact(3 * 4096)
    owners = zone.exact_owners()
    assert dict(owners) == {0: 0, 1: 0, 2: 0}
    with pytest.raises(TypeError):
        owners[5] = 0
    assert zone.generation == 0
    zone.restore(saved)
    assert zone.generation == 1
    assert dict(zone.exact_owners()) == {}


def test_allocations_come_by_pfn_even_for_an_observer_between_steps():
    zone = Zone(256, start_pfn=3, pcp=True, pcp_batch=2)
    pages = [zone.alloc_pages(order) for order in (3, 0, 5, 0)]
    zone.release(pages[1])  # to a per-CPU list, so it is neither free nor allocated
    seen = []
    zone.subscribe(lambda event: seen.append(list(zone.allocations())))
    exact = zone.alloc_pages_exact(3 * 4096)
    expected = sorted([(p.pfn, p.order) for p in (pages[0], pages[2], pages[3])]
                      + [(zone.virt_to_pfn(exact) + i, 0) for i in range(3)])
    assert [(pfn, order) for pfn, order, _ in zone.allocations()] == expected
    assert seen[-1] == list(zone.allocations())
    assert all(pfns == sorted(pfns) for pfns in seen)


def test_snapshot_keeps_the_per_cpu_scaling_state():
    # free_factor (6.1) and free_count / alloc_factor (6.8) decide how many pages move next
    for preset in ("6.1", "6.8"):
        zone = Zone(4096, preset=preset, pcp=True, pcp_batch=2, pcp_high=64)
        pages = [zone.alloc_pages(0) for _ in range(100)]
        for page in pages[:70]:
            zone.release(page)
        state = zone.snapshot()
        zone.release(pages[70])
        after = (zone.pcp_lists(), zone.nr_free())
        zone.restore(state)
        zone.release(pages[70])
        assert (zone.pcp_lists(), zone.nr_free()) == after
        assert state.pcp_factors != (0, 0, False)


def test_the_zones_fast_event_is_the_same_value_as_an_event() -> None:
    """A recording zone makes its events with ``make_event`` (faster than the dataclass's
    ``__init__``): each must be the Event those arguments make, frozen like it."""
    import dataclasses

    from kit.core.events import KINDS, Event, make_event

    for kind in KINDS:
        for args in ((kind, 8, 3), (kind, 8, 3, "tail"), (kind, 8, 3, "head", 12)):
            fast, made = make_event(*args), Event(*args)  # type: ignore[arg-type]
            assert fast == made and hash(fast) == hash(made) and repr(fast) == repr(made)
            with pytest.raises(dataclasses.FrozenInstanceError):
                fast.pfn = 9  # type: ignore[misc]
