"""Benchmark of ``kit grade``: a generated class of 50 submissions, every notebook graded.

Run with ``bash scripts/bench.sh`` or ``python bench/bench_grading.py [--students N]
[--jobs N]``.  Each student starts from the released notebooks with the instructor's answers
typed in; some answers are then broken or left unanswered, deterministically by student
number, so the grader does the work a real class gives it (passing, failing and partial test
cells).  Prints seconds per submission and the total; asserts nothing.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kit.grading.trusted import notebooks as nbs  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
        class_dir = Path(tmp) / "submitted"
        for index in range(args.students):
            for name, nb in student_notebooks(index).items():
                nbs.write_notebook(nb, class_dir / f"student{index:03d}" / name)
        started = time.perf_counter()
        book = grade([class_dir], ROOT / "solutions", Path(tmp) / "out",
                     GradingRun(jobs=args.jobs, log=lambda line: print(line, flush=True)))
        total = time.perf_counter() - started
    statuses: dict[str, int] = {}
    for row in book.rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    notebooks = len({row.notebook for row in book.rows})
    print(f"graded {args.students} submissions x {notebooks} notebooks "
          f"({len(book.rows)} test cells) with --jobs {args.jobs}")
    print(f"statuses: {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}")
    print(f"total: {total:.1f} s; per submission: {total / args.students:.2f} s "
          f"(wall clock; {total * args.jobs / args.students:.2f} core-seconds)")
    print(f"every submission graded: {book.complete}")


if __name__ == "__main__":
    main()
