"""Each preset pinned to its kernel source: one test per row of the table in ``kit.core.presets``.

Every test measures what a ``Zone`` of each preset does in one small scenario and compares it
with what that kernel version does there (the file:line each row cites, read in the kernel trees
the 2026-12-06 review names).  A change of any preset's behaviour fails the row it belongs to.
"""

from __future__ import annotations

import re
import warnings

import pytest

import kit
import kit.core.presets
from kit.core.presets import PRESETS


def _by_preset(expected: dict[str, object], measure) -> None:
    assert set(expected) == set(PRESETS), "a preset was added or removed: pin it here too"
    assert {name: measure(name) for name in PRESETS} == expected


def test_row_largest_order_constant():
    # include/linux/mmzone.h: MAX_ORDER 11 (2.6.27 :24, 5.10.7 :27, 6.0.1/6.1.20 :28);
    # 6.8 MAX_PAGE_ORDER 10 (:30), NR_PAGE_ORDERS (:38)
    _by_preset({"2.6.27": "MAX_ORDER = 11", "5.10": "MAX_ORDER = 11", "6.0": "MAX_ORDER = 11",
                "6.1": "MAX_ORDER = 11", "6.8": "MAX_PAGE_ORDER = 10"},
               lambda p: re.search(r"\w+ = \d+", PRESETS[p].describe_max_order(10)).group())


def test_row_per_cpu_list_orders():
    # 2.6.27 mm/page_alloc.c:1050 (order 0 only); 6.1.20 :756 / 6.8 :549 pcp_allowed_order
    _by_preset({"2.6.27": [0], "5.10": [0], "6.0": [0, 1, 2, 3], "6.1": [0, 1, 2, 3],
                "6.8": [0, 1, 2, 3]},
               lambda p: sorted(kit.Zone(64, preset=p, pcp=True).pcp_lists()))


def test_row_tail_when_a_merge_looks_likely():
    # 2.6.27 :450 always list_add; 5.10.7 :942/:1071, 6.8 :724/:833 buddy_merge_likely
    def next_pfn(preset):
        zone = kit.Zone(1024, preset=preset)
        pages = [zone.alloc_pages(0) for _ in range(8)]
        for i in (1, 6, 7, 4):
            zone.release(pages[i])
        return zone.alloc_pages(0).pfn

    _by_preset({"2.6.27": 4, "5.10": 1, "6.0": 1, "6.1": 1, "6.8": 1}, next_pfn)


def test_row_boot_frees_go_to():
    # 2.6.27 mm/bootmem.c:174-199 then the head; 5.10.7 :1558, 6.8 :1317 FPI_TO_TAIL
    _by_preset({"2.6.27": 3072, "5.10": 0, "6.0": 0, "6.1": 0, "6.8": 0},
               lambda p: kit.Zone(4096, preset=p).alloc_pages(0).pfn)


def test_row_exact_allocators_tail():
    # 2.6.27 :1720-1737, 5.10.7 :5145-5159, 6.0.1 :5789-5803 split_page + free_page;
    # 6.1.20 :5790-5806, 6.8 :4798-4815 __free_pages_ok(page, 0, FPI_TO_TAIL)
    def tail_on_pcp(preset):
        zone = kit.Zone(1 << 18, preset=preset, pcp=True)
        zone.alloc_pages_exact(132 * 1024)
        return zone.pcp_count

    _by_preset({"2.6.27": 31, "5.10": 31, "6.0": 31, "6.1": 0, "6.8": 0}, tail_on_pcp)


def test_row_per_cpu_batch():
    # 2.6.27 :2644-2661 (512 KiB cap); 5.10.7 :6222 and 6.1.20 :7079 (1 MiB cap, since 4.19)
    _by_preset({"2.6.27": (0, 31, 31), "5.10": (0, 31, 63), "6.0": (0, 31, 63),
                "6.1": (0, 31, 63), "6.8": (0, 31, 63)},
               lambda p: tuple(PRESETS[p].raw_batch(n) for n in (1024, 1 << 17, 1 << 18)))


def test_row_per_cpu_high():
    # 2.6.27 :2674-2675 and 5.10.7 :6290: 6 x the batch before max(1, batch);
    # 6.1.20 :7156, 6.8 :5441 max(..., batch << 2), the kit's floor
    _by_preset({"2.6.27": (0, 186, 186), "5.10": (0, 186, 378), "6.0": (4, 124, 252),
                "6.1": (4, 124, 252), "6.8": (4, 124, 252)},
               lambda p: tuple(kit.Zone(n, preset=p, pcp=True).pcp_high
                               for n in (1024, 1 << 17, 1 << 18)))


