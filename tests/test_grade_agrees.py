"""An honest submission scores the same in the notebook's own checks and in ``kit grade``.

The notebook runs the test cells in the student's kernel with the student's functions; the
grader runs them in its own process with the functions in a sandbox, their results carried as
plain data and their zone calls replayed.  Both must give every exercise the same points, for
right answers and for partly wrong ones (run here with the hidden tests in and the grader's
per-student seeds, so both see the same cases).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from kit.grading.boundary import checks
from kit.grading.trusted import grading
from kit.grading.trusted import notebooks as nbs
from kit.grading.trusted.bwrap import Limits, SandboxUnavailable, open_sandbox
from kit.grading.trusted.grading import GradingRun, load_source, rebuild

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"

#: Answers that are partly wrong, the way students get them wrong.
WRONG = {
    "orders-get-order": "def my_get_order(size, page_size=4096):\n"
                        "    return ((size - 1) >> 12).bit_length() if size else 0\n",
    "waste-exact": "def waste_exact(size):\n    return kit.page_align(size) - size\n\n\n"
                   "def pages_returned(size):\n    return 0\n",
    "buddy-split": "def expand(pfn, low, high):\n    return [(pfn + (1 << o), o) "
                   "for o in range(low, high)]\n",
    "buddy-merge": "def merge(pfn, order, free_blocks, max_order):\n    return pfn, order, []\n",
    "exact-make": "def my_make_alloc_exact(zone, addr, order, size):\n    return addr\n",
    "exact-free": "def my_free_pages_exact(zone, addr, size):\n"
                  "    zone.free_pages(addr, 0)\n",
    "frag-unusable": "def my_unusable_index(nr_free, order):\n"
                     "    free = sum(nr_free)\n    usable = sum(nr_free[order:])\n"
                     "    return (free - usable) * 1000 // free if free else 1000\n",
    # the block's own buddy instead of the buddy one order up
    "place-tail": "def goes_to_tail(pfn, order, free_blocks, max_order, preset):\n"
                  "    return (pfn ^ (1 << order), order) in free_blocks\n",
    # a drain takes the newest pages (the head) instead of the oldest (the tail)
    "place-pcp-run": "def run_with_pcp(zone, ops, batch, high):\n"
                     "    pcp, handed = [], []\n"
                     "    for op in ops:\n"
                     "        if op == 'alloc':\n"
                     "            if not pcp:\n"
                     "                pages = [zone.alloc_pages(0) for _ in range(batch)]\n"
                     "                pcp = [page.pfn for page in pages if page]\n"
                     "            handed.append(pcp.pop(0) if pcp else None)\n"
                     "        elif handed[op] is not None:\n"
                     "            pcp.insert(0, handed[op])\n"
                     "            if len(pcp) >= high:\n"
                     "                for pfn in pcp[:batch]:\n"
                     "                    zone.free_pages(zone.pfn_to_virt(pfn), 0)\n"
                     "                pcp = pcp[batch:]\n"
                     "    return handed, pcp\n",
    # true division and pages instead of blocks in the divisor
    "kernel-fragindex": "def my_fragmentation_index(nr_free, order):\n"
                        "    pages = sum(c << o for o, c in enumerate(nr_free))\n"
                        "    if not pages:\n        return 0\n"
                        "    if any(nr_free[order:]):\n        return -1000\n"
                        "    return int(1000 - (1000 + pages * 1000 / (1 << order)) / pages)\n"
                        "\n\ndef failure_cause(nr_free, order):\n"
                        "    return 'succeeds' if any(nr_free[order:]) else 'fragmentation'\n",
}


def student_notebook(name: str, wrong: bool) -> object:
    answers = {nbs.grade_id(c): c.source for c in nbs.read_notebook(SOLUTIONS / name).cells
               if nbs.is_answer(c)}
    nb = copy.deepcopy(nbs.read_notebook(EXERCISES / name))
    for cell in nb.cells:
        gid = nbs.grade_id(cell)
        if nbs.is_answer(cell):
            body = answers[gid].replace(nbs.BEGIN_SOLUTION, "").replace(nbs.END_SOLUTION, "")
            cell.source = WRONG[gid] if wrong and gid in WRONG else body
    return nb


def points_in_the_notebook(source: grading.Source, student: str, name: str,
                           nb: object, cases: grading.HiddenCases) -> dict[str, float]:
    """Run setup, answers and test cells in this process, as a kernel would."""
    rebuilt = rebuild(source, name, nb)
    grader = grading.NotebookGrader(source, student, name, rebuilt, open_sandbox(), Limits(),
                                    cases)
    exercises = {e.grade_id: e for e in source.exercises[name]}
    namespace: dict[str, object] = {"__name__": "__main__"}
    points = {}
    for step in rebuilt.steps:
        if step.kind != "test":
            exec(step.source, namespace)
            continue
        exercise = exercises[step.grade_id]
        report = grading.ExerciseRun(grader._seeder(exercise))
        namespace[grading.HIDDEN_MARKER[:-2]] = report.mark_hidden
        token = checks.reporter.set(report)
        try:
            exec(step.source, namespace)
        finally:
            checks.reporter.reset(token)
        # the visible checks earn checks.VISIBLE_SHARE of the points, the hidden ones the rest
        hidden = report.hidden_passed / report.hidden_total if report.hidden_total else 0.0
        seen = report.total - report.hidden_total
        visible = (report.passed - report.hidden_passed) / seen if seen else 0.0
        share = checks.VISIBLE_SHARE * visible + (1 - checks.VISIBLE_SHARE) * hidden
        if report.passed == report.total:
            share = 1.0
        if report.unanswered or report.error or (share < 1 and not exercise.partial):
            share = 0.0
        points[step.grade_id] = round(exercise.points * share, 2)
    return points


@pytest.mark.parametrize("wrong", [False, True], ids=["right", "partly-wrong"])
def test_the_notebook_and_the_grader_give_the_same_points(tmp_path: Path, wrong: bool) -> None:
    try:
        open_sandbox()
    except SandboxUnavailable as exc:
        pytest.skip(f"no sandbox on this machine: {exc}")
    source = load_source(SOLUTIONS)
    student = "partly-wrong" if wrong else "right"
    expected = {}
    secret = tmp_path / "secret.key"
    cases = grading.HiddenCases(grading.load_secret(secret))
    for name in source.notebooks:
        nb = student_notebook(name, wrong)
        nbs.write_notebook(nb, tmp_path / "class" / student / name)
        expected.update(points_in_the_notebook(source, student, name, nb, cases))
    book = grading.grade([tmp_path / "class"], SOLUTIONS, tmp_path / "out",
                         GradingRun(jobs=2, secret=secret))
    graded = {row.exercise: row.points for row in book.rows}
    assert graded == expected
    assert len(graded) == sum(len(e) for e in source.exercises.values())
    if wrong:  # the wrong answers really lose points, some of them partly
        assert sum(graded.values()) < sum(r.max_points for r in book.rows)
        assert any(0 < row.points < row.max_points for row in book.rows)
        # the block-counting answer is told its mistake, not a tip about division
        feedback = (tmp_path / "out" / "feedback" / f"{student}.md").read_text()
        assert "likely mistake: counted free blocks, not free pages" in feedback
        assert "likely mistake: assumed 4 KiB pages" in feedback  # get_order's 16 KiB pages
        assert "likely mistake: listed the halves smallest first" in feedback  # expand
        assert "likely mistake: kept the whole block" in feedback  # make_alloc_exact
        assert "likely mistake: freed only the first page" in feedback  # free_pages_exact
    else:
        assert all(row.points == row.max_points for row in book.rows)
