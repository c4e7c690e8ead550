"""The shipped recording (kit.core.recording): real data, small, described, complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.core.errors import InvalidArgument
from kit.core.kerneltrace import PAGE_EVENTS, PageEvent, TraceReport
from kit.core.recording import PROC_FILES, SHIPPED, load_recording, shipped_recording


def test_the_shipped_trace_is_small_and_says_what_it_is() -> None:
    recording = shipped_recording()
    assert recording.trace == SHIPPED / "trace.txt.gz"
    assert recording.trace.stat().st_size <= 5 * 1024 * 1024
    header = recording.header
    assert header["kernel"].startswith("Linux 6.18")
    assert header["machine"] == "2 CPUs, 24105 MiB RAM, page size 4096"
    assert "dd of 20 MiB" in header["workload"] and "256 pipes" in header["workload"]
    assert header["command"] == "bash scripts/trace-workload.sh"
    assert header["traced"] == "the command and its children only"


def test_the_shipped_trace_reads_without_a_bad_line(
    shipped_events: tuple[tuple[PageEvent, ...], TraceReport],
) -> None:
    events, report = shipped_events  # shipped_recording().events(report), read once
    kinds: dict[str, int] = {}
    for event in events:
        kinds[event.event] = kinds.get(event.event, 0) + 1
    assert report.malformed_count == 0 and report.lost_events == 0
    assert not report.unknown_events
    assert report.events == 274647 == sum(kinds.values())
    assert set(kinds) == set(PAGE_EVENTS)  # every tracepoint fired, fallbacks included
    assert kinds["mm_page_alloc_extfrag"] == 19


@pytest.mark.parametrize("name", PROC_FILES)
@pytest.mark.parametrize("when", ["before", "after"])
def test_the_proc_files_before_and_after_parse(name: str, when: str) -> None:
    recording = shipped_recording()
    parsed = getattr(recording, name)(when)
    assert parsed


def test_bad_recording_requests_are_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="is not a recording"):
        load_recording(tmp_path)
    with pytest.raises(InvalidArgument, match="'before' or 'after'"):
        shipped_recording().proc_path("meminfo", "before")
    (tmp_path / "trace.txt").write_text("# kernel: Linux 6.18\n")
    with pytest.raises(InvalidArgument, match="recording lacks .*zoneinfo-before.txt"):
        load_recording(tmp_path).zoneinfo()
    assert load_recording(tmp_path).header == {"kernel": "Linux 6.18"}


def test_vmstat_changes_and_watermarks_of_the_shipped_recording() -> None:
    recording = shipped_recording()
    delta = recording.vmstat_delta()
    assert delta["pgalloc_normal"] > 0 and delta["pgfree"] > 0
    assert all(change != 0 for change in delta.values())
    assert all(name.startswith(("pgalloc_", "pgfree", "allocstall_", "pgsteal_", "compact_"))
               for name in delta)
    rows = recording.watermarks("after")
    assert [row[0] for row in rows] == ["DMA", "DMA32", "Normal"]
    normal = rows[2]
    assert normal[1:6] == (444354, 12329, 15411, 18493, 0) and normal[6] == "above high"
