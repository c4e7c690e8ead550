"""kit.teaching.predict: the questions a demo asks first, with answers the simulator computes."""

from __future__ import annotations

import pytest

import kit
import kit.core.procfs
import kit.teaching.scenarios
from kit.core.errors import BadPageState, InvalidArgument, KitError
from kit.core.events import apply_to_nr_free
from kit.core.metrics import free_blocks_suitable
from kit.core.replay import nr_free_history
from kit.core.samples import sample_path, sample_text
from kit.teaching.predict import (
    ASKS,
    Attempts,
    call_prediction,
    event_count_prediction,
    exact_free_prediction,
    most_free_pages_prediction,
    order_prediction,
    suitable_blocks_prediction,
    tail_blocks_prediction,
    unused_pages_prediction,
)


@pytest.mark.parametrize(("size", "page_size", "order"), [
    ("132K", 4096, 6), ("33K", 64 * 1024, 0), ("4097", 4096, 1), ("4M", 4096, 10),
])
def test_order_prediction_answer_is_get_order(size, page_size, order):
    prediction = order_prediction(size, page_size)
    assert prediction.answer == order == kit.get_order(kit.parse_size(size), page_size)
    assert prediction.check(str(order)).correct
    assert prediction.check(f" {order} ").correct
    assert not prediction.check(str(order + 1)).correct


def test_order_prediction_names_misconceptions():
    four_k = order_prediction("33K", 64 * 1024).check("4")  # 33 KiB in 4 KiB pages
    assert four_k.misconception is not None and four_k.misconception.name == "assumed 4 KiB pages"
    pages = order_prediction("132K").check("33")
    assert pages.misconception is not None and pages.misconception.name == "pages, not the order"


def test_tail_blocks_prediction_matches_the_animator():
    prediction = tail_blocks_prediction(132 * 1024)
    assert prediction.answer == 5  # pfns 33, 34-35, 36-39, 40-47, 48-63
    assert prediction.check("5").correct
    no_merge = prediction.check("31")
    assert no_merge.misconception is not None and no_merge.misconception.name == "no merging"
    animator_end = kit.teaching.scenarios.exact_allocation(132 * 1024).steps()
    exact = kit.teaching.scenarios.exact_allocation(132 * 1024)
    model = kit.teaching.scenarios.EventModel(exact.config)
    for step in animator_end:
        model.apply(step.event, step.operation)
    assert sum(model.nr_free()) == prediction.answer
    assert tail_blocks_prediction("20000").answer == 2  # 5 of 8 pages kept: pfns 5, 6-7


def test_unused_pages_prediction_past_a_power_of_two():
    prediction = unused_pages_prediction(256 * 1024 + 1)  # 65 pages: an order-7 block of 128
    assert prediction.answer == 63
    assert "262145 bytes" in prediction.question
    none = prediction.check("0")
    assert none.misconception is not None and none.misconception.name == "no rounding"
    assert unused_pages_prediction("256K").answer == 0
    assert unused_pages_prediction("132K").answer == 64 - 33


def test_event_count_prediction_counts_the_played_scenario():
    scenario = kit.teaching.scenarios.record_scenario("one page: split down, merge back up")
    splits = event_count_prediction("how many splits?", scenario, "split")
    merges = event_count_prediction("how many merges?", scenario, "merge")
    assert splits.answer == merges.answer == 6  # an order-6 block halved down to order 0
    assert splits.check("6").correct and not splits.check("5").correct
    thirty_three = kit.teaching.scenarios.record_scenario(
        "33 pages: alloc_pages vs alloc_pages_exact")
    assert event_count_prediction("trims?", thirty_three, "trim").answer == 31
    with pytest.raises(kit.KitError, match="unknown event kind"):
        event_count_prediction("?", scenario, "splits")


def test_explain_says_right_or_names_the_misconception():
    prediction = order_prediction("132K")
    assert prediction.explain("6") == "Right: the simulator gives 6 too."
    wrong = prediction.explain("33")
    assert "you said 33, the simulator gives 6" in wrong
    assert "pages, not the order" in wrong
    assert "misconception" not in prediction.explain("4")


def test_readable_separates_typos_from_wrong_answers():
    prediction = order_prediction("132K")
    assert prediction.readable("5") and not prediction.readable("five")
    assert not prediction.readable("")
    assert "whole number" in prediction.check("five").note


