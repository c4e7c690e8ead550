"""Benchmark of reading and summarising real kernel traces: events per second beside `cat`.

Run with ``bash scripts/bench.sh trace`` (or ``python bench/bench_trace.py``).  Prints figures;
it asserts nothing, so a slow or busy machine does not fail anything.

A 1,000,000-event trace is built in a temporary folder by repeating the events of the kit's
shipped recording (raw tracefs text).  Then, each in a fresh process so that its peak memory
is its own:

* ``cat FILE > /dev/null``: the I/O floor (the file is read once before, so both come from the
  page cache);
* ``summarise_trace_file(FILE)``: read and summarise in bulk, chunk by chunk (what ``kit trace
  summary`` does; kit.core.tracecolumns);
* ``summarise_trace(read_trace(FILE))``: the careful way, one typed record per line, for
  comparison (run once: it is slow).

The bulk run is repeated ``REPEATS`` times; the best run is the figure (other load only slows
a run down), the median is printed beside it, with CPU seconds (wall time on a shared machine
counts everybody's load), the load average at the time and the peak resident memory of the
summarising process.

Targets (issue 22): at least 1,000,000 events per second, under 200 MB for 1 M events.
"""

from __future__ import annotations

import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kit.core.recording import shipped_recording  # noqa: E402

EVENTS = 1_000_000
REPEATS = 3

CHILD = """
import resource, sys, time
from kit.core.kerneltrace import TraceReport, read_trace
from kit.core.tracesummary import summarise_trace, summarise_trace_file
wall, cpu = time.perf_counter(), time.process_time()
report = TraceReport()
if sys.argv[2] == "bulk":
    summary = summarise_trace_file(sys.argv[1], report=report)
else:
    summary = summarise_trace(read_trace(sys.argv[1], report), report=report)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(report.events, summary.nr_allocations, report.malformed_count, wall, cpu, peak)
"""


def build_trace(folder: Path) -> tuple[Path, int]:
    """Repeat the shipped trace's event lines until EVENTS; returns the file and its size."""
    with gzip.open(shipped_recording().trace, "rt") as handle:
        events = [line for line in handle if not line.startswith("#")]
    path = folder / "trace-1M.txt"
    with open(path, "w") as sink:
        written = 0
        while written < EVENTS:
            chunk = events[: EVENTS - written]
            sink.writelines(chunk)
            written += len(chunk)
    return path, path.stat().st_size


def time_cat(path: Path) -> float:
    start = time.perf_counter()
    with open("/dev/null", "wb") as null:
        subprocess.run(["cat", str(path)], stdout=null, check=True)
    return time.perf_counter() - start


def time_summary(path: Path, way: str) -> tuple[int, int, int, float, float, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), way], capture_output=True, text=True,
        check=True, cwd=REPO,
    )
    events, allocations, malformed, wall, cpu, peak = done.stdout.split()
    return int(events), int(allocations), int(malformed), float(wall), float(cpu), float(peak)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kit-bench-trace-") as tmp:
        path, size = build_trace(Path(tmp))
        print(f"trace: {EVENTS:,} events, {size / 1e6:.0f} MB of raw tracefs text ({path.name},"
              " the shipped recording repeated)")
        time_cat(path)  # into the page cache
        cats = [time_cat(path) for _ in range(REPEATS)]
        runs = [time_summary(path, "bulk") for _ in range(REPEATS)]
        careful = time_summary(path, "careful")
        events, allocations, malformed = runs[0][:3]
        walls = [run[3] for run in runs]
        cpus = [run[4] for run in runs]
        peak = max(run[5] for run in runs)
        best = min(walls)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"cat FILE > /dev/null: best {min(cats):.3f} s, median {statistics.median(cats):.3f}"
              f" s ({size / 1e6 / min(cats):,.0f} MB/s): the I/O floor")
        print(f"read + summarise in bulk: best {best:.2f} s, median "
              f"{statistics.median(walls):.2f} s wall; best {min(cpus):.2f} s, median "
              f"{statistics.median(cpus):.2f} s CPU")
        print(f"  {events / best:,.0f} events/s wall, {events / min(cpus):,.0f} events/s CPU "
              f"(target 1,000,000): {best / min(cats):,.0f}x cat's time")
        print(f"  {events:,} events read, {allocations:,} allocations, {malformed} malformed"
              f" lines; peak memory {peak:.0f} MB (target < 200 MB)")
        print(f"careful (a typed record per line): {careful[3]:.2f} s wall, {careful[4]:.2f} s"
              f" CPU, {events / careful[4]:,.0f} events/s CPU, peak {careful[5]:.0f} MB; "
              f"same events read: {careful[:3] == runs[0][:3]}")
        verdict = "met" if events / min(cpus) >= 1_000_000 else "NOT met"
        print(f"  speed target {verdict}; memory target "
              f"{'met' if peak < 200 else 'NOT met'}")


if __name__ == "__main__":
    main()
