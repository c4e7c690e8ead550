"""The reference answers of exercises 16-24 (``kit.grading.trusted.harness``) mean what they claim.

The exercises compare a student's code with these helpers, so a helper that is wrong marks
right answers wrong.  Each test checks a helper against the simulator by another route, or
against a property the kernel's rules guarantee.
"""

from __future__ import annotations

import random

import pytest

import kit
from kit.core.samples import sample_text
from kit.grading.trusted import harness


def test_placement_cases_place_the_block_where_they_say() -> None:
    cases = harness.placement_cases(3, 40)
    for case in cases:
        pfn, order, where = case.placed
        listed = case.lists_after[order]
        assert listed[0 if where == "head" else -1] == pfn
        before = sum(len(p) << o for o, p in case.lists_before.items())
        after = sum(len(p) << o for o, p in case.lists_after.items())
        assert after == before + (1 << case.order)
        assert (pfn, order) not in case.blocks_when_placed()
    assert {c.placed[2] for c in cases if c.preset != "2.6.27"} == {"head", "tail"}
    assert {c.placed[2] for c in cases if c.preset == "2.6.27"} == {"head"}  # no heuristic
    assert {c.preset for c in cases} == set(kit.PRESETS)


def test_pcp_after_frees_counts_every_page_once() -> None:
    rng = random.Random(5)
    for _ in range(50):
        count, batch, high = rng.randint(0, 40), rng.randint(1, 10), rng.randint(1, 20)
        on_list, given_back = harness.pcp_after_frees(count, batch, high)
        assert on_list + given_back == count
        assert on_list < max(high, 1)  # a drain comes as soon as the list reaches high
        if count < high:
            assert given_back == 0


def right_pcp_layer(zone, ops, batch, high):
    """The per-CPU layer as exercise 19 asks for it, written here independently."""
    pcp, handed = [], []
    for op in ops:
        if op == "alloc":
            if not pcp:  # once the zone fails, it keeps failing: no free comes in between
                pcp = [p.pfn for p in (zone.alloc_pages(0) for _ in range(batch)) if p]
            handed.append(pcp.pop(0) if pcp else None)
        elif handed[op] is not None:
            pcp.insert(0, handed[op])
            if len(pcp) >= high:
                for pfn in reversed(pcp[-batch:]):
                    zone.free_pages(zone.pfn_to_virt(pfn), 0)
                pcp = pcp[:-batch]
    return handed, pcp


def test_the_pcp_reference_is_what_a_per_cpu_layer_does() -> None:
    for case in harness.pcp_cases(8, 40):
        assert harness.after_pcp_run(case, right_pcp_layer) == harness.pcp_reference(case)


def test_a_layer_without_the_list_differs_from_the_reference() -> None:
    def no_list(zone, ops, batch, high):
        handed = []
        for op in ops:
            if op == "alloc":
                page = zone.alloc_pages(0)
                handed.append(page and page.pfn)
            elif handed[op] is not None:
                zone.free_pages(zone.pfn_to_virt(handed[op]), 0)
        return handed, []

    cases = harness.pcp_cases(8, 20)
    assert any(harness.after_pcp_run(c, no_list) != harness.pcp_reference(c) for c in cases)


@pytest.mark.parametrize("batch,high", [(3, 5), (8, 3), (1, 1), (6, 6), (63, 378)])
def test_pcp_most_held_bounds_every_run(batch: int, high: int) -> None:
    most = harness.pcp_most_held(batch, high)
    rng = random.Random(batch * 1000 + high)
    zone = kit.Zone(2048, preset=harness.PCP_PRESET, pcp=True, pcp_batch=batch,
                    pcp_high=high, record=False)
    live, seen = [], []
    for _ in range(3000):  # between operations, never more than the measured most
        if live and rng.random() < 0.5:
            zone.release(live.pop(rng.randrange(len(live))))
        else:
            page = zone.alloc_pages(0)
            if page is not None:
                live.append(page)
        seen.append(zone.pcp_count)
    assert max(seen) <= most
    assert most >= high - 1  # frees alone reach high - 1 before the drain
    assert most >= batch - 1  # a refill brings batch pages and hands one out


