"""``kit grade``: grade a class of submitted notebooks against the instructor's source.

How a submission is graded, and why:

* **Rebuilt from the source.**  Only the student's *answer* cells (matched by nbgrader
  ``grade_id``) are taken from the submission; every other cell -- set-up, tests, the hidden
  tests -- comes from ``solutions/``.  Editing or deleting a test cannot change the score; a
  locked cell that differs from what ``kit release`` gave out is reported as tampering.
* **Executed by nbval.**  Each rebuilt notebook runs in a fresh kernel under
  ``pytest --nbval --nbval-current-env``, one pytest process per student.  The rebuilt
  notebook has no stored outputs and no execution counts, so nbval (strict mode) compares no
  outputs and a cell fails only when it raises: that is the grading rule.  (``--nbval-lax``
  would do the same but honours ``# NBVAL_CHECK_OUTPUT`` markers a student could add.)
  ``--nbval-cell-timeout`` limits each cell; ``--kit-notebook-timeout`` (our plugin,
  ``kit.exercises.nbval_results``) fails the cells of a notebook that has used up its time, and
  the process is killed past the sum of all limits.  ``KIT_GRADING=1`` makes unanswered
  exercises fail (see ``kit.exercises.checks``).
  A first, grader-only cell caps what each cell may print, so an enormous output fails that
  cell instead of exhausting memory.
* **Scored per test cell.**  A test cell that passes earns its nbgrader ``points``; one that
  fails earns 0, or with ``metadata.kit.partial`` the share of checks it passed.
* **Only what the source asks for runs.**  Cells a student added are not run; when a
  grade_id appears twice in a submission, the first cell with it is taken.
* **Nothing vanishes.**  A file that is not a notebook, a missing answer cell, a cell that
  times out or kills its kernel: every exercise gets a row with a status and a reason, and the
  batch goes on.  ``kit grade`` exits 0 only when every submission was graded (a run the grader
  itself could not carry out, such as a kernel that never started, is "grader-error").

Results are written atomically: ``gradebook.csv``, ``gradebook.json`` and
``feedback/<student>.md``; rows are sorted (student, notebook order, exercise order) so a re-run
writes the same files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kit.errors import KitError
from kit.exercises import notebooks as nbs
from kit.exercises.checks import GRADING_ENV
from kit.exercises.release import source_notebooks, validate_source

#: Row statuses, for the gradebook's readers.
STATUSES = (
    "passed",  # the test cell passed: full points
    "partial",  # some of its checks passed (test cells marked partial)
    "failed",  # a check failed or the code raised
    "unanswered",  # the answer is still the release stub
    "missing-answer",  # the answer cell is not in the submitted notebook
    "timeout",  # a cell or the notebook hit its time limit
    "kernel-died",  # the kernel died (os._exit, a signal, out of memory)
    "output-limit",  # a cell printed more than the grader allows
    "not-submitted",  # no notebook of that name in the student's folder
    "invalid-notebook",  # the file is not JSON or not a notebook
    "grader-error",  # the grader could not run the notebook (not the student's fault)
)
#: What the grader-only first cell lets each cell print, in characters.
OUTPUT_LIMIT = 200_000
GRADER_CELL_ID = "kit-grader-prelude"
_PRELUDE = f'''\
# Added by kit grade: cap what each cell prints, so an enormous output fails only its cell.
def _kit_grader_prelude(limit={OUTPUT_LIMIT}):
    import sys
    from IPython import get_ipython

    class OutputLimitExceeded(RuntimeError):
        pass

    class Capped:
        def __init__(self, stream):
            self._stream, self.count = stream, 0

        def write(self, text):
            self.count += len(text)
            if self.count > limit:
                raise OutputLimitExceeded(f"output limit exceeded: a cell printed more than "
                                          f"{{limit}} characters")
            return self._stream.write(text)

        def __getattr__(self, name):
            return getattr(self._stream, name)

    streams = [Capped(sys.stdout), Capped(sys.stderr)]
    sys.stdout, sys.stderr = streams

    def reset(*args):
        for stream in streams:
            stream.count = 0

    get_ipython().events.register("pre_run_cell", reset)


_kit_grader_prelude()
del _kit_grader_prelude
'''


class GradingError(KitError):
    """The grading run itself cannot start (bad source folder, no submissions...)."""


@dataclass(frozen=True)
class Exercise:
    """One graded test cell and the answer cells before it."""

    notebook: str
    grade_id: str
    points: float
    partial: bool
    answers: tuple[str, ...]


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
    details: str = field(default="", compare=False)


@dataclass
class Source:
    """The instructor's notebooks, what each grades, and the locked cells as released."""

    notebooks: dict[str, Any]
    exercises: dict[str, list[Exercise]]
    released_locked: dict[str, dict[str, str]]


