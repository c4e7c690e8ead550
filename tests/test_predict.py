"""kit.predict: the questions a demo asks first, with answers the simulator computes."""

from __future__ import annotations

import pytest

import kit
import kit.procfs
import kit.scenarios
from kit.predict import (
    event_count_prediction,
    exact_free_prediction,
    most_free_pages_prediction,
    order_prediction,
    tail_blocks_prediction,
    unused_pages_prediction,
)
from kit.samples import sample_path, sample_text


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
    assert four_k.misconception is not None and four_k.misconception.name == "4 KiB pages"
    pages = order_prediction("132K").check("33")
    assert pages.misconception is not None and pages.misconception.name == "pages, not an order"


def test_tail_blocks_prediction_matches_the_animator():
    prediction = tail_blocks_prediction(132 * 1024)
    assert prediction.answer == 5  # pfns 33, 34-35, 36-39, 40-47, 48-63
    assert prediction.check("5").correct
    no_merge = prediction.check("31")
    assert no_merge.misconception is not None and no_merge.misconception.name == "no merging"
    animator_end = kit.scenarios.exact_allocation(132 * 1024).steps()
    model = kit.scenarios.EventModel(kit.scenarios.exact_allocation(132 * 1024).config)
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
    scenario = kit.scenarios.record_scenario("one page: split down, merge back up")
    splits = event_count_prediction("how many splits?", scenario, "split")
    merges = event_count_prediction("how many merges?", scenario, "merge")
    assert splits.answer == merges.answer == 6  # an order-6 block halved down to order 0
    assert splits.check("6").correct and not splits.check("5").correct
    thirty_three = kit.scenarios.record_scenario("33 pages: alloc_pages vs alloc_pages_exact")
    assert event_count_prediction("trims?", thirty_three, "trim").answer == 31
    with pytest.raises(kit.KitError, match="unknown event kind"):
        event_count_prediction("?", scenario, "splits")


def test_explain_says_right_or_names_the_misconception():
    prediction = order_prediction("132K")
    assert prediction.explain("6") == "Right: the simulator gives 6 too."
    wrong = prediction.explain("33")
    assert "you said 33, the simulator gives 6" in wrong
    assert "pages, not an order" in wrong
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


# ------------------------------------------------------------ a question about a real machine
def _zones(*lines: str) -> list[kit.procfs.BuddyInfoZone]:
    return kit.parse_buddyinfo("\n".join(lines))


def test_most_free_pages_counts_pages_not_blocks():
    reading = kit.procfs.take_buddyinfo(sample_path("buddyinfo"))
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
    assert prediction.answer == 2 and kit.procfs.main_zone(zones) == 1
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
    missing = kit.procfs.take_buddyinfo(tmp_path / "buddyinfo")
    assert "does not exist" in missing.stand_in and not missing.own_machine
    assert missing.zones == tuple(kit.parse_buddyinfo(sample_text("buddyinfo")))
    (tmp_path / "empty").write_text("\n")
    assert "empty" in kit.procfs.take_buddyinfo(tmp_path / "empty").stand_in
    (tmp_path / "junk").write_text("MemTotal: 1 kB\n")
    assert "not a buddyinfo line" in kit.procfs.take_buddyinfo(tmp_path / "junk").stand_in
    prediction = most_free_pages_prediction(missing)
    assert prediction.question.startswith(missing.stand_in)
    assert "not about your machine" in prediction.question
    assert prediction.source == "the kit's sample"


def test_the_own_machine_verdict_says_so():
    reading = kit.procfs.BuddyInfoReading(
        tuple(_zones("Node 0, zone Normal 3 1 0 2")), "/proc/buddyinfo")
    assert reading.own_machine
    prediction = most_free_pages_prediction(reading)
    assert prediction.answer == 3
    assert "your machine" in prediction.question
    verdict = prediction.explain("3")
    assert verdict.startswith("Right: your machine gives 3 too.")
    assert "Your own machine at the moment the cell read /proc/buddyinfo" in verdict
    assert "order 3 holds 2 blocks = 16 pages; order 0 holds 3 blocks = 3 pages" in verdict
