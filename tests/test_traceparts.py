"""A trace cut into parts (kit.core.traceparts) and summarised part by part, then merged
(kit.core.tracesummary.PartialSummary), gives exactly the summary of one pass: every field,
the report with its line numbers, the printed lines.  Generated traces of good lines, bad
lines, other tracepoints and forms, CRLF, bad UTF-8 and a missing last newline, cut at any
line boundaries, and the shipped recording cut at several points, are merged without a
process (the merge is what matters); the real multi-process path runs once on the recording.
"""

from __future__ import annotations

import gzip
import os
import pickle
import random
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_tracecolumns import GOOD_LINES, ODD_LINES, line_variants, plain

from kit.core import traceparts
from kit.core.errors import InvalidArgument
from kit.core.kerneltrace import TraceReport, read_trace
from kit.core.recording import shipped_recording
from kit.core.traceparts import Span, can_fork, line_spans, map_spans, part_count
from kit.core.tracesummary import (
    PartialSummary,
    TraceSummary,
    summarise_span,
    summarise_trace,
    summarise_trace_file,
)
from kit.core.zoneinfo import ZoneInfo

ZONES = shipped_recording().zoneinfo()


def serial(path: Path, zones: list[ZoneInfo] | None) -> TraceSummary:
    """The careful reader's summary in one pass: what every cut must give."""
    report = TraceReport()
    return summarise_trace(read_trace(path, report), zones, report)


def folded(partials: list[PartialSummary], from_the_right: bool = False) -> TraceSummary:
    """Merge partial summaries in file order, left to right (as summarise_trace_file does)
    or right to left (a part after the first merging its successors first)."""
    if from_the_right:
        whole = partials[-1]
        for partial in reversed(partials[:-1]):
            partial.merge(whole)
            whole = partial
    else:
        whole = partials[0]
        for partial in partials[1:]:
            whole.merge(partial)
    return whole.finish()