def load_source(folder: Path) -> Source:
    """Read and check the instructor's notebooks."""
    notebooks: dict[str, Any] = {}
    exercises: dict[str, list[Exercise]] = {}
    locked: dict[str, dict[str, str]] = {}
    for path in source_notebooks(folder):
        nb = nbs.read_notebook(path)
        validate_source(nb, str(path))
        notebooks[path.name] = nb
        found: list[Exercise] = []
        answers: list[str] = []
        locked[path.name] = {}
        for index, cell in enumerate(nb.cells):
            gid = nbs.grade_id(cell)
            if gid and nbs.is_answer(cell):
                answers.append(gid)
            elif gid and nbs.is_test(cell):
                found.append(Exercise(path.name, gid, nbs.points(cell), nbs.is_partial(cell),
                                      tuple(answers)))
                answers = []
            if gid and nbs.is_locked(cell) and cell.cell_type == "code":
                locked[path.name][gid] = nbs.strip_hidden(cell.source, f"{path} cell {index}")
        exercises[path.name] = found
    return Source(notebooks, exercises, locked)


def find_submissions(paths: list[Path]) -> dict[str, Path]:
    """Student name -> folder.  A folder holding a ``.ipynb`` file is one student's submission;
    any other folder is a class folder whose sub-folders are the students."""
    found: dict[str, Path] = {}
    for path in paths:
        path = Path(path)
        if not path.is_dir():
            raise GradingError(f"submission folder {path} does not exist")
        if any(p.is_file() for p in path.glob("*.ipynb")):
            folders = [path]
        else:
            folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
        for folder in folders:
            if folder.name in found and found[folder.name].resolve() != folder.resolve():
                raise GradingError(f"two submissions for student {folder.name!r}: "
                                   f"{found[folder.name]} and {folder}")
            found[folder.name] = folder
    if not found:
        raise GradingError("no submissions found in " + ", ".join(map(str, paths)))
    return dict(sorted(found.items()))


@dataclass
class Rebuilt:
    """A submission rebuilt from the source, and what was noticed on the way."""

    notebook: Any
    missing_answers: set[str]
    tampering: dict[str, str]  # grade_id -> what was done to it
    tests: set[str]  # grade_ids of the test cells


def rebuild(source: Source, name: str, submitted: Any) -> Rebuilt:
    """The notebook to run: the source with the student's answers and the hidden tests in."""
    import nbformat

    src = source.notebooks[name]
    theirs: dict[str, Any] = {}
    for cell in submitted.cells:
        gid = nbs.grade_id(cell)
        if gid and gid not in theirs:
            theirs[gid] = cell
    cells = [nbformat.v4.new_code_cell(_PRELUDE, id=GRADER_CELL_ID)]
    missing: set[str] = set()
    tampering: dict[str, str] = {}
    for index, cell in enumerate(src.cells):
        gid = nbs.grade_id(cell)
        where = f"{name} cell {index}"
        new = nbformat.from_dict(json.loads(json.dumps(cell)))
        if cell.cell_type == "code":
            new.outputs, new.execution_count = [], None
        if gid and nbs.is_answer(cell):
            mine = theirs.get(gid)
            if mine is None or mine.cell_type != "code":
                missing.add(gid)
                new.source = nbs.stub_source(cell.source, where)
            else:
                new.source = mine.source
        elif cell.cell_type == "code":
            new.source = nbs.keep_hidden(cell.source, where)
            if gid in source.released_locked[name]:
                mine = theirs.get(gid)
                if mine is None:
                    tampering[gid] = f"locked cell {gid} was deleted"
                elif _normal(mine.source) != _normal(source.released_locked[name][gid]):
                    tampering[gid] = f"locked cell {gid} was changed"
        cells.append(new)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": dict(nbs.KERNELSPEC)}
    tests = {nbs.grade_id(c) or "" for c in src.cells if nbs.is_test(c)}
    return Rebuilt(nb, missing, tampering, tests)


