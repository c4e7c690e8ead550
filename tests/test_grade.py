"""``kit grade``: the fixture class graded to the exact expected gradebook, and the rules."""

from __future__ import annotations

import copy
import csv
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from kit.cli import main
from kit.grading.trusted import grading
from kit.grading.trusted import notebooks as nbs
from kit.grading.trusted.bwrap import open_sandbox
from kit.grading.trusted.collection import CollectionError, SourceIds, find_submissions
from kit.grading.trusted.grading import GradingError, GradingRun, load_source, rebuild

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
FIXTURES = ROOT / "tests" / "fixtures"
SUBMISSIONS = FIXTURES / "submissions"
#: A short limit keeps the endless-loop fixtures quick; real classes use the default (10 s).
#: Two students spin until it (CPU time), one stops itself until 5 times it (the clock): 2 s,
#: not 4 since 2026-12-06, is 4 CPU-s and 10 s less.  Honest answers are far from it (the
#: README's clock figures: 1 of 224 honest exercises out at 1 s of CPU time, load 15-18).
FAST = ["--timeout", "2", "--jobs", "2"]


#: bubblewrap's isolation is what these tests grade with (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("sandbox_available")


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_fixture_class_gets_the_exact_expected_gradebook(tmp_path: Path) -> None:
    out = tmp_path / "out"
    status = main(["grade", str(SUBMISSIONS), "--source", str(SOLUTIONS), "--out", str(out),
                   "--notebook", "01-orders.ipynb", *FAST])
    assert status == 1  # every submission graded, however bad; some need the instructor
    expected = (FIXTURES / "expected_gradebook.csv").read_text(encoding="utf-8")
    assert (out / "gradebook.csv").read_text(encoding="utf-8") == expected
    rows = json.loads((out / "gradebook.json").read_text(encoding="utf-8"))
    as_text = [{k: str(v) for k, v in row.items()} for row in rows]
    assert as_text == read_csv(FIXTURES / "expected_gradebook.csv")
    students = sorted(p.name for p in SUBMISSIONS.iterdir() if p.is_dir())
    assert sorted(p.stem for p in (out / "feedback").glob("*.md")) == students
    partial = (out / "feedback" / "partial.md").read_text(encoding="utf-8")
    assert "Total: **3.73 / 7** points" in partial
    assert "expected: 52" in partial and "received: 0" in partial and "hint:" in partial
    assert not list(out.rglob("*.tmp"))  # atomic writes leave no temporary files


def test_every_failure_kind_is_covered_by_the_fixtures() -> None:
    """``memory-limit`` is the one status not here: the grader reads it in a worker's memory
    cgroup only (no reply can claim it), which one answer process rarely reaches under the
    default limits: its address space is capped at the same size, so a hog gets a MemoryError
    first (a failed exercise, as attack-memory shows).  tests/test_sandbox_resources.py
    reaches it with a sandbox's tmpfs files."""
    statuses = {row["status"] for row in read_csv(FIXTURES / "expected_gradebook.csv")}
    assert statuses >= {"passed", "partial", "unanswered", "missing-answer", "timeout",
                        "crashed", "output-limit", "delegated",
                        "not-submitted", "invalid-notebook", "failed"}
    reasons = " ".join(row["reason"] for row in read_csv(FIXTURES / "expected_gradebook.csv"))
    assert "was changed" in reasons and "was deleted" in reasons and "SyntaxError" in reasons


def test_a_rerun_writes_the_same_files(tmp_path: Path) -> None:
    class_dir = tmp_path / "class"
    for name in ("perfect", "not-json", "nothing-submitted", "unanswered"):
        shutil.copytree(SUBMISSIONS / name, class_dir / name)
    out = tmp_path / "out"
    args = ["grade", str(class_dir), "--source", str(SOLUTIONS), "--out", str(out),
            "--notebook", "01-orders.ipynb", *FAST]
    assert main(args) == 1  # not-json and nothing-submitted need attention
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(args) == 1
    second = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert first == second


def solved(name: str) -> object:
    """A student's copy of one notebook with the instructor's answers typed in."""
    answers = {nbs.grade_id(c): c.source for c in nbs.read_notebook(SOLUTIONS / name).cells
               if nbs.is_answer(c)}
    nb = copy.deepcopy(nbs.read_notebook(EXERCISES / name))
    for cell in nb.cells:
        if nbs.is_answer(cell):
            body = answers[nbs.grade_id(cell)]
            body = body.replace(nbs.BEGIN_SOLUTION, "").replace(nbs.END_SOLUTION, "")
            cell.source = body
    return nb


