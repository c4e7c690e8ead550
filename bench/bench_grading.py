"""Benchmark of ``kit grade``: a generated class of 50 submissions, every notebook graded.

Run with ``bash scripts/bench.sh`` or ``python bench/bench_grading.py [--students N]
[--jobs N ...]``.  Each student starts from the released notebooks with the instructor's
answers typed in; some answers are then broken or left unanswered, deterministically by student
number, so the grader does the work a real class gives it (passing, failing and partial test
cells).  Prints seconds per submission for each ``--jobs`` asked, students a minute, and beside
them the start of one fresh Jupyter kernel measured in the same run (what grading a submission
in a kernel of its own, nbgrader's way, costs before any cell runs): the goal is a submission
graded in at most the time one kernel takes to start.  Asserts nothing.
"""

from __future__ import annotations

import argparse
import copy
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


def kernel_start_seconds(times: int = 3) -> float:
    """The median time from starting a fresh python3 kernel to its first reply."""
    from jupyter_client.manager import start_new_kernel

    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        manager, client = start_new_kernel(kernel_name="python3")
        seconds.append(time.perf_counter() - started)
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return statistics.median(seconds)


def grade_class(class_dir: Path, out: Path, jobs: int) -> tuple[float, Gradebook]:
    started = time.perf_counter()
    book = grade([class_dir], ROOT / "solutions", out,
                 GradingRun(jobs=jobs, log=lambda line: print(line, flush=True)))
    return time.perf_counter() - started, book


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--jobs", type=int, nargs="+", default=[DEFAULT_JOBS],
                        help=f"one or more --jobs values to time (default {DEFAULT_JOBS}, "
                             "kit grade's default)")
    args = parser.parse_args()
    kernel = kernel_start_seconds()
    print(f"one fresh kernel starts in {kernel:.2f} s (median of 3)", flush=True)
    with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
        class_dir = Path(tmp) / "submitted"
        for index in range(args.students):
            for name, nb in student_notebooks(index).items():
                nbs.write_notebook(nb, class_dir / f"student{index:03d}" / name)
        for jobs in args.jobs:
            total, book = grade_class(class_dir, Path(tmp) / f"out-{jobs}", jobs)
            statuses: dict[str, int] = {}
            for row in book.rows:
                statuses[row.status] = statuses.get(row.status, 0) + 1
            per = total / args.students
            print(f"--jobs {jobs}: {args.students} submissions x "
                  f"{len({row.notebook for row in book.rows})} notebooks "
                  f"({len(book.rows)} test cells) in {total:.1f} s: "
                  f"{per:.2f} s per submission = {per / kernel:.2f}x one kernel's start; "
                  f"{60 * args.students / total:.1f} students a minute")
            print(f"  statuses: {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}; "
                  f"every submission graded: {book.complete}", flush=True)
    print(f"one fresh kernel starts in {kernel_start_seconds():.2f} s (again, after grading)")


if __name__ == "__main__":
    main()