def test_exact_free_prediction_leaves_the_zone_alone_and_matches_the_free():
    zone = kit.Zone(1024)
    zone.alloc_pages_exact(33 * 4096)
    before = list(zone.nr_free())
    prediction = exact_free_prediction(zone, kit.PAGE_OFFSET, 33 * 4096)
    assert list(zone.nr_free()) == before  # computed on a copy
    zone.free_pages_exact(kit.PAGE_OFFSET, 33 * 4096)
    assert prediction.answer == tuple(zone.nr_free()) == (0,) * 10 + (1,)
    assert prediction.check("0 0 0 0 0 0 0 0 0 0 1").correct
    same = prediction.check(" ".join(map(str, before)))
    assert same.misconception is not None and same.misconception.name == "nothing changes"


def test_exact_free_prediction_needs_a_trace():
    zone = kit.Zone(64, record=False)
    with pytest.raises(kit.KitError, match="no trace"):
        exact_free_prediction(zone, kit.PAGE_OFFSET, 4096)


# ------------------------------------------------------------------ the Playground's calls
def _used_zone() -> kit.Zone:
    """64 pages: an order-2 allocation at pfn 0, so pfns 4.. are free blocks of orders 2-5."""
    zone = kit.Zone(64)
    zone.alloc_pages(2)
    return zone


def test_call_prediction_runs_a_copy_and_agrees_with_the_call():
    zone = _used_zone()
    before, operations = zone.nr_free(), len(zone.trace.operations)
    pfn = call_prediction(zone, "alloc_pages", (1,), "pfn")
    after = call_prediction(zone, "alloc_pages", (1,), "nr_free")
    splits = call_prediction(zone, "alloc_pages", (1,), "splits")
    assert zone.nr_free() == before and len(zone.trace.operations) == operations  # untouched
    page = zone.alloc_pages(1)
    assert pfn.answer == page.pfn == 4
    assert after.answer == tuple(zone.nr_free()) == (0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0)
    assert splits.answer == sum(e.kind == "split" for e in zone.trace.operations[-1].events) == 1
    assert pfn.check("4").correct and pfn.check(4).correct


def test_call_prediction_for_frees_counts_the_merges():
    zone = _used_zone()
    merges = call_prediction(zone, "free_pages", (0, 2), "merges")
    assert merges.answer == 4  # 0-3 with 4-7, then with 8, 16, 32: one order-6 block again
    assert merges.check("0").misconception.name == "no merging"
    nr_free = call_prediction(zone, "free_pages", (0, 2), "nr_free")
    assert nr_free.answer == (0,) * 6 + (1,) + (0,) * 4
    forgot = nr_free.check("0 0 2 1 1 1 0 0 0 0 0")
    assert forgot.misconception.name == "forgot the merge"
    assert nr_free.check("0 0 1 1 1 1 0 0 0 0 0").misconception.name == "nothing changes"


def test_call_prediction_names_the_allocation_misconceptions():
    zone = _used_zone()
    pfn = call_prediction(zone, "alloc_pages", (1,), "pfn")  # splits the order-2 block at 4
    assert pfn.check("6").misconception.name == "kept the upper half"
    assert pfn.check("NULL").misconception.name == "only its own list"
    splits = call_prediction(zone, "alloc_pages", (0,), "splits")
    assert splits.answer == 2
    assert splits.check("0").misconception.name == "no split"
    assert splits.check("6").misconception.name == "split from the largest order"
    after = call_prediction(zone, "alloc_pages", (1,), "nr_free")
    assert after.check("0 0 1 1 1 1 0 0 0 0 0").misconception.name == "nothing changes"
    assert after.check("0 0 0 1 1 1 0 0 0 0 0").misconception.name == "forgot the split halves"
    assert after.check("0 2 0 8 16 32 0 0 0 0 0").misconception.name == "pages, not blocks"


def test_call_prediction_exact_keeps_only_what_it_needs():
    zone = kit.Zone(64)
    after = call_prediction(zone, "alloc_pages_exact", (5 * 4096,), "nr_free")
    zone.alloc_pages_exact(5 * 4096)
    assert after.answer == tuple(zone.nr_free()) == (1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0)
    whole = after.check("0 0 0 1 1 1 0 0 0 0 0")
    assert whole.misconception.name == "the whole block stays allocated"
    # pages 0..4 come back one by one: 0+1, then 2+3 and 0-1+2-3, then 4 merges up to order 6
    assert call_prediction(zone, "free_pages_exact", (0, 5 * 4096), "merges").answer == 9


def test_call_prediction_null_when_no_block_is_big_enough():
    zone = kit.Zone(16, max_order=4)
    zone.alloc_pages(4)
    prediction = call_prediction(zone, "alloc_pages", (0,), "pfn")
    assert prediction.answer is None
    assert prediction.check("NULL").correct and prediction.check("null").correct
    assert not prediction.check("0").correct
    assert "the simulator gives NULL" in prediction.explain("0", then="")