def test_a_perfect_student_gets_every_point_on_every_notebook(tmp_path: Path) -> None:
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        nbs.write_notebook(solved(path.name), tmp_path / "ada" / path.name)
    book = grading.grade([tmp_path / "ada"], SOLUTIONS, tmp_path / "out", GradingRun(jobs=2))
    assert [r.status for r in book.rows] == ["passed"] * len(book.rows)
    assert all(r.reason == "" for r in book.rows)
    got, most = book.totals()["ada"]
    assert got == most and len(book.rows) >= 12


def test_hidden_tests_are_injected_only_at_grading() -> None:
    source = load_source(SOLUTIONS)
    released = nbs.read_notebook(EXERCISES / "01-orders.ipynb")
    rebuilt = rebuild(source, "01-orders.ipynb", released)
    tests = [s for s in rebuilt.steps if s.kind == "test"]
    assert any("random sizes" in s.source and grading.HIDDEN_MARKER in s.source for s in tests)
    assert all(nbs.BEGIN_HIDDEN not in s.source for s in rebuilt.steps)
    assert not rebuilt.tampering and not rebuilt.missing_answers
    assert [s.kind for s in rebuilt.steps] == ["setup"] + ["answer", "test"] * 3


def test_locked_cells_come_from_the_source_and_changes_are_reported() -> None:
    source = load_source(SOLUTIONS)
    nb = copy.deepcopy(nbs.read_notebook(EXERCISES / "01-orders.ipynb"))
    setup = next(c for c in nb.cells if nbs.grade_id(c) == "orders-setup")
    setup.source += "\nimport os  # a harmless edit  "
    tests = next(c for c in nb.cells if nbs.grade_id(c) == "orders-fits-tests")
    tests.source = "pass"
    nb.cells = [c for c in nb.cells if nbs.grade_id(c) != "orders-pages-tests"]
    answer = next(c for c in nb.cells if nbs.grade_id(c) == "orders-get-order")
    answer.source = "def my_get_order(size, page_size=4096):\n    return 0\n"
    rebuilt = rebuild(source, "01-orders.ipynb", nb)
    assert rebuilt.tampering == {
        "orders-setup": "locked cell orders-setup was changed",
        "orders-fits-tests": "locked cell orders-fits-tests was changed",
        "orders-pages-tests": "locked cell orders-pages-tests was deleted",
    }
    steps = {s.grade_id: s.source for s in rebuilt.steps}
    original = {nbs.grade_id(c): c.source for c in source.notebooks["01-orders.ipynb"].cells}
    assert steps["orders-setup"] == original["orders-setup"]
    assert steps["orders-get-order"] == answer.source
    assert "Checks(" in steps["orders-fits-tests"] and "orders-pages-tests" in steps


def test_whitespace_at_the_end_of_a_locked_cell_is_not_tampering() -> None:
    source = load_source(SOLUTIONS)
    nb = copy.deepcopy(nbs.read_notebook(EXERCISES / "01-orders.ipynb"))
    for cell in nb.cells:
        if nbs.is_locked(cell):
            cell.source += "\n\n"
    assert rebuild(source, "01-orders.ipynb", nb).tampering == {}


def test_submissions_are_student_folders_or_a_class_folder(tmp_path: Path) -> None:
    (tmp_path / "class" / "bob").mkdir(parents=True)
    (tmp_path / "class" / "amy").mkdir()
    (tmp_path / "class" / "amy" / "01-orders.ipynb").write_text("{}")
    (tmp_path / "solo" / "cy").mkdir(parents=True)
    (tmp_path / "solo" / "cy" / "01-orders.ipynb").write_text("{}")
    ids = SourceIds({"01-orders.ipynb": frozenset({"orders-get-order"})})
    found = find_submissions([tmp_path / "class", tmp_path / "solo" / "cy"], ids)
    assert list(found) == ["amy", "bob", "cy"]
    assert all(not s.problem for s in found.values())
    with pytest.raises(CollectionError, match="two submissions for student 'amy'"):
        (tmp_path / "again" / "amy").mkdir(parents=True)
        (tmp_path / "again" / "amy" / "x.ipynb").write_text("{}")
        find_submissions([tmp_path / "class", tmp_path / "again" / "amy"], ids)
    with pytest.raises(CollectionError, match="does not exist"):
        find_submissions([tmp_path / "nope"], ids)


