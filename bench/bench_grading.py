"""Benchmark of ``kit grade``: a generated class of 50 submissions, every notebook graded.

Run with ``bash scripts/bench.sh grading`` or ``python bench/bench_grading.py [--students N]
[--jobs N ...] [--phases]``.  Each student starts from the released notebooks with the
instructor's answers typed in; some answers are then broken or left unanswered,
deterministically by student number, so the grader does the work a real class gives it
(passing, failing and partial test cells).  Prints seconds per submission for each ``--jobs``
asked, students a minute, and beside them the start of one fresh Jupyter kernel measured in the
same run (what grading a submission in a kernel of its own, nbgrader's way, costs before any
cell runs): the goal is a submission graded in at most the time one kernel takes to start.
Several ``--jobs`` in one run share the grader's class-wide caches (expected values, compiled
cells, reference checks), so the later ones find them warm: to compare ``--jobs`` values, run
each in a process of its own.  Each grading is a course's first: it writes into a new out
folder, so its hidden-case secret is new and the check of every solution runs in full (the
verdicts an earlier run kept, in its out folder or the instructor's cache, are for other
seeds), as do the class-wide values' first computations.

The machine may be shared, so every figure comes as wall seconds *and* CPU seconds (of this
process and every process it started: the kernel, the sandboxes), with the load average; the
ratios to the kernel's start compare figures of the same run.  CPU seconds come from a cpuacct
cgroup of the bench's own where one can be made (as root on cgroup v1), else from
``getrusage`` (which misses sandboxes that were killed rather than waited for: then a lower
bound).  ``--phases`` adds where the grader's time went, phase by phase (wall seconds summed
over the grading threads, and the grader's own CPU seconds in each).  Asserts nothing.
"""

from __future__ import annotations

import argparse
import copy
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kit.grading.trusted import notebooks as nbs  # noqa: E402
from kit.grading.trusted.bwrap import DEFAULT_JOBS  # noqa: E402
from kit.grading.trusted.gradebook import Gradebook  # noqa: E402
from kit.grading.trusted.grading import GradingRun, grade  # noqa: E402
from kit.grading.trusted.phases import Phases  # noqa: E402

#: Where the bench makes its own cpuacct group (cgroup v1), to count every child's CPU time.
CPUACCT = Path("/sys/fs/cgroup/cpuacct")

#: grade_id of an answer -> a wrong body that still runs, for the students who get it wrong.
WRONG = {
    "orders-get-order": "def my_get_order(size, page_size=4096):\n    return size // page_size\n",
    "waste-exact": "def waste_exact(size):\n    return 0\n\n\ndef pages_returned(size):\n"
                   "    return 0\n",
    "buddy-merge": "def merge(pfn, order, free_blocks, max_order):\n    return pfn, order, []\n",
    "exact-make": "def my_make_alloc_exact(zone, addr, order, size):\n    return addr\n",
}


def student_notebooks(index: int) -> dict[str, object]:
    """Student ``index``'s notebooks: mostly right, some answers wrong or missing."""
    out = {}
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        answers = {nbs.grade_id(c): c.source for c in nbs.read_notebook(path).cells
                   if nbs.is_answer(c)}
        nb = copy.deepcopy(nbs.read_notebook(ROOT / "exercises" / path.name))
        for number, cell in enumerate(nb.cells):
            gid = nbs.grade_id(cell)
            if not nbs.is_answer(cell) or (index + number) % 9 == 0:
                continue  # left as released: unanswered
            if gid in WRONG and (index + number) % 4 == 0:
                cell.source = WRONG[gid]
            else:
                body = answers[gid].replace(nbs.BEGIN_SOLUTION, "")
                cell.source = body.replace(nbs.END_SOLUTION, "")
        out[path.name] = nb
    return out


