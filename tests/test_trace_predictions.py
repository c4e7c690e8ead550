"""Lesson 8's questions about a real trace (kit.teaching.predict), answered from the trace."""

from __future__ import annotations

import pytest

from kit.core.errors import InvalidArgument
from kit.core.kerneltrace import PageEvent, TraceReport
from kit.core.tracesummary import TraceSummary, summarise_trace
from kit.teaching.predict import fallback_count_prediction, refill_size_prediction


@pytest.fixture(scope="module")
def summary(shipped_events: tuple[tuple[PageEvent, ...], TraceReport]) -> TraceSummary:
    return summarise_trace(shipped_events[0])  # shipped_recording().events(), read once


def test_refills_larger_than_batch(summary: TraceSummary) -> None:
    p = refill_size_prediction(summary, 63, "the shipped trace")
    larger = sum(n for size, n in summary.refill_sizes(0).items() if size > 63)
    assert p.answer == larger == 123 and "166 times" in p.question
    assert p.check("123").correct and not p.check("0").correct
    assert "batch is fixed" in p.explain("0") and "6.7" in p.explain("0")
    assert "every refill is scaled" in p.explain("166")
    with pytest.raises(InvalidArgument, match="no order-0 refill"):
        refill_size_prediction(TraceSummary(), 63, "nothing")


def test_fallbacks_with_gigabytes_free(summary: TraceSummary) -> None:
    p = fallback_count_prediction(summary, 21000, "a workload", "the shipped trace")
    assert p.answer == 19 and p.check(19).correct
    assert "free memory is one pool" in p.explain("0")
    assert "19 Unmovable from Movable; 19 took the whole pageblock over" in p.explain("19")
    empty = fallback_count_prediction(TraceSummary(), 100, "nothing", "a quiet trace")
    assert empty.answer == 0 and empty.misconceptions == ()