def test_odd_entries_of_a_class_folder_are_reported_never_skipped(tmp_path: Path) -> None:
    klass = tmp_path / "class"
    for name in (".hidden", "bad\nname", "=SUM(1+1)", "ok"):
        (klass / name).mkdir(parents=True)
    (klass / "stray.txt").write_text("?")
    (klass / "linked").symlink_to(klass / "ok")
    found = find_submissions([klass], SourceIds({}))
    problems = {name: s.problem for name, s in found.items()}
    assert "starts with a dot" in problems[".hidden"]
    assert "control or invisible characters" in problems["bad name"]
    assert "is a symbolic link" in problems["linked"]
    assert "is a file at the top of the class folder" in problems["stray.txt"]
    assert problems["=SUM(1+1)"] == problems["ok"] == ""


def test_bad_names_links_and_formulas_become_rows_with_reasons(tmp_path: Path) -> None:
    klass = tmp_path / "class"
    shutil.copytree(SUBMISSIONS / "perfect", klass / "=SUM(1+1)")
    shutil.copytree(SUBMISSIONS / "perfect", klass / ".hidden")
    (klass / "copycat").mkdir()
    (klass / "copycat" / "01-orders.ipynb").symlink_to(SOLUTIONS / "01-orders.ipynb")
    out = tmp_path / "out"
    assert main(["grade", str(klass), "--source", str(SOLUTIONS), "--out", str(out),
                 "--notebook", "01-orders.ipynb", *FAST]) == 1
    rows = read_csv(out / "gradebook.csv")
    by_student = {}
    for row in rows:
        by_student.setdefault(row["student"], set()).add((row["status"], row["reason"]))
    assert by_student["'=SUM(1+1)"] == {("passed", "")}  # graded, and not a formula
    assert by_student[".hidden"] == {("invalid-submission", "the folder name '.hidden' starts "
                                                            "with a dot (a hidden folder)")}
    assert by_student["copycat"] == {("invalid-notebook",
                                      "01-orders.ipynb is a symbolic link, not a submitted file")}
    assert sorted(p.name for p in (out / "feedback").iterdir()) == [
        "=SUM(1+1).html", "=SUM(1+1).md", "copycat.html", "copycat.md"]


def test_attackers_change_nothing_outside_their_sandbox(tmp_path: Path) -> None:
    import hashlib

    import kit

    kit_files = sorted(Path(kit.__file__).parent.rglob("*.py"))
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in kit_files}
    klass = tmp_path / "class"
    for name in ("attack-write", "attack-fork", "attack-feedback", "perfect"):
        shutil.copytree(SUBMISSIONS / name, klass / name)
    snapshot = {p: p.read_bytes() for folder in (klass, SOLUTIONS, EXERCISES)
                for p in folder.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    assert main(["grade", str(klass), "--source", str(SOLUTIONS), "--out", str(out),
                 "--notebook", "01-orders.ipynb", *FAST]) == 0
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in kit_files} == before
    assert {p: p.read_bytes() for folder in (klass, SOLUTIONS, EXERCISES)
            for p in folder.rglob("*") if p.is_file()} == snapshot  # submissions and source
    assert not Path("/tmp/kit-attack-write").exists()
    assert not list(Path(__import__("sys").prefix).glob("lib/evil.pth"))
    survivors = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"kit-detached" in cmdline.read_bytes():
                survivors.append(cmdline)
        except OSError:
            pass
    assert survivors == []  # the detached process died with its sandbox
    text = (out / "feedback" / "attack-feedback.md").read_text(encoding="utf-8")
    assert "<script>" not in text and "\x1b" not in text and "&lt;script&gt;" in text
    outside, fence = [], ""
    for line in text.splitlines():
        if line.startswith("```") and (not fence or line == fence):
            fence = "" if fence else line
        elif not fence:
            outside.append(line)
    assert [ln for ln in outside if "Total" in ln] == ["Total: **4 / 7** points"]


def test_cli_errors_are_plain_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", str(SUBMISSIONS), "--source", str(tmp_path / "src"), "--out",
                 str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: source folder")
    assert main(["grade", str(SUBMISSIONS), "--source", str(SOLUTIONS), "--out",
                 str(tmp_path / "o"), "--notebook", "99-nope.ipynb"]) == 2
    assert "no source notebook named 99-nope.ipynb" in capsys.readouterr().err


