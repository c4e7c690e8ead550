"""The worked scenarios of section 10 of kernel-facts-detailed.md, one test each.

Every expected pfn and nr_free array below is copied from the reference (derived there by hand),
not computed by the kit.
"""

import pytest

from kit import Zone, get_order, replay
from kit.core.metrics import format_index, fragmentation_indexes, unusable_indexes

KIB = 1024
MIB = 1024 * KIB


def pfn_of(zone, addr):
    return None if addr is None else zone.virt_to_pfn(addr)


def test_g2_first_order0_allocation_splits_the_max_block():
    zone = Zone(1024)
    page = zone.alloc_pages(0)
    assert page.pfn == 0
    assert zone.nr_free() == [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    assert zone.free_pages_count == 1023
    assert [list(zone.free_area[o]) for o in range(10)] == [
        [1], [2], [4], [8], [16], [32], [64], [128], [256], [512]
    ]


def test_g3_free_merges_back_to_the_max_order():
    zone = Zone(1024)
    zone.release(zone.alloc_pages(0))
    assert zone.nr_free() == [0] * 10 + [1]
    assert zone.free_pages_count == 1024


def test_g4_simplest_case_128k():
    zone = Zone(1024)
    assert get_order(131072) == 5
    assert zone.alloc_pages(5).pfn == 0
    assert zone.nr_free() == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0]
    assert zone.free_pages_count == 992


def test_g5_downfall_case_132k_with_alloc_pages():
    zone = Zone(1024)
    page = zone.alloc_pages(get_order(135168))
    assert (page.pfn, page.order) == (0, 6)
    assert zone.nr_free() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0]
    assert zone.free_pages_count == 960


def test_g6_same_request_with_alloc_pages_exact():
    zone = Zone(1024)
    addr = zone.alloc_pages_exact(33 * 4096)
    assert pfn_of(zone, addr) == 0
    assert [list(zone.free_area[o]) for o in range(5)] == [[33], [34], [36], [40], [48]]
    assert zone.nr_free() == [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0]
    assert zone.free_pages_count == 991
    assert zone.format_buddyinfo() == (
        "Node 0, zone   Normal      1      1      1      1      1      0      1      1"
        "      1      1      0 "
    )


def test_g7_fragmentation_indexes_of_the_g6_state():
    zone = Zone(1024)
    zone.alloc_pages_exact(33 * 4096)
    unusable = " ".join(format_index(v) for v in unusable_indexes(zone.nr_free()))
    extfrag = " ".join(format_index(v) for v in fragmentation_indexes(zone.nr_free()))
    assert unusable == "0.000 0.001 0.003 0.007 0.015 0.031 0.031 0.095 0.225 0.483 1.000"
    assert extfrag == " ".join(["-1.000"] * 10 + ["0.782"])


def test_g8_page_exact_loop_three_times_33k():
    zone = Zone(1024)
    expected = [
        (0, [1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0], 1015),
        (16, [2, 2, 2, 0, 0, 1, 1, 1, 1, 1, 0], 1006),
        (32, [3, 3, 3, 0, 1, 0, 1, 1, 1, 1, 0], 997),
    ]
    addrs = []
    for pfn, nr_free, free in expected:
        addr = zone.alloc_pages_exact(33792)
        addrs.append(addr)
        assert (pfn_of(zone, addr), zone.nr_free(), zone.free_pages_count) == (pfn, nr_free, free)
    for addr in addrs:
        zone.free_pages_exact(addr, 33792)
    assert zone.nr_free() == [0] * 10 + [1]
    assert zone.free_pages_count == 1024


def test_g9_size_zero_fails_and_changes_nothing():
    zone = Zone(1024)
    with pytest.warns(UserWarning, match="order 52"):
        assert zone.alloc_pages_exact(0) is None
    assert zone.nr_free() == [0] * 10 + [1]