def test_call_prediction_unreadable_and_bad_questions():
    zone = _used_zone()
    pfn = call_prediction(zone, "alloc_pages", (0,), "pfn")
    assert not pfn.readable("four") and not pfn.readable("") and pfn.readable("NULL")
    assert "NULL" in pfn.check("four").note
    nr_free = call_prediction(zone, "alloc_pages", (0,), "nr_free")
    assert not nr_free.readable("1, 2, x")
    orders = zone.max_order + 1  # counts for the wrong number of orders are no prediction
    assert not nr_free.readable("3") and not nr_free.readable(" ".join(["0"] * (orders + 1)))
    assert nr_free.readable(" ".join(["0"] * orders))
    assert nr_free.check("3").note == f"give {orders} counts, one per order from 0 up"
    with pytest.raises(InvalidArgument, match="returns nothing"):
        call_prediction(zone, "free_pages", (0, 2), "pfn")
    with pytest.raises(InvalidArgument, match="choose one of alloc_pages"):
        call_prediction(zone, "kmalloc", (8,), "pfn")
    with pytest.raises(InvalidArgument, match="cannot ask for 'order'"):
        call_prediction(zone, "alloc_pages", (0,), "order")
    with pytest.raises(InvalidArgument, match=r"takes the arguments \(pfn, order\)"):
        call_prediction(zone, "free_pages", (0,), "merges")
    with pytest.raises(BadPageState):  # the zone's own check, before anything is asked
        call_prediction(zone, "free_pages", (8, 3), "merges")
    assert set(ASKS) == {"pfn", "nr_free", "splits", "merges"}


@pytest.mark.parametrize("preset", sorted(kit.core.presets.PRESETS))
@pytest.mark.parametrize("pcp", [False, True])
def test_call_prediction_matches_the_zone_on_a_workload(preset, pcp):
    zone = kit.Zone(256, preset=preset, pcp=pcp)
    kit.run_workload(zone, seed=4, steps=60, sizes="pages")
    for order in (0, 1, 3):
        predicted = {ask: call_prediction(zone, "alloc_pages", (order,), ask).answer
                     for ask in ASKS}
        page = zone.alloc_pages(order)
        events = zone.trace.operations[-1].events
        assert predicted == {"pfn": None if page is None else page.pfn,
                             "nr_free": tuple(zone.nr_free()),
                             "splits": sum(e.kind == "split" for e in events),
                             "merges": sum(e.kind == "merge" for e in events)}


# ---------------------------------------------------------------- counts rebuilt from events
@pytest.mark.parametrize("preset", sorted(kit.core.presets.PRESETS))
@pytest.mark.parametrize("pcp", [False, True])
def test_nr_free_history_matches_the_zone_after_every_operation(preset, pcp):
    zone, seen = kit.Zone(512, preset=preset, pcp=pcp), []
    for seed in range(3):
        kit.run_workload(zone, seed=seed, steps=40, exact=seed == 1)
        seen.append((len(zone.trace.operations), tuple(zone.nr_free())))
    history = nr_free_history(zone)
    assert history[0] == ("start", tuple(kit.Zone(512, preset=preset).nr_free()))
    for operations, nr_free in seen:
        assert history[operations][1] == nr_free
    since = nr_free_history(zone, since=seen[0][0])
    assert since[0][1] == seen[0][1] and since[-1][1] == seen[-1][1]
    assert since[1][0] == zone.trace.operations[seen[0][0]].to_text()


def test_nr_free_history_needs_a_trace_and_a_valid_start():
    with pytest.raises(KitError, match="records no trace"):
        nr_free_history(kit.Zone(64, record=False))
    with pytest.raises(KitError, match="between 0 and 0"):
        nr_free_history(kit.Zone(64), since=3)
    assert apply_to_nr_free([1, 0], []) == [1, 0]


# ---------------------------------------------------------------- the end of a workload
def test_suitable_blocks_prediction_counts_blocks_not_pages():
    scenario = kit.teaching.scenarios.workload_scenario(512, seed=5, steps=30, sizes="mixed",
                                               lifetimes="long", exact=True)
    prediction = suitable_blocks_prediction(scenario, 4)
    model = kit.teaching.scenarios.EventModel(scenario.config)
    for step in scenario.steps():
        model.apply(step.event, step.operation)
    assert prediction.answer == free_blocks_suitable(model.nr_free(), 4) == 4
    assert "99 of the zone's 512 pages are free" in prediction.question
    assert prediction.check("6").misconception.name == "free pages, not blocks"
    assert prediction.check("0").misconception.name == "only free_area[4]"
    assert prediction.check("4").correct and not prediction.readable("lots")
    with pytest.raises(InvalidArgument, match="above the zone's largest"):
        suitable_blocks_prediction(scenario, 11)


