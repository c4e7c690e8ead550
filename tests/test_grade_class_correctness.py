"""Grades an instructor can sign (issue 19): the class-correctness fixture graded exactly.

``tests/fixtures/class-correctness/`` (made by its ``build.py``) holds honest students the
grader must get right -- IPython magics, cells they added, numpy values, a helper of their own
named like the kit's, an answer key copied from the self-check, byte-identical copies -- and
source folders with one instructor mistake each.  Regenerate the expected gradebook, after
reviewing it, with::

    .venv/bin/kit grade tests/fixtures/class-correctness/submissions --source solutions \\
        --out /tmp/out --notebook 01-orders.ipynb \\
        --secret tests/fixtures/class-correctness/secret.key
    cp /tmp/out/gradebook.csv tests/fixtures/class-correctness/expected_gradebook.csv
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest

from kit.cli import main
from kit.grading.trusted import grading, reference
from kit.grading.trusted import notebooks as nbs
from kit.grading.trusted.bwrap import open_sandbox
from kit.grading.trusted.gradebook import Row
from kit.grading.trusted.grading import GradingRun

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
FIXTURE = ROOT / "tests" / "fixtures" / "class-correctness"
SUBMISSIONS = FIXTURE / "submissions"
INSTRUCTOR = FIXTURE / "instructor"
SECRET = FIXTURE / "secret.key"
NAME = "01-orders.ipynb"
FAST = ["--notebook", NAME, "--secret", str(SECRET), "--jobs", "2"]


#: bubblewrap's isolation is what these tests grade with (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("sandbox_available")


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def build_module() -> Any:
    spec = importlib.util.spec_from_file_location("class_correctness_build", FIXTURE / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("correctness") / "out"
    assert main(["grade", str(SUBMISSIONS), "--source", str(SOLUTIONS), "--out", str(out),
                 *FAST]) == 0  # every one of them graded in full
    return out


def test_the_class_gets_the_exact_expected_gradebook(graded: Path) -> None:
    expected = (FIXTURE / "expected_gradebook.csv").read_text(encoding="utf-8")
    assert (graded / "gradebook.csv").read_text(encoding="utf-8") == expected


def test_every_right_answer_gets_its_points_however_it_was_written(graded: Path) -> None:
    rows = read_csv(graded / "gradebook.csv")
    for student in ("magics", "added-cells", "numpy-values", "own-pages-for"):
        mine = [r for r in rows if r["student"] == student]
        assert [r["status"] for r in mine] == ["passed"] * 3, mine
        assert sum(float(r["points"]) for r in mine) == 7


def test_byte_identical_notebooks_get_the_same_grade(graded: Path) -> None:
    rows = read_csv(graded / "gradebook.csv")
    copies = {s: [(r["exercise"], r["points"], r["status"]) for r in rows if r["student"] == s]
              for s in ("copy-1", "copy-2", "copy-3")}
    assert copies["copy-1"] == copies["copy-2"] == copies["copy-3"]
    assert {status for _, _, status in copies["copy-1"]} == {"passed", "partial"}  # not perfect


def test_per_student_cases_are_an_opt_in_that_can_grade_copies_apart(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["grade", str(SUBMISSIONS), "--source", str(SOLUTIONS), "--out", str(out),
                 "--per-student-cases", *FAST]) == 0
    totals = {}
    for row in read_csv(out / "gradebook.csv"):
        if row["student"].startswith("copy-"):
            totals[row["student"]] = totals.get(row["student"], 0.0) + float(row["points"])
    assert len(set(totals.values())) > 1, totals  # the trade-off the README states


def test_the_answer_key_earns_no_more_than_the_visible_share(graded: Path) -> None:
    rows = [r for r in read_csv(graded / "gradebook.csv") if r["student"] == "answer-key"]
    assert sum(float(r["points"]) for r in rows) <= 0.2 * sum(float(r["max_points"])
                                                              for r in rows)


def test_an_answer_key_earns_at_most_a_fifth_of_every_notebook(tmp_path: Path) -> None:
    build = build_module()
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        answers = build.answer_key_answers(nbs.read_notebook(path))
        nb = nbs.read_notebook(ROOT / "exercises" / path.name)
        for cell in nb.cells:
            if nbs.grade_id(cell) in answers:
                cell.source = answers[nbs.grade_id(cell)]
        nbs.write_notebook(nb, tmp_path / "class" / "answer-key" / path.name)
    book = grading.grade([tmp_path / "class" / "answer-key"], SOLUTIONS, tmp_path / "out",
                         GradingRun(jobs=2, secret=SECRET, log=lambda line: None))
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        rows = [r for r in book.rows if r.notebook == path.name]
        assert rows and all(r.status in ("partial", "failed") for r in rows), rows
        earned, most = sum(r.points for r in rows), sum(r.max_points for r in rows)
        assert earned <= 0.2 * most, f"{path.name}: the answer key earns {earned} of {most}"


# ---------------------------------------------------------------------- instructor mistakes
def test_release_refuses_a_solution_that_fails_its_hidden_test(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = INSTRUCTOR / "broken-hidden-test"
    assert main(["release", "--source", str(source), "--out", str(tmp_path / "out")]) == 2
    said = capsys.readouterr().err
    assert "cell 7 (orders-pages-tests)" in said and "AttributeError" in said and \
        "page_allign" in said
    assert not (tmp_path / "out").exists()  # nothing released
    assert main(["release", "--check", "--source", str(source), "--out",
                 str(ROOT / "exercises")]) == 2


def test_grade_reports_a_broken_test_as_the_graders_error_for_everyone(tmp_path: Path) -> None:
    class_dir = tmp_path / "class"
    for student in ("magics", "answer-key"):
        shutil.copytree(SUBMISSIONS / student, class_dir / student)
    out = tmp_path / "out"
    args = ["grade", str(class_dir), "--source", str(INSTRUCTOR / "broken-hidden-test"),
            "--out", str(out), *FAST]
    assert main(args) == 1
    rows = read_csv(out / "gradebook.csv")
    broken = [r for r in rows if r["exercise"] == "orders-pages-tests"]
    assert [r["status"] for r in broken] == ["grader-error"] * 2
    assert all(r["reason"].startswith("the test is broken, not the answers:") and
               "page_allign" in r["reason"] for r in broken)
    others = {r["student"]: r["status"] for r in rows if r["exercise"] == "orders-fits-tests"}
    assert others == {"magics": "passed", "answer-key": "partial"}  # the rest is graded
    assert (out / reference.CACHE_FILE).exists()
    assert main(args) == 1  # from the cache: the same verdict
    assert read_csv(out / "gradebook.csv") == rows


@pytest.mark.parametrize(("case", "message"), [
    ("solution-in-locked-cell", "cell 1 (orders-setup): '### BEGIN SOLUTION' in a cell that is "
                                "not a solution cell"),
    ("wrong-points-heading", "cell 2: the heading says 5 points, but the test cell that grades "
                             "it (cell 4, orders-get-order-tests) has 3"),
    ("incomplete-forbid", "cell 4 (orders-get-order-tests): forbid= lacks 'pages_for', which "
                          "the notebook forbids and this exercise's solution does not use"),
    ("solution-syntax-error", "cell 9 (orders-fits): the solution does not parse: invalid "
                              "syntax (line 6)"),
])
def test_release_and_grade_refuse_a_malformed_source(
        case: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = INSTRUCTOR / case
    assert main(["release", "--source", str(source), "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert main(["grade", str(SUBMISSIONS / "magics"), "--source", str(source), "--out",
                 str(tmp_path / "graded"), *FAST]) == 2
    assert message in capsys.readouterr().err


def test_a_failing_cell_the_student_added_is_named_in_the_reason(tmp_path: Path) -> None:
    nb = nbs.read_notebook(SUBMISSIONS / "added-cells" / NAME)
    cell = next(c for c in nb.cells if c.source.startswith("import math"))
    cell.source = cell.source.replace("import math", "import mathh")
    nbs.write_notebook(nb, tmp_path / "class" / "typo" / NAME)
    book = grading.grade([tmp_path / "class"], SOLUTIONS, tmp_path / "out",
                         GradingRun(jobs=1, secret=SECRET, notebooks=[NAME],
                                    log=lambda line: None))
    first = book.rows[0]  # get_order uses math for size 0 only
    assert first.status == "partial"
    assert first.reason.endswith("a cell you added (added-after-orders-get-order-task-1) "
                                 "failed: ModuleNotFoundError: No module named 'mathh' (line 1 "
                                 "of your answer)")


def test_the_sandbox_cannot_read_the_secret(tmp_path: Path) -> None:
    from kit.grading.trusted.bwrap import Limits, Worker

    secret = tmp_path / "out" / grading.SECRET_FILE
    grading.load_secret(secret)
    worker = Worker(open_sandbox(), Limits())
    try:
        source = f"def peek():\n    return open({str(secret)!r}).read()\n"
        assert worker.request({"op": "run", "cell": "a", "source": source}, 10)["ok"]
        reply = worker.request({"op": "call", "name": "peek", "args": []}, 10)
    finally:
        worker.close()
    assert reply["ok"] is False and reply["exc"] == "FileNotFoundError"


def test_get_order_wrong_on_every_whole_block_loses_the_hidden_points_too(
        tmp_path: Path) -> None:
    """A get_order one order too high whenever the size fills its block exactly (4096 bytes
    give order 1: the misconception its check names) fails three of eight visible checks;
    the hidden checks, 80 % of the points, must see it too, or it earns 2.78 of 3 (random
    sizes up to 16 GiB are almost never a whole block)."""
    build = build_module()
    wrong = build.GET_ORDER.replace("((size - 1) >> page_shift)", "(size >> page_shift)")
    assert wrong != build.GET_ORDER
    nbs.write_notebook(build.student({"orders-get-order": wrong}),
                       tmp_path / "class" / "off-by-one" / NAME)
    book = grading.grade([tmp_path / "class"], SOLUTIONS, tmp_path / "out",
                         GradingRun(jobs=1, secret=SECRET, notebooks=[NAME],
                                    log=lambda line: None))
    row = next(r for r in book.rows if r.exercise == "orders-get-order-tests")
    assert "✘ a hidden check failed: random sizes" in row.details, row.details
    assert row.points < 0.2 * 3 * 5 / 8 + 0.8 * 3 / 2 + 0.01, row


def test_an_answer_retyped_in_a_cell_without_its_metadata_is_graded(tmp_path: Path) -> None:
    """A student who deleted the answer cell of exercise 3 and wrote the function again in a
    new cell (which has no nbgrader metadata) has a notebook that runs, whose self-check
    passes and which nbgrader grades in full: that cell is the answer, graded where it
    stands and saying so, not 'missing' with a stub run over it. An answer cell deleted
    with nothing in its place is still missing."""
    build = build_module()
    for name, retyped in (("retyped", build.FITS), ("deleted", None)):
        nb = build.student({"orders-get-order": build.GET_ORDER, "orders-pages": build.PAGES})
        at = next(i for i, c in enumerate(nb.cells) if nbs.grade_id(c) == "orders-fits")
        if retyped is None:
            del nb.cells[at]
        else:
            new = nbformat.v4.new_code_cell(retyped)
            new["id"] = "retyped-fits"
            nb.cells[at] = new
        nbs.write_notebook(nb, tmp_path / "class" / name / NAME)
    book = grading.grade([tmp_path / "class"], SOLUTIONS, tmp_path / "out",
                         GradingRun(jobs=1, secret=SECRET, notebooks=[NAME],
                                    log=lambda line: None))
    fits = {r.student: r for r in book.rows if r.exercise == "orders-fits-tests"}
    assert (fits["retyped"].status, fits["retyped"].points) == ("passed", 2), fits["retyped"]
    assert fits["retyped"].reason == ("answer cell orders-fits is missing: graded your cell "
                                      "that defines fits_one_block")
    assert fits["deleted"].status == "missing-answer"
    assert {r.status for r in book.rows if r.exercise != "orders-fits-tests"} == {"passed"}


def graded_in_one_cell(tmp_path: Path, build: Any,
                       one_cell: dict[str, str]) -> dict[tuple[str, str], Row]:
    """(student, exercise) -> row, for students who typed all of 01-orders into its first
    answer cell (``one_cell``: student -> that cell), the other two left empty."""
    for name, source in one_cell.items():
        nb = build.student({"orders-get-order": source, "orders-pages": "", "orders-fits": ""})
        nbs.write_notebook(nb, tmp_path / "class" / name / NAME)
    book = grading.grade([tmp_path / "class"], SOLUTIONS, tmp_path / "out",
                         GradingRun(jobs=1, secret=SECRET, notebooks=[NAME],
                                    log=lambda line: None))
    return {(r.student, r.exercise): r for r in book.rows}


def test_answers_typed_into_one_cell_are_judged_by_what_each_graded_function_reaches(
        tmp_path: Path) -> None:
    """A student who typed all three answers of 01-orders into the first answer cell (the
    other two left empty): fits_one_block, allowed to call kit.get_order, sits in the cell
    get_order is graded from, but my_get_order never reaches it, so get_order is not
    delegation.  A my_get_order of the same cell that reaches kit.pages_for through a helper
    of the student's own still is."""
    build = build_module()
    helper = ("def pages_needed(size, page_size):\n"
              "    return kit.pages_for(size, page_size)\n\n\n")
    leaning = build.GET_ORDER.replace("((size - 1) >> page_shift).bit_length()",
                                      "(pages_needed(size, page_size) - 1).bit_length()")
    assert leaning != build.GET_ORDER
    rows = graded_in_one_cell(tmp_path, build, {
        name: "import kit\n\n\n" + "\n\n".join((get_order, build.PAGES, build.FITS))
        for name, get_order in (("all-in-one", build.GET_ORDER),
                                ("all-in-one-leaning", helper + leaning))})
    honest = [rows["all-in-one", e] for e in
              ("orders-get-order-tests", "orders-pages-tests", "orders-fits-tests")]
    assert [(r.status, r.points) for r in honest] == [("passed", 3), ("passed", 2),
                                                      ("passed", 2)], honest
    lean = rows["all-in-one-leaning", "orders-get-order-tests"]
    assert (lean.status, lean.points) == ("delegated", 0), lean
    assert lean.reason.startswith("write pages_for yourself") and \
        "(answer cell orders-get-order, line 5)" in lean.reason, lean.reason
    assert {rows["all-in-one-leaning", e].status
            for e in ("orders-pages-tests", "orders-fits-tests")} == {"passed"}