def test_g10_tabi_5mib_fails_on_x86_and_works_with_order_11():
    x86 = Zone(1024)
    with pytest.warns(UserWarning):
        assert x86.alloc_pages_exact(5 * MIB) is None
    ppc = Zone(2048, max_order=11)
    assert pfn_of(ppc, ppc.alloc_pages_exact(5 * MIB)) == 0
    assert ppc.nr_free() == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0]
    assert ppc.free_pages_count == 768
    assert list(ppc.free_area[8]) == [1280] and list(ppc.free_area[9]) == [1536]


def test_g11_exactly_4mib_and_one_byte_more():
    zone = Zone(1024)
    assert pfn_of(zone, zone.alloc_pages_exact(4 * MIB)) == 0
    assert zone.nr_free() == [0] * 11
    with pytest.warns(UserWarning):
        assert Zone(1024).alloc_pages_exact(4 * MIB + 1) is None


@pytest.mark.parametrize(
    ("preset", "order0_list", "handed_out"), [("6.8", [1, 4], 1), ("2.6.27", [4, 1], 4)]
)
def test_g12_tail_placement_heuristic(preset, order0_list, handed_out):
    zone = Zone(1024, preset=preset)
    pages = [zone.alloc_pages(0) for _ in range(8)]
    assert [p.pfn for p in pages] == list(range(8))
    zone.release(pages[1])
    zone.release(pages[6])
    assert list(zone.free_area[0]) == [6, 1]
    zone.release(pages[7])
    assert list(zone.free_area[0]) == [1] and list(zone.free_area[1]) == [6]
    zone.release(pages[4])
    assert list(zone.free_area[0]) == order0_list
    assert zone.alloc_pages(0).pfn == handed_out
    if preset == "6.8":
        assert zone.nr_free() == [1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0]
        assert zone.free_pages_count == 1019
        zone.release(pages[5])
        assert zone.nr_free() == [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0]
        assert list(zone.free_area[2]) == [4]
        assert zone.free_pages_count == 1020


def test_g13_ascending_pfns_from_one_big_block():
    zone = Zone(1024)
    assert [zone.alloc_pages(0).pfn for _ in range(63)] == list(range(63))
    assert zone.nr_free() == [1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0]
    assert zone.free_pages_count == 961


def test_g14_pcp_refill_takes_a_batch_and_frees_lag():
    zone = Zone(1024, pcp=True, pcp_batch=63)
    page = zone.alloc_pages(0)
    assert page.pfn == 0
    assert zone.pcp_lists()[0] == list(range(1, 63))
    assert zone.nr_free() == [1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0]
    assert zone.free_pages_count == 1024 - 63
    before = zone.format_buddyinfo()
    zone.release(page)
    assert zone.pcp_lists()[0][0] == 0
    assert zone.format_buddyinfo() == before
    assert zone.drain_pages() == 63
    assert zone.nr_free() == [0] * 10 + [1]


def test_g14_batch_is_63_for_a_zone_of_1gib():
    assert Zone(1 << 18, pcp=True).pcp_batch == 63


def test_g16_64k_pages():
    zone = Zone(64, page_size=64 * KIB)
    addr = zone.alloc_pages_exact(33792)
    assert zone.nr_free()[0] == 1  # one 64 KiB page used, nothing trimmed: its buddy stays free
    zone.free_pages_exact(addr, 33792)
    addr = zone.alloc_pages_exact(135168)
    assert pfn_of(zone, addr) == 0
    # keeps 3 pages of the order-2 block and gives back one
    assert [list(zone.free_area[o]) for o in range(3)] == [[3], [], [4]]


@pytest.mark.parametrize("preset", ["2.6.27", "5.10", "6.0", "6.1", "6.8"])
def test_exact_vectors_give_the_same_counts_with_either_trim(preset):
    zone = Zone(1024, preset=preset)
    zone.alloc_pages_exact(33 * 4096)
    assert zone.nr_free() == [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0]


def test_replay_of_the_golden_scenarios_rebuilds_state():
    zone = Zone(1024)
    addrs = [zone.alloc_pages_exact(33792) for _ in range(3)]
    zone.free_pages_exact(addrs[1], 33792)
    rebuilt = replay(zone.trace.to_text())
    assert rebuilt.nr_free() == zone.nr_free()
    assert [list(a) for a in rebuilt.free_area] == [list(a) for a in zone.free_area]
