"""The KernelTraceView widget (kit.widgets.kerneltrace) and the timeline it draws."""

from __future__ import annotations

import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import pytest

from kit.core import tracefs
from kit.core.errors import InvalidArgument
from kit.core.kerneltrace import PageEvent
from kit.core.recording import shipped_recording
from kit.core.tracesummary import trace_timeline
from kit.widgets import KernelTraceView


@pytest.fixture(scope="module")
def view() -> KernelTraceView:
    return KernelTraceView()


def test_it_says_the_recording_is_the_shipped_one(view: KernelTraceView) -> None:
    assert not view.own
    assert "the kit's shipped recording (recording here was not asked for)" in view.status.value
    assert "Linux 6.18" in view.status.value and "274647 page-allocator events" in (
        view.status.value)


def test_the_bars_are_the_summary(view: KernelTraceView) -> None:
    tabs = view.children[1]
    orders = tabs.children[0].children[1].marks[0]
    assert list(orders.x) == ["0 (86239)", "1 (17)", "2 (269)", "3 (2)"]
    totals = [sum(int(row[i]) for row in orders.y) for i in range(4)]
    assert totals == [view.summary.allocations[o] for o in range(4)]
    assert orders.labels[0] == "GFP_HIGHUSER|__GFP_ACCOUNT" and orders.labels[-1] == "other"
    fallbacks = tabs.children[2].marks[0]
    assert list(fallbacks.x) == ["Unmovable <- Movable"] and list(fallbacks.y) == [19]
    table = tabs.children[3].value
    assert "<td>Normal</td><td>577849</td><td>444354</td><td>12329</td>" in table
    lines = tabs.children[1].children[1].marks[0]
    assert sum(lines.y[0]) == view.summary.nr_allocations


def test_one_chart_on_its_own(view: KernelTraceView) -> None:
    assert list(view.chart("fallbacks").marks[0].y) == [19]
    with pytest.raises(InvalidArgument, match="no chart 'pie'"):
        view.chart("pie")


def test_timeline_bins() -> None:
    events = [PageEvent(t, 0, "a", 1, "mm_page_alloc", 10, 0, 0, "G") for t in (0.0, 0.5, 1.0)]
    events.insert(1, PageEvent(0.2, 0, "a", 1, "mm_page_alloc_zone_locked", 9, 0, 1, "", True))
    events.insert(2, PageEvent(0.2, 0, "a", 1, "mm_page_alloc_zone_locked", 8, 0, 1, "", True))
    events.append(PageEvent(0.9, 1, "k", 2, "mm_page_pcpu_drain", 64, 3, 1))
    timeline = trace_timeline(events, bins=2)
    assert timeline.starts == [0.0, 0.5]
    assert timeline.allocations == [1, 2] and timeline.buddy_blocks == [2, 0]
    assert timeline.refills == [1, 0] and timeline.drained_pages == [0, 8]
    with pytest.raises(InvalidArgument, match="bins must be at least 1"):
        trace_timeline(events, bins=0)


def test_timeline_counts_taken_pages_and_refill_runs() -> None:
    """A failed allocation took nothing; a refill is a run of refill blocks on one CPU, which
    a fallback event leaves whole and any other event of that CPU ends; a buddy block handed
    out directly is no refill."""
    def event(time: float, cpu: int, name: str, pfn: int | None = 8, order: int = 0,
              **fields: Any) -> PageEvent:
        return PageEvent(time, cpu, "a", 1, name, pfn, order, **fields)

    refill = {"percpu_refill": True}
    events = [
        event(0.0, 0, "mm_page_alloc"),
        event(0.1, 0, "mm_page_alloc_zone_locked", **refill),  # a refill begins
        event(0.2, 0, "mm_page_alloc_extfrag", fallback_order=3),
        event(0.2, 1, "mm_page_alloc_zone_locked"),  # handed out directly, on another CPU
        event(0.3, 0, "mm_page_alloc_zone_locked", **refill),  # the same refill
        event(0.6, 0, "mm_page_alloc", pfn=None),  # failed
        event(0.7, 0, "mm_page_free"),
        event(0.8, 0, "mm_page_alloc_zone_locked", **refill),  # a second refill
        event(0.9, 1, "mm_page_pcpu_drain", order=2),
        event(1.0, 1, "mm_page_alloc"),
    ]
    timeline = trace_timeline(events, bins=2)
    assert timeline.starts == [0.0, 0.5]
    assert timeline.allocations == [1, 1] and timeline.buddy_blocks == [3, 1]
    assert timeline.refills == [1, 1] and timeline.drained_pages == [0, 4]


def test_without_permission_it_falls_back_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    # As a student without root would be: tracefs not mounted, and not allowed to mount it.
    monkeypatch.setattr(tracefs, "find_tracefs", lambda: None)
    monkeypatch.setattr(tracefs.os, "geteuid", lambda: 1000)
    view = KernelTraceView(record_seconds=0.5)
    assert not view.own and "cannot record a kernel trace here" in view.status.value


@pytest.mark.skipif(not (platform.system() == "Linux" and os.geteuid() == 0),
                    reason="recording needs root on Linux")
def test_as_root_it_records_this_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the recording's folder goes here
    view = KernelTraceView(record_seconds=0.5)
    assert view.recording.directory.parent == tmp_path
    assert view.own and "recorded on this machine just now" in view.status.value
    assert view.recording.directory != shipped_recording().directory
