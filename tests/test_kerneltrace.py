"""Reading real kmem traces (kit.core.kerneltrace): the three text forms, bad input, streaming.

The fixtures in tests/data/kerneltrace/ are lines recorded on Linux 6.18 (x86-64, 2 CPUs) and
printed by the kernel (tracefs), trace-cmd 3.1.6 ``report`` and perf 6.1 ``script``.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from kit.core.errors import InvalidArgument
from kit.core.kerneltrace import PageEvent, TraceReport, parse_trace, read_trace

DATA = Path(__file__).parent / "data" / "kerneltrace"
TRACEFS = DATA / "tracefs-6.18.txt"
TRACE_CMD = DATA / "trace-cmd-report-3.1.6.txt"
PERF = DATA / "perf-script-6.1.txt"


def events_of(path: Path) -> tuple[list[PageEvent], TraceReport]:
    report = TraceReport()
    return list(read_trace(path, report)), report


def test_tracefs_text_gives_every_event_typed() -> None:
    events, report = events_of(TRACEFS)
    assert report.malformed_count == 0 and report.events == 18 == len(events)
    assert report.comments == 12 and report.header["tracer"] == "nop"
    first = events[0]
    assert first == PageEvent(
        366.100516, 0, "bash", 13296, "mm_page_alloc", 0x28A8A7, 0, 2,
        "GFP_KERNEL|__GFP_RECLAIMABLE|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP",
    )
    kinds = [e.event for e in events]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "mm_page_alloc": 3, "mm_page_free": 3, "mm_page_free_batched": 3,
        "mm_page_alloc_zone_locked": 3, "mm_page_pcpu_drain": 3, "mm_page_alloc_extfrag": 3,
    }
    drain = next(e for e in events if e.event == "mm_page_pcpu_drain")
    assert (drain.comm, drain.pid, drain.pfn, drain.order, drain.migratetype) == (
        "python3", 13233, 0x298139, 0, 1,
    )


def test_extfrag_fields() -> None:
    events, _ = events_of(TRACEFS)
    extfrag = [e for e in events if e.event == "mm_page_alloc_extfrag"]
    first = extfrag[0]
    assert (first.order, first.fallback_order, first.migratetype, first.fallback_migratetype) == (
        2, 10, 2, 1,
    )
    assert first.change_ownership and not first.fragmenting
    assert first.pfn == 0x29C000


def test_zone_locked_refill_flag() -> None:
    events, _ = events_of(PERF)
    locked = [e for e in events if e.event == "mm_page_alloc_zone_locked"]
    assert locked[0].percpu_refill is True and locked[0].pfn == 0x1DA137
    assert all(e.gfp_flags == "" for e in locked)


def test_trace_cmd_report_with_instance_prefix() -> None:
    events, report = events_of(TRACE_CMD)
    assert report.malformed_count == 0 and report.events == 12
    assert report.comments == 1  # "cpus=2"
    assert events[0][:7] == (332.031150, 0, "python", 11422, "mm_page_alloc", 0x1C55D7, 0)
    assert events[0].gfp_flags == "GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP"


def test_perf_script() -> None:
    events, report = events_of(PERF)
    assert report.malformed_count == 0 and len(events) == 12
    assert events[0][:7] == (343.203980, 0, "python3", 12579, "mm_page_alloc", 0x1DF236, 0)


def test_malformed_lines_are_counted_with_their_number_never_raised() -> None:
    good = TRACEFS.read_text().splitlines()[12]
    lines = [
        good,
        "complete garbage",
        good.replace("order=0", "order=x"),
        good.replace(" pfn=0x28a8a7", ""),
        good[:60],  # cut short, as the last line of a killed recording
        good,
    ]
    report = TraceReport()
    events = list(parse_trace(lines, report))
    assert len(events) == 2 and report.events == 2
    assert report.malformed_count == 4
    assert [number for number, _, _ in report.malformed] == [2, 3, 4, 5]
    assert "not a trace event line" in report.malformed[0][1]
    assert "mm_page_alloc" in report.malformed[1][1]
    assert "4 malformed lines skipped (first: line 2" in report.summary()


def test_unknown_events_are_skipped_and_counted() -> None:
    lines = [
        "          <idle>-0       [001] d..2.   100.000001: sched_switch: prev_comm=swapper",
        "            bash-1       [000] .....   100.000002: kmalloc: call_site=x ptr=y",
        "            bash-1       [000] .....   100.000003: kmalloc: call_site=x ptr=y",
        "            bash-1       [000] .....   100.000004: mm_page_free: page=0 pfn=0x10 order=1",
    ]
    report = TraceReport()
    events = list(parse_trace(lines, report))
    assert [(e.pfn, e.order, e.pages) for e in events] == [(0x10, 1, 2)]
    assert report.unknown_events == {"kmalloc": 2, "sched_switch": 1}
    assert report.malformed_count == 0
    assert "3 other events skipped" in report.summary()


def test_lost_events_failed_allocations_and_tgid_column() -> None:
    lines = [
        "CPU:1 [LOST 125 EVENTS]",
        "     kworker/0:1-12      (     12) [000] d..1.   5.000000: mm_page_alloc: "
        "page=0000000000000000 pfn=0x0 order=3 migratetype=0 gfp_flags=GFP_ATOMIC",
        "     gnome-shell-1234    [001] .....   5.000001: mm_page_free: page=0 pfn=0x20 order=0",
    ]
    report = TraceReport()
    failed, freed = parse_trace(lines, report)
    assert report.lost_events == 125
    assert (failed.comm, failed.pid, failed.pfn, failed.order) == ("kworker/0:1", 12, None, 3)
    assert (freed.comm, freed.pid, freed.cpu) == ("gnome-shell", 1234, 1)


def test_streams_lazily_and_reads_gzip(tmp_path: Path) -> None:
    packed = tmp_path / "t.txt.gz"
    packed.write_bytes(gzip.compress(TRACEFS.read_bytes()))
    assert list(read_trace(packed)) == list(read_trace(TRACEFS))

    def endless():  # a generator that would never end: parse_trace must not exhaust it
        line = TRACEFS.read_text().splitlines()[12]
        while True:
            yield line

    stream = parse_trace(endless())
    assert next(stream).event == "mm_page_alloc" and next(stream).pfn == 0x28A8A7


def test_one_string_and_a_missing_file_are_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="not one string"):
        next(parse_trace(TRACEFS.read_text()))
    with pytest.raises(InvalidArgument, match="cannot read trace .*nothing"):
        next(read_trace(tmp_path / "nothing"))