def test_exit_status_is_1_when_a_submission_could_not_be_graded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object, *args: object) -> tuple[str, str, list[str]]:
        return "grader-error", "the test cell raised RuntimeError: broken", []

    monkeypatch.setattr(grading.NotebookGrader, "_run", broken)
    out = tmp_path / "out"
    assert main(["grade", str(SUBMISSIONS / "perfect"), "--source", str(SOLUTIONS),
                 "--out", str(out), "--notebook", "01-orders.ipynb"]) == 1
    rows = read_csv(out / "gradebook.csv")
    assert {r["status"] for r in rows} == {"grader-error"}
    assert rows[0]["reason"] == "the test cell raised RuntimeError: broken"


def test_hidden_cases_are_one_set_per_class_from_the_instructors_secret() -> None:
    source = load_source(SOLUTIONS)
    exercise = source.exercises["01-orders.ipynb"][0]

    def seeds(student: str, cases: grading.HiddenCases) -> list[int]:
        rebuilt = rebuild(source, "01-orders.ipynb", nbs.read_notebook(EXERCISES /
                                                                        "01-orders.ipynb"))
        grader = grading.NotebookGrader(source, student, "01-orders.ipynb", rebuilt,
                                        open_sandbox(), grading.Limits(), cases)
        return [grader._seeder(exercise)(base) for base in (1, 2008)]

    secret = grading.HiddenCases(b"an instructor's secret, 32 chars")
    assert seeds("ann", secret) == seeds("bob", secret)  # the same work, the same cases
    assert len(set(seeds("ann", secret))) == 2 and 2008 not in seeds("ann", secret)
    assert seeds("ann", secret) != seeds("ann", grading.HiddenCases(b"another secret of 32 chars"))
    per_student = grading.HiddenCases(secret.secret, per_student=True)
    assert seeds("ann", per_student) == seeds("ann", per_student)
    assert seeds("ann", per_student) != seeds("bob", per_student)


def test_the_secret_is_made_once_kept_private_and_never_comes_from_the_source(
        tmp_path: Path) -> None:
    path = tmp_path / "out" / grading.SECRET_FILE
    first = grading.load_secret(path)
    assert grading.load_secret(path) == first and len(first) == 2 * grading.SECRET_BYTES
    assert path.stat().st_mode & 0o777 == 0o600
    assert grading.load_secret(tmp_path / "other.key") != first  # random, not the sources' hash
    path.write_text("short\n")
    with pytest.raises(GradingError, match="shorter than 16 characters"):
        grading.load_secret(path)


def test_without_a_sandbox_grading_is_refused_unless_sandbox_none(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from kit.grading.trusted import bwrap as sandbox

    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    assert main(["grade", str(SUBMISSIONS / "perfect"), "--source", str(SOLUTIONS), "--out",
                 str(tmp_path / "o")]) == 2
    assert "no sandbox: bubblewrap (bwrap) is not installed" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["grade", str(SUBMISSIONS / "perfect"), "--source", str(SOLUTIONS), "--out",
                 str(tmp_path / "o"), "--notebook", "01-orders.ipynb", "--sandbox", "none"]) == 0
    said = capsys.readouterr().out
    assert said.startswith("WARNING: sandbox: NONE (--sandbox none; bubblewrap (bwrap) is not "
                           "installed; file-system isolation; network isolation")
    assert said.rstrip().endswith("WARNING: graded without a sandbox (--sandbox none): every "
                                  "row says so")
    assert {r["status"] for r in read_csv(tmp_path / "o" / "gradebook.csv")} == {"passed"}