def renamed_kit_source(function: Any, renames: dict[str, str]) -> str:
    """The kit's own source of ``function`` with names changed, as a student pastes it (a new
    name gives it new code, which the sandbox's fingerprint no longer knows: only the grader's
    similarity check can see it)."""
    import inspect

    source = inspect.getsource(function)
    for old, new in renames.items():
        source = source.replace(old, new)
    return source


def test_a_paste_costs_every_exercise_whose_refusals_name_it_however_it_is_reached(
        tmp_path: Path) -> None:
    """A student who typed all of 01-orders into the first answer cell, with the kit's
    pages_for and page_align pasted (renamed): the paste is compared wherever it sits, as the
    source cannot tell every way a graded function reaches it (``globals()[...]`` here, which
    no reading follows) and no run-time guard knows pasted code; so it costs the pages
    exercise it answers and the get_order exercise whose refusals name it too."""
    import kit

    build = build_module()
    imports = ("import kit\n"
               "from kit.core.orders import InvalidArgument, _require_int, page_shift\n\n\n")
    pasted_pages = "\n\n".join((
        renamed_kit_source(kit.pages_for, {"def pages_for": "def my_pages_for"}),
        renamed_kit_source(kit.page_align, {"def page_align": "def my_page_align"})))
    order_of = renamed_kit_source(kit.get_order, {"def get_order": "def order_of"})
    hidden = ("def my_get_order(size, page_size=4096):\n"
              "    return globals()['order' + '_of'](size, page_size)\n")
    rows = graded_in_one_cell(tmp_path, build, {
        name: imports + "\n\n".join((get_order, pasted_pages, build.FITS))
        for name, get_order in (("pasted-pages", build.GET_ORDER),
                                ("pasted-hidden", order_of + "\n\n" + hidden))})
    for student in ("pasted-pages", "pasted-hidden"):
        for exercise in ("orders-pages-tests", "orders-get-order-tests"):
            row = rows[student, exercise]
            assert (row.status, row.points) == ("delegated", 0), row
            assert "your answer copies the kit's own" in row.reason, row.reason
    hidden_row = rows["pasted-hidden", "orders-get-order-tests"]
    assert hidden_row.reason == ("write get_order yourself: your answer copies the kit's own "
                                 "get_order"), hidden_row.reason
