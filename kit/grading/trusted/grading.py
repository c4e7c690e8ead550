"""TRUSTED: ``kit grade`` -- grade a class of submitted notebooks against the instructor's source.

The trust boundary, and why it is where it is:

* **Student code runs only in a sandboxed worker** (:mod:`kit.grading.trusted.bwrap`, bubblewrap),
  one sandbox per student, each of their notebooks in a fresh process of its own.  The worker
  receives the set-up cells and the student's answer cells, nothing else: not the test cells,
  not the hidden tests, not the solutions.
* **Test cells run here, in the grader's process**, with the kit untouched.  The names the
  answer cells define are :class:`~kit.grading.trusted.remote.RemoteFunction` proxies: a check calls
  the student's function in the worker and gets back plain data only.  Expected values, the
  per-student hidden cases and every verdict are computed here; nothing the student's code can
  print, write or patch reaches them.  A zone the student's code changed is replayed here.
* **The verdict is the grader's alone**: points come from the Checks records of this process,
  clamped to ``[0, points]``; limits are enforced from outside and reported in words.

How a submission is graded:

* **Rebuilt from the source.**  Only the student's *answer* cells (by nbgrader ``grade_id``)
  are taken from the submission; set-up and test cells come from the source.  A locked cell
  that differs from the released one is reported as tampering (graded with the original).
* **Delegation is refused.**  A test cell's ``Checks(..., forbid=(...))`` names the kit
  functions the exercise asks the student to write; an answer whose graded function names
  one (itself, or through the student's own helpers) scores 0 ("delegated"), and the worker
  refuses a call to one at run time.
* **The same work gets the same grade.**  ``t.seed(n)`` is one seed per exercise for the whole
  class, derived from the instructor's secret (:func:`load_secret`: a random key kept in a file
  beside the gradebook, or given with ``--secret``), never from anything a student has or the
  sandbox can read; byte-identical notebooks get the same hidden cases and the same points.
  ``per_student_cases`` (``--per-student-cases``) adds the student's name, an opt-in.
* **The instructor's mistakes stop the run.**  Each exercise's own solution is checked with
  the class's seeds (:mod:`kit.grading.trusted.reference`) before any student's answer to it
  is graded (:class:`SolutionChecks`, beside the grading); a test it does not pass is that
  exercise's ``grader-error`` for everyone.
* **Nothing vanishes.**  A file that is not a notebook, a folder with a bad name, an endless
  loop, a crash: every exercise gets a row with a status and a reason, and the batch goes on.

Results (``gradebook.csv``, ``gradebook.json``, ``feedback/``) are written by
:mod:`kit.grading.trusted.gradebook` after every worker has been killed, sorted so a re-run writes
the same files.
"""

from __future__ import annotations

import ast
import functools
import gc
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import Any

from kit.core.errors import KitError
from kit.grading.boundary import checks
from kit.grading.trusted import delegation, reference, stubs
from kit.grading.trusted import notebooks as nbs
from kit.grading.trusted.bwrap import (
    DEFAULT_JOBS,
    ExerciseClock,
    Limits,
    Sandbox,
    SandboxSession,
    Worker,
    WorkerStopped,
    open_sandbox,
    sandbox_readable,
)
from kit.grading.trusted.classrun import ClassRun, Watch, prepare_out
from kit.grading.trusted.collection import (
    SourceIds,
    Submission,
    file_problem,
    find_submissions,
    is_student_folder,
    not_submitted,
    read_roster,
)
from kit.grading.trusted.delegation import declared_forbid, used_names
from kit.grading.trusted.gradebook import COLUMNS, Gradebook, Row, printable
from kit.grading.trusted.memo import class_cache, syntax_nodes, syntax_tree
from kit.grading.trusted.phases import NO_PHASES, Phases
from kit.grading.trusted.release import source_notebooks, validate_source
from kit.grading.trusted.remote import (
    PROTOCOL_ERROR,
    AnswerError,
    AnswerNotImplemented,
    CallContext,
    ProtocolViolation,
    RemoteFunction,
    read_reply,
)

#: Row statuses, for the gradebook's readers.
STATUSES = (
    "passed",  # every check passed: full points
    "partial",  # some checks passed (test cells marked partial)
    "failed",  # a check failed or the code raised
    "unanswered",  # the function called is still the release stub (read from its source)
    "missing-answer",  # the answer cell is not in the submitted notebook
    "delegated",  # the answer calls the kit function it was asked to write
    "timeout",  # the exercise used up its CPU time or its time by the clock (or the notebook
    # its CPU limit): the grader's own clocks, never how the worker ended
    "memory-limit",  # the sandbox went over its memory cgroup (read there, never in a reply)
    "output-limit",  # the answer printed more than the grader allows
    "crashed",  # the answer process died (a signal, os._exit, a file size limit)
    "not-submitted",  # no notebook of that name in the student's folder
    "invalid-notebook",  # not JSON, not a notebook, a symbolic link, not a regular file
    "invalid-submission",  # the student's folder itself cannot be graded (its name, a link)
    "grader-error",  # the grader could not run the test (not the student's fault)
)
#: The largest notebook file the grader reads.
MAX_NOTEBOOK_BYTES = 20 << 20
#: How much of one check's report a row keeps (lines, characters per line).
MAX_DETAIL_LINES = 20
MAX_DETAIL_CHARS = 1000
#: The name of the grader's marker where a test cell's hidden checks begin.
HIDDEN_MARKER = reference.HIDDEN_MARKER


class GradingError(KitError):
    """The grading run itself cannot start (bad source folder, no submissions...)."""


@dataclass(frozen=True)
class Exercise:
    """One graded test cell, the answer cells before it, and the kit names it forbids."""

    notebook: str
    grade_id: str
    points: float
    partial: bool
    answers: tuple[str, ...]
    forbid: frozenset[str] = frozenset()