def test_sandbox_none_where_bubblewrap_works_grades_in_it_and_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--sandbox none`` only allows grading without a sandbox where bubblewrap cannot run;
    here it can, so the answers run in it, and nothing the run prints or writes may say they
    did not (the end of the run warned "graded without a sandbox" after a sandboxed run)."""
    assert main(["grade", str(SUBMISSIONS / "perfect"), "--source", str(SOLUTIONS), "--out",
                 str(tmp_path / "o"), "--notebook", "01-orders.ipynb", "--sandbox", "none"]) == 0
    said = capsys.readouterr().out
    assert said.startswith("sandbox: bubblewrap (")
    assert "without a sandbox" not in said and "NONE" not in said
    rows = read_csv(tmp_path / "o" / "gradebook.csv")
    assert {(r["status"], r["reason"]) for r in rows} == {("passed", "")}


def test_a_student_error_outside_a_checks_block_is_the_students_not_the_graders(
        tmp_path: Path) -> None:
    """A test cell may call the student's function before its Checks block: what that raises
    is a failed (or unanswered) exercise, never a grader error."""
    import nbformat

    from kit.grading.trusted.release import student_version

    def cell(source: str, gid: str, **meta: object) -> object:
        nbgrader = {"grade_id": gid, "schema_version": 3, "solution": False, "grade": False,
                    "locked": True, **meta}
        return nbformat.v4.new_code_cell(source, metadata={"nbgrader": nbgrader})

    answer = ("def f():\n    # HINT: return 1\n    ### BEGIN SOLUTION\n    return 1\n"
              "    ### END SOLUTION\n")
    test = ("value = f()\nwith Checks('f') as t:\n    t.expect('f()', f, (), 1)\n"
            "    ### BEGIN HIDDEN TESTS\n    t.hidden()\n    t.expect('f() again', f, (), 1)\n"
            "    ### END HIDDEN TESTS\n")
    source = nbformat.v4.new_notebook(cells=[
        cell("from kit.grading.boundary.checks import Checks", "setup"),
        cell(answer, "answer", solution=True, locked=False),
        cell(test, "test", grade=True, points=1),
    ])
    nbs.write_notebook(source, tmp_path / "source" / "x.ipynb")
    for student, body in (("raises", "def f():\n    raise ValueError('no')\n"),
                          ("stub", "def f():\n    raise NotImplementedError('return 1')\n"),
                          ("not-a-stub", "def f():\n    x = 0\n"
                                         "    raise NotImplementedError('not yet answered')\n"),
                          ("right", "def f():\n    return 1\n")):
        nb = student_version(source, "x.ipynb")  # what the student was given
        nb.cells[1].source = body
        nbs.write_notebook(nb, tmp_path / "class" / student / "x.ipynb")
    book = grading.grade([tmp_path / "class"], tmp_path / "source", tmp_path / "out",
                         GradingRun(log=lambda line: None))
    rows = {r.student: (r.status, r.reason) for r in book.rows}
    assert rows == {"raises": ("failed", "your code raised ValueError: no (line 2 of your answer)"),
                    "stub": ("unanswered", "not yet answered: return 1"),
                    # unanswered is read from the source, never from what the code raised
                    "not-a-stub": ("failed", "your code raised NotImplementedError: not yet "
                                             "answered"),
                    "right": ("passed", "")}


def test_the_output_limit_names_the_cell_that_printed_too_much(tmp_path: Path) -> None:
    """The output-limit reason says where the limit was passed, as the other reasons name
    their cell: an answer cell printing as it runs, a cell the student added, or the student's
    function while a test cell called it.  Written from the request the grader sent, never
    from what the answer printed."""
    from test_delegation import OWN_ARITHMETIC as GET_ORDER

    flood = "print('x' * 3_000_000)\n"
    students = {
        "in-the-cell": {"orders-get-order": flood + GET_ORDER},
        "in-the-function": {"orders-get-order": GET_ORDER.replace(
            "    page_shift =", "    " + flood + "    page_shift =")},
    }
    for student, answers in students.items():
        nb = nbs.read_notebook(EXERCISES / "01-orders.ipynb")
        for cell in nb.cells:
            cell.source = answers.get(nbs.grade_id(cell) or "", cell.source)
        nbs.write_notebook(nb, tmp_path / "class" / student / "01-orders.ipynb")
    added = nbs.read_notebook(EXERCISES / "01-orders.ipynb")
    at = next(i for i, c in enumerate(added.cells) if nbs.grade_id(c) == "orders-get-order")
    new = nbformat.v4.new_code_cell(flood)
    new["id"] = "flood"
    added.cells.insert(at, new)
    next(c for c in added.cells if nbs.grade_id(c) == "orders-get-order").source = GET_ORDER
    nbs.write_notebook(added, tmp_path / "class" / "in-an-added-cell" / "01-orders.ipynb")
    book = grading.grade([tmp_path / "class"], SOLUTIONS, tmp_path / "out",
                         GradingRun(jobs=1, notebooks=["01-orders.ipynb"],
                                    log=lambda line: None))
    rows = {r.student: (r.status, r.reason) for r in book.rows
            if r.exercise == "orders-get-order-tests"}
    limit = "output limit: the answer printed more than 1048576 bytes"
    assert rows["in-the-cell"] == ("output-limit", f"{limit}, in answer cell orders-get-order")
    assert rows["in-the-function"] == (
        "output-limit", f"{limit}, in my_get_order, called by test cell orders-get-order-tests")
    status, reason = rows["in-an-added-cell"]
    assert status == "output-limit" and reason.startswith(f"{limit}, in a cell you added ("), \
        reason
