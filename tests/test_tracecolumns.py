"""The bulk reader and summary (kit.core.tracecolumns, summarise_trace_file) against the careful
reader: the same summary and the same report, line numbers included, on the shipped recording,
the fixture files of the three text forms and generated traces mixing good lines of every
event, bad lines, other tracepoints, other forms, CRLF, a missing last newline and lines cut
at chunk boundaries.  (Speed is bench/bench_trace.py's job.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.core import tracecolumns
from kit.core.kerneltrace import PageEvent, TraceReport, read_trace
from kit.core.recording import shipped_recording
from kit.core.tracecolumns import event_columns, read_trace_columns
from kit.core.tracesummary import (
    summarise_trace,
    summarise_trace_file,
    trace_timeline,
    trace_timeline_file,
)
from kit.core.zoneinfo import ZoneInfo

DATA = Path(__file__).parent / "data" / "kerneltrace"


def plain(value: Any) -> Any:
    """Dataclasses and Counters as plain dicts, so equality sees zero counts too."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


#: The careful reader's events of a file and the report it filled.
CarefulRead = tuple[Iterable[PageEvent], TraceReport]


def both(path: Path, zones: list[ZoneInfo] | None = None,
         careful_read: CarefulRead | None = None) -> tuple[dict[str, Any], ...]:
    """The careful summary and the bulk one of a file, as plain data (``careful_read``: the
    careful reader's events of the file, if already read)."""
    if careful_read is None:
        careful_report = TraceReport()
        careful_read = read_trace(path, careful_report), careful_report
    events, careful_report = careful_read
    careful = summarise_trace(events, zones, careful_report)
    bulk = summarise_trace_file(path, zones, TraceReport())
    return plain(careful), plain(bulk)


def binned_both(path: Path, bins: int = 60,
                events: Iterable[PageEvent] | None = None) -> tuple[dict[str, Any], ...]:
    """The timeline of a file's careful records and its bulk timeline, as plain data
    (``events``: the careful reader's events of the file, if already read)."""
    careful = trace_timeline(read_trace(path) if events is None else events, bins)
    return plain(careful), plain(trace_timeline_file(path, bins))


def test_the_shipped_recording_binned_alike_in_bulk(shipped_events: CarefulRead) -> None:
    # the careful reader's events, read once for the session (tests/conftest.py)
    careful, bulk = binned_both(shipped_recording().trace, events=shipped_events[0])
    assert bulk == careful
    # lesson 8 prints "178 refills took 71414 blocks"; its orders chart, 86,527 allocations
    assert (sum(bulk["allocations"]), sum(bulk["refills"]), sum(bulk["buddy_blocks"])) == (
        86_527, 178, 71_414)


def test_the_shipped_recording_summarised_alike_in_bulk(shipped_events: CarefulRead) -> None:
    recording = shipped_recording()
    careful, bulk = both(recording.trace, recording.zoneinfo(), shipped_events)
    assert bulk == careful
    assert bulk["report"]["events"] == 274_647 and bulk["report"]["malformed_count"] == 0
    assert sum(bulk["zones"].values()) == sum(bulk["allocations"].values()) > 0


@pytest.mark.parametrize(
    "name", ["tracefs-6.18.txt", "trace-cmd-report-3.1.6.txt", "perf-script-6.1.txt"]
)
def test_each_text_form_summarised_alike(name: str) -> None:
    careful, bulk = both(DATA / name)
    assert bulk == careful and bulk["report"]["events"] > 0
    careful, bulk = binned_both(DATA / name, bins=7)
    assert bulk == careful and sum(bulk["allocations"]) > 0


def test_tracefs_lines_take_the_fast_path(tmp_path: Path) -> None:
    """The recording's lines are cut by the fast pattern, not handed to the careful reader:
    a careful reader that refuses to read proves it."""
    path = tmp_path / "t.txt"
    path.write_text("".join(GOOD_LINES[:6]) * 50)
    report = TraceReport()
    batches = list(read_trace_columns(path, report))
    assert sum(len(b) for b in batches) == 300 == report.events == report.lines
    assert all(isinstance(t, bytes) for b in batches for t in b.times)  # text, not parsed