@dataclass
class Source:
    """The instructor's notebooks, what each grades, and the locked cells as released."""

    notebooks: dict[str, Any]
    exercises: dict[str, list[Exercise]]
    released_locked: dict[str, dict[str, str]]
    functions: dict[str, list[str]]  # notebook -> the functions its answer cells define
    # notebook -> what its requests refuse (request_forbids), worked out once per run
    forbids: dict[str, tuple[dict[str, frozenset[str]], frozenset[str]]] = field(
        default_factory=dict)
    # notebook -> its release stubs' hints (stubs.stub_hints), worked out once per run
    stub_hints: dict[str, dict[str, str]] = field(default_factory=dict)


def load_source(folder: Path) -> Source:
    """Read and check the instructor's notebooks."""
    notebooks: dict[str, Any] = {}
    exercises: dict[str, list[Exercise]] = {}
    locked: dict[str, dict[str, str]] = {}
    functions: dict[str, list[str]] = {}
    for path in source_notebooks(folder):
        nb = nbs.read_notebook(path)
        validate_source(nb, str(path))
        notebooks[path.name] = nb
        found: list[Exercise] = []
        answers: list[str] = []
        locked[path.name] = {}
        functions[path.name] = []
        for index, cell in enumerate(nb.cells):
            gid = nbs.grade_id(cell)
            where = f"{path} cell {index}"
            if gid and nbs.is_answer(cell):
                answers.append(gid)
                functions[path.name] += defined_functions(cell.source, where)
            elif gid and nbs.is_test(cell):
                found.append(Exercise(path.name, gid, nbs.points(cell), nbs.is_partial(cell),
                                      tuple(answers), declared_forbid(cell.source, where)))
                answers = []
            if gid and nbs.is_locked(cell) and cell.cell_type == "code":
                locked[path.name][gid] = nbs.strip_hidden(cell.source, where)
        exercises[path.name] = found
    return Source(notebooks, exercises, locked, functions)