# ------------------------------------------------------------ a question about a real machine
def _zones(*lines: str) -> list[kit.core.procfs.BuddyInfoZone]:
    return kit.parse_buddyinfo("\n".join(lines))


def test_most_free_pages_counts_pages_not_blocks():
    reading = kit.core.procfs.take_buddyinfo(sample_path("buddyinfo"))
    assert reading.stand_in == "" and not reading.own_machine
    prediction = most_free_pages_prediction(reading)
    normal = next(z for z in reading.zones if z.zone == "Normal")
    pages = [count << order for order, count in enumerate(normal.nr_free)]
    assert prediction.answer == pages.index(max(pages)) == 10  # 50 blocks of 1024 pages
    assert "Node 0, zone Normal" in prediction.question
    assert prediction.check("10").correct
    blocks = prediction.check("4")  # 336 blocks, the most, but only 5,376 pages
    assert blocks.misconception is not None and blocks.misconception.name == "blocks, not memory"
    single = prediction.check("0")
    assert single.misconception is not None
    assert single.misconception.name == "freed pages stay single"
    assert "51,200 pages" in prediction.explain("4")
    assert not prediction.readable("ten") and "whole number" in prediction.check("ten").note


def test_most_free_pages_on_a_fragmented_zone_names_the_boot_picture():
    prediction = most_free_pages_prediction(_zones(
        "Node 0, zone   Normal   10   40  900  300   20    2    0    0    0    0    1"))
    assert prediction.answer == 2  # 3,600 pages against 1,024 in the order-10 block
    boot = prediction.check("10")
    assert boot.misconception is not None and boot.misconception.name == "memory as at boot"
    assert prediction.source == "the buddyinfo given"


def test_most_free_pages_accepts_every_order_of_a_tie():
    prediction = most_free_pages_prediction(_zones("Node 0, zone Normal 0 2 1 0"))
    assert prediction.answer == 2 and prediction.accepted == (1,)
    assert prediction.check("1").correct and prediction.check("2").correct
    assert not prediction.check("3").correct
    assert "a tie: orders 1, 2" in prediction.explain("1")


def test_most_free_pages_without_a_normal_zone_asks_about_the_largest():
    zones = _zones("Node 0, zone DMA 0 0 0 1", "Node 0, zone DMA32 5 0 3 0",
                   "Node 0, zone HighMem 9 0 0 0")
    prediction = most_free_pages_prediction(zones)
    assert "zone DMA32" in prediction.question and "no Normal zone" in prediction.question
    assert prediction.answer == 2 and kit.core.procfs.main_zone(zones) == 1
    assert most_free_pages_prediction(zones, "HighMem").answer == 0
    with pytest.raises(kit.KitError, match=r"no zone 'Normal' .*DMA, DMA32, HighMem"):
        most_free_pages_prediction(zones, "Normal")


@pytest.mark.parametrize(("zones", "message"), [
    ([], "lists no zone"),
    (_zones("Node 0, zone Normal 0 0 0"), "no free page"),
])
def test_most_free_pages_names_unusable_input(zones, message):
    with pytest.raises(kit.KitError, match=message):
        most_free_pages_prediction(zones)


def test_take_buddyinfo_stands_in_the_sample_and_says_why(tmp_path):
    missing = kit.core.procfs.take_buddyinfo(tmp_path / "buddyinfo")
    assert "does not exist" in missing.stand_in and not missing.own_machine
    assert missing.zones == tuple(kit.parse_buddyinfo(sample_text("buddyinfo")))
    (tmp_path / "empty").write_text("\n")
    assert "empty" in kit.core.procfs.take_buddyinfo(tmp_path / "empty").stand_in
    (tmp_path / "junk").write_text("MemTotal: 1 kB\n")
    assert "not a buddyinfo line" in kit.core.procfs.take_buddyinfo(tmp_path / "junk").stand_in
    prediction = most_free_pages_prediction(missing)
    assert prediction.question.startswith(missing.stand_in)
    assert "not about your machine" in prediction.question
    assert prediction.source == "the kit's sample"


