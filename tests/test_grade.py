"""``kit grade``: the fixture class graded to the exact expected gradebook, and the rules."""

from __future__ import annotations

import copy
import csv
import json
import shutil
from pathlib import Path

import pytest

from kit.cli import main
from kit.exercises import grading
from kit.exercises import notebooks as nbs
from kit.exercises.grading import GradingError, find_submissions, load_source, rebuild

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
FIXTURES = ROOT / "tests" / "fixtures"
SUBMISSIONS = FIXTURES / "submissions"
#: Short limits keep the endless-loop fixture quick; real classes use the defaults (30 s, 300 s).
FAST = ["--cell-timeout", "4", "--timeout", "60", "--jobs", "2"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_fixture_class_gets_the_exact_expected_gradebook(tmp_path: Path) -> None:
    out = tmp_path / "out"
    status = main(["grade", str(SUBMISSIONS), "--source", str(SOLUTIONS), "--out", str(out),
                   "--notebook", "01-orders.ipynb", *FAST])
    assert status == 0  # every submission graded, however bad
    expected = (FIXTURES / "expected_gradebook.csv").read_text(encoding="utf-8")
    assert (out / "gradebook.csv").read_text(encoding="utf-8") == expected
    rows = json.loads((out / "gradebook.json").read_text(encoding="utf-8"))
    as_text = [{k: str(v) for k, v in row.items()} for row in rows]
    assert as_text == read_csv(FIXTURES / "expected_gradebook.csv")
    students = sorted(p.name for p in SUBMISSIONS.iterdir() if p.is_dir())
    assert sorted(p.stem for p in (out / "feedback").glob("*.md")) == students
    partial = (out / "feedback" / "partial.md").read_text(encoding="utf-8")
    assert "Total: **4.4 / 7** points" in partial
    assert "expected: 52" in partial and "received: 0" in partial and "hint:" in partial
    assert not list(out.rglob("*.tmp"))  # atomic writes leave no temporary files


def test_every_failure_kind_is_covered_by_the_fixtures() -> None:
    statuses = {row["status"] for row in read_csv(FIXTURES / "expected_gradebook.csv")}
    assert statuses >= {"passed", "partial", "unanswered", "missing-answer", "timeout",
                        "kernel-died", "output-limit", "not-submitted", "invalid-notebook",
                        "failed"}
    reasons = " ".join(row["reason"] for row in read_csv(FIXTURES / "expected_gradebook.csv"))
    assert "was changed" in reasons and "was deleted" in reasons and "SyntaxError" in reasons


def test_a_rerun_writes_the_same_files(tmp_path: Path) -> None:
    class_dir = tmp_path / "class"
    for name in ("perfect", "not-json", "nothing-submitted", "unanswered"):
        shutil.copytree(SUBMISSIONS / name, class_dir / name)
    out = tmp_path / "out"
    args = ["grade", str(class_dir), "--source", str(SOLUTIONS), "--out", str(out),
            "--notebook", "01-orders.ipynb", *FAST]
    assert main(args) == 0
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(args) == 0
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
    book = grading.grade([tmp_path / "ada"], SOLUTIONS, tmp_path / "out", jobs=2)
    assert [r.status for r in book.rows] == ["passed"] * len(book.rows)
    assert all(r.reason == "" for r in book.rows)
    got, most = book.totals()["ada"]
    assert got == most and len(book.rows) >= 12


def test_hidden_tests_are_injected_only_at_grading() -> None:
    source = load_source(SOLUTIONS)
    released = nbs.read_notebook(EXERCISES / "01-orders.ipynb")
    rebuilt = rebuild(source, "01-orders.ipynb", released)
    test_cells = [c for c in rebuilt.notebook.cells if nbs.is_test(c)]
    assert any("random sizes" in c.source for c in test_cells)
    assert all(nbs.BEGIN_HIDDEN not in c.source for c in rebuilt.notebook.cells)
    assert not rebuilt.tampering and not rebuilt.missing_answers
    assert rebuilt.notebook.cells[0].id == grading.GRADER_CELL_ID


def test_locked_cells_come_from_the_source_and_changes_are_reported() -> None:
    source = load_source(SOLUTIONS)
    nb = copy.deepcopy(nbs.read_notebook(EXERCISES / "01-orders.ipynb"))
    setup = next(c for c in nb.cells if nbs.grade_id(c) == "orders-setup")
    setup.source += "\nimport os  # a harmless edit  "
    tests = next(c for c in nb.cells if nbs.grade_id(c) == "orders-fits-tests")
    tests.source = "pass"
    nb.cells = [c for c in nb.cells if nbs.grade_id(c) != "orders-pages-tests"]
    # trailing blanks an editor adds are not tampering
    answer = next(c for c in nb.cells if nbs.grade_id(c) == "orders-get-order")
    answer.source = "def my_get_order(size, page_size=4096):\n    return 0\n"
    rebuilt = rebuild(source, "01-orders.ipynb", nb)
    assert rebuilt.tampering == {
        "orders-setup": "locked cell orders-setup was changed",
        "orders-fits-tests": "locked cell orders-fits-tests was changed",
        "orders-pages-tests": "locked cell orders-pages-tests was deleted",
    }
    cells = {nbs.grade_id(c): c.source for c in rebuilt.notebook.cells}
    original = {nbs.grade_id(c): c.source for c in source.notebooks["01-orders.ipynb"].cells}
    assert cells["orders-setup"] == original["orders-setup"]
    assert cells["orders-get-order"] == answer.source
    assert "Checks(" in cells["orders-fits-tests"] and "orders-pages-tests" in cells


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
    found = find_submissions([tmp_path / "class", tmp_path / "solo" / "cy"])
    assert list(found) == ["amy", "bob", "cy"]
    with pytest.raises(GradingError, match="two submissions for student 'amy'"):
        (tmp_path / "again" / "amy").mkdir(parents=True)
        (tmp_path / "again" / "amy" / "x.ipynb").write_text("{}")
        find_submissions([tmp_path / "class", tmp_path / "again" / "amy"])
    with pytest.raises(GradingError, match="does not exist"):
        find_submissions([tmp_path / "nope"])


def test_cli_errors_are_plain_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", str(SUBMISSIONS), "--source", str(tmp_path), "--out",
                 str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: source folder")
    assert main(["grade", str(SUBMISSIONS), "--source", str(SOLUTIONS), "--out",
                 str(tmp_path / "o"), "--notebook", "99-nope.ipynb"]) == 2
    assert "no source notebook named 99-nope.ipynb" in capsys.readouterr().err


def test_exit_status_is_1_when_a_submission_could_not_be_graded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(notebooks: dict, workdir: Path, **limits: float) -> grading.RunResult:
        return grading.RunResult({}, False, "the kernel could not be started: no kernel", 0.0)

    monkeypatch.setattr(grading, "run_notebooks", broken)
    out = tmp_path / "out"
    assert main(["grade", str(SUBMISSIONS / "perfect"), "--source", str(SOLUTIONS),
                 "--out", str(out), "--notebook", "01-orders.ipynb"]) == 1
    rows = read_csv(out / "gradebook.csv")
    assert {r["status"] for r in rows} == {"grader-error"}
    assert rows[0]["reason"] == "the kernel could not be started: no kernel"


def test_a_notebook_that_uses_up_its_time_limit_fails_its_remaining_tests(
        tmp_path: Path) -> None:
    import nbformat

    def cell(source: str, gid: str, test: bool) -> object:
        meta = {"grade": test, "grade_id": gid, "locked": test, "schema_version": 3,
                "solution": False, "points": 1}
        return nbformat.v4.new_code_cell(source, metadata={"nbgrader": meta})

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import time"),  # stands for the grader's prelude
        cell("time.sleep(1.5)", "slow-1", True),
        cell("time.sleep(1.5)", "slow-2", True),
        cell("pass", "late", True),
    ])
    run = grading.run_notebooks({"slow.ipynb": nb}, tmp_path, cell_timeout=10, timeout=2)
    assert run.grader_error is None and not run.killed
    outcomes = {gid: record["outcome"] for (_, gid), record in run.cells.items()}
    assert outcomes == {"slow-1": "passed", "slow-2": "passed", "late": "failed"}
    exercise = grading.Exercise("slow.ipynb", "late", 1.0, False, ())
    rebuilt = grading.Rebuilt(nb, set(), {}, {"slow-1", "slow-2", "late"})
    row = grading.score(exercise, "ann", rebuilt, run)
    assert (row.status, row.points) == ("timeout", 0.0)
    assert row.reason == "the notebook's time limit was used up before this test ran"