def defined_functions(source: str, where: str) -> list[str]:
    """The top-level functions an answer cell of the source defines: the student's interface."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise GradingError(f"{where}: the solution does not parse: {exc.msg}") from None
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]


def is_plain_python(source: str) -> bool:
    """Whether a cell parses as Python (else only IPython reads it, or nothing does)."""
    try:
        syntax_tree(source)
    except (SyntaxError, ValueError):
        return False
    return True


def defined_names(source: str) -> set[str]:
    """The functions and classes a cell defines itself (a ``def``, not an assignment, which
    could bind the kit's function under its own name)."""
    try:
        nodes = syntax_nodes(source)
    except SyntaxError:
        return set()
    return {node.name for node in nodes
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


# ------------------------------------------------------------------------------- hidden cases
#: The file beside the gradebook that keeps the instructor's secret behind the hidden cases.
SECRET_FILE = "hidden-cases.key"
#: Random bytes of a new secret (hex-encoded in its file).
SECRET_BYTES = 32


def load_secret(path: Path) -> bytes:
    """The instructor's secret in ``path``; a new random one, readable by its owner only, when
    the file does not exist yet.

    Keep the file (it is what makes a re-grade draw the same hidden cases) and never hand it
    out: with it, and the solutions, anyone can compute the hidden cases.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another run made it first: use theirs
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(SECRET_BYTES) + "\n")
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise GradingError(f"cannot read the hidden-case secret {path}: {exc.strerror}") from None
    if len(secret) < 16:
        raise GradingError(f"the hidden-case secret {path} is empty or shorter than 16 "
                           "characters: delete it to have a new one made, or give another "
                           "with --secret")
    return secret


#: What names the hidden cases OUT's rows were drawn with (see :meth:`HiddenCases.identity`).
CASES_ID_FILE = "hidden-cases.id"


def same_cases(out: Path, secret: Path, per_student: bool, *, keeping: bool) -> HiddenCases:
    """The run's hidden cases, recorded in ``out``; refused when the run keeps rows of other
    students (a re-grade) that were drawn with other cases: a mistyped ``--secret`` (which
    would make a new one), a lost ``OUT/hidden-cases.key``, a changed ``--per-student-cases``.
    """
    recorded_file = out / CASES_ID_FILE
    recorded = recorded_file.read_text(encoding="ascii").strip() \
        if keeping and recorded_file.is_file() else None
    refusal = GradingError(
        f"this re-grade would draw other hidden cases than the rest of the class in {out} was "
        f"graded with (--secret {secret} is not their secret, or --per-student-cases differs): "
        "give the secret and mode they were graded with, or grade the whole class again")
    if recorded is not None and not Path(secret).exists():
        raise refusal  # rather than a new secret made for it
    cases = HiddenCases(load_secret(secret), per_student)
    if recorded is not None and recorded != cases.identity():
        raise refusal
    nbs.atomic_write(recorded_file, cases.identity() + "\n")
    return cases


@dataclass(frozen=True)
class HiddenCases:
    """The seeds of the hidden cases: one per exercise for the class (the default), or one per
    student and exercise (``per_student``)."""

    secret: bytes
    per_student: bool = False

    def identity(self) -> str:
        """Which cases these are, as a name that tells nothing of the secret (an HMAC keyed
        with it): kept in OUT, so a re-grade of some students on other cases than the rest of
        the class is refused."""
        what = b"kit grade hidden cases, " + (b"per student" if self.per_student else b"per class")
        return hmac.new(self.secret, what, "sha256").hexdigest()[:32]

    def seed(self, student: str, notebook: str, grade_id: str, base: int) -> int:
        who = student if self.per_student else ""
        text = f"{who}\0{notebook}\0{grade_id}\0{base}".encode()
        return int.from_bytes(hmac.new(self.secret, text, "sha256").digest()[:6], "big")


# ------------------------------------------------------------------------------------ rebuild
@dataclass
class Step:
    """One cell of a rebuilt notebook: where it runs and what it holds."""

    kind: str  # "setup": both sides; "answer", "added": the worker; "test": the grader
    grade_id: str
    source: str


@dataclass
class Rebuilt:
    """A submission rebuilt from the source, and what was noticed on the way."""

    steps: list[Step]
    missing_answers: set[str]
    tampering: dict[str, str]  # grade_id -> what was done to it
    tests: set[str]  # grade_ids of the test cells
    #: grade_id of a missing answer cell -> the note of the student's cell graded in its place
    retyped: dict[str, str] = field(default_factory=dict)


def rebuild(source: Source, name: str, submitted: Any) -> Rebuilt:
    """The cells to run: the source's, with the student's answers and the hidden tests in.

    Code cells the student added (an ``import`` above an answer, a helper) run in the worker
    where the notebook ran them: right after the source cell they follow in the submission.
    """
    theirs: dict[str, Any] = {}
    for cell in submitted.cells:
        gid = nbs.grade_id(cell)
        if gid and gid not in theirs:
            theirs[gid] = cell
    ids = [nbs.grade_id(cell) or f"cell-{index}"
           for index, cell in enumerate(source.notebooks[name].cells)]
    added = added_cells(submitted, set(ids))
    retyped = _retyped_answers(source, name, theirs, added)
    steps: list[Step] = list(added.get(None, []))
    missing: set[str] = set()
    tampering: dict[str, str] = {}
    for index, cell in enumerate(source.notebooks[name].cells):
        if nbs.grade_id(cell) not in retyped:  # else the student's own cell stands for it
            _rebuild_cell(source, name, index, cell, theirs, steps, missing, tampering)
        steps += added.get(ids[index], [])
    tests = {s.grade_id for s in steps if s.kind == "test"}
    return Rebuilt(steps, missing, tampering, tests, retyped)


def _retyped_answers(source: Source, name: str, theirs: dict[str, Any],
                     added: dict[str | None, list[Step]]) -> dict[str, str]:
    """Answer cells missing from the submission whose every function one cell the student
    added defines (the answer deleted and written again in a new cell, which has no nbgrader
    metadata): that cell becomes the answer, where it stands, as the notebook, its self-check
    and nbgrader run it; grade_id -> the note its rows carry.  ``added`` is changed."""
    notes: dict[str, str] = {}
    for index, cell in enumerate(source.notebooks[name].cells):
        gid = nbs.grade_id(cell)
        if not gid or not nbs.is_answer(cell) or (
                gid in theirs and theirs[gid].cell_type == "code"):
            continue
        wanted = set(defined_functions(cell.source, f"{name} cell {index}"))
        for steps in added.values():
            at = next((i for i, step in enumerate(steps) if step.kind == "added" and wanted
                       and wanted <= defined_names(step.source)), None)
            if at is not None:
                steps[at] = Step("answer", gid, steps[at].source)
                notes[gid] = (f"answer cell {gid} is missing: graded your cell that defines "
                              f"{', '.join(sorted(wanted))}")
                break
    return notes


def added_cells(submitted: Any, known: set[str]) -> dict[str | None, list[Step]]:
    """The code cells a student added, by the id of the source cell they follow (None: first).

    A cell is the source's when its nbgrader ``grade_id`` (or, for a cell without one, its
    cell id as released) is one of ``known``; every other non-empty code cell is the student's.
    """
    added: dict[str | None, list[Step]] = {}
    anchor: str | None = None
    for cell in submitted.cells:
        ident = nbs.grade_id(cell) or cell.get("id")
        if ident in known:
            anchor = ident
        elif cell.cell_type == "code" and str(cell.source).strip():
            steps = added.setdefault(anchor, [])
            label = f"added-after-{anchor}-{len(steps) + 1}" if anchor else \
                f"added-{len(steps) + 1}"
            steps.append(Step("added", label, str(cell.source)))
    return added


def _rebuild_cell(source: Source, name: str, index: int, cell: Any, theirs: dict[str, Any],
                  steps: list[Step], missing: set[str], tampering: dict[str, str]) -> None:
    """Add the step of one source cell: the student's answer, or the source's own cell."""
    if cell.cell_type != "code":
        return
    gid = nbs.grade_id(cell) or f"cell-{index}"
    where = f"{name} cell {index}"
    if nbs.is_answer(cell):
        mine = theirs.get(gid)
        if mine is None or mine.cell_type != "code":
            missing.add(gid)
            steps.append(Step("answer", gid, nbs.stub_source(cell.source, where)))
        else:
            steps.append(Step("answer", gid, str(mine.source)))
        return
    if nbs.is_test(cell):
        steps.append(Step("test", gid, nbs.keep_hidden(cell.source, where, HIDDEN_MARKER)))
    else:
        steps.append(Step("setup", gid, cell.source))
    if gid in source.released_locked[name]:
        mine = theirs.get(gid)
        if mine is None:
            tampering[gid] = f"locked cell {gid} was deleted"
        elif _normal(mine.source) != _normal(source.released_locked[name][gid]):
            tampering[gid] = f"locked cell {gid} was changed"


def _normal(source: str) -> list[str]:
    """A cell's lines without trailing spaces or blank lines at the ends (editors add them)."""
    return [line.rstrip() for line in str(source).strip().splitlines()]


# --------------------------------------------------------------------------- running a notebook
class ExerciseRun:
    """The Reporter of one test cell: collects its checks' outcomes in the grader's process."""

    def __init__(self, seed: Callable[[int], int]) -> None:
        self._seed = seed
        self.hidden = False
        self.passed = 0
        self.total = 0
        self.hidden_passed = self.hidden_total = 0  # of them, the hidden checks'
        self.unanswered: str | None = None
        self.error: str | None = None
        self.checked: list[str] = []  # what feedback may show: hidden checks only by name
        self.failures: list[str] = []  # the failed ones among them
        self.finished_blocks = 0

    def outcome(self, block: checks.Checks, outcome: checks.Outcome) -> None:
        self.total += 1
        self.passed += outcome.passed
        self.hidden_total += self.hidden
        self.hidden_passed += self.hidden and outcome.passed
        if not self.hidden:  # capped: a value or an error text of the student's can be long
            lines = [printable(line[:MAX_DETAIL_CHARS], MAX_DETAIL_CHARS) for line in
                     outcome.text.splitlines()[:MAX_DETAIL_LINES]]
        elif outcome.passed:
            lines = [f"✔ a hidden check passed: {outcome.what}"]
        else:  # never the hidden case's input or expected value: only that it failed, and why
            lines = [f"✘ a hidden check failed: {outcome.what}", f"  hint:     {outcome.hint}"]
        self.checked += lines
        if not outcome.passed:
            self.failures += lines

    def finished(self, block: checks.Checks, unanswered: str | None, error: str | None) -> None:
        self.finished_blocks += 1
        self.unanswered = self.unanswered or unanswered
        self.error = self.error or error

    def seed(self, base: int) -> int:
        return self._seed(base)

    def mark_hidden(self) -> None:
        self.hidden = True


class NotebookGrader:
    """Grades one submitted notebook: one worker for the answers, the tests run here.

    The worker comes from ``session``, the student's sandbox (one of its own when not given).
    """

    def __init__(self, source: Source, student: str, name: str, rebuilt: Rebuilt,
                 sandbox: Sandbox, limits: Limits, cases: HiddenCases | None = None,
                 broken: dict[str, str] | None = None, watch: Watch | None = None,
                 session: SandboxSession | None = None) -> None:
        self.source, self.student, self.name = source, student, name
        self.session = session or SandboxSession(sandbox, limits)
        self._own_session = session is None
        self.phases = self.session.phases
        self.watch = watch or Watch()
        self.cases = cases or HiddenCases(secrets.token_bytes(SECRET_BYTES))
        self.broken = broken or {}  # grade_id -> why the instructor's test is broken
        self.rebuilt, self.sandbox, self.limits = rebuilt, sandbox, limits
        self.worker: Worker | None = None
        self.done = 0  # how many of ``ran`` the current worker has run
        self.ran: list[Step] = []  # set-up and answer cells the current worker must have run
        self.poisoned: set[str] = set()  # cells that stopped a worker: not run again
        self.answer_errors: dict[str, str] = {}
        self.namespace: dict[str, Any] = {"__name__": "__main__"}
        self.owner = {gid: e for e in source.exercises[name] for gid in e.answers}
        self.added_before: dict[str, list[str]] = {}  # test -> cells added since the last one
        added: list[str] = []
        for step in rebuilt.steps:
            if step.kind == "test":
                self.added_before[step.grade_id], added = added, []
            elif step.kind == "added":
                added.append(step.grade_id)
        self.guarded, self.unowned = request_forbids(source, name)
        self.refused: dict[str, str] = {}  # exercise -> why a cell run for it was refused
        self.protocol_errors: set[str] = set()  # exercises a cell's reply broke the protocol of
        answers = [s.source for s in rebuilt.steps if s.kind in ("answer", "added")]
        if name not in source.stub_hints:  # the same for every student: read once
            source.stub_hints[name] = stubs.stub_hints(source.notebooks[name], name)
        self.stubbed = stubs.left_as_stubs(source.stub_hints[name], answers,
                                           source.functions[name])
        self.replace_process = False  # the worker's process ran calls no check asked for
        self.running: tuple[float, Exercise] | None = None  # the exercise's deadline, itself
        self.clock: ExerciseClock | None = None  # the running exercise's time (CPU and wall)
        # A cell only IPython reads (%timeit, !ls...): the worker imports IPython's reader
        # while it starts, not on an exercise's clock.
        self.ipython = any(not is_plain_python(cell) for cell in answers)

    def grade(self) -> list[Row]:
        exercises = {e.grade_id: e for e in self.source.exercises[self.name]}
        rows: list[Row] = []
        try:
            for step in self.rebuilt.steps:
                if step.kind == "setup":
                    with self.phases("grader: set-up cells"):
                        exec(compiled(step.source, f"<setup {step.grade_id}>"),
                             self.namespace)
                    self.ran.append(step)
                elif step.kind in ("answer", "added"):
                    self.ran.append(step)
                else:
                    rows.append(self.exercise(exercises[step.grade_id], step))
        finally:
            self._end_worker()
            if self._own_session:
                self.session.close()
        return rows

    def exercise(self, exercise: Exercise, test: Step) -> Row:
        row = Row(self.student, self.name, exercise.grade_id, 0.0, exercise.points, "failed", "")
        notes = [self.rebuilt.tampering[g] for g in sorted(self.rebuilt.tampering)
                 if g == exercise.grade_id or g not in self.rebuilt.tests]
        tamper = ("tampering: " + "; ".join(notes) + " (graded with the original). ") \
            if notes else ""
        retyped = "; ".join(self.rebuilt.retyped[g] for g in exercise.answers
                            if g in self.rebuilt.retyped)
        if self.watch.cancelled:  # the student's whole budget is used up: run nothing more
            row.status, reason = "timeout", self.watch.cancelled
        else:
            row.status, reason, row.details = self._run(exercise, test, row)
        row.reason = (tamper + "; ".join(part for part in (retyped, reason) if part)).strip()
        return row

    def _run(self, exercise: Exercise, test: Step, row: Row) -> tuple[str, str, list[str]]:
        if exercise.grade_id in self.broken:
            return "grader-error", "the test is broken, not the answers: " \
                f"{self.broken[exercise.grade_id]}", []
        missing = [g for g in exercise.answers if g in self.rebuilt.missing_answers]
        if missing:
            return "missing-answer", f"answer cell {', '.join(missing)} is missing from the " \
                                     "notebook", []
        with self.phases("grader: delegation check (source)"):
            delegated = self._delegation(exercise, test)
        if delegated:
            return "delegated", delegated, []
        report = ExerciseRun(self._seeder(exercise))
        try:
            self._ready_worker()  # the exercise's clock starts once the worker is up
            assert self.worker is not None
            self.clock = self.worker.clock_exercise()
            deadline = self.clock.deadline
            call = CallContext(self.guarded[exercise.grade_id],
                               lambda: deadline - time.monotonic(), self.stubbed,
                               self._replace_process)
            self.running = (deadline, exercise)
            self._run_cells(deadline, exercise)
            if exercise.grade_id in self.protocol_errors:
                return "failed", PROTOCOL_ERROR, []
            if exercise.grade_id in self.refused:
                return "delegated", self.refused[exercise.grade_id], []
            namespace = self.namespace  # test cells share it, as in the notebook
            for name in self.source.functions[self.name]:
                namespace[name] = RemoteFunction(name, self._current_worker, call)
            namespace[HIDDEN_MARKER[:-2]] = report.mark_hidden
            token = checks.reporter.set(report)
            try:
                with self.phases("grader: test cells (with calls)"):
                    exec(compiled(test.source, f"<test {test.grade_id}>"), namespace)
            finally:
                checks.reporter.reset(token)
        except WorkerStopped as stopped:
            self.session.close()  # now, not on the next exercise's clock
            self._end_worker()
            return stopped.status, self._stopped_reason(stopped, test), []
        # The student's function raised where the test cell called it outside a Checks block:
        # the student's doing, not the grader's.
        except AnswerNotImplemented as exc:
            return not_answered(call, f"not yet answered: {exc}")
        except AnswerError as exc:
            if call.protocol_error:
                return "failed", PROTOCOL_ERROR, []
            return "failed", printable(f"your code raised {exc.kind}: {exc}", 300), []
        except Exception as exc:  # the instructor's test cell itself failed
            return "grader-error", f"the test cell raised {type(exc).__name__}: {exc}", []
        return self._verdict(exercise, report, call, row)

    def _stopped_reason(self, stopped: WorkerStopped, test: Step) -> str:
        """Why the worker was stopped; for the output limit, with where it was passed (the
        request the grader sent last), as the other reasons name their cell."""
        if stopped.status != "output-limit" or stopped.during is None:
            return stopped.reason
        op, what = stopped.during
        if op == "run":
            kind = next((s.kind for s in self.rebuilt.steps if s.grade_id == what), "")
            where = {"answer": f"answer cell {what}", "added": f"a cell you added ({what})",
                     "setup": f"set-up cell {what}"}.get(kind, f"cell {what}")
        elif op in ("call", "call_each"):
            where = f"{what}, called by test cell {test.grade_id}"
        else:
            return stopped.reason
        return f"{stopped.reason}, in {where}"

    def _verdict(self, exercise: Exercise, report: ExerciseRun, call: CallContext,
                 row: Row) -> tuple[str, str, list[str]]:
        detail = first_failure(report.failures)
        answer_error = next((f"answer cell {g} failed: {self.answer_errors[g]}"
                             for g in exercise.answers if g in self.answer_errors), "") or \
            next((f"a cell you added ({g}) failed: {self.answer_errors[g]}"
                  for g in self.added_before.get(exercise.grade_id, [])
                  if g in self.answer_errors), "")
        if call.protocol_error:  # what the reply claimed is not believed: the exercise fails
            return "failed", PROTOCOL_ERROR, []
        if call.delegated:
            return "delegated", call.delegated, []
        if report.finished_blocks == 0:
            return "grader-error", "the test cell ran no Checks block", []
        if report.unanswered:
            return not_answered(call, report.unanswered)
        if report.error:
            return "failed", answer_error or report.error.splitlines()[0], report.checked
        if report.total and report.passed == report.total:
            row.points = exercise.points
            return "passed", "", report.checked
        reason = answer_error or detail
        if exercise.partial and report.passed > 0:
            row.points = checks.partial_points(
                exercise.points, (report.passed - report.hidden_passed,
                                  report.total - report.hidden_total),
                (report.hidden_passed, report.hidden_total))
            return "partial", f"{report.passed} of {report.total} checks passed; {reason}", \
                report.checked
        return "failed", reason, report.checked

    @functools.cached_property
    def _own_names(self) -> frozenset[str]:
        """The functions and classes the student's cells define (the same for every exercise
        of the notebook: read once)."""
        return frozenset(name for s in self.rebuilt.steps if s.kind in ("answer", "added")
                         for name in defined_names(s.source))

    def _delegation(self, exercise: Exercise, test: Step) -> str:
        """Why the answers delegate, read from their source: the kit named in the code the
        exercise's checks can run, or its code copied anywhere in the student's cells."""
        for gid, used in self._reached(exercise, test).items():
            hits = sorted(set(used) & checks.spellings(exercise.forbid))
            if hits:
                where = f"answer cell {gid}" if gid in self.owner else f"a cell you added ({gid})"
                return f"{checks.delegation_message(hits)} ({where}, line {used[hits[0]]})"
        # Its own cells may copy nothing its requests refuse; another cell (a helper kept
        # there) nothing its own forbid= names.  Whole cells: a paste can be reached in ways
        # no reading of the source follows, and no run-time guard knows pasted code.
        mine = [s.source for s in self.rebuilt.steps if s.grade_id in exercise.answers]
        others = [s.source for s in self.rebuilt.steps
                  if s.kind in ("answer", "added") and s.grade_id not in exercise.answers]
        copied = delegation.copied_from_kit(mine, self.guarded[exercise.grade_id]) or \
            delegation.copied_from_kit(others, exercise.forbid)
        if copied:
            return f"write {copied} yourself: your answer copies the kit's own {copied}"
        return ""

    def _reached(self, exercise: Exercise, test: Step) -> dict[str, dict[str, int]]:
        """Cell -> the names used by the code the exercise's checks can run (the functions its
        test cell calls and what they reach, and its own answer cells' top-level code): not
        all of a cell that also holds another exercise's answer, whose kit calls may be
        allowed there.  A kit function reached otherwise is still refused at run time."""
        at = next(i for i, step in enumerate(self.rebuilt.steps) if step is test)
        cells = {s.grade_id: s.source for s in self.rebuilt.steps[:at]
                 if s.kind in ("answer", "added")}
        graded = called_functions(test.source, tuple(self.source.functions[self.name]))
        return delegation.reached_names(cells, graded, exercise.answers, self._own_names)

    def _seeder(self, exercise: Exercise) -> Callable[[int], int]:
        return lambda base: self.cases.seed(self.student, self.name, exercise.grade_id, base)

    def _replace_process(self) -> None:
        self.replace_process = True

    def _current_worker(self) -> Worker:
        if self.replace_process:
            assert self.running is not None
            self._ready_worker()
            assert self.worker is not None
            self.worker.clock = self.clock  # the fresh process spends the same exercise's time
            self._run_cells(*self.running)
        assert self.worker is not None
        return self.worker

    def _ready_worker(self) -> None:
        """A started worker (a new one after a limit ended the last), ready for requests."""
        if self.replace_process:  # a fresh process of the sandbox, the cells run again in it
            self.replace_process, self.worker = False, None
        if self.worker is None:
            self.worker = self.session.worker()
            self.watch.worker = self.worker
            self.done = 0
        self.worker.wait_ready(ipython=self.ipython)

    def _run_cells(self, deadline: float, exercise: Exercise) -> None:
        """Run every set-up and answer cell so far in the worker, once each.

        A cell's run is guarded like a call: its exercise's refusals, or the whole notebook's
        for a cell of no exercise; a refusal is recorded against ``exercise`` when the cell is
        its own or no exercise's.
        """
        assert self.worker is not None
        while self.done < len(self.ran):
            step = self.ran[self.done]
            self.done += 1
            if step.grade_id in self.poisoned:
                continue
            owner = self.owner.get(step.grade_id)
            forbid = self.guarded[owner.grade_id] if owner else self.unowned
            message = {"op": "run", "cell": step.grade_id, "source": step.source,
                       "forbid": sorted(forbid)}
            try:
                reply = self.worker.request(message, deadline - time.monotonic())
            except WorkerStopped:
                self.poisoned.add(step.grade_id)
                raise
            mine = owner is None or owner is exercise
            try:
                said = read_reply(reply, sorted(forbid))
            except ProtocolViolation:
                if mine:
                    self.protocol_errors.add(exercise.grade_id)
                continue
            if said.refused and mine:
                self.refused.setdefault(exercise.grade_id,
                                        f"{said.refused} (answer cell {step.grade_id})")
            elif not said.ok and step.kind in ("answer", "added"):
                self.answer_errors[step.grade_id] = printable(
                    f"{said.kind}: {said.text[:300]}", 300)

    def _end_worker(self) -> None:
        """Done with the worker: the session ends it, or gives the next notebook a fresh
        process of it."""
        self.worker = None


@class_cache(maxsize=1024)
def called_functions(test: str, functions: tuple[str, ...]) -> frozenset[str]:
    """The student's functions a test cell names (it calls them): the same for every student,
    read once per grading run."""
    return frozenset(functions) & frozenset(used_names(test))


@class_cache(maxsize=1024)
def compiled(source: str, filename: str) -> CodeType:
    """A set-up or test cell's code, compiled once per grading run: the cells come from the
    source, the same for every student (a code object is never changed by running it)."""
    return compile(source, filename, "exec")


def not_answered(call: CallContext, unanswered: str) -> tuple[str, str, list[str]]:
    """The row of an exercise whose checks ended on a NotImplementedError: ``unanswered`` (its
    text the source's hint) when a function the answer's source shows as the release stub was
    called; else a ``failed`` exercise.  Either way it scores 0, as in the student's self-check
    and in nbgrader, where a NotImplementedError ends the test cell too."""
    if call.stub_called or call.not_implemented is None:
        return "unanswered", unanswered, []
    return "failed", printable(f"your code raised NotImplementedError: {call.not_implemented}",
                               300), []


def request_forbids(source: Source, name: str) -> tuple[dict[str, frozenset[str]],
                                                       frozenset[str]]:
    """What each exercise's requests refuse (its test cell's ``forbid=``, complete since
    release checks it), and a cell of no exercise's (see delegation); read from the source
    once per notebook (every student's grader asks)."""
    if name not in source.forbids:
        source.forbids[name] = _request_forbids(source, name)
    return source.forbids[name]


def _request_forbids(source: Source, name: str) -> tuple[dict[str, frozenset[str]],
                                                         frozenset[str]]:
    cells = {nbs.grade_id(c): c.source for c in source.notebooks[name].cells
             if nbs.grade_id(c) and nbs.is_answer(c)}
    exercises = source.exercises[name]
    uses = {e.grade_id: {n for g in e.answers for n in used_names(cells.get(g, ""))}
            for e in exercises}
    forbids = {e.grade_id: e.forbid for e in exercises}
    return forbids, delegation.unowned_forbids(forbids, uses)


def first_failure(lines: list[str]) -> str:
    """The first failed check of a report, its detail lines joined on one line."""
    for index, line in enumerate(lines):
        if line.startswith("✘"):
            detail = [line]
            for more in lines[index + 1:]:
                if not more.startswith("  "):
                    break
                detail.append(" ".join(more.split()))
            return "; ".join(detail)
    return ""


# ------------------------------------------------------------------------------------ a class
def _invalid_rows(source: Source, student: str, name: str, status: str, reason: str) -> list[Row]:
    return [Row(student, name, e.grade_id, 0.0, e.points, status, reason)
            for e in source.exercises[name]]


def read_submitted(path: Path, name: str, folder_owner: int | None = None) -> Any:
    """A submitted notebook, or NotebookError saying why it cannot be one."""
    problem = file_problem(path, name, folder_owner)
    if problem:
        raise nbs.NotebookError(problem)
    info = path.lstat()
    if info.st_size > MAX_NOTEBOOK_BYTES:
        raise nbs.NotebookError(f"{name} is {info.st_size} bytes, over the "
                                f"{MAX_NOTEBOOK_BYTES}-byte limit")
    try:
        return nbs.read_submitted_notebook(path, MAX_NOTEBOOK_BYTES)
    except nbs.NotebookError as exc:
        raise nbs.NotebookError(str(exc).replace(str(path), name)) from None


@dataclass(frozen=True)
class ClassPlan:
    """What grading every student of a run shares."""

    sandbox: Sandbox
    limits: Limits
    cases: HiddenCases
    broken: SolutionChecks  # get(notebook): grade_id -> why its test is broken, once checked
    phases: Phases = NO_PHASES
    # student -> their sandbox, started while the reference check ran (see prestart)
    started: dict[str, SandboxSession] = field(default_factory=dict)


def grade_student(source: Source, submission: Submission, names: list[str],
                  plan: ClassPlan, watch: Watch | None = None) -> list[Row]:
    """Grade one student's notebooks; never raises, so one student cannot stop the class."""
    try:
        rows = _grade_student(source, submission, names, plan, watch or Watch())
    except Exception as exc:  # a fault of the grader's (a full disk, a bwrap that broke)
        return [row for name in names for row in _invalid_rows(
            source, submission.student, name, "grader-error",
            f"the grader failed on this submission: {type(exc).__name__}: {exc}")]
    for row in rows:  # what was noticed while collecting goes first in the reason
        before = [submission.notes.get(row.notebook, "")]
        if submission.off_roster:
            before.insert(0, "not on the roster")
        row.reason = "; ".join(part for part in [*before, row.reason] if part)
    return rows


def _grade_student(source: Source, submission: Submission, names: list[str],
                   plan: ClassPlan, watch: Watch) -> list[Row]:
    student = submission.student
    if submission.folder is None:
        return [row for name in names for row in _invalid_rows(
            source, student, name, "not-submitted", "not submitted: on the roster, nothing "
                                                    "was handed in")]
    if submission.problem:
        return [row for name in names for row in _invalid_rows(
            source, student, name, "invalid-submission", submission.problem)]
    owner = submission.folder.stat().st_uid
    rows: list[Row] = []
    session = plan.started.pop(student, None) or \
        SandboxSession(plan.sandbox, plan.limits, plan.phases)  # one for all notebooks
    try:
        for name in names:
            path = submission.files.get(name)
            if path is None:
                rows += _invalid_rows(source, student, name, "not-submitted",
                                      not_submitted(name, submission.unread))
                continue
            try:
                with plan.phases("grader: read and rebuild notebooks"):
                    rebuilt = rebuild(source, name, read_submitted(path, name, owner))
            except KitError as exc:
                rows += _invalid_rows(source, student, name, "invalid-notebook", str(exc))
                continue
            rows += NotebookGrader(source, student, name, rebuilt, plan.sandbox, plan.limits,
                                   plan.cases, plan.broken.get(name), watch, session).grade()
    finally:
        session.close()
    return rows


@dataclass
class GradingRun:
    """What a grading run was told; ``log`` receives its lines, ``progress`` each student done.

    ``students``, when given, re-grades only those students: their rows replace theirs in the
    out folder's existing gradebook and every other student's rows and feedback stay as they were.
    Giving student folders themselves (not a class folder) into an out folder that already has a
    gradebook re-grades them the same way.  ``roster``: a CSV naming every student of the class
    (see :func:`kit.grading.trusted.collection.read_roster`).  ``student_budget``: seconds one
    student may take in all before the watchdog stops them (default: twice every exercise's
    timeout, plus a minute).
    """

    limits: Limits = field(default_factory=Limits)
    sandbox: str = "required"  # or "none": run answers unsandboxed, knowingly
    jobs: int | None = None
    notebooks: list[str] | None = None
    students: list[str] | None = None
    log: Callable[[str], None] = print
    progress: Callable[[int, int, str], None] = lambda done, total, student: None
    secret: Path | None = None  # the hidden-case secret's file (default: OUT/hidden-cases.key)
    per_student_cases: bool = False  # hidden cases per student instead of one set per class
    roster: Path | None = None
    student_budget: float | None = None
    exports: list[str] = field(default_factory=list)
    phases: Phases = NO_PHASES  # where the run's time goes (bench/bench_grading.py --phases)
    shared_cache: bool = True  # solution verdicts also kept in the instructor's cache folder


def grade(submissions: list[Path], source_folder: Path, out: Path,
          run: GradingRun | None = None) -> Gradebook:
    """Grade every submission, writing the gradebook and feedback into ``out`` as each student
    finishes (a run that dies keeps what it graded), and return the gradebook."""
    run = run or GradingRun()
    out = Path(out)
    prepare_out(out, [Path(p) for p in submissions], Path(source_folder))
    with run.phases("grader: load source"):
        source = load_source(Path(source_folder))
    names = list(source.notebooks)
    if run.notebooks:
        unknown = sorted(set(run.notebooks) - set(names))
        if unknown:
            raise GradingError(f"no source notebook named {', '.join(unknown)}")
        names = [n for n in names if n in run.notebooks]
    roster = read_roster(run.roster) if run.roster else None
    ids = SourceIds({name: frozenset(nbs.grade_id(c) or "" for c in source.notebooks[name].cells)
                     - {""} for name in source.notebooks})
    students = everyone = find_submissions([Path(p) for p in submissions], ids, roster)
    kept: list[Row] = []
    # A re-grade: --student names, or student folders given into an out folder already graded.
    # (a stray file given beside them, by ``kit grade class/*``, makes it no class run)
    folders = [Path(p) for p in submissions if not Path(p).is_file()]
    regrade = bool(run.students) or (bool(folders) and all(map(is_student_folder, folders))
                                     and (out / "gradebook.json").exists())
    if run.students:
        unknown = sorted(set(run.students) - set(students))
        if unknown:
            raise GradingError(f"no submission for student {', '.join(unknown)} in "
                               + ", ".join(map(str, submissions)))
        students = {name: students[name] for name in run.students}
    if regrade:
        kept = [r for r in previous_rows(out) if r.student not in students]
    jobs = run.jobs or DEFAULT_JOBS
    if jobs < 1:
        raise GradingError(f"--jobs must be at least 1, got {jobs}")
    sandbox = open_sandbox(allow_none=run.sandbox == "none")
    run.log(sandbox.describe())
    if sandbox.cgroups is not None and sandbox.cgroups.removed_stale:
        run.log(f"removed {len(sandbox.cgroups.removed_stale)} cgroup(s) left by a grader that "
                "was killed")
    if sandbox.cgroups is not None and sandbox.cgroups.stale_left:
        run.log(f"WARNING: {len(sandbox.cgroups.stale_left)} cgroup folder(s) left by a grader "
                "that was killed could not be removed (a process in them did not end): "
                + ", ".join(map(str, sandbox.cgroups.stale_left)))
    cases = same_cases(out, run.secret or out / SECRET_FILE, run.per_student_cases,
                       keeping=bool(kept))
    started = prestart(students, names, jobs, lambda: SandboxSession(sandbox, run.limits,
                                                                      run.phases))
    try:
        shared = reference.shared_cache(sandbox_readable()) if run.shared_cache else None
        checked = SolutionChecks(source, names, cases, out / reference.CACHE_FILE, shared,
                                 run.log, run.phases).start()
        plan = ClassPlan(sandbox, run.limits, cases, checked, run.phases, started)
        book = _grade_class(source, names, students, everyone, kept, regrade, jobs, out, run,
                            plan)
        checked.done()
    finally:
        for session in started.values():  # started for a student who needed none
            session.close()
        if sandbox.cgroups is not None:  # also when the run stops early (Ctrl-C): ends
            left = sandbox.cgroups.remove_run_folders()  # whatever workers are still at work
            if left:
                run.log(f"WARNING: {len(left)} cgroup folder(s) of this run could not be "
                        f"removed (a process in them did not end): {', '.join(map(str, left))}"
                        "; the next grading run removes them once their processes end")
    book.unsandboxed = sandbox.bwrap is None
    return book


def prestart(students: dict[str, Submission], names: list[str], jobs: int,
             session: Callable[[], SandboxSession]) -> dict[str, SandboxSession]:
    """The sandboxes of the first ``jobs`` students to be graded, started now.

    A sandbox's start (bubblewrap, an interpreter, the kit: ~0.2 s of CPU) is work of other
    processes: started first, the first students' sandboxes load on the other cores while the
    grader's own process starts the check of the solutions and reads the students' notebooks,
    instead of one by one as each student's first exercise asks for one.  Each is the
    student's own, as it would be otherwise.
    """
    started: dict[str, SandboxSession] = {}
    for student, submission in students.items():
        if len(started) >= jobs:
            break
        if submission.folder is not None and not submission.problem and \
                any(name in submission.files for name in names):
            made = session()
            try:
                made.start()
            except Exception:  # (a full process table): the student's grading tries again
                made.close()  # and reports what fails in their rows, as without a start
                continue
            started[student] = made
    return started


def _grade_class(source: Source, names: list[str], students: dict[str, Submission],
                 everyone: dict[str, Submission], kept: list[Row], regrade: bool, jobs: int,
                 out: Path, run: GradingRun, plan: ClassPlan) -> Gradebook:
    """Grade ``students`` ``jobs`` at a time, writing the out folder as each is done."""
    exercises = sum(len(source.exercises[name]) for name in names)
    budget = run.student_budget or 2 * run.limits.timeout * exercises + 60
    unsandboxed = "graded without a sandbox (--sandbox none)" if plan.sandbox.bwrap is None \
        else ""

    def grade_one(submission: Submission, watch: Watch) -> list[Row]:
        rows = grade_student(source, submission, names, plan, watch)
        for row in rows if unsandboxed else []:
            row.reason = "; ".join(part for part in (unsandboxed, row.reason) if part)
        return rows

    def unfinished(submission: Submission, status: str, reason: str) -> list[Row]:
        return [row for name in names for row in _invalid_rows(
            source, submission.student, name, status, reason)]

    order = {name: index for index, name in enumerate(source.notebooks)}
    # What the run has loaded so far (the source, the kit, the grader's own modules) lives as
    # long as the run: kept out of the collector's full passes, which otherwise walk all of it
    # again and again while the students' grading makes and drops its objects (a pass took
    # ~40 ms; about 7 % of the grader's CPU time went to collecting).
    gc.freeze()
    try:
        return ClassRun(out, students, kept, order, regrade=regrade, exports=run.exports,
                        everyone=everyone, phases=run.phases).grade(
            grade_one, unfinished, jobs=jobs, budget=budget, progress=run.progress)
    finally:
        gc.unfreeze()


class SolutionChecks:
    """The instructor's own solutions checked against their tests with the class's seeds
    (per-student cases are checked with the class's seeds too), notebook by notebook, in a
    thread of their own while the class is graded.

    ``get(notebook)`` is that notebook's grade_id -> why the solution fails that test (None:
    it passes them all); it waits until the notebook is checked, so no exercise of it is graded
    before its verdict is known, as when every check came first.  The first notebooks take
    milliseconds, so the students' grading starts at once instead of after the whole check
    (~1 s of the grader's CPU, with the other cores idle).  Each failure is logged as found.
    """

    def __init__(self, source: Source, names: list[str], cases: HiddenCases, cache: Path,
                 shared: Path | None, log: Callable[[str], None],
                 phases: Phases = NO_PHASES) -> None:
        self._source, self._names, self._cache, self._shared = source, names, cache, shared
        self._cases = HiddenCases(cases.secret)
        self._log, self._phases = log, phases
        self._checked = {name: threading.Event() for name in names}
        self.broken: dict[str, dict[str, str]] = {}  # notebook -> grade_id -> why
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="kit-reference")

    def start(self) -> SolutionChecks:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for name in self._names:
                def seed(gid: str, base: int, name: str = name) -> int:
                    return self._cases.seed("", name, gid, base)

                with self._phases("grader: reference check"):
                    failures = reference.cached_failures(self._source.notebooks[name], name,
                                                         seed, self._cache, self._shared)
                if failures:
                    self.broken[name] = failures
                for gid, why in sorted(failures.items()):
                    self._log(f"the test of {gid} is broken, not the answers: {why}")
                self._checked[name].set()
        except BaseException as exc:  # noqa: BLE001 - raised again by get() and done()
            self._error = exc
        finally:
            for checked in self._checked.values():
                checked.set()

    def get(self, name: str) -> dict[str, str] | None:
        """Notebook ``name``'s broken tests, once it is checked."""
        self._checked[name].wait()
        if self._error is not None:
            raise GradingError(f"the check of the solutions failed: "
                               f"{type(self._error).__name__}: {self._error}")
        return self.broken.get(name)

    def done(self) -> None:
        """Wait for the last notebook's check; raise what stopped the check, if anything."""
        self._thread.join()
        if self._error is not None:
            raise self._error


def previous_rows(out: Path) -> list[Row]:
    """The rows of an earlier run's ``gradebook.json`` in ``out`` (the grader's own file)."""
    path = out / "gradebook.json"
    if not path.exists():
        raise GradingError(f"{path} does not exist: grade the whole class first, then re-grade "
                           "one student")
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
        return [Row(**{k: record[k] for k in COLUMNS}) for record in records]
    except (ValueError, TypeError, KeyError) as exc:
        raise GradingError(f"{path} is not a gradebook this grader wrote ({exc})") from None
