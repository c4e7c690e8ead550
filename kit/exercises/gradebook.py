"""TRUSTED: the gradebook and the students' feedback, written so that nothing in them can hurt.

Much of what a row says comes from a student: the folder name, the values their functions
returned, the messages their exceptions carried.  Before any of it is written:

* control characters (terminal escape sequences, carriage returns, NUL) are removed;
* a CSV cell that begins with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) gets a
  leading apostrophe, so a spreadsheet shows it as text instead of running it as a formula;
* feedback is Markdown in which a student's text only appears inside a code fence longer than
  any run of backticks in it, and HTML special characters are escaped, so a ``<script>`` or a
  fake "Total: 44 / 44" heading stays visibly the student's text.

Every file is written atomically (a reader sees the old or the new version, never half).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kit.exercises import notebooks as nbs

COLUMNS = ("student", "notebook", "exercise", "points", "max_points", "status", "reason")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Row:
    """One line of the gradebook: one student's result on one exercise."""

    student: str
    notebook: str
    exercise: str
    points: float
    max_points: float
    status: str
    reason: str
    details: list[str] = field(default_factory=list, compare=False)


@dataclass
class Gradebook:
    """Every row of a grading run, and the time it took."""

    rows: list[Row]
    seconds: float

    @property
    def complete(self) -> bool:
        """True when every submission was graded (no grader-error row)."""
        return all(r.status != "grader-error" for r in self.rows)

    def totals(self) -> dict[str, tuple[float, float]]:
        """Student -> (points, max points)."""
        out: dict[str, tuple[float, float]] = {}
        for r in self.rows:
            got, most = out.get(r.student, (0.0, 0.0))
            out[r.student] = (round(got + r.points, 2), most + r.max_points)
        return out


def printable(text: str, limit: int = 2000) -> str:
    """``text`` without control characters (newlines and tabs become spaces), cut at ``limit``."""
    text = "".join(" " if ch in "\n\t" else ch for ch in str(text)
                   if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def csv_cell(value: object) -> object:
    """A value safe in a spreadsheet: text that could start a formula is made plain text."""
    if isinstance(value, str):
        value = printable(value)
        if value.startswith(_FORMULA_START):
            return "'" + value
    return value


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 2)


def write_results(book: Gradebook, out: Path) -> None:
    """Write gradebook.csv, gradebook.json and feedback/<student>.md, each atomically."""
    records = [{k: (_number(v) if k in ("points", "max_points") else printable(v))
                for k, v in asdict(r).items() if k in COLUMNS} for r in book.rows]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in record.items()} for record in records)
    nbs.atomic_write(out / "gradebook.csv", buffer.getvalue())
    nbs.atomic_write(out / "gradebook.json", json.dumps(records, indent=1, ensure_ascii=False)
                     + "\n")
    totals = book.totals()
    for student in sorted(totals):
        rows = [r for r in book.rows if r.student == student]
        if rows[0].status == "invalid-submission":
            continue  # its name is not one a file may carry; the gradebook says why
        nbs.atomic_write(out / "feedback" / f"{student}.md",
                         feedback(student, rows, totals[student]))


def fenced(lines: list[str]) -> list[str]:
    """A code fence around a student's text, longer than any backtick run inside it."""
    clean = [html.escape(printable(line, 400), quote=False) for line in lines]
    longest = max((len(run) for line in clean for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *clean, fence]


def feedback(student: str, rows: list[Row], total: tuple[float, float]) -> str:
    """A student's feedback: every exercise, its points, and what failed with the hint."""
    lines = [f"# Feedback for {html.escape(printable(student, 200))}", "",
             f"Total: **{_number(total[0])} / {_number(total[1])}** points", ""]
    notebook = None
    for r in rows:
        if r.notebook != notebook:
            notebook = r.notebook
            lines += [f"## {html.escape(notebook)}", ""]
        mark = "✔" if r.status == "passed" else "✘"
        lines.append(f"### {mark} {r.exercise}: {_number(r.points)} / {_number(r.max_points)} "
                     f"({r.status})")
        lines.append("")
        if r.reason:
            lines += fenced([r.reason]) + [""]
        if r.details and r.status not in ("passed", "unanswered"):
            lines += fenced(r.details[:60]) + [""]
    return "\n".join(lines)
