"""The student's self-check, ``nbgrader autograde`` and ``kit grade`` give one verdict on the
use of a kit function the notebook forbids (issue 24's follow-up: they used to differ on an
import that nothing uses).

The rule: delegation is *reaching* the kit's implementation.  An answer cell that imports a
forbidden name and never uses it reaches nothing, so it is no delegation in any of the three;
one that calls it is delegation in all three.  nbgrader grades in a copy of the course
tests/test_nbgrader_parity.py grades in (generated once, tests/nbgrader_course.py).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from nbgrader_course import ASSIGNMENT, CONFIG, SOLUTIONS, course_from, nbgrader_points, run
from test_delegation import LEANS_ON_PAGES_FOR, ORDERS, self_check
from test_nbgrader_parity import class_of

from kit.grading.trusted import notebooks as nbs
from kit.grading.trusted.grading import GradingRun, grade

#: Every kit function 01-orders forbids, imported at the top of the get_order answer and never
#: used; the answer itself is the instructor's.
UNUSED_IMPORT = "from kit import get_order, page_align, pages_for\n\n\n"
EXERCISE = "orders-get-order-tests"

#: bubblewrap's isolation is what kit grade grades with (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("sandbox_available")


def test_an_unused_import_is_no_delegation_and_a_call_is_in_all_three(
        tmp_path: Path, nbgrader_generated: Path) -> None:
    release = course_from(nbgrader_generated, tmp_path / "course", CONFIG)[ORDERS]
    full = class_of(release, nbs.read_notebook(SOLUTIONS / ORDERS))["full"]
    students = {}
    for student, change in (("unused-import", None), ("leaning", LEANS_ON_PAGES_FOR)):
        nb = copy.deepcopy(full)
        cell = next(c for c in nb.cells if nbs.grade_id(c) == "orders-get-order")
        cell.source = change or UNUSED_IMPORT + cell.source
        students[student] = nb
        for folder in (tmp_path / "course" / "submitted" / student / ASSIGNMENT,
                       tmp_path / "class" / student):
            nbs.write_notebook(nb, folder / ORDERS)

    # 1. the self-check, in the student's own kernel
    assert self_check(students["unused-import"]).splitlines()[-1].startswith("✔ get_order: all")
    said = self_check(students["leaning"])
    assert "write pages_for yourself" in said and "all" not in said.splitlines()[-1]

    # 2. nbgrader, as a course runs it
    run(["autograde", ASSIGNMENT], tmp_path / "course")
    points = nbgrader_points(tmp_path / "course", list(students), [ORDERS])
    most = next(nbs.points(c) for c in release.cells if nbs.grade_id(c) == EXERCISE)
    assert (points[("unused-import", EXERCISE)], points[("leaning", EXERCISE)]) == (most, 0)

    # 3. kit grade
    book = grade([tmp_path / "class"], SOLUTIONS, tmp_path / "out",
                 GradingRun(jobs=1, notebooks=[ORDERS], log=lambda line: None))
    rows = {r.student: r for r in book.rows if r.exercise == EXERCISE}
    assert (rows["unused-import"].status, rows["unused-import"].points) == ("passed", most)
    assert (rows["leaning"].status, rows["leaning"].points) == ("delegated", 0)
    assert "pages_for" in rows["leaning"].reason