def test_a_fast_line_with_another_events_fields_is_reported_like_the_careful_reader(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.txt"
    wrong = GOOD_LINES[1].replace("order=0\n", "order=0 migratetype=1\n")  # a free, drain-like
    path.write_text(GOOD_LINES[0] + wrong + GOOD_LINES[2])
    careful, bulk = both(path)
    assert bulk == careful
    assert bulk["report"]["malformed"][0][0] == 2


def test_a_page_at_pfn_0_is_a_page_and_a_failed_allocation_is_none() -> None:
    stream = [
        PageEvent(1.0, 0, "a", 1, "mm_page_alloc", 0, 0, 0, "GFP_KERNEL"),
        PageEvent(1.5, 0, "a", 1, "mm_page_alloc", None, 2, 0, "GFP_KERNEL"),
        PageEvent(2.0, 0, "a", 1, "mm_page_free", 0, 0),
    ]
    s = summarise_trace(stream)
    assert s.allocations == {0: 1} and s.failed == {2: 1}
    assert s.lifetimes == {6: 1} and s.freed_unseen == 0 and s.live_at_end == 0  # 1 s


def test_a_time_of_hundreds_of_digits_is_read_alike(tmp_path: Path) -> None:
    """A free at a time too large for a float (infinite once parsed) is summarised as the
    careful reader's record is: a lifetime under a microsecond, no crash."""
    huge = "9" * 400 + ".000000"
    path = tmp_path / "t.txt"
    path.write_text(GOOD_LINES[0] + GOOD_LINES[1].replace("1213.490513", huge))
    careful, bulk = both(path)
    assert careful == bulk and bulk["lifetimes"] == {-1: 1}


def test_typed_records_as_columns_keep_their_order() -> None:
    events = list(read_trace(DATA / "tracefs-6.18.txt"))
    batches = list(event_columns(events, size=5))
    assert [len(b) for b in batches] == [5, 5, 5, 3]
    assert [r.event for b in batches for r in b.runs for _ in range(r.start, r.end)] == [
        e.event for e in events]


# Lines of every kind, for the generated traces.
GOOD_LINES = [
    "            bash-32268   [001] .....  1213.489883: mm_page_alloc: page=000000001864868a "
    "pfn=0x1072a7 order=0 migratetype=0 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP\n",
    "            bash-32268   [001] .....  1213.490513: mm_page_free: page=0000000044c50423 "
    "pfn=0x1072a7 order=0\n",
    "              dd-32269   [000] d..3.  1213.508854: mm_page_alloc_zone_locked: "
    "page=000000001b3b9129 pfn=0x2661f4 order=0 migratetype=1 percpu_refill=1\n",
    "         python3-32272   [001] d..3.  1218.027433: mm_page_pcpu_drain: "
    "page=0000000023850a32 pfn=0x2dbd71 order=1 migratetype=0\n",
    "     kworker/u8:2-77     [000] .....  1218.027500: mm_page_free_batched: "
    "page=0000000023850a32 pfn=0x2661f4 order=0\n",
    "         python3-32272   [001] d..3.  1215.689500: mm_page_alloc_extfrag: "
    "page=00000000a6d86f02 pfn=0x2ff400 alloc_order=0 fallback_order=10 pageblock_order=9 "
    "alloc_migratetype=0 fallback_migratetype=1 fragmenting=0 change_ownership=1\n",
    "            bash-32268   [001] .....  1213.500000: mm_page_alloc: page=0000000000000000 "
    "pfn=0x0 order=2 migratetype=0 gfp_flags=GFP_ATOMIC\n",  # failed
    "              dd-32269   [000] d..3.  1213.508855: mm_page_alloc_zone_locked: "
    "page=000000001b3b9129 pfn=0x2661f5 order=0 migratetype=1 percpu_refill=0\n",
    "    systemd-jou-rnal-9   [001] .....  1213.600000: mm_page_free: page=0 pfn=0x0 order=3\n",
]
ODD_LINES = [
    "# kernel: Linux 6.18\n",
    "CPU:1 [LOST 125 EVENTS]\n",
    "complete garbage\n",
    "\n",
    "          <idle>-0       [001] d..2.   100.000001: sched_switch: prev_comm=swapper\n",
    "            bash-1       [000] .....   100.000004: mm_page_free: page=0 pfn=0x10 order=x\n",
    "            bash-1       [000] .....   100.000004: mm_page_free: page=0 pfn=0x1A order=1\n",
    "            bash-1       [000] .....   100.000004: mm_page_free: page=0 pfn=0x010 order=1\n",
    "            bash-1       [000] .....   100.000004: mm_page_free:  page=0 pfn=0x10 order=1\n",
    "            bash-1       [000] .....   100.000004: mm_page_free: page=0 pfn=0x10 order=1  \n",
    "            bash-1       [000] .....   100.000004: mm_page_free: page=0\tpfn=0x10 order=1\n",
    "            bash-1       [000] .....   100.000004: mm_page_free: page=0\x0b0 pfn=0x10 "
    "order=1\n",
    # whitespace but space and newline where the fast pattern takes any character but a space
    "            bash-1       [000] .....   100.000004: mm_page_free: page=0 pfn=0x10 order=1\t\n",
    "            bash-1       [000] .....   100.000004: mm_page_alloc: page=0 pfn=0x10 order=0 "
    "migratetype=0\x1cgfp_flags=GFP_KERNEL\n",
    "        ba\x0csh-1       [000] .....   100.000004: mm_page_free: page=0 pfn=0x10 order=1\n",
    "            bash-1       [000] \x1f....   100.000004: mm_page_free: page=0 pfn=0x10 "
    "order=1\n",
    "            bash-1       [000] .....   100.00000a: mm_page_free: page=0 pfn=0x10 order=1\n",
    "            bash-1       [000] .....   .5: mm_page_free: page=0 pfn=0x10 order=1\n",
    "    kworker/0:1-12      (     12) [000] d..1.   5.000000: mm_page_alloc: "
    "page=0000000000000000 pfn=0x30 order=3 migratetype=0 gfp_flags=GFP_ATOMIC\n",
    "           bash-1 [000] 100.000005: mm_page_free: page=0x20 pfn=0x20 order=0\n",  # trace-cmd
    "  instance: bash-1 [000] 100.000006: mm_page_free: page=0x21 pfn=0x21 order=0\n",
    "Web Content 4242 [001] 100.000007: kmem:mm_page_alloc: page=0x22 pfn=0x22 order=0 "
    "migratetype=0 gfp_flags=GFP_KERNEL\n",  # perf, a comm with a space
    "            bash-1       [000] .....   100.000004: mm_page_fr\n",  # cut short
    "            b\u00e4sh-1       [000] .....   100.000004: mm_page_free: page=0 pfn=0x10 "
    "order=1\n",
    "            bash-1       [000] .....   100.000004: mm_page_unknown: page=0 pfn=0x10 "
    "order=1\n",
    # an event whose page pointer is not hex (the fast pattern leaves it, the careful reads it)
    "            bash-1       [000] .....   100.000004: mm_page_free: page=(____ptrval____) "
    "pfn=0x10 order=1\n",
    # lines cut by a newline where the fast pattern takes any character but a space
    "            bash-1       [000] .....   100.000004: mm_page_free: page=00\n00 pfn=0x10 "
    "order=1\n",
    "            bash-1\n       [000] .....   100.000004: mm_page_free: page=0 pfn=0x10 "
    "order=1\n",
    "            bash-1       [000] ..\n...   100.000004: mm_page_free: page=0 pfn=0x10 "
    "order=1\n",
    "            bash-1       [000] .....   100.000004: mm_page_fr\nee: page=0 pfn=0x10 "
    "order=1\n",
]


def line_variants(lines: list[str], pfns: list[str], cpus: list[str],
                  pfn_kept: int = 1) -> list[str]:
    """Every line with its pfn and its CPU each kept or changed to one of ``pfns`` / ``cpus``,
    as often as a coin flip and a draw would give them: the CPU is kept half the time (the
    other half, each of ``cpus`` alike), the pfn ``pfn_kept`` times in ``pfn_kept + 1`` (0:
    always changed).  A generator draws a line's variant from this list in one choice instead
    of three to five, the same lines with the same chances; hypothesis's own work per example
    grows with its choices."""
    variants = []
    for line in lines:
        for pfn in [None] * (pfn_kept * len(pfns)) + pfns:
            moved = line if pfn is None else line.replace(
                "pfn=0x1072a7", f"pfn={pfn}").replace("pfn=0x2661f4", f"pfn={pfn}")
            for cpu in [None] * len(cpus) + cpus:
                variants.append(moved if cpu is None else
                                moved.replace("[001]", "[000]").replace("[000]", cpu))
    return variants


# The strategies the generator draws from, built once: a strategy made inside it would be made
# (and its properties worked out) at every draw, which cost more than the reading it tests.
LINE_COUNTS, COIN = st.integers(0, 60), st.booleans()
ANY_LINE = st.sampled_from(line_variants(GOOD_LINES + ODD_LINES,
                                         ["0x1072a7", "0x2661f4", "0x10", "0x2dbd71"],
                                         ["[000]", "[001]", "[002]"]))
CHUNKS = st.sampled_from([64, 200, 1 << 16])


@st.composite
def traces(draw: st.DrawFn) -> tuple[str, int]:
    """Trace text of good and odd lines with pfns and CPUs drawn from small sets (so
    allocations meet their frees and runs meet other CPUs), and a chunk size."""
    lines = [draw(ANY_LINE) for _ in range(draw(LINE_COUNTS))]
    text = "".join(lines)
    if draw(COIN):
        text = text.replace("\n", "\r\n")
    if text and draw(COIN):
        text = text[:-1]  # no newline at the end
    return text, draw(CHUNKS)


#: The property tests' examples: 300 each (a trace file per example, so the function-scoped
#: tmp_path and monkeypatch are shared by the examples, each writing its own file first).
READ_ALIKE_EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def assert_read_alike(trace: tuple[str, int], tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The trace text, read in chunks of the given size, summarised and binned by the bulk
    reader exactly as by the careful one."""
    text, chunk = trace
    monkeypatch.setattr(tracecolumns, "CHUNK_CHARS", chunk)  # lines cut at chunk boundaries
    path = tmp_path / "trace.txt"
    path.write_bytes(text.encode())
    # the careful reader reads the file once for both comparisons (the same events twice)
    careful_report = TraceReport()
    events = list(read_trace(path, careful_report))
    careful, bulk = both(path, careful_read=(events, careful_report))
    assert bulk == careful
    careful, bulk = binned_both(path, bins=3, events=events)
    assert bulk == careful


@READ_ALIKE_EXAMPLES
@given(trace=traces())
def test_generated_traces_summarised_alike(
    trace: tuple[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_read_alike(trace, tmp_path, monkeypatch)


#: What may change in a line of a run, each as (old, new) on the line's text: the ones the fast
#: pattern must take as the same run, and the ones that must end its match there.
RUN_CHANGES = [
    ("pfn=0x1072a7", "pfn=0x2661f4"), ("pfn=0x2661f4", "pfn=0x1072a8"),  # another page
    ("pfn=0x1072a7", "pfn=0x0"), ("pfn=0x2661f4", "pfn=0x0"),  # failed
    ("1213.4", "1213.5"), ("1213.4", "99999999.4"), (".489883", ".4898831"),  # other seconds
    ("page=000000001864868a", "page=1"), ("page=00000000", "page=(ptrval)"),
    ("            bash", "      bash"), ("   [001]", " [001]"),  # padding
    ("[001]", "[000]"), ("bash-32268", "bash-32269"), (".....", "d..3."),  # another head
    ("order=0", "order=1"), ("order=0", "order=0 "), ("GFP_KERNEL_ACCOUNT|", ""),  # fields
    ("mm_page_free:", "mm_page_free_batched:"), ("pfn=0x1072a7", "pfn=0x01072a7"),
    ("percpu_refill=1", "percpu_refill=2"), (" order=0\n", " order=0\nb\n"),
]


# Built once, as for traces(): made at every draw, the list strategy of a line's changes alone
# (up to 160 a trace) cost hypothesis more than the reading it tests.
RUNS, COPIES = st.integers(0, 8), st.integers(1, 20)
RUN_LINE = st.sampled_from(GOOD_LINES + ODD_LINES[5:8])
CHANGES = st.lists(st.sampled_from(RUN_CHANGES), max_size=2)
RUN_CHUNKS = st.sampled_from([200, 1000, 1 << 16])


@st.composite
def runs_of_lines(draw: st.DrawFn) -> tuple[str, int]:
    """Trace text of runs: a line repeated up to 20 times, each copy perhaps changed a
    little (another pfn, seconds, padding, head or fields), so that the fast pattern's
    matches of several lines meet lines that continue a run and lines that end it."""
    lines = []
    for _ in range(draw(RUNS)):
        line = draw(RUN_LINE)
        for _ in range(draw(COPIES)):
            copy = line
            for old, new in draw(CHANGES):
                copy = copy.replace(old, new)
            lines.append(copy)
    return "".join(lines), draw(RUN_CHUNKS)


@READ_ALIKE_EXAMPLES
@given(trace=runs_of_lines())
def test_runs_of_lines_summarised_alike(
    trace: tuple[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_read_alike(trace, tmp_path, monkeypatch)


def test_a_match_takes_the_lines_of_its_run_and_leaves_the_rest(tmp_path: Path) -> None:
    """Twenty lines of one run and one of another: three matches (8 + 8 + 4 lines), then
    one; every line's seconds and pfn in order, the runs as long as they are."""
    path = tmp_path / "t.txt"
    run = [GOOD_LINES[1].replace("0x1072a7", f"0x{0x1000 + i:x}").replace(
        "490513", f"{490513 + i}") for i in range(20)]
    path.write_text("".join(run) + GOOD_LINES[0])
    assert len(tracecolumns.FAST_LINES.findall(path.read_bytes())) == 4
    (batch,) = read_trace_columns(path)
    assert batch.pfns == [b"%x" % (0x1000 + i) for i in range(20)] + [b"1072a7"]
    assert batch.times == [b"1213.%d" % (490513 + i) for i in range(20)] + [b"1213.489883"]
    assert [(r.start, r.end, r.event) for r in batch.runs] == [
        (0, 20, "mm_page_free"), (20, 21, "mm_page_alloc")]
