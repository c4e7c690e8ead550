"""The model beside the kernel (kit.core.tracemodel): the shipped trace replayed on a kit Zone."""

from __future__ import annotations

import itertools

import pytest

from kit.core.errors import InvalidArgument
from kit.core.kerneltrace import PageEvent
from kit.core.recording import shipped_recording
from kit.core.tracemodel import ModelReplay, replay_beside_model


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