def cut(
    path: Path, offsets: list[int], zones: list[ZoneInfo] | None, pickled: bool = False
) -> list[PartialSummary]:
    """The partial summaries of the file cut at ``offsets`` (byte offsets after newlines),
    each through pickle and back if ``pickled`` (as a worker sends it)."""
    bounds = [0, *sorted(set(offsets)), path.stat().st_size]
    spans: list[Span] = [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    partials = [summarise_span(span, path, zones) for span in spans or [(0, 0)]]
    if pickled:
        return [pickle.loads(pickle.dumps(partial)) for partial in partials]
    return partials


def same(whole: TraceSummary, reference: TraceSummary) -> None:
    assert plain(whole) == plain(reference)
    assert whole.lines() == reference.lines()
    assert whole.report.summary() == reference.report.summary()


# The strategies the generator draws from, built once: a strategy made inside it would be made
# (and its properties worked out) at every draw, which cost more than the summaries it tests.
LINE_COUNTS, RUN_LENGTHS = st.integers(0, 40), st.integers(1, 3)
PAGE_LINES = st.sampled_from(line_variants(  # mostly page events, the pfn always drawn
    GOOD_LINES * 3 + ODD_LINES, ["0x1072a7", "0x2661f4", "0x10"], ["[000]", "[001]"],
    pfn_kept=0))
ODD_BYTES = st.sampled_from([b"\xff", b"\xe2\x82", b"\r"])
COIN = st.booleans()


@st.composite
def cut_traces(draw: st.DrawFn) -> tuple[bytes, list[int], bool]:
    """Trace bytes whose pages are allocated and freed on both sides of the cuts, CPUs whose
    refill and drain runs cross them; the cuts (any line boundaries); whether zones count."""
    lines = []
    for _ in range(draw(LINE_COUNTS)):
        lines.extend([draw(PAGE_LINES)] * draw(RUN_LENGTHS))  # runs of one event on one CPU
    data = "".join(lines).encode()
    if draw(COIN):
        data = data.replace(b"\n", b"\r\n")
    if draw(COIN) and lines:
        where = draw(st.integers(0, len(data) - 1))
        data = data[:where] + draw(ODD_BYTES) + data[where:]
    if data and draw(COIN):
        data = data[:-1]  # no newline at the end
    # every line boundary: the offsets after a newline, but for one ending the data
    boundaries = [m.end() for m in re.finditer(b"\n", data[:-1])]
    cuts = draw(st.lists(st.sampled_from(boundaries), max_size=4)) if boundaries else []
    return data, cuts, draw(COIN)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(trace=cut_traces(), from_the_right=st.booleans(), pickled=st.booleans())
def test_any_cut_merges_to_the_one_pass_summary(
    trace: tuple[bytes, list[int], bool], from_the_right: bool, pickled: bool,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, cuts, with_zones = trace
    monkeypatch.setattr("kit.core.tracecolumns.CHUNK_CHARS", 64)  # lines cut between reads
    path = tmp_path / "trace.txt"
    path.write_bytes(data)
    zones = ZONES if with_zones else None
    same(folded(cut(path, cuts, zones, pickled), from_the_right), serial(path, zones))


def lines_of(*events: tuple[str, str]) -> bytes:
    """Trace bytes of (event line, pfn) pairs, from GOOD_LINES: alloc, free, refill, drain."""
    kinds = {"alloc": GOOD_LINES[0], "free": GOOD_LINES[1], "refill": GOOD_LINES[2],
             "drain": GOOD_LINES[3]}
    return "".join(kinds[kind].replace("pfn=0x1072a7", f"pfn={pfn}")
                   .replace("pfn=0x2661f4", f"pfn={pfn}") for kind, pfn in events).encode()


@pytest.mark.parametrize("from_the_right", [False, True])
def test_what_crosses_a_cut_is_carried(tmp_path: Path, from_the_right: bool) -> None:
    """Part 1 allocates 0x10 and 0x20 and starts a refill; part 2 goes on with the refill,
    which its allocation ends, does not touch 0x10, allocates 0x20 again and frees it; part 3
    frees 0x10 and 0x30 (allocated before the trace) and drains."""
    parts = [
        lines_of(("alloc", "0x10"), ("alloc", "0x20"), ("refill", "0x1"), ("refill", "0x2")),
        lines_of(("refill", "0x3"), ("alloc", "0x20"), ("free", "0x20")),
        lines_of(("free", "0x10"), ("free", "0x30"), ("drain", "0x40")),
    ]
    path = tmp_path / "trace.txt"
    path.write_bytes(b"".join(parts))
    offsets = [len(parts[0]), len(parts[0]) + len(parts[1])]
    whole = folded(cut(path, offsets, None), from_the_right)
    same(whole, serial(path, None))
    assert whole.refills == {(0, 3): 1} and whole.drains == {2: 1}
    assert whole.live_at_end == 0 and whole.freed_unseen == 1
    assert sum(whole.lifetimes.values()) == 2


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped recording, uncompressed (only a plain file is cut)."""
    path = tmp_path_factory.mktemp("shipped") / "trace.txt"
    with gzip.open(shipped_recording().trace, "rb") as source, open(path, "wb") as sink:
        shutil.copyfileobj(source, sink)
    return path


@pytest.fixture(scope="module")
def reference(shipped: Path) -> TraceSummary:
    """The recording's summary in one pass (the bulk one: test_tracecolumns shows it is the
    careful one)."""
    return summarise_trace_file(shipped, ZONES, processes=1)


def newline_offsets(path: Path, count: int, seed: int) -> list[int]:
    """``count`` offsets just after a newline, spread at random over the file."""
    data = path.read_bytes()
    chosen = []
    for aim in random.Random(seed).sample(range(1, len(data)), count):
        chosen.append(data.index(b"\n", aim) + 1)
    return [offset for offset in chosen if offset < len(data)]


@pytest.mark.parametrize("count, seed, pickled", [(1, 1, False), (2, 2, True), (7, 3, True)])
def test_the_shipped_recording_cut_anywhere_merges_to_one_pass(
    shipped: Path, reference: TraceSummary, count: int, seed: int, pickled: bool
) -> None:
    assert reference.report.events == 274_647 and reference.lines() != []
    partials = cut(shipped, newline_offsets(shipped, count, seed), ZONES, pickled)
    assert len(partials) == count + 1
    same(folded(partials), reference)


WORKERS = """
import resource, sys
from kit.core.recording import shipped_recording
from kit.core.tracesummary import summarise_trace_file
summary = summarise_trace_file(sys.argv[1], shipped_recording().zoneinfo(), processes=3)
print(repr(summary))
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime)
"""


def test_the_real_worker_processes_give_the_same_summary(
    shipped: Path, reference: TraceSummary
) -> None:
    """In a process of its own: pytest's may run threads (xdist's), where the kit forks no
    worker."""
    done = subprocess.run([sys.executable, "-c", WORKERS, str(shipped)], capture_output=True,
                          text=True, check=True)
    whole, worker_seconds = done.stdout.splitlines()
    assert whole == repr(reference)
    assert float(worker_seconds) > 0.05  # the workers read their parts


def test_a_process_running_threads_reads_in_one_process(
    shipped: Path, reference: TraceSummary
) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not can_fork()
        assert map_spans(pid_of, [(0, 1), (1, 2)]) == [os.getpid()] * 2
        same(summarise_trace_file(shipped, ZONES, processes=2), reference)
    finally:
        stop.set()
        thread.join()


def pid_of(span: Span) -> int:
    return os.getpid()


def test_the_file_is_cut_after_newlines_into_spans_that_cover_it(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    data = b"".join(b"x" * random.Random(n).randrange(0, 300) + b"\n" for n in range(500))
    path.write_bytes(data + b"no newline at the end")
    for parts in (1, 2, 3, 8, 100):
        spans = line_spans(path, parts)
        assert spans[0][0] == 0 and spans[-1][1] == len(data) + 21
        assert all(a < b for a, b in spans)
        assert all(end == next_start for (_, end), (next_start, _) in
                   zip(spans, spans[1:], strict=False))
        assert all(data[end - 1] == ord("\n") for _, end in spans[:-1])
        assert len(spans) == parts or parts == 100 and len(spans) > 50
    (tmp_path / "one.txt").write_bytes(b"a long line without a newline" * 100)
    assert line_spans(tmp_path / "one.txt", 4) == [(0, 2900)]
    (tmp_path / "empty.txt").write_bytes(b"")
    assert line_spans(tmp_path / "empty.txt", 4) == [(0, 0)]


def test_small_files_stay_in_one_process_big_ones_use_every_core() -> None:
    assert part_count(100_000, cpus=2) == 1
    assert part_count(traceparts.MIN_PART_BYTES * 2, cpus=2) == 2
    assert part_count(traceparts.MIN_PART_BYTES * 100, cpus=2) == 2
    assert part_count(traceparts.MIN_PART_BYTES * 100, cpus=1) == 1


def failing(span: Span, message: str) -> Any:
    if span[0] > 0:
        raise ValueError(message)
    return span


def test_a_worker_that_fails_is_one_line_naming_its_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(traceparts, "can_fork", lambda: True)  # xdist's threads are harmless
    with pytest.raises(InvalidArgument, match=r"reading bytes 10-20: ValueError: bad part$"):
        map_spans(failing, [(0, 10), (10, 20)], "bad part")
    assert map_spans(failing, [(0, 10)], "fine") == [(0, 10)]


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="cannot read trace"):
        summarise_trace_file(tmp_path / "nothing.txt")
    assert not os.path.exists(tmp_path / "nothing.txt")