def test_row_pages_freed_past_high():
    # 2.6.27 :998-1000, 5.10.7 :3196-3199 batch; 6.1.20 :3395-3422 batch << free_factor;
    # 6.8 :2354-2377 clamp(free_count, batch, high - batch)
    def given_back(preset):
        zone = kit.Zone(4096, preset=preset, pcp=True, pcp_batch=2, pcp_high=64)
        pages = [zone.alloc_pages(0) for _ in range(200)]
        zone.drain_pages()
        given = []
        for page in pages:
            before = zone.pcp_count
            zone.release(page)
            if before + 1 > zone.pcp_count:
                given.append(before + 1 - zone.pcp_count)
        return given[:6]

    _by_preset({"2.6.27": [2] * 6, "5.10": [2] * 6, "6.0": [2, 4, 8, 16, 32, 62],
                "6.1": [2, 4, 8, 16, 32, 62], "6.8": [62, 62, 62]}, given_back)


def test_row_refill_of_an_empty_list():
    # 2.6.27 :1056, 5.10.7 :3383 batch; 6.1.20 :3755-3756 max(batch >> order, 2) when
    # batch > 1; 6.8 :2755-2803 batch << alloc_factor, capped by high
    def refills(preset):
        zone = kit.Zone(4096, preset=preset, pcp=True, pcp_batch=4, pcp_high=16)
        sizes = []
        for _ in range(40):
            zone.alloc_pages(0)
            count = sum(e.where == "refill" for e in zone.trace.operations[-1].events)
            if count:
                sizes.append(count)
        order2 = []
        for batch in (1, 8):
            zone = kit.Zone(4096, preset=preset, pcp=True, pcp_batch=batch, pcp_high=4 * batch)
            zone.alloc_pages(2)
            order2.append(len(zone.pcp_lists().get(2, [])))
        return sizes[:5], order2

    _by_preset({"2.6.27": ([4] * 5, [0, 0]), "5.10": ([4] * 5, [0, 0]),
                "6.0": ([4] * 5, [0, 1]), "6.1": ([4] * 5, [0, 1]),
                "6.8": ([4, 8, 12, 12, 12], [0, 1])}, refills)


def test_row_order_above_the_largest():
    # 2.6.27 include/linux/gfp.h:198,214 silent; 5.10.7 :4932-4935, 6.8 :4545 WARN_ON_ONCE
    def warns(preset):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert kit.Zone(16, preset=preset).alloc_pages(11) is None
        return bool(caught)

    _by_preset({"2.6.27": False, "5.10": True, "6.0": True, "6.1": True, "6.8": True}, warns)


def test_row_which_pages_drain_first():
    # 2.6.27 :484-494, 5.10.7 :1344-1400 the list's tail; 6.1.20 :1546-1611 and 6.8
    # :1187-1244: the freed page's list first ("Ensure requested pindex is drained first")
    def drained(preset):
        zone = kit.Zone(4096, preset=preset, pcp=True, pcp_batch=2, pcp_high=6)
        singles = [zone.alloc_pages(0) for _ in range(4)]
        pairs = [zone.alloc_pages(1) for _ in range(4)]
        zone.drain_pages()
        for page in singles[:3]:
            zone.release(page)
        for page in pairs[:2]:
            zone.release(page)
        events = zone.trace.operations[-1].events
        return [(e.pfn, e.order) for e in events if e.where == "drain"]

    # 6.0/6.1: count 7 >= high 6, batch 2 given back from the order-1 list (its tail, pfn 4);
    # 6.8: the second order-1 free in a row at free_count >= batch drains all (free_high),
    # the order-1 list first, then order 0 from its tail
    _by_preset({"2.6.27": [], "5.10": [], "6.0": [(4, 1)], "6.1": [(4, 1)],
                "6.8": [(6, 1), (8, 1), (0, 0), (1, 0), (2, 0)]}, drained)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_in_the_docstring_table(name):
    assert re.search(rf"\b{re.escape(name)}\b", kit.core.presets.__doc__)


def test_the_words_for_each_era_tell_the_versions_apart():
    summaries = {name: p.pcp_rule_summary() for name, p in PRESETS.items()}
    assert summaries["2.6.27"] == summaries["5.10"] != summaries["6.1"] != summaries["6.8"]
    assert summaries["6.0"] == summaries["6.1"]
    for name, preset in PRESETS.items():
        words = preset.describe_pcp(3, 12)
        assert f"Linux {name} rules" in words and "batch = 3, high = 12" in words