def _normal(source: str) -> list[str]:
    """A cell's lines without trailing spaces or blank lines at the ends (editors add them)."""
    return [line.rstrip() for line in source.strip().splitlines()]


@dataclass
class RunResult:
    """What running a student's rebuilt notebooks gave: per-cell records, how the run ended."""

    cells: dict[tuple[str, str], dict[str, Any]]  # (notebook, grade_id) -> record
    killed: bool  # the whole run hit its time limit and was killed
    grader_error: str | None
    seconds: float


def run_notebooks(notebooks: dict[str, Any], workdir: Path, *, cell_timeout: float,
                  timeout: float) -> RunResult:
    """Run rebuilt notebooks under pytest + nbval in one fresh process, a fresh kernel each.

    One pytest process per student, not per notebook: starting pytest and nbval costs more
    than running a notebook.  Each notebook keeps its own limit (``--kit-notebook-timeout``: no
    cell starts once it is used up, and a running cell stops at the cell limit); the process is
    killed only past the sum of the notebooks' limits.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, nb in notebooks.items():
        nbs.write_notebook(nb, workdir / name)
        paths.append(str(workdir / name))
    results = workdir / "results.jsonl"
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    command = [
        sys.executable, "-m", "pytest", *paths, "--nbval", "--nbval-current-env",
        f"--nbval-cell-timeout={cell_timeout:g}", "-p", "kit.exercises.nbval_results",
        f"--kit-results={results}", f"--kit-notebook-timeout={timeout:g}",
        "-p", "no:cacheprovider", "-q", "-c", str(ini), "--rootdir", str(workdir),
    ]
    env = dict(os.environ)
    env.update({GRADING_ENV: "1", "PYTHONPATH": nbs.kit_pythonpath(), "PYTHONHASHSEED": "0"})
    started = time.monotonic()
    killed = False
    with open(workdir / "pytest.log", "wb") as log:
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=len(paths) * (timeout + cell_timeout + 20) + 30)
        except subprocess.TimeoutExpired:
            killed = True
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    if results.exists():
        for line in results.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("grade_id"):
                cells[(record["notebook"], record["grade_id"])] = record
    error = None
    if not killed and rc not in (0, 1):
        tail = (workdir / "pytest.log").read_bytes()[-2000:].decode("utf-8", "replace")
        error = f"pytest exited with status {rc}: {' '.join(tail.split()[-30:])}"
    for record in cells.values():
        # A cell fails in set-up only when its notebook's kernel did not start (or the
        # notebook's time was up, which is the student's doing).
        if record["when"] == "setup" and record["outcome"] == "failed" and \
                "notebook time limit" not in record["message"]:
            error = "the kernel could not be started: " + _short(record["message"])
    return RunResult(cells, killed, error, time.monotonic() - started)


_TIMEOUT = re.compile(r"Timeout of [\d.]+ seconds exceeded|timed out|notebook time limit",
                      re.IGNORECASE)
_TALLY = re.compile(r"passed=(\d+) total=(\d+)")


def _short(text: str, limit: int = 300) -> str:
    """The first lines of a failure message that say something, on one line."""
    keep = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("Traceback", "Input:", "Cell ", "---")):
            continue
        if line.startswith("CheckFailed:"):
            keep = [line[len("CheckFailed:"):].strip()]
            break
        keep.append(line)
    joined = " / ".join(keep[-3:]) if keep else text.strip()
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


_EXCEPTION_LINE = re.compile(r"^\w*(Error|Exception|Exit|Interrupt|Exceeded)\b.*")


def _cell_error(record: dict[str, Any] | None) -> str | None:
    """The exception an answer cell raised, as its last "SomeError: message" line."""
    if record is None or record["outcome"] == "passed":
        return None
    lines = [ln.strip() for ln in record["message"].splitlines()]
    found = [ln for ln in lines if _EXCEPTION_LINE.match(ln)]
    return found[-1] if found else _short(record["message"])


def _first_failure(output: str) -> str:
    """The first failed check printed by the cell, on one line."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("✘"):
            detail = [line]
            for more in lines[index + 1:]:
                if not more.startswith("  "):
                    break
                detail.append(" ".join(more.split()))
            return _short("; ".join(detail), 400)
    return ""


