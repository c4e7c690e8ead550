"""TRUSTED: the gradebook and the students' feedback, written so that nothing in them can hurt.

Much of what a row says comes from a student: the folder name, the values their functions
returned, the messages their exceptions carried.  Before any of it is written:

* control characters (terminal escape sequences, carriage returns, NUL) are removed;
* a CSV cell that begins with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) gets a
  leading apostrophe, so a spreadsheet shows it as text instead of running it as a formula;
* feedback is Markdown in which a student's text only appears inside a code fence longer than
  any run of backticks in it, and whatever could start an HTML tag is escaped, so a
  ``<script>`` or a fake "Total: 44 / 44" heading stays visibly the student's text (and a
  hint's ``<<`` reads as written); the student's name in a
  heading has every Markdown mark escaped, so a folder named ``[x](javascript:...)`` is text,
  not a link.

Every file is written atomically (a reader sees the old or the new version, never half).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from kit.grading.trusted import notebooks as nbs

COLUMNS = ("student", "notebook", "exercise", "points", "max_points", "status", "reason")
#: Statuses of rows whose tests did not run to a verdict: an instructor should look at them.
ATTENTION = frozenset({"not-submitted", "invalid-notebook", "invalid-submission", "timeout",
                       "memory-limit", "output-limit", "crashed", "delegated", "grader-error"})
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
    graded: list[str] = field(default_factory=list)  # the students this run graded
    notes: dict[str, list[str]] = field(default_factory=dict)  # student -> what was noticed
    #: Files where a student's folder belongs (:attr:`Submission.stray`): their rows say so
    #: in the gradebook, and they are no student of the summary or the LMS exports
    strays: frozenset[str] = frozenset()
    #: The answers ran as plain processes (``--sandbox none`` where bubblewrap cannot run):
    #: what the run's last words warn of, not the flag, which only allows it.
    unsandboxed: bool = False

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

    def attention(self) -> dict[str, list[str]]:
        """Student -> why some of their exercises were not graded by running the tests.

        A row that was not run (not submitted, not a notebook, a limit, a crash, delegation, a
        grader fault) or whose locked cells were tampered with needs an instructor's look.
        """
        out: dict[str, list[str]] = {}
        for r in self.rows:
            if r.status in ATTENTION or r.reason.startswith("tampering:"):
                why = "tampering" if r.status not in ATTENTION else r.status
                if why not in out.setdefault(r.student, []):
                    out[r.student].append(why)
        return out


def printable(text: str, limit: int = 2000) -> str:
    """``text`` without control characters (newlines and tabs become spaces), cut at ``limit``.

    Text that ``str.isprintable`` passes has none (it fails every character of category C,
    and a few more, which take the long way): most does, and it is checked at C speed
    (the gradebook and each student's feedback write every reason and checked line).
    """
    text = str(text)
    if not text.isprintable():
        text = "".join(" " if ch in "\n\t" else ch for ch in text
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


Encoded = dict[int, tuple[Row, str, str]]
"""A grading run's rows as written: id(row) -> (the row, its CSV line, its JSON text)."""


def write_gradebook(book: Gradebook, out: Path, encoded: Encoded | None = None) -> None:
    """Write ``gradebook.csv``, ``gradebook.json`` and ``grades-by-student.csv``, atomically.

    ``encoded``, a run's own dict kept across its rewrites, remembers each row's CSV line and
    JSON text: a class run rewrites the gradebook as each student finishes, every row each
    time, which encoded afresh grew with the square of the class (0.018 CPU-s a student for a
    class of 20, 0.083 for 100); a row no longer changes once it is written.
    """
    lines, texts = [], []
    for row in book.rows:
        known = encoded.get(id(row)) if encoded is not None else None
        if known is None or known[0] is not row:
            record = _record(row)
            item = json.dumps(record, indent=1, ensure_ascii=False).replace("\n", "\n ")
            known = (row, _csv(COLUMNS, [record], header=False), f" {item}")
            if encoded is not None:
                encoded[id(row)] = known  # the row kept with it: its id stays its own
        lines.append(known[1])
        texts.append(known[2])
    nbs.atomic_write(out / "gradebook.csv", _csv(COLUMNS, []) + "".join(lines))
    # json.dumps(records, indent=1) to the byte: one record a line block, one space further in
    nbs.atomic_write(out / "gradebook.json",
                     ("[\n" + ",\n".join(texts) + "\n]" if texts else "[]") + "\n")
    nbs.atomic_write(out / "grades-by-student.csv", by_student_csv(book))


def _record(row: Row) -> dict[str, object]:
    """A row's columns as the gradebook files hold them, read straight from the row (not a
    deep copy of it with its feedback lines: the gradebook is rewritten as each student
    finishes, every row each time)."""
    values = {k: getattr(row, k) for k in COLUMNS}
    return {k: _number(v) if k in ("points", "max_points") else _printable_column(str(v))
            for k, v in values.items()}


@lru_cache(maxsize=1 << 14)
def _printable_column(text: str) -> str:
    """:func:`printable` of a column's text, remembered: the same names and reasons are
    written again at every rewrite of the gradebook."""
    return printable(text)


def write_feedback(out: Path, student: str, rows: list[Row]) -> None:
    """Write one student's feedback (Markdown and HTML), atomically.

    An invalid folder name is not one a file may carry: the gradebook says why, no file.
    """
    if not rows or rows[0].status == "invalid-submission":
        return
    got = round(sum(r.points for r in rows), 2)
    total = (got, sum(r.max_points for r in rows))
    nbs.atomic_write(out / "feedback" / f"{student}.md", feedback(student, rows, total))
    nbs.atomic_write(out / "feedback" / f"{student}.html", feedback_html(student, rows, total))


def prune_feedback(out: Path, students: set[str]) -> None:
    """Remove the feedback of students no longer in the class (an earlier run's)."""
    folder = out / "feedback"
    for path in folder.iterdir() if folder.is_dir() else []:
        if path.suffix in (".md", ".html") and path.stem not in students:
            path.unlink()


def write_results(book: Gradebook, out: Path, students: set[str] | None = None) -> None:
    """Write the gradebook files and each student's feedback, every file atomically.

    ``students``, when given, limits the feedback written to those students (a re-grade): the
    other students' feedback files are left as they were.
    """
    write_gradebook(book, out)
    for student in sorted(book.totals()):
        if students is None or student in students:
            write_feedback(out, student, [r for r in book.rows if r.student == student])


def _csv(columns: tuple[str, ...] | list[str], records: Sequence[Mapping[str, object]],
         header: bool = True) -> str:
    """CSV text of the records, with the columns' header line unless ``header`` is False.

    The header's cells are made safe like every other (:func:`csv_cell`): the notebooks'
    file names are columns of the per-student files, and a name is not always printable
    UTF-8 (a file name with bytes that are not UTF-8 reads as lone surrogates, which no UTF-8
    file can hold) nor free of a formula's first character.  The records keep the names as
    keys, so two names that print alike stay two columns.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    if header:
        csv.writer(buffer, lineterminator="\n").writerow([csv_cell(c) for c in columns])
    writer.writerows({k: csv_cell(v) for k, v in record.items()} for record in records)
    return buffer.getvalue()


def by_student_csv(book: Gradebook) -> str:
    """One row per student: points per notebook, total, maximum and percentage.

    The shape LMS gradebook imports take (Moodle, Canvas, Blackboard): an identifier column
    (``student``, the folder name) and one number per graded item; map ``total`` or
    ``percent`` to the course's grade item when importing.
    """
    notebooks = list(dict.fromkeys(r.notebook for r in book.rows))
    table: dict[str, dict[str, float]] = {}
    for r in book.rows:
        table.setdefault(r.student, {}).setdefault(r.notebook, 0.0)
        table[r.student][r.notebook] += r.points
    records = []
    for student, (got, most) in sorted(book.totals().items()):
        if student in book.strays:
            continue  # no student: an LMS would take the row for an account
        record: dict[str, object] = {"student": student}
        record.update({n: _number(round(table[student].get(n, 0.0), 2)) for n in notebooks})
        record.update(total=_number(got), max_points=_number(most),
                      percent=round(100 * got / most, 2) if most else 0)
        records.append(record)
    return _csv(["student", *notebooks, "total", "max_points", "percent"], records)


#: What could begin an HTML tag, comment or declaration, up to its end if it has one.
_TAG_LIKE = re.compile(r"<[A-Za-z/!?][^<>]*>?")


def fenced(lines: list[str]) -> list[str]:
    """A code fence around a student's text, longer than any backtick run inside it.

    A fence shows its text as it is, so the text is written as it is (``PAGE_SIZE << n >=
    size``, not ``&lt;&lt;``), except what could start an HTML tag, escaped for a renderer that
    knows no fences: no ``<`` followed by a letter, ``/``, ``!`` or ``?`` is left."""
    clean = [_TAG_LIKE.sub(lambda tag: html.escape(tag.group(), quote=False),
                           printable(line, 400)) for line in lines]
    longest = max((len(run) for line in clean for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *clean, fence]


_MARKDOWN_MARKS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>:])")


def markdown_text(text: str, limit: int = 200) -> str:
    """Text that Markdown shows as it is: HTML escaped, every Markdown mark backslashed (no
    link, no emphasis, no heading), and ``:`` too, so no autolink (``javascript:``) forms."""
    return _MARKDOWN_MARKS.sub(r"\\\1", html.escape(printable(text, limit), quote=False))


def _heading(r: Row) -> str:
    mark = "✔" if r.status == "passed" else "✘"
    return f"{mark} {r.exercise}: {_number(r.points)} / {_number(r.max_points)} ({r.status})"


def feedback(student: str, rows: list[Row], total: tuple[float, float]) -> str:
    """A student's feedback in Markdown: every exercise, its points, what was checked."""
    lines = [f"# Feedback for {markdown_text(student)}", "",
             f"Total: **{_number(total[0])} / {_number(total[1])}** points", ""]
    notebook = None
    for r in rows:
        if r.notebook != notebook:
            notebook = r.notebook
            lines += [f"## {markdown_text(notebook)}", ""]
        lines += [f"### {_heading(r)}", ""]
        if r.reason:
            lines += fenced([r.reason]) + [""]
        if r.details:
            lines += ["What was checked:", ""] + fenced(r.details[:80]) + [""]
    return "\n".join(lines)


_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:52rem;padding:1rem;color:#1a1a1a}
h1{font-size:1.5rem}h2{font-size:1.2rem;border-bottom:1px solid #ccc;margin-top:2rem}
details{border:1px solid #ddd;border-radius:6px;margin:.6rem 0;padding:.4rem .8rem}
summary{cursor:pointer;font-weight:600}.passed summary{color:#1b5e20}
.failed summary,.other summary{color:#b71c1c}.partial summary{color:#8d5a00}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:.6rem;
border-radius:4px;font-size:.9rem}.total{font-size:1.2rem;font-weight:700}
"""


def feedback_html(student: str, rows: list[Row], total: tuple[float, float]) -> str:
    """The same feedback as one self-contained HTML page (no outside request), phone-sized.

    Every student-supplied text is escaped; failed exercises are open, passed ones folded.
    """
    esc = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>Feedback for {esc(printable(student, 200))}</title>",
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>Feedback for {esc(printable(student, 200))}</h1>",
             f'<p class="total">Total: {_number(total[0])} / {_number(total[1])} points</p>']
    notebook = None
    for r in rows:
        if r.notebook != notebook:
            notebook = r.notebook
            parts.append(f"<h2>{esc(notebook)}</h2>")
        kind = r.status if r.status in ("passed", "failed", "partial") else "other"
        opened = "" if r.status == "passed" else " open"
        parts.append(f'<details class="{kind}"{opened}><summary>{esc(_heading(r))}</summary>')
        if r.reason:
            parts.append(f"<p>{esc(printable(r.reason))}</p>")
        if r.details:
            text = "\n".join(printable(line, 400) for line in r.details[:80])
            parts.append(f"<p>What was checked:</p><pre>{esc(text)}</pre>")
        parts.append("</details>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
