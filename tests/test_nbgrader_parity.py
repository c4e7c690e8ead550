"""nbgrader grades the course's exercises exactly as ``kit grade`` does (issue 10).

A course on nbgrader takes ``solutions/`` as its source folder.  This test does what such a
course does, offline in a temporary course folder: ``nbgrader generate_assignment`` (with a
stock configuration plus the one setting the README asks for,
``OverwriteCells.add_missing_cells``; generated once for this module and its neighbours that
run nbgrader, tests/nbgrader_course.py), a small class of students working from nbgrader's own
release, ``nbgrader autograde``, then ``kit grade`` on the same notebooks, and it asserts the
same points for every student and exercise.

The class: ``full`` (the instructor's answers), ``empty`` (nbgrader's release untouched: its
stubs raise a bare NotImplementedError), ``partial`` (answers right on some checks only, chosen
so that every hidden seed gives the same tally: nbgrader runs the hidden tests with the
notebook's seeds, ``kit grade`` with the class's seeds from the instructor's secret), ``wrong``
(every function returns None), ``tampered`` (wrong answers, and every test cell replaced by
a ``pass`` that would score full points if it ran: both graders put the instructor's cell
back) and ``deleted`` (right answers, one test cell deleted: nbgrader adds it back only with
``add_missing_cells``, which is why a course must set it, shown by tests/test_nbgrader_stock.py
with a stock configuration; ``kit grade`` always runs the source's test cells).

Every notebook is graded (about 30 s on two cores, a minute beside the rest of the suite, most
of it nbgrader starting a kernel per student and notebook; nbgrader grades half the class in a
copy of the course folder at the same time, so that its kernels use both cores).  ``partial``
has answers right on some checks of each exercise in ``01-orders``; in the other notebooks its
first answer cell is right and the others wrong.
"""

from __future__ import annotations

import copy
import csv
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from nbgrader_course import (
    ASSIGNMENT,
    CONFIG,
    NOTEBOOKS,
    SOLUTIONS,
    course_from,
    nbgrader_points,
    run,
)

from kit.cli import main
from kit.grading.boundary import checks
from kit.grading.trusted import notebooks as nbs

#: Right for 4096-byte pages only: the hidden check with 16 KiB and 64 KiB pages fails, the
#: other 9 of 10 checks pass whatever the seed.
PARTIAL_GET_ORDER = '''def my_get_order(size, page_size=4096):
    if size == 0:
        return 52
    return ((size - 1) >> 12).bit_length()
'''
#: pages_for right (5 visible checks + its hidden one); page_align returns size unchanged, which
#: is right for 0, 4096 and 135168 only: 9 of 12 checks.
PARTIAL_PAGES = '''def my_pages_for(size):
    return (size + 4095) // 4096


def my_page_align(size):
    return size
'''
#: Ignores size 0 and max_order: right on 4 of the 6 checks.
PARTIAL_FITS = '''def fits_one_block(size, max_order=10):
    return size <= 4 << 20
'''
#: The students of the two course folders nbgrader autogrades at once; the tests that look into
#: a course folder read the first.
HALVES = (("full", "empty", "partial"), ("wrong", "tampered", "deleted"))
PARTIAL = {"orders-get-order": PARTIAL_GET_ORDER, "orders-pages": PARTIAL_PAGES,
           "orders-fits": PARTIAL_FITS}
#: What those answers earn, by the rule both graders apply (the visible checks' pass rate earns
#: checks.VISIBLE_SHARE of the points, the hidden checks' the rest): (passed, run) visible and
#: hidden.  get_order: 8 of 8 visible, 1 of 2 hidden; pages: 8 of 10 visible (page_align right
#: for 0, 4096 and 135168), 1 of 2 hidden; fits: 3 of 4 visible (size 0), 1 of 2 hidden.
PARTIAL_POINTS = {"orders-get-order-tests": checks.partial_points(3, (8, 8), (1, 2)),
                  "orders-pages-tests": checks.partial_points(2, (8, 10), (1, 2)),
                  "orders-fits-tests": checks.partial_points(2, (3, 4), (1, 2))}


def without_markers(source: str) -> str:
    """The instructor's answer as a student would type it: the solution markers removed."""
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in (nbs.BEGIN_SOLUTION, nbs.END_SOLUTION))


def returning_none(source: str) -> str:
    """A wrong answer with the same functions: every solution region becomes ``return None``."""
    out, inside = [], False
    for line in source.splitlines():
        if line.strip() == nbs.BEGIN_SOLUTION:
            inside = True
            out.append(line.replace(nbs.BEGIN_SOLUTION, "return None"))
        elif line.strip() == nbs.END_SOLUTION:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def class_of(release: object, solution: object) -> dict[str, object]:
    """Each student's notebook, made from nbgrader's release of the notebook."""
    answers = {nbs.grade_id(c): c.source for c in solution.cells if nbs.is_answer(c)}
    first_test = next(nbs.grade_id(c) for c in solution.cells if nbs.is_test(c))

    def student(typed: dict[str, str], *, test_cell: str | None = None,
                drop: str | None = None) -> object:
        nb = copy.deepcopy(release)
        for cell in nb.cells:
            gid = nbs.grade_id(cell)
            if gid in typed:
                cell.source = typed[gid]
            elif test_cell is not None and nbs.is_test(cell):
                cell.source = test_cell
        nb.cells = [c for c in nb.cells if nbs.grade_id(c) != drop]
        return nb

    full = {gid: without_markers(source) for gid, source in answers.items()}
    wrong = {gid: returning_none(source) for gid, source in answers.items()}
    partial = PARTIAL if set(PARTIAL) <= set(answers) else \
        {gid: (full if index == 0 else wrong)[gid] for index, gid in enumerate(answers)}
    return {
        "full": student(full),
        "empty": student({}),
        "partial": student(partial),
        "wrong": student(wrong),
        "tampered": student(wrong, test_cell="pass"),
        "deleted": student(full, drop=first_test),
    }


