"""TRUSTED: the gradebook in the layout an LMS imports (``kit grade --export canvas``).

Canvas's gradebook import (Grades > Import) reads a CSV whose rules, as its importer applies
them (canvas-lms ``GradebookImporter``, 2024-2025; the Instructure guide "How do I import grades
in the Gradebook?"), are:

* the header starts with the student columns ``Student``, ``ID``, then optionally
  ``SIS User ID`` and ``SIS Login ID``, and ends them with ``Section``;
* a student is found by ``ID`` (Canvas's user id), else by ``SIS User ID``, else by ``SIS Login
  ID``, else by name;
* every other column is an assignment, matched by ``Title (id)`` or by title, and one that
  matches none is **created as a new assignment** -- except the read-only columns whose header
  contains ``Current Score``, ``Final Grade`` and the like, which are ignored;
* a row whose first cell contains ``Points Possible`` gives each assignment its points.

So the file has exactly the five identity columns, from the roster when one is given (else the
folder name as ``Student`` and ``SIS Login ID``), one column per graded notebook named after it
without ``.ipynb`` (name the Canvas assignments so, or rename a column to ``Title (id)``), a
``Points Possible`` row, and no total or percentage column (Canvas would create an assignment
of it).  With a roster, folders not on it are left out (Canvas could not place them): the run
lists them.
"""

from __future__ import annotations

from kit.grading.trusted.collection import ROSTER_IDENTITY, Submission
from kit.grading.trusted.gradebook import Gradebook, _csv, _number

#: The file ``--export canvas`` writes into the out folder.
CANVAS_FILE = "canvas-import.csv"
POINTS_POSSIBLE = "    Points Possible"


def assignment_title(notebook: str) -> str:
    return notebook[: -len(".ipynb")] if notebook.endswith(".ipynb") else notebook


#: The columns Canvas finds a student by; a row without any of them is placed nowhere.
CANVAS_KEYS = ("ID", "SIS User ID", "SIS Login ID")


def canvas_csv(book: Gradebook, students: dict[str, Submission]) -> str:
    """Canvas's gradebook import file for ``book``: one row per student, one column per
    notebook, points as numbers."""
    notebooks = list(dict.fromkeys(r.notebook for r in book.rows))
    titles = {n: assignment_title(n) for n in notebooks}
    points: dict[str, dict[str, float]] = {}
    most: dict[str, float] = {}
    for r in book.rows:
        points.setdefault(r.student, {}).setdefault(r.notebook, 0.0)
        points[r.student][r.notebook] += r.points
        if r.student == book.rows[0].student:
            most[r.notebook] = most.get(r.notebook, 0.0) + r.max_points
    rostered = any(s.roster is not None for s in students.values())
    header = list(ROSTER_IDENTITY) + list(titles.values())
    records: list[dict[str, object]] = [
        {"Student": POINTS_POSSIBLE, **{t: _number(most.get(n, 0.0))
                                        for n, t in titles.items()}}]
    for student in sorted(points):
        submission = students.get(student)
        if student in book.strays:
            continue  # a file where a student's folder belongs: no one to place
        if rostered and (submission is None or submission.roster is None):
            continue  # not on the roster: Canvas could not place the row
        identity = dict(submission.roster) if submission and submission.roster else \
            {"Student": student, "SIS Login ID": student}
        if not identity.get("Student"):
            identity["Student"] = student
        if not any(identity.get(c) for c in CANVAS_KEYS):  # a roster of folders only: the
            identity["SIS Login ID"] = student  # folder is the login, as without a roster
        record: dict[str, object] = {c: identity.get(c, "") for c in ROSTER_IDENTITY}
        record.update({t: _number(round(points[student].get(n, 0.0), 2))
                       for n, t in titles.items()})
        records.append(record)
    return _csv(header, records)
