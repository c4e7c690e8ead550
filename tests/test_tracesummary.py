"""Summaries of real traces (kit.core.tracesummary), on hand-made streams and the shipped one."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path
from typing import Any

import pytest

from kit.core import tracesummary
from kit.core.errors import InvalidArgument
from kit.core.kerneltrace import PageEvent, TraceReport
from kit.core.recording import shipped_recording
from kit.core.tracecolumns import read_trace_columns
from kit.core.tracesummary import (
    lifetime_label,
    migratetype_name,
    summarise_and_bin_trace_file,
    summarise_trace,
    summarise_trace_file,
    trace_timeline_file,
)


def alloc(t: float, cpu: int, pfn: int | None, order: int = 0, gfp: str = "GFP_KERNEL",
          comm: str = "a", pid: int = 1) -> PageEvent:
    return PageEvent(t, cpu, comm, pid, "mm_page_alloc", pfn, order, 0, gfp)


def locked(t: float, cpu: int, pfn: int, order: int = 0, refill: bool = True) -> PageEvent:
    return PageEvent(t, cpu, "a", 1, "mm_page_alloc_zone_locked", pfn, order, 0, "", refill)


def free(t: float, cpu: int, pfn: int, order: int = 0) -> PageEvent:
    return PageEvent(t, cpu, "a", 1, "mm_page_free", pfn, order)


def drain(t: float, cpu: int, pfn: int, order: int = 0) -> PageEvent:
    return PageEvent(t, cpu, "k", 2, "mm_page_pcpu_drain", pfn, order, 1)


def test_refill_runs_are_per_cpu_and_end_at_another_event() -> None:
    stream = [
        locked(1.0, 0, 100), locked(1.0, 1, 900), locked(1.0, 0, 101),  # cpu 1 interleaves
        locked(1.0, 0, 102), alloc(1.0, 0, 100), locked(1.1, 1, 901), alloc(1.1, 1, 900),
        locked(2.0, 0, 200, order=2), locked(2.0, 0, 204, order=2),  # another order: new run
        locked(3.0, 0, 300, refill=False),
        alloc(3.0, 0, 300),
    ]
    s = summarise_trace(stream)
    assert s.refills == {(0, 3): 1, (0, 2): 1, (2, 2): 1}
    assert s.refill_runs == 3 and s.refill_sizes(0) == {3: 1, 2: 1}
    assert s.buddy == {(0, True): 5, (2, True): 2, (0, False): 1}
    assert s.buddy_direct == 1 and s.nr_allocations == 3
    assert s.pcp_share == 2 / 3


def test_drains_are_counted_in_pages_and_extfrag_does_not_break_a_run() -> None:
    extfrag = PageEvent(1.0, 0, "a", 1, "mm_page_alloc_extfrag", 512, 0, 0, "", False, 10, 1,
                        True, False)
    stream = [drain(1.0, 0, 1), drain(1.0, 0, 8, order=3), free(1.1, 0, 50),
              locked(2.0, 0, 1), extfrag, locked(2.0, 0, 2)]
    s = summarise_trace(stream)
    assert s.drains == {9: 1} and s.refills == {(0, 2): 1}
    assert s.fallbacks == {(0, 1): 1} and s.fallback_orders == {(0, 10): 1}
    assert s.ownership_changes == 1 and s.fragmenting == 0


def test_a_process_traced_under_two_names_is_listed_once_by_its_last() -> None:
    """A command's first allocations after exec carry its parent's name (the tracer's name
    cache lags): its pid joins them."""
    stream = [
        alloc(0.0, 0, 10, comm="python", pid=7),
        alloc(0.1, 0, 11, comm="dd", pid=7),
        alloc(0.2, 0, 12, order=1, comm="python", pid=3),
    ]
    s = summarise_trace(stream)
    assert s.processes == {7: 2, 3: 2} and s.names == {7: "dd", 3: "python"}
    assert "top processes (pages): dd-7 2, python-3 2" in s.lines()


def test_orders_gfp_processes_lifetimes_and_failures() -> None:
    stream = [
        alloc(0.0, 0, 10, order=0, gfp="GFP_KERNEL", comm="dd", pid=5),
        alloc(0.0, 1, 16, order=2, gfp="GFP_ATOMIC", comm="dd", pid=5),
        alloc(0.0, 1, None, order=4, gfp="GFP_ATOMIC"),
        free(0.000_05, 0, 10),  # lived 50 us
        free(2.5, 1, 16, order=2),  # lived 2.5 s
        free(3.0, 1, 777),  # allocated before the trace
    ]
    s = summarise_trace(stream)
    assert s.allocations == {0: 1, 2: 1} and s.failed == {4: 1}
    assert s.pages_allocated == 5 and s.pages_freed == 6
    assert s.order_gfp == {(0, "GFP_KERNEL"): 1, (2, "GFP_ATOMIC"): 1}
    assert s.processes == {5: 5} and s.names == {5: "dd"}
    assert s.lifetimes == {1: 1, 6: 1} and s.freed_unseen == 1 and s.live_at_end == 0
    assert s.duration == 3.0 and s.cpus == {0: 1, 1: 1}
    assert lifetime_label(1) == "10-100 us" and lifetime_label(6) == "1-10 s"
    assert lifetime_label(-1) == "< 1 us" and lifetime_label(3) == "1-10 ms"
    assert migratetype_name(0) == "Unmovable" and migratetype_name(7) == "migratetype 7"


def test_lifetimes_fall_in_their_decade_and_odd_ones_under_a_microsecond() -> None:
    """Decades bounded by powers of ten (1 us starts decade 0, 1000 us decade 3); a free
    at its allocation's time, one logged before it (another CPU's clock) and one at an
    infinite time count as under a microsecond."""
    pairs = [(0.0, 1e-6), (0.0, 9.9e-6), (0.0, 0.001), (0.0, 0.0000999), (0.0, 2.5),
             (1.0, 1.0), (2.0, 1.5), (0.0, 5e-7), (0.0, float("inf")), (0.0, 0.0011)]
    stream = [alloc(born, 0, pfn) for pfn, (born, _) in enumerate(pairs, start=1)]
    stream += [free(freed, 1, pfn) for pfn, (_, freed) in enumerate(pairs, start=1)]
    s = summarise_trace(stream)
    assert s.lifetimes == {-1: 4, 0: 2, 1: 1, 3: 2, 6: 1}
    assert list(s.lifetimes) == [-1, 0, 1, 3, 6]  # in order


def test_the_shipped_trace_summarised(
    shipped_events: tuple[tuple[PageEvent, ...], TraceReport],
) -> None:
    recording = shipped_recording()
    events, report = shipped_events  # recording.events(report), read once
    s = summarise_trace(events, recording.zoneinfo("before"), report)
    assert s.report is report and report.events == 274647
    assert s.nr_allocations == sum(s.allocations.values()) == s.events["mm_page_alloc"]
    assert s.zones == {"Normal": s.nr_allocations}
    # the pipes' buffers: unmovable, accounted, order 0 - the workload's largest part
    (top_gfp, n), = s.gfp.most_common(1)
    assert top_gfp == "GFP_HIGHUSER|__GFP_ACCOUNT" and n > 65536 - 100
    # Linux 6.7+ scales a refill by powers of two of batch (63 in zoneinfo): seen here
    batch = next(z for z in recording.zoneinfo() if z.zone == "Normal").pagesets[0].batch
    sizes = s.refill_sizes(0)
    assert batch == 63 and {batch, 2 * batch, 4 * batch} <= set(sizes)
    assert s.fallbacks == {(0, 1): 19} and s.ownership_changes == 19
    text = "\n".join(s.lines())
    assert "Unmovable from Movable 19" in text and "63 blocks" in text


def test_one_reading_gives_the_summary_and_the_timeline_of_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the kernel-trace view shows, from one reading of the file: the summary and the
    timeline the two readings give, for a ``.gz`` (the shipped trace's first 5,000 lines) and
    the same plain."""
    recording = shipped_recording()
    zones = recording.zoneinfo()
    plain, packed = tmp_path / "trace.txt", tmp_path / "trace.txt.gz"
    with gzip.open(recording.trace, "rt") as whole:
        plain.write_text("".join(itertools.islice(whole, 5000)))
    with gzip.open(packed, "wt") as out:
        out.write(plain.read_text())
    reads = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args[0])
        return read_trace_columns(*args, **kwargs)

    for path in (packed, plain):
        two = summarise_trace_file(path, zones, TraceReport()), trace_timeline_file(path, 60)
        monkeypatch.setattr(tracesummary, "read_trace_columns", counted)
        report = TraceReport()
        summary, timeline = summarise_and_bin_trace_file(path, zones, report, 60)
        monkeypatch.undo()
        assert reads == [path]
        reads.clear()
        assert (summary, timeline) == two and summary.report is report
        assert report.events == 4992
    with pytest.raises(InvalidArgument, match="bins must be at least 1, got 0"):
        summarise_and_bin_trace_file(plain, bins=0)