def test_the_own_machine_verdict_says_so():
    reading = kit.core.procfs.BuddyInfoReading(
        tuple(_zones("Node 0, zone Normal 3 1 0 2")), "/proc/buddyinfo")
    assert reading.own_machine
    prediction = most_free_pages_prediction(reading)
    assert prediction.answer == 3
    assert "your machine" in prediction.question
    verdict = prediction.explain("3")
    assert verdict.startswith("Right: your machine gives 3 too.")
    assert "Your own machine at the moment the cell read /proc/buddyinfo" in verdict
    assert "order 3 holds 2 blocks = 16 pages; order 0 holds 3 blocks = 3 pages" in verdict


# ------------------------------------------------------------ named mistakes and retries
def test_kib_for_pages_is_named_in_the_lesson_1_question():
    prediction = unused_pages_prediction("132K")  # 31 pages unused = 124 KiB
    kib = prediction.check("124")
    assert kib.misconception is not None and kib.misconception.name == "KiB, not pages"


def test_the_number_of_splits_off_by_one_or_counting_blocks():
    one_page = kit.teaching.scenarios.record_scenario("one page: split down, merge back up")
    splits = event_count_prediction("how many splits?", one_page, "split")
    assert splits.answer == 6  # an order-6 block halved down to order 0
    names = {value: splits.check(str(value)).misconception.name for value in (5, 7, 63)}
    assert names == {5: "one split too few", 7: "counted blocks, not splits",
                     63: "split every piece"}
    merges = event_count_prediction("how many merges?", one_page, "merge")
    assert merges.check(str(merges.answer + 1)).misconception.name == \
        "counted blocks, not merges"


def test_the_playgrounds_split_count_names_the_off_by_one():
    zone = kit.Zone(64)
    splits = call_prediction(zone, "alloc_pages", (0,), "splits")
    assert splits.answer == 6
    assert splits.check("7").misconception.name == "counted blocks, not splits"
    assert splits.check("5").misconception.name == "one split too few"


def test_the_upper_half_kept_is_named_at_the_first_split_too():
    zone = kit.Zone(64)
    pfn = call_prediction(zone, "alloc_pages", (0,), "pfn")
    assert pfn.answer == 0
    for upper in (32, 63):  # the upper half of the first halving, and of every halving
        assert pfn.check(str(upper)).misconception.name == "kept the upper half"


def test_a_wrong_first_try_gets_a_hint_not_the_answer():
    prediction = unused_pages_prediction("132K")
    attempts = Attempts(prediction)
    typo = attempts.answer("thirty")
    assert not typo.reveal and attempts.tries == 0 and "31" not in typo.text
    first = attempts.answer("124")
    assert not first.reveal and not attempts.finished
    assert first.text.startswith("Not yet: you said 124.") and "KiB, not pages" in first.text
    assert "31" not in first.text and "show me" in first.text
    second = attempts.answer("30")
    assert second.reveal and attempts.finished and "gives 31" in second.text
    assert attempts.tries == 2


def test_a_hint_without_a_named_mistake_says_which_way():
    prediction = order_prediction("132K")
    assert "too high" in prediction.hint("9") and "6" not in prediction.hint("9")
    assert "too low" in prediction.hint("2")
    counts = exact_free_prediction(*_exact_zone())
    wrong = "1 " * 10 + "1"
    assert "Orders 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 differ." in counts.hint(wrong.strip())


def _exact_zone():
    zone = kit.Zone(1024)
    zone.alloc_pages_exact(33 * 4096)
    return zone, kit.PAGE_OFFSET, 33 * 4096


def test_right_on_the_second_try_and_show_me():
    attempts = Attempts(order_prediction("132K"))
    assert not attempts.answer("33").reveal
    right = attempts.answer("6")
    assert right.reveal and right.mark.correct and right.text.startswith("Right")
    tried = Attempts(order_prediction("132K"))
    tried.answer("5")
    assert tried.give_up() == "The answer: the simulator gives 6." and tried.finished
    assert Attempts(order_prediction("132K")).give_up() == ""  # no try: the demo shows it
    after = tried.answer("6")  # the answer is out: a check counts no try
    assert after.reveal and tried.tries == 1


def test_a_hint_on_counts_that_are_not_per_order_numbers_them():
    from kit.teaching.predict import pcp_tail_prediction
    prediction = pcp_tail_prediction(132 * 1024, ("6.0", "6.1"))
    assert prediction.answer == (0, 31)
    hint = prediction.hint("5 31")
    assert "Count 1 of 2 differs." in hint
    assert "rder" not in hint  # not "orders 0 differ": these are counts per kernel version
    assert "Counts 1, 2 of 2 differ." in prediction.hint("5 5")
    assert prediction.check("31 0").misconception.name == "the versions swapped"
