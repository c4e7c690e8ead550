"""The model beside the kernel (kit.core.tracemodel): the shipped trace replayed on a kit Zone."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest

from kit.core import events as ev
from kit.core.errors import InvalidArgument
from kit.core.events import Event
from kit.core.kerneltrace import PageEvent
from kit.core.recording import shipped_recording
from kit.core.tracemodel import ModelReplay, _ModelCounts, replay_beside_model
from kit.core.zone import Page, Zone


@pytest.fixture(scope="module")
def replay() -> ModelReplay:
    return replay_beside_model(shipped_recording())


def test_what_agrees_by_construction_and_what_cannot(replay: ModelReplay) -> None:
    allocations = replay.row("allocations")
    assert allocations.kernel == allocations.model == 86527 and allocations.agree
    frees = replay.row("frees replayed")
    assert frees.kernel == 104730 and frees.model == 85235 and frees.agree is False
    assert "19495 frees" in frees.why
    assert replay.row("fallbacks to another migratetype").kernel == 19
    assert replay.row("fallbacks to another migratetype").agree is None
    assert replay.row("merges").kernel == "no tracepoint" and replay.row("merges").model > 0


def test_refills_scale_in_both_and_differ(replay: ModelReplay) -> None:
    usual = replay.row("usual blocks per refill")
    kernel_sizes = [int(n) for n in usual.kernel.split(",")]
    assert kernel_sizes[0] == 63 and {126, 252} <= set(kernel_sizes)
    assert any(int(n) > 63 for n in usual.model.split(","))  # the model scales refills too
    refills = replay.row("order-0 refills")
    assert refills.kernel == 166 and refills.model != refills.kernel and not refills.agree
    assert "batch 63" in usual.why and "alloc_factor" in refills.why


def test_the_table_has_numbers_on_every_line(replay: ModelReplay) -> None:
    lines = replay.lines()
    assert len(lines) == len(replay.rows) >= 10
    assert all(any(ch.isdigit() for ch in line) for line in lines)
    with pytest.raises(InvalidArgument, match="no quantity 'speed'"):
        replay.row("speed")


def test_a_prefix_and_a_wrong_zone() -> None:
    recording = shipped_recording()
    events: list[PageEvent] = list(itertools.islice(recording.events(), 2000))
    short = replay_beside_model(recording, events=events)
    n = sum(e.event == "mm_page_alloc" for e in events)
    assert short.row("allocations").kernel == n
    with pytest.raises(InvalidArgument, match="no populated zone 'HighMem'"):
        replay_beside_model(recording, zone="HighMem")


def _counted_one_event_at_a_time(events: list[Event]) -> tuple[Counter[str], Counter[int], int]:
    """The counts as an observer takes them, Event by Event: steps by kind, blocks per order-0
    refill (the puts of a refill until the list is taken from, or a block allocated or freed),
    pages drained."""
    kinds, refills, drained, in_refill = Counter[str](), Counter[int](), 0, 0
    for event in events:
        kinds[event.kind] += 1
        if event.kind == ev.PCP_PUT and event.where == "refill" and event.order == 0:
            in_refill += 1
        elif in_refill and event.kind in (ev.PCP_TAKE, ev.ALLOC, ev.FREE):
            refills[in_refill] += 1
            in_refill = 0
        if event.kind == ev.PCP_TAKE and event.where == "drain":
            drained += 1 << event.order
    return kinds, refills, drained


def test_the_model_counts_its_steps_as_an_observer_of_its_events_would() -> None:
    """The replay counts the fields its zone records, a batch at a time; an observer of a twin
    zone doing the same, one Event at a time, finds the same numbers."""
    observed = Zone(4096, pcp=True, preset="6.8", record=False)
    events: list[Event] = []
    observed.subscribe(events.append)
    counted = Zone(4096, pcp=True, preset="6.8", record=True)
    counted.trace = counts = _ModelCounts(counted.config(), counted.max_order)
    rng = random.Random(18)
    held: list[tuple[Page, Page]] = []
    for step in range(4000):
        if held and rng.random() < 0.45:
            for zone, page in zip((observed, counted), held.pop(rng.randrange(len(held))),
                                  strict=True):
                zone.release(page)
        else:
            order = rng.choice((0, 0, 0, 0, 1, 2, 3, 5))
            pages = observed.alloc_pages(order), counted.alloc_pages(order)
            if pages[0] is not None and pages[1] is not None:
                held.append((pages[0], pages[1]))
        if step % 37 == 0:
            counts.count()
    counts.close()
    kinds, refills, drained = _counted_one_event_at_a_time(events)
    assert kinds[ev.SPLIT] and kinds[ev.MERGE] and refills and drained  # all were exercised
    for kind in (ev.TAKE, ev.SPLIT, ev.MERGE, ev.PUT, ev.PCP_PUT, ev.PCP_TAKE):
        assert counts.kind(kind) == kinds[kind], kind
    assert counts.refills == refills
    assert counts.drained_pages == drained


def test_a_refill_counted_in_two_batches_is_one_refill() -> None:
    counts = _ModelCounts({}, 10)
    for _ in range(3):
        counts.record(ev.PCP_PUT, 0, 0, "refill", None)
    counts.record(ev.TAKE, 0, 2, "", None)  # a buddy step of the refill does not end it
    counts.count()
    counts.record(ev.PCP_PUT, 0, 0, "refill", None)
    counts.record(ev.PCP_PUT, 0, 1, "refill", None)  # an order-1 refill is not counted
    counts.record(ev.PCP_TAKE, 0, 0, "alloc", None)
    for _ in range(2):
        counts.record(ev.PCP_PUT, 0, 0, "refill", None)
    counts.record(ev.FREE, 0, 0, "", None)  # a free ends one too
    counts.record(ev.PCP_PUT, 0, 0, "refill", None)  # still open at the end: closed there
    counts.close()
    assert counts.refills == Counter({4: 1, 2: 1, 1: 1})
    assert counts.kind(ev.PCP_PUT) == 8 and counts.drained_pages == 0