def kit_points(folder: Path, source: Path, out: Path) -> dict[tuple[str, str], float]:
    main(["grade", str(folder), "--source", str(source), "--out", str(out), "--jobs", "2"])
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        return {(row["student"], row["exercise"]): float(row["points"])
                for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory,
           nbgrader_generated: Path) -> dict[str, object]:
    """The class graded both ways, and nbgrader's release."""
    base = tmp_path_factory.mktemp("nbgrader-course")
    source = base / "source"
    source.mkdir()
    for name in NOTEBOOKS:
        shutil.copy(SOLUTIONS / name, source / name)
    courses = (base / "course", base / "course-2")
    releases = course_from(nbgrader_generated, courses[0], CONFIG)
    course_from(nbgrader_generated, courses[1], CONFIG)
    assert sorted(releases) == NOTEBOOKS
    for name in NOTEBOOKS:
        students = class_of(releases[name], nbs.read_notebook(SOLUTIONS / name))
        assert sorted(students) == sorted(HALVES[0] + HALVES[1])
        for student, nb in students.items():
            home = courses[0] if student in HALVES[0] else courses[1]
            for target in (home / "submitted" / student / ASSIGNMENT, base / "class" / student):
                target.mkdir(parents=True, exist_ok=True)
                nbs.write_notebook(nb, target / name)
    # The two graders share nothing: kit grade runs while nbgrader autogrades both halves.
    with ThreadPoolExecutor(3) as pool:
        kit = pool.submit(kit_points, base / "class", source, base / "out")
        for done in [pool.submit(run, ["autograde", ASSIGNMENT], c) for c in courses]:
            done.result()
        kit_result = kit.result()
    return {
        "releases": releases,
        "nbgrader": {key: points for folder, half in zip(courses, HALVES, strict=True)
                     for key, points in nbgrader_points(folder, list(half)).items()},
        "kit": kit_result,
        "course": courses[0],
    }


def test_nbgrader_and_kit_grade_give_the_same_points(graded: dict[str, object]) -> None:
    assert graded["nbgrader"] == graded["kit"]


def test_the_points_are_the_ones_each_student_earned(graded: dict[str, object]) -> None:
    points = graded["nbgrader"]
    for name in NOTEBOOKS:
        solution = nbs.read_notebook(SOLUTIONS / name)
        most = {nbs.grade_id(c): nbs.points(c) for c in solution.cells if nbs.is_test(c)}
        for index, (gid, maximum) in enumerate(most.items()):
            assert points[("full", gid)] == maximum
            assert points[("deleted", gid)] == maximum  # re-added by add_missing_cells, and run
            assert points[("empty", gid)] == 0  # the stub raises: not a pass, as it was before
            assert points[("wrong", gid)] == 0
            assert points[("tampered", gid)] == 0  # the instructor's test cell put back
            earned = PARTIAL_POINTS.get(gid, maximum if index == 0 else 0.0)
            assert points[("partial", gid)] == earned, gid
            assert gid not in PARTIAL_POINTS or 0 < earned < maximum  # really a share


def test_nbgrader_stubs_keep_the_hints(graded: dict[str, object]) -> None:
    for name in NOTEBOOKS:
        assert_hints_kept(nbs.read_notebook(SOLUTIONS / name), graded["releases"][name])


def assert_hints_kept(solution: object, release: object) -> None:
    released = {nbs.grade_id(c): c.source for c in release.cells}
    for cell in solution.cells:
        if nbs.is_answer(cell):
            hints = [ln for ln in cell.source.splitlines()
                     if ln.strip().startswith(nbs.HINT_PREFIX)]
            stub = released[nbs.grade_id(cell)]
            assert hints and all(hint in stub for hint in hints)
            assert nbs.BEGIN_SOLUTION not in stub and "raise NotImplementedError()" in stub


def test_partial_credit_reaches_nbgrader_as_the_cells_result(graded: dict[str, object]) -> None:
    nb = nbs.read_notebook(graded["course"] / "autograded" / "partial" / ASSIGNMENT / NOTEBOOKS[0])
    results = {nbs.grade_id(c): [o for o in c.outputs if o.output_type == "execute_result"]
               for c in nb.cells if nbs.is_test(c)}
    for gid, outputs in results.items():
        assert [o.data["text/plain"] for o in outputs] == [repr(PARTIAL_POINTS[gid])]


def test_nbgrader_validate_fails_an_unanswered_notebook(graded: dict[str, object]) -> None:
    """A student's Validate (``NBGRADER_EXECUTION=validate``) says what autograde will give.

    Both notebooks are validated by one nbgrader run (an nbgrader start is ~2 CPU-s), the full
    one first: it prints its one success line, then the empty one's report follows."""
    folder = Path(ASSIGNMENT) / NOTEBOOKS[0]
    said = run(["validate", *(str("submitted" / Path(student) / folder)
                              for student in ("full", "empty"))], graded["course"])
    success = "Success! Your notebook passes all the tests.\n"
    assert said.startswith(success)
    empty = said[len(success):]
    tests = [c for c in nbs.read_notebook(SOLUTIONS / NOTEBOOKS[0]).cells if nbs.is_test(c)]
    assert f"VALIDATION FAILED ON {len(tests)} CELL(S)" in empty and "not yet answered" in empty
    assert "Success!" not in empty
