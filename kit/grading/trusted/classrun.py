"""TRUSTED: grade a class so that one student never costs the class its grades.

* **Written as each student finishes.**  The gradebook (every file atomically) is rewritten
  each time a student is done, with a ``grader-error`` "not graded" row for every student not
  done yet; a run that dies keeps what it graded and says who is missing.  The half-written
  temporary files a killed run can leave are removed by the next run.
* **A watchdog per student.**  Each exercise has its timeout, but a student's total is watched
  too: past the budget the student's worker is stopped and their remaining exercises are
  ``timeout`` rows; a student whose grading does not come back even then (a stall in the
  grader itself) is written as ``timeout`` and a new thread takes its place, so the class goes
  on.  Grading threads are daemons: a stalled one cannot keep the grader from exiting.
* **The out folder is checked before any grading**: not a file, not inside a class folder or
  the source folder (one line, exit 2); feedback of students no longer in the class is removed
  at the end of a full run.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kit.core.errors import KitError
from kit.grading.trusted.bwrap import Worker, WorkerStopped
from kit.grading.trusted.collection import Submission, is_stray_reason
from kit.grading.trusted.gradebook import (
    Encoded,
    Gradebook,
    Row,
    prune_feedback,
    write_feedback,
    write_gradebook,
)
from kit.grading.trusted.lms import CANVAS_FILE, canvas_csv
from kit.grading.trusted.notebooks import atomic_write
from kit.grading.trusted.phases import NO_PHASES, Phases

#: The reason of a row whose student the run has not graded (yet).
NOT_GRADED = "not graded: the grading run stopped before this student (run kit grade again)"
#: Seconds a student's grading may go on after the watchdog stopped it before it is given up.
GRACE = 10.0


class OutFolderError(KitError):
    """``--out`` cannot hold results: a file, or a folder inside what is being graded."""


def prepare_out(out: Path, submissions: list[Path], source: Path) -> None:
    """Refuse an out folder that cannot be one, and clear what a killed run half-wrote."""
    if out.exists() and not out.is_dir():
        raise OutFolderError(f"--out {out} is a file, not a folder: give a folder for the "
                             "gradebook and feedback")
    where = out.resolve()
    for folder, what in [*((p, "the submissions folder") for p in submissions),
                         (source, "the source folder")]:
        inside = folder.resolve()
        if where == inside or inside in where.parents:
            raise OutFolderError(f"--out {out} lies inside {what} {folder}: results there "
                                 "would be taken for submissions; give a folder outside it")
    for folder in (out, out / "feedback"):
        for leftover in folder.glob(".*.tmp") if folder.is_dir() else []:
            leftover.unlink(missing_ok=True)


@dataclass
class Watch:
    """One student's grading as the watchdog sees it: the worker it may stop, and why it did."""

    cancelled: str = ""
    worker: Worker | None = None

    def cancel(self, reason: str) -> None:
        self.cancelled = reason
        worker = self.worker
        if worker is not None:
            worker.stop(WorkerStopped("timeout", reason))


GradeOne = Callable[[Submission, Watch], list[Row]]
Unfinished = Callable[[Submission, str, str], list[Row]]


