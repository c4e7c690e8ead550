"""Benchmark of reading and summarising real kernel traces: events per second beside `cat`.

Run with ``bash scripts/bench.sh trace`` (or ``python bench/bench_trace.py``).  Prints figures;
it asserts nothing, so a slow or busy machine does not fail anything.

A 1,000,000-event trace is built in a temporary folder by repeating the events of the kit's
shipped recording (raw tracefs text).  Then, each in a fresh process so that its peak memory
is its own:

* ``cat FILE > /dev/null``: the I/O floor (the file is read once before, so both come from the
  page cache);
* ``summarise_trace_file(FILE)``: read and summarise in bulk, chunk by chunk (what ``kit trace
  summary`` does; kit.core.tracecolumns), the file cut into one part per core, the first
  summarised in the process, the others each in a forked worker (kit.core.traceparts);
* the same in one process (``processes=1``), for comparison;
* ``summarise_trace(read_trace(FILE))``: the careful way, one typed record per line, for
  comparison (run once: it is slow).

Each bulk way is repeated ``REPEATS`` times; the best run is the figure (other load only slows
a run down), the median is printed beside it, with CPU seconds of the process and its workers
(wall time on a shared machine counts everybody's load) and of the busiest process alone (with
a core each, the wall time would be about that), the load average before and after,
and the peak resident memory: the summarising process's plus each worker's (``ru_maxrss`` of
the process and of its largest child; pages a forked worker shares with its parent count
twice, so the sum is an upper bound).

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
import os, resource, sys, time
from kit.core.kerneltrace import TraceReport, read_trace
from kit.core.traceparts import line_spans, part_count
from kit.core.tracesummary import summarise_trace, summarise_trace_file
path, way = sys.argv[1], sys.argv[2]
wall, cpu = time.perf_counter(), time.process_time()
report = TraceReport()
if way == "careful":
    summary = summarise_trace(read_trace(path, report), report=report)
else:
    summary = summarise_trace_file(path, report=report, processes=None if way == "bulk" else 1)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
workers = resource.getrusage(resource.RUSAGE_CHILDREN)
processes = len(line_spans(path, part_count(os.path.getsize(path)))) if way == "bulk" else 1
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
worker_cpu = (workers.ru_utime + workers.ru_stime) / max(processes - 1, 1)
print(report.events, summary.nr_allocations, report.malformed_count, wall,
      cpu + workers.ru_utime + workers.ru_stime, peak, workers.ru_maxrss / 1024, processes,
      max(cpu, worker_cpu))
"""

Run = tuple[int, int, int, float, float, float, float, int, float]
"""events, allocations, malformed lines, wall s, CPU s (all processes), the process's peak
MB, the largest worker's peak MB (0 without workers), processes, CPU s of the busiest process
(the workers' mean for them)."""


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


def time_summary(path: Path, way: str) -> Run:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), way], capture_output=True, text=True,
        check=True, cwd=REPO,
    )
    e, a, m, wall, cpu, peak, worker_peak, processes, busiest = done.stdout.split()
    return (int(e), int(a), int(m), float(wall), float(cpu), float(peak), float(worker_peak),
            int(processes), float(busiest))


def memory(run: Run) -> float:
    """The peak memory of a run: the summarising process's plus each worker's (every worker
    counted at the largest one's peak; a forked worker's pages shared with its parent count
    twice, so this is an upper bound)."""
    return run[5] + run[6] * (run[7] - 1)


def report_runs(label: str, runs: list[Run], cat: float) -> tuple[float, float]:
    """Print the best and median of repeated runs; returns (events/s wall, MB)."""
    events, walls, cpus = runs[0][0], [r[3] for r in runs], [r[4] for r in runs]
    best, peak = min(walls), max(memory(r) for r in runs)
    print(f"{label}: {runs[0][7]} process(es); best {best:.2f} s, median "
          f"{statistics.median(walls):.2f} s wall; CPU of all processes best {min(cpus):.2f} s,"
          f" median {statistics.median(cpus):.2f} s")
    print(f"  {events / best:,.0f} events/s wall (median {events / statistics.median(walls):,.0f}"
          f"), {events / min(cpus):,.0f} events/s of CPU; {best / cat:,.0f}x cat's time; peak "
          f"memory {peak:.0f} MB (process {max(r[5] for r in runs):.0f} MB + workers)")
    busiest = min(r[8] for r in runs)
    print(f"  CPU of the busiest process best {busiest:.2f} s: {events / busiest:,.0f} events/s"
          " if each process had a core to itself (the idle wall time is a little more)")
    return events / best, peak


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kit-bench-trace-") as tmp:
        path, size = build_trace(Path(tmp))
        print(f"trace: {EVENTS:,} events, {size / 1e6:.0f} MB of raw tracefs text ({path.name},"
              " the shipped recording repeated)")
        time_cat(path)  # into the page cache
        print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on "
              f"{os.cpu_count()} CPUs")
        cats = [time_cat(path) for _ in range(REPEATS)]
        bulk = [time_summary(path, "bulk") for _ in range(REPEATS)]
        single = [time_summary(path, "one") for _ in range(REPEATS)]
        careful = time_summary(path, "careful")
        cat = min(cats)
        print(f"cat FILE > /dev/null: best {cat:.3f} s, median {statistics.median(cats):.3f}"
              f" s ({size / 1e6 / cat:,.0f} MB/s): the I/O floor")
        rate, peak = report_runs("read + summarise in bulk, every core", bulk, cat)
        report_runs("read + summarise in bulk, one process", single, cat)
        events = bulk[0][0]
        print(f"careful (a typed record per line): {careful[3]:.2f} s wall, {careful[4]:.2f} s"
              f" CPU, {events / careful[4]:,.0f} events/s CPU, peak {careful[5]:.0f} MB")
        same = bulk[0][:3] == single[0][:3] == careful[:3]
        print(f"  {events:,} events read, {bulk[0][1]:,} allocations, {bulk[0][2]} malformed"
              f" lines; the same in all three ways: {same}")
        print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"targets (issue 22, wall): speed {'met' if rate >= 1_000_000 else 'NOT met'};"
              f" memory {'met' if peak < 200 else 'NOT met'}")


if __name__ == "__main__":
    main()