def test_buddyinfo_helpers_agree_with_the_kit_format() -> None:
    for seed in range(5):
        text = harness.random_buddyinfo(seed)
        rows = harness.buddyinfo_rows(text)
        again = "\n".join(kit.format_buddyinfo(c, node=n, zone=z) for n, z, c in rows) + "\n"
        assert again == text
        pages = harness.free_pages_by_zone(text)
        assert pages == {(n, z): sum(c << o for o, c in enumerate(cs)) for n, z, cs in rows}


def test_format_pagetypeinfo_reproduces_the_real_sample() -> None:
    sample = sample_text("pagetypeinfo")
    assert harness.format_pagetypeinfo(kit.parse_pagetypeinfo(sample)) == sample


def test_random_pagetypeinfo_files_parse_back_with_capped_counts() -> None:
    capped = 0
    for seed in range(10):
        text = harness.random_pagetypeinfo(seed)
        info = kit.parse_pagetypeinfo(text)
        assert harness.format_pagetypeinfo(info) == text
        summary = harness.pagetypeinfo_summary(text)
        capped += len(summary["capped"])
        assert all(summary["free"][key[:3]][key[3]] == 100000 for key in summary["capped"])
    assert capped > 0


def test_a_trace_fits_the_preset_that_made_it() -> None:
    rng = random.Random(2)
    for preset in kit.PRESETS:
        zone = kit.Zone(64, max_order=4, preset=preset, pcp=True, pcp_batch=2, pcp_high=3)
        live = []
        for _ in range(12):
            if live and rng.random() < 0.4:
                zone.free_pages(*live.pop())
            else:
                order = rng.randint(0, 2)
                live.append((zone.get_free_pages(order), order))
        text = harness.anonymous_trace(zone)
        assert "preset=" not in text
        assert preset in harness.consistent_presets(text)


def test_boot_order_tells_2_6_27_from_later_kernels() -> None:
    for preset in kit.PRESETS:
        zone = kit.Zone(32, max_order=3, preset=preset)
        zone.alloc_pages(0)
        found = harness.consistent_presets(harness.anonymous_trace(zone))
        assert ("2.6.27" in found) == (preset == "2.6.27")
        assert found == ["2.6.27"] or "2.6.27" not in found


def test_trace_cases_have_no_preset_and_no_failure() -> None:
    texts = harness.trace_cases(4, 30)
    assert all("preset=" not in t and " failed" not in t for t in texts)
    answers = [tuple(harness.consistent_presets(t)) for t in texts]
    assert all(answers)  # every trace fits at least the preset that made it
    assert len(set(answers)) > 2  # and the answers vary