class ClassRun:
    """The students of one run, graded ``jobs`` at a time, written as each one is done."""

    def __init__(self, out: Path, students: dict[str, Submission], kept: list[Row],
                 order: dict[str, int], *, regrade: bool, exports: list[str] | None = None,
                 everyone: dict[str, Submission] | None = None,
                 phases: Phases = NO_PHASES) -> None:
        self.out, self.students, self.kept, self.order = out, students, kept, order
        self.phases = phases
        self.regrade, self.exports = regrade, exports or []
        self.everyone = everyone or students  # the whole class, for the exports' identities
        #: Stray files, no students: this run's, and those whose rows a re-grade keeps (which
        #: this run's arguments may not name: ``kit grade class/ann`` after ``kit grade class``)
        self.strays = frozenset(n for n, s in self.everyone.items() if s.stray) | frozenset(
            r.student for r in kept
            if r.status == "invalid-submission" and is_stray_reason(r.reason))
        self.rows: dict[str, list[Row]] = {}
        self.encoded: Encoded = {}  # the rows as the rewrites while grading wrote them
        self.started = time.monotonic()

    def grade(self, grade_one: GradeOne, unfinished: Unfinished, *, jobs: int, budget: float,
              progress: Callable[[int, int, str], None]) -> Gradebook:
        pending = {name: unfinished(s, "grader-error", NOT_GRADED)
                   for name, s in self.students.items()}
        tasks: queue.Queue[str] = queue.Queue()
        for name in self.students:
            tasks.put(name)
        results: queue.Queue[tuple[str, list[Row]]] = queue.Queue()
        watching: dict[str, tuple[float, Watch]] = {}
        lock = threading.Lock()

        def work() -> None:
            while True:
                try:
                    name = tasks.get_nowait()
                except queue.Empty:
                    return
                watch = Watch()
                with lock:
                    watching[name] = (time.monotonic(), watch)
                results.put((name, grade_one(self.students[name], watch)))

        def start_thread() -> None:
            threading.Thread(target=work, daemon=True, name="kit-grade").start()

        for _ in range(min(jobs, len(self.students))):
            start_thread()
        reason = f"the student's grading took longer than its budget of {budget:g} s: stopped"
        try:
            while len(self.rows) < len(self.students):
                try:
                    name, rows = results.get(timeout=0.25)
                except queue.Empty:
                    now = time.monotonic()
                    with lock:
                        late = [(n, t, w) for n, (t, w) in watching.items() if n not in self.rows]
                    for name, began, watch in late:
                        if not watch.cancelled and now - began > budget:
                            watch.cancel(reason)
                        elif watch.cancelled and now - began > budget + GRACE:
                            # Stalled in the grader itself: give it up, and keep the class going.
                            self._done(name, unfinished(self.students[name], "timeout", reason),
                                       pending, progress)
                            start_thread()
                    continue
                if name not in self.rows:  # a student given up on may still come back: too late
                    self._done(name, rows, pending, progress)
        finally:  # stopped early too (Ctrl-C): no thread takes another student
            while not tasks.empty():
                tasks.get_nowait()
        book = self._book({})
        write_gradebook(book, self.out)
        if "canvas" in self.exports:
            atomic_write(self.out / CANVAS_FILE, canvas_csv(book, self.everyone))
        if not self.regrade:
            prune_feedback(self.out, {r.student for r in book.rows})
        return book

    def _done(self, name: str, rows: list[Row], pending: dict[str, list[Row]],
              progress: Callable[[int, int, str], None]) -> None:
        self.rows[name] = rows
        with self.phases("grader: gradebook and feedback writes"):
            write_gradebook(self._book(pending), self.out, self.encoded)
            write_feedback(self.out, name, rows)
        progress(len(self.rows), len(self.students), name)

    def _book(self, pending: dict[str, list[Row]]) -> Gradebook:
        rows = self.kept + [row for name in self.students
                            for row in self.rows.get(name, pending.get(name, []))]
        rows.sort(key=lambda r: (r.student, self.order.get(r.notebook, len(self.order))))
        notes = {name: note for name, s in self.students.items()
                 if (note := _notes(s, self.rows.get(name, [])))}
        return Gradebook(rows, time.monotonic() - self.started, list(self.students), notes,
                         strays=self.strays)


def _notes(submission: Submission, rows: list[Row]) -> list[str]:
    """What the summary says of a student beyond their rows (the files not read only where a
    notebook was not submitted: a README beside every notebook is no one's concern)."""
    notes = ["not on the roster"] if submission.off_roster else []
    if submission.extra:
        notes.append("extra notebooks, not graded: " + ", ".join(submission.extra))
    if submission.unread and any(row.status == "not-submitted" for row in rows):
        notes.append("other files, not graded: " + ", ".join(submission.unread))
    return notes