class CpuMeter:
    """CPU seconds used so far by this process and every process it started."""

    def __init__(self) -> None:
        self.group: Path | None = None
        try:
            group = CPUACCT / f"kit-bench-{os.getpid()}"
            group.mkdir()
            (group / "cgroup.procs").write_text(str(os.getpid()))
            self.group = group
            self.how = "cpuacct cgroup: every process the bench started"
        except OSError:
            self.how = ("getrusage: this process and waited-for children (killed sandboxes "
                        "missed: a lower bound)")

    def seconds(self) -> float:
        if self.group is not None:
            return int((self.group / "cpuacct.usage").read_text()) / 1e9
        mine = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime

    def close(self) -> None:
        if self.group is not None:
            (CPUACCT / "cgroup.procs").write_text(str(os.getpid()))
            for _ in range(100):  # the group empties once its last child is reaped
                try:
                    self.group.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)


def kernel_start(meter: CpuMeter, times: int = 3) -> tuple[float, float]:
    """The median wall and CPU seconds from starting a fresh python3 kernel to its first
    reply (its shutdown not counted)."""
    from jupyter_client.manager import start_new_kernel

    walls, cpus = [], []
    for _ in range(times):
        wall, cpu = time.perf_counter(), meter.seconds()
        manager, client = start_new_kernel(kernel_name="python3")
        walls.append(time.perf_counter() - wall)
        cpus.append(meter.seconds() - cpu)
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return statistics.median(walls), statistics.median(cpus)


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def grade_class(class_dir: Path, out: Path, jobs: int, phases: Phases | None) -> Gradebook:
    run = GradingRun(jobs=jobs, log=lambda line: print(line, flush=True))
    if phases is not None:
        run.phases = phases
    return grade([class_dir], ROOT / "solutions", out, run)


def report(book: Gradebook, students: int, jobs: int, wall: float, cpu: float,
           kernel: tuple[float, float]) -> None:
    statuses: dict[str, int] = {}
    for row in book.rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    per, per_cpu = wall / students, cpu / students
    print(f"--jobs {jobs}: {students} submissions x "
          f"{len({row.notebook for row in book.rows})} notebooks ({len(book.rows)} test cells) "
          f"in {wall:.1f} s wall, {cpu:.1f} s CPU: {per:.2f} s per submission = "
          f"{per / kernel[0]:.2f}x one kernel's start (wall); {per_cpu:.2f} CPU s per "
          f"submission = {per_cpu / kernel[1]:.2f}x a kernel start's CPU; "
          f"{60 * students / wall:.1f} students a minute; {load()}")
    print(f"  statuses: {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}; "
          f"every submission graded: {book.complete}", flush=True)
    for status in ("crashed", "timeout", "grader-error", "memory-limit"):
        reasons = sorted({row.reason for row in book.rows if row.status == status})
        if reasons:
            print(f"  {status}, e.g.: {reasons[0][:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--jobs", type=int, nargs="+", default=[DEFAULT_JOBS],
                        help=f"one or more --jobs values to time (default {DEFAULT_JOBS}, "
                             "kit grade's default)")
    parser.add_argument("--phases", action="store_true",
                        help="also print where the grader's time went, phase by phase")
    args = parser.parse_args()
    meter = CpuMeter()
    print(f"CPU seconds from {meter.how}; each grading is a course's first (a new secret: "
          "the solutions are checked in full)")
    try:
        kernel = kernel_start(meter)
        print(f"one fresh kernel starts in {kernel[0]:.2f} s wall, {kernel[1]:.2f} s CPU "
              f"(median of 3); {load()}", flush=True)
        with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
            class_dir = Path(tmp) / "submitted"
            for index in range(args.students):
                for name, nb in student_notebooks(index).items():
                    nbs.write_notebook(nb, class_dir / f"student{index:03d}" / name)
            for jobs in args.jobs:
                phases = Phases() if args.phases else None
                wall, cpu = time.perf_counter(), meter.seconds()
                book = grade_class(class_dir, Path(tmp) / f"out-{jobs}", jobs, phases)
                wall, cpu = time.perf_counter() - wall, meter.seconds() - cpu
                report(book, args.students, jobs, wall, cpu, kernel)
                if phases is not None:
                    print("\n".join(phases.table(args.students)), flush=True)
        again = kernel_start(meter)
        print(f"one fresh kernel starts in {again[0]:.2f} s wall, {again[1]:.2f} s CPU "
              f"(again, after grading); {load()}")
    finally:
        meter.close()


if __name__ == "__main__":
    main()