def score(exercise: Exercise, student: str, rebuilt: Rebuilt, run: RunResult) -> Row:
    """The gradebook row of one exercise from the run's per-cell records."""
    row = Row(student, exercise.notebook, exercise.grade_id, 0.0, exercise.points, "failed", "")
    record = run.cells.get((exercise.notebook, exercise.grade_id))
    # Tampering with this exercise's test cell, or with a set-up cell every exercise needs.
    notes = [rebuilt.tampering[exercise.grade_id]] if exercise.grade_id in rebuilt.tampering \
        else []
    notes += [rebuilt.tampering[g] for g in sorted(rebuilt.tampering) if g not in rebuilt.tests]
    tamper = ("tampering: " + "; ".join(notes) + " (graded with the original). ") if notes else ""
    missing = [g for g in exercise.answers if g in rebuilt.missing_answers]
    answer_errors = [(g, _cell_error(run.cells.get((exercise.notebook, g))))
                     for g in exercise.answers]
    answer_errors = [(g, e) for g, e in answer_errors if e]
    if run.grader_error:
        row.status, reason = "grader-error", run.grader_error
    elif missing:
        row.status = "missing-answer"
        reason = f"answer cell {', '.join(missing)} is missing from the notebook"
    elif record is None:
        row.status = "timeout" if run.killed else "grader-error"
        reason = ("the time limit was reached before this test ran"
                  if run.killed else "this test cell did not run")
    elif record["outcome"] == "passed":
        row.status, row.points, reason = "passed", exercise.points, ""
    else:
        message = record["message"]
        output = record.get("output") or ""
        reason = _short(message)
        if record.get("kernel_died") or "Kernel dead" in message:
            row.status = "kernel-died"
            reason = "the kernel died (the process exited or was killed) while or before " \
                     "this test ran"
        elif "output limit exceeded" in message or "output limit exceeded" in output:
            row.status = "output-limit"
            reason = "a cell printed more than the grader allows " \
                     f"({OUTPUT_LIMIT} characters)"
        elif "notebook time limit" in message:
            row.status = "timeout"
            reason = "the notebook's time limit was used up before this test ran"
        elif _TIMEOUT.search(message) and "not yet answered" not in message:
            row.status = "timeout"
            reason = "the cell time limit was exceeded (an endless loop?)"
        elif "not yet answered" in message:
            row.status = "unanswered"
        else:
            reason = _first_failure(output) or reason
            tally = _TALLY.search(record.get("tally") or "")
            if exercise.partial and tally and int(tally.group(1)) > 0:
                passed, total = int(tally.group(1)), int(tally.group(2))
                row.status = "partial"
                row.points = round(exercise.points * passed / total, 2)
                reason = f"{passed} of {total} checks passed; " + reason
        if answer_errors and row.status in ("failed", "partial"):
            gid, error = answer_errors[0]
            reason = f"answer cell {gid} failed: {error}"
        row.details = output
    row.reason = (tamper + reason).strip()
    return row


def _invalid_rows(source: Source, student: str, name: str, status: str, reason: str) -> list[Row]:
    return [Row(student, name, e.grade_id, 0.0, e.points, status, reason)
            for e in source.exercises[name]]


