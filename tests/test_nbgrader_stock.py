"""Why a course on nbgrader must set ``OverwriteCells.add_missing_cells`` (README: "Using these
exercises in an nbgrader course"): a stock nbgrader scores a deleted test cell 0.

A module of its own, beside tests/test_nbgrader_parity.py whose course set-up it reuses, so that
pytest-xdist can run it while the parity module grades its class.
"""

from __future__ import annotations

from pathlib import Path

from test_nbgrader_parity import (
    ASSIGNMENT,
    NOTEBOOKS,
    SOLUTIONS,
    class_of,
    nbgrader_points,
    new_course,
    run,
)

from kit.grading.trusted import notebooks as nbs


def test_stock_nbgrader_gives_a_deleted_test_cell_no_points(tmp_path: Path) -> None:
    """Why a course must set ``OverwriteCells.add_missing_cells``: without it nbgrader scores a
    deleted test cell 0, where ``kit grade`` (which runs the source's test cells) gives the
    points the answers earn."""
    name = NOTEBOOKS[0]
    release = new_course(tmp_path, [name], "")[name]
    solution = nbs.read_notebook(SOLUTIONS / name)
    target = tmp_path / "submitted" / "deleted" / ASSIGNMENT
    target.mkdir(parents=True)
    nbs.write_notebook(class_of(release, solution)["deleted"], target / name)
    run(["autograde", ASSIGNMENT], tmp_path)
    points = nbgrader_points(tmp_path, ["deleted"], [name])
    tests = [(nbs.grade_id(c), nbs.points(c)) for c in solution.cells if nbs.is_test(c)]
    assert points[("deleted", tests[0][0])] == 0  # the deleted one
    assert all(points[("deleted", gid)] == most for gid, most in tests[1:])
