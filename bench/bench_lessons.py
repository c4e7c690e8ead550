"""Benchmark of what the lessons' kernels spend: CPU seconds per lesson and per costly cell.

Run with ``bash scripts/bench.sh lessons`` (or ``python bench/bench_lessons.py [08 03 ...]``,
lessons by number or name).  Prints figures; it asserts nothing, so a busy machine fails
nothing.  Every lesson runs in the suite three times (nbval, the JupyterLab test, the Voila
slides) and again for every student, so a second of its kernel's CPU is paid many times.

Each lesson is executed as ``kit execute`` does (nbclient, ``KIT_PROGRESS=off``), in a fresh
kernel, ``REPEATS`` times.  The figures are the kernel process's own CPU seconds (user +
system, from ``/proc/<pid>/stat``; wall time on a shared machine counts everybody's load):
at start-up (the kernel ready, before any cell), per code cell, and in all.  The best run is
the figure (other load only slows a run down), the median beside it; cells that took at
least ``SHOWN_CELL`` CPU-s in the best run are listed with their first line.  The load average
before and after is printed.  Linux only (``/proc``).
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
REPEATS = 3
SHOWN_CELL = 0.1
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """A process's own user + system CPU seconds (its children not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run_lesson(path: Path) -> tuple[float, list[tuple[str, float]], float]:
    """Execute a lesson in a fresh kernel: (start-up CPU-s, [(cell, CPU-s)], total CPU-s)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    cells = []
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid  # type: ignore[union-attr]
        start = cpu_seconds(pid)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            before = cpu_seconds(pid)
            client.execute_cell(cell, index)
            first_line = cell.source.splitlines()[0] if cell.source else ""
            cells.append((f"cell {index}: {first_line[:60]}", cpu_seconds(pid) - before))
        total = cpu_seconds(pid)
    return start, cells, total


def lessons(names: list[str]) -> list[Path]:
    """The lessons named (by number or name), or all of them."""
    every = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not names:
        return every
    chosen = [p for p in every if any(p.name.startswith(name) for name in names)]
    missing = [n for n in names if not any(p.name.startswith(n) for p in every)]
    if missing:
        sys.exit(f"bench_lessons: no lesson {', '.join(missing)} in {NOTEBOOKS}")
    return chosen


def main() -> None:
    os.environ["KIT_PROGRESS"] = "off"  # as kit execute: the stored outputs, no records
    print(f"load average before: {os.getloadavg()[0]:.2f}; {REPEATS} runs a lesson, "
          "kernel CPU-s (best, median)")
    for path in lessons(sys.argv[1:]):
        runs = [run_lesson(path) for _ in range(REPEATS)]
        best = min(runs, key=lambda run: run[2])
        totals = [run[2] for run in runs]
        starts = [run[0] for run in runs]
        print(f"{path.name}: {best[2]:.2f} CPU-s (median {statistics.median(totals):.2f}); "
              f"start-up {min(starts):.2f}")
        for name, seconds in best[1]:
            if seconds >= SHOWN_CELL:
                print(f"    {seconds:5.2f}  {name}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