def grade_student(source: Source, student: str, folder: Path, names: list[str], *,
                  workdir: Path, cell_timeout: float, timeout: float) -> list[Row]:
    """Grade one student's notebooks; never raises for a bad submission."""
    rows: dict[str, list[Row]] = {}
    rebuilt: dict[str, Rebuilt] = {}
    for name in names:
        path = folder / name
        if not path.exists():
            rows[name] = _invalid_rows(source, student, name, "not-submitted",
                                       f"{name} was not submitted")
            continue
        try:
            rebuilt[name] = rebuild(source, name, nbs.read_notebook(path))
        except KitError as exc:
            reason = str(exc).replace(str(path), name)
            rows[name] = _invalid_rows(source, student, name, "invalid-notebook", reason)
    if rebuilt:
        run = run_notebooks({n: r.notebook for n, r in rebuilt.items()}, workdir,
                            cell_timeout=cell_timeout, timeout=timeout)
        for name, rb in rebuilt.items():
            rows[name] = [score(e, student, rb, run) for e in source.exercises[name]]
    return [row for name in names for row in rows[name]]


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


def grade(
    submissions: list[Path],
    source_folder: Path,
    out: Path,
    *,
    jobs: int | None = None,
    cell_timeout: float = 30,
    timeout: float = 300,
    notebooks: list[str] | None = None,
) -> Gradebook:
    """Grade every submission, write the gradebook and feedback into ``out``, and return it.

    ``notebooks`` limits grading to some of the source's notebooks (by file name).
    """
    source = load_source(Path(source_folder))
    names = list(source.notebooks)
    if notebooks:
        unknown = sorted(set(notebooks) - set(names))
        if unknown:
            raise GradingError(f"no source notebook named {', '.join(unknown)}")
        names = [n for n in names if n in notebooks]
    students = find_submissions([Path(p) for p in submissions])
    jobs = jobs or os.cpu_count() or 1
    if jobs < 1:
        raise GradingError(f"--jobs must be at least 1, got {jobs}")
    started = time.monotonic()
    tasks = list(students.items())
    with tempfile.TemporaryDirectory(prefix="kit-grade-") as tmp:
        def work(index: int) -> list[Row]:
            student, folder = tasks[index]
            return grade_student(source, student, folder, names, workdir=Path(tmp) / str(index),
                                 cell_timeout=cell_timeout, timeout=timeout)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(work, range(len(tasks))))
    book = Gradebook([row for rows in results for row in rows], time.monotonic() - started)
    write_results(book, Path(out))
    return book


COLUMNS = ("student", "notebook", "exercise", "points", "max_points", "status", "reason")


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 2)


def write_results(book: Gradebook, out: Path) -> None:
    """Write gradebook.csv, gradebook.json and feedback/<student>.md, each atomically."""
    records = [{k: (_number(v) if k in ("points", "max_points") else v)
                for k, v in asdict(r).items() if k in COLUMNS} for r in book.rows]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    nbs.atomic_write(out / "gradebook.csv", buffer.getvalue())
    nbs.atomic_write(out / "gradebook.json", json.dumps(records, indent=1, ensure_ascii=False)
                     + "\n")
    totals = book.totals()
    for student in sorted(totals):
        rows = [r for r in book.rows if r.student == student]
        nbs.atomic_write(out / "feedback" / f"{student}.md", feedback(student, rows,
                                                                       totals[student]))


def feedback(student: str, rows: list[Row], total: tuple[float, float]) -> str:
    """A student's feedback: every exercise, its points, and what failed with the hint."""
    lines = [f"# Feedback for {student}", "",
             f"Total: **{_number(total[0])} / {_number(total[1])}** points", ""]
    notebook = None
    for r in rows:
        if r.notebook != notebook:
            notebook = r.notebook
            lines += [f"## {notebook}", ""]
        mark = "✔" if r.status == "passed" else "✘"
        lines.append(f"### {mark} {r.exercise}: {_number(r.points)} / {_number(r.max_points)} "
                     f"({r.status})")
        lines.append("")
        if r.reason:
            lines += [r.reason, ""]
        failed = [ln for ln in r.details.splitlines() if ln.startswith(("✘", "  "))]
        if failed and r.status not in ("passed", "unanswered"):
            lines += ["```", *failed[:40], "```", ""]
    return "\n".join(lines)
