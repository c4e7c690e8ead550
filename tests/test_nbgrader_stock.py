"""Why a course on nbgrader must set ``OverwriteCells.add_missing_cells`` (README: "Using these
exercises in an nbgrader course"): a stock nbgrader scores a deleted test cell 0.

It grades in a copy of the course tests/test_nbgrader_parity.py grades in (generated once,
tests/nbgrader_course.py), with a stock configuration.
"""

from __future__ import annotations

from pathlib import Path

from nbgrader_course import ASSIGNMENT, NOTEBOOKS, SOLUTIONS, course_from, nbgrader_points, run
from test_nbgrader_parity import class_of

from kit.grading.trusted import notebooks as nbs


def test_stock_nbgrader_gives_a_deleted_test_cell_no_points(tmp_path: Path,
                                                           nbgrader_generated: Path) -> None:
    """Why a course must set ``OverwriteCells.add_missing_cells``: without it nbgrader scores a
    deleted test cell 0, where ``kit grade`` (which runs the source's test cells) gives the
    points the answers earn.  The student hands in this one notebook (the others score 0
    unrun)."""
    name, course = NOTEBOOKS[0], tmp_path / "course"
    release = course_from(nbgrader_generated, course, "")[name]
    solution = nbs.read_notebook(SOLUTIONS / name)
    target = course / "submitted" / "deleted" / ASSIGNMENT
    target.mkdir(parents=True)
    nbs.write_notebook(class_of(release, solution)["deleted"], target / name)
    run(["autograde", ASSIGNMENT], course)
    points = nbgrader_points(course, ["deleted"], [name])
    tests = [(nbs.grade_id(c), nbs.points(c)) for c in solution.cells if nbs.is_test(c)]
    assert points[("deleted", tests[0][0])] == 0  # the deleted one
    assert all(points[("deleted", gid)] == most for gid, most in tests[1:])