def test_unusable_misconceptions_name_the_mistake_that_gives_each_answer() -> None:
    nr_free, order = [4, 2, 1, 0], 2  # 4 + 4 + 4 = 12 free pages, 4 of them usable
    assert kit.unusable_index(nr_free, order) == 666
    mistakes = dict((value, shows) for value, shows in
                    harness.unusable_misconceptions(nr_free, order))
    assert "counted free blocks" in mistakes[(7 - 1) * 1000 // 7]  # 6 of 7 blocks too small
    assert "*can* serve" in mistakes[333]
    assert "exactly this order" in mistakes[1000]
    assert "integer division" in mistakes[8000 / 12]
    assert 666 not in mistakes  # the right answer is never called a mistake here
    assert harness.unusable_misconceptions([0, 0, 0], 1) == [
        (0, "returned 0 for a zone with no free page: nothing there is usable, so the kernel "
            "says 1000")]


def test_get_order_misconceptions_are_the_practice_ones_for_that_size() -> None:
    mistakes = dict(harness.get_order_misconceptions(5 * 4096))  # 5 pages: order 3
    assert mistakes[2].startswith("rounded down") and mistakes[5].startswith("pages, not")
    assert 3 not in mistakes
    full = dict(harness.get_order_misconceptions(8 * 4096))  # a full order-3 block
    assert full[4].startswith("a full block does not fit")
    assert dict(harness.get_order_misconceptions(20000, 16384))[3].startswith("assumed 4 KiB")
    assert harness.get_order_misconceptions(0) == []


def test_expand_misconceptions_are_what_the_wrong_splits_give() -> None:
    def keeps_upper(pfn: int, low: int, high: int) -> list[tuple[int, int]]:
        halves = []
        while high > low:
            high -= 1
            halves.append((pfn, high))
            pfn += 1 << high
        return halves

    for case in [(0, 0, 3), (64, 1, 3), *harness.split_cases(3, 20)]:
        right = harness.expand_by_zone(*case)
        mistakes = harness.expand_misconceptions(*case)
        assert mistakes[0] == (keeps_upper(*case), mistakes[0][1])
        assert mistakes[1][0] == right[::-1]
        if case[1] < case[2]:  # at least one halving: the wrong answers differ from the right
            assert keeps_upper(*case) != right


def test_merge_misconceptions_are_what_the_wrong_merges_give() -> None:
    def merges_once(pfn: int, order: int, free: set, max_order: int) -> tuple:
        buddy = pfn ^ (1 << order)
        if order < max_order and (buddy, order) in free:
            return (pfn & buddy, order + 1, [(buddy, order)])
        return (pfn, order, [])

    named = set()
    for case in harness.merge_cases(5, 40):
        mistakes = dict((repr(value), shows) for value, shows in
                        harness.merge_misconceptions(*case.args()))
        wrong = merges_once(*case.args())
        if wrong != case.merged:
            assert mistakes[repr(wrong)].startswith("merged only once")
            named.add("once")
    assert named  # the cases include frees that merge more than once


def test_exact_misconceptions_are_what_the_one_mistake_leaves() -> None:
    case = harness.ExactCase(7, 5 * 4096 + 100)  # 6 pages of an order-3 block
    right = harness.after_make_alloc_exact(
        case, lambda zone, addr, order, size: zone.make_alloc_exact(addr, order, size))
    wrong = dict((shows.split(":")[0], state) for state, shows in
                 harness.exact_misconceptions(case, "make"))
    assert set(wrong) == {"kept the whole block", "rounded the pages kept down",
                          "returned nothing", "freed a page inside the block",
                          "passed a pfn where the zone wants an address"}
    assert all(state != right for state in wrong.values())
    assert wrong["returned nothing"] == {**right, "returned pfn": None}
    kept = harness.after_make_alloc_exact(case, lambda zone, addr, order, size: addr)
    assert wrong["kept the whole block"] == kept
    first_only = harness.after_free_pages_exact(case, lambda zone, addr, size:
                                                zone.free_pages(addr, 0))
    assert dict((s.split(":")[0], v) for v, s in harness.exact_misconceptions(case, "free"))[
        "freed only the first page"] == first_only
    whole = harness.after_alloc_pages_exact(case, lambda zone, size: zone.get_free_pages(3))
    assert harness.exact_misconceptions(case, "alloc")[0][0] == whole


@pytest.mark.parametrize("size", [1, 4095, 4097, 135168, 5 * 4096 + 7])
def test_the_wrong_answers_of_the_small_exercises_are_wrong(size: int) -> None:
    right = {
        "pages_for": kit.pages_for(size), "page_align": kit.page_align(size),
        "alloc_pages": kit.wastage(size, "alloc_pages").wasted,
        "alloc_pages_exact": kit.wastage(size, "alloc_pages_exact").wasted,
        "pages_returned": kit.wastage(size, "alloc_pages_exact").pages_returned,
        "kmalloc": kit.kmalloc_size(size),
    }
    wrong = {
        "pages_for": harness.pages_for_misconceptions(size),
        "page_align": harness.page_align_misconceptions(size),
        "alloc_pages": harness.waste_misconceptions(size, "alloc_pages"),
        "alloc_pages_exact": harness.waste_misconceptions(size, "alloc_pages_exact"),
        "pages_returned": harness.pages_returned_misconceptions(size),
        "kmalloc": harness.kmalloc_misconceptions(size),
    }
    for name, mistakes in wrong.items():
        assert mistakes and all(isinstance(shows, str) for _, shows in mistakes)
        # a mistake may coincide with the right answer for some sizes; it is then never shown
        assert any(value != right[name] for value, _ in mistakes), name
    assert dict(harness.pages_for_misconceptions(size))[size // 4096].startswith("rounded down")


def test_kib_given_for_pages_or_bytes_is_named() -> None:
    """132 KiB: alloc_pages_exact gives 31 pages back, 124 KiB; alloc_pages wastes 126,976
    bytes, 124 KiB."""
    returned = dict(harness.pages_returned_misconceptions(132 * 1024))
    assert returned[124].startswith("KiB, not pages")
    assert dict(harness.waste_misconceptions(132 * 1024, "alloc_pages"))[124].startswith(
        "KiB, not bytes")


def test_buddy_misconceptions_name_the_usual_slips() -> None:
    assert dict(harness.buddy_misconceptions(12, 2))[16].startswith("added 2^order")
    assert dict(harness.buddy_misconceptions(12, 2))[8].startswith("subtracted")
    # the first that matches is named: 12 is both "its own start" and "the higher buddy"
    # 12 is the higher buddy: keeping its start and starting at the higher buddy are one answer
    assert harness.merged_start_misconceptions(12, 2) == [
        (12, harness.merged_start_misconceptions(12, 2)[0][1])]
    assert harness.merged_start_misconceptions(12, 2)[0][1].startswith(
        "started at the higher buddy, here the freed block itself")
    assert dict(harness.merged_start_misconceptions(8, 2))[8].startswith("kept the freed")
    assert dict(harness.merged_start_misconceptions(8, 2))[12].startswith("started at the")
    assert dict(harness.kmalloc_misconceptions(100))[128].startswith("rounded to a power")
    assert dict(harness.kmalloc_misconceptions(9000))[12288].startswith("gave whole pages")


# --------------------------------------------------------------- a real kernel (exercises 25-28)
def test_kernel_trace_references_read_the_shipped_trace_as_the_kit_does() -> None:
    from kit.core.kerneltrace import parse_trace

    line = harness.shipped_lines("mm_page_alloc", 1, 3)[0]
    (event,) = parse_trace([line])
    assert harness.alloc_fields(line) == (event.cpu, event.pfn, event.order, event.migratetype,
                                          event.gfp_flags)
    stream = harness.page_event_stream(4, length=300)
    served, allocations = harness.pcp_served(stream)
    straight = [s for s in stream if s[0] == "mm_page_alloc_zone_locked" and not s[2]]
    assert straight and served == allocations - len(straight) < allocations
    assert harness.biggest_fallback(harness.shipped_lines("mm_page_alloc_extfrag", 19, 0)) == (
        0, 1, 19)
    lines = harness.extfrag_lines(5)
    assert len(list(parse_trace(lines))) == len(lines) > 19
    assert harness.biggest_fallback(lines)[2] >= 19  # the shipped pair is at least that big
    text = harness.zoneinfo_text()
    assert harness.pages_before_kswapd(text, "Normal") == 577849 - 15411
    busy = [harness.pages_before_kswapd(harness.zoneinfo_text(seed=s), "Normal")
            for s in range(20)]
    assert 0 in busy and any(0 < pages < 20_000 for pages in busy)


def test_shipped_trace_lines_are_what_reading_the_file_as_text_gives() -> None:
    import gzip

    from kit.core.recording import shipped_recording
    from kit.grading.trusted.harness import kerneltrace

    with gzip.open(shipped_recording().trace, "rt") as handle:  # the plain way, line by line
        expected = tuple(line.rstrip("\n") for line in handle if not line.startswith("#"))
    assert kerneltrace._shipped_lines() == expected
    allocs = kerneltrace._event_lines("mm_page_alloc")
    assert allocs and all(" mm_page_alloc: " in line for line in allocs)
    assert len(allocs) == sum(" mm_page_alloc: " in line for line in expected)


@pytest.mark.parametrize("seed", [7, 15, 4242, 99_999])
def test_the_class_wide_workload_figures_are_a_recording_zones(seed: int) -> None:
    """The hidden cases of exercises 15 and 20 are measured on zones that record no trace and
    kept for the class: the figures must be those of the recording zones the visible checks
    (and a student's kernel) use."""
    from kit.core.metrics import free_blocks_suitable
    from kit.grading.trusted.harness import workloads

    for exact in (False, True):
        zone = kit.Zone(4096)
        kit.run_workload(zone, seed=seed, steps=300, sizes="mixed", exact=exact)
        nr_free = zone.nr_free()
        assert harness.fragmentation_measure(exact, seed) == (
            zone.free_pages_count, free_blocks_suitable(nr_free, 6),
            kit.unusable_index(nr_free, 6))
    plain, exact_ = (harness.fragmentation_measure(e, seed)[1] for e in (False, True))
    assert harness.more_blocks_reference(seed) == (
        "same" if plain == exact_ else "alloc_pages_exact" if exact_ > plain else "alloc_pages")
    batch, high = 1 + seed % 16, 1 + seed % 48
    zone = kit.Zone(4096, preset="5.10", pcp=True, pcp_batch=batch, pcp_high=high)
    kit.run_workload(zone, seed=seed, steps=300, sizes="pages")
    before = (zone.pcp_count, zone.free_pages_count)
    zone.drain_pages()
    assert harness.pcp_measure(seed, batch, high) == (*before, zone.free_pages_count)
    assert workloads.pcp_measure.cache_info().currsize >= 1  # kept for the next student


def test_an_exact_case_zone_restored_from_its_kept_state_is_the_seeded_zone() -> None:
    """``ExactCase.zone`` restores a snapshot kept per seed instead of running the seeded
    allocations again: the zone must be the one they make, and behave the same afterwards."""
    from kit.grading.trusted.harness.zones import random_zone

    for case in harness.exact_cases(2026, 30):
        seeded, _ = random_zone(random.Random(case.seed), 128, 5, harness.EXACT_PRESET)
        for _ in range(2):  # the second comes from the kept state
            restored = case.zone()
            assert restored.snapshot() == seeded.snapshot()
            assert restored.config() == seeded.config()
        addr = restored.alloc_pages_exact(case.size)
        assert addr == seeded.alloc_pages_exact(case.size)
        assert harness.zone_state(restored) == harness.zone_state(seeded)


def test_kept_cases_are_the_cases_a_fresh_run_makes() -> None:
    from kit.grading.trusted.harness import buddy, kerneltrace, placement

    for cases, fresh in [
        (harness.merge_cases(31, 12), buddy._merge_cases.__wrapped__(31, 12, 5)),
        (harness.placement_cases(16, 8), placement._placement_cases.__wrapped__(16, 8, 5)),
    ]:
        assert cases == list(fresh)
    taken = harness.merge_cases(31, 12)
    taken.clear()  # a caller's list is its own: the kept cases are untouched
    assert len(harness.merge_cases(31, 12)) == 12
    text = kerneltrace.zoneinfo_text("before", 7)
    assert text == kerneltrace.zoneinfo_text.__wrapped__("before", 7)
    assert kerneltrace.pages_before_kswapd(text, "Normal") == \
        kerneltrace.pages_before_kswapd.__wrapped__(text, "Normal")
