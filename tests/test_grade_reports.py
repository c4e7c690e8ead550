"""What ``kit grade`` gives the instructor: a summary, a progress line per student, one row per
student for an LMS, feedback a student can read (Markdown and HTML), and re-grading one student."""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from recorders import at_a_terminal

from kit.cli import main

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
SUBMISSIONS = ROOT / "tests" / "fixtures" / "submissions"
ARGS = ["--source", str(SOLUTIONS), "--notebook", "01-orders.ipynb", "--timeout", "4"]


#: bubblewrap's isolation is what these tests grade with (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("sandbox_available")


@pytest.fixture(scope="module")
def graded_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    """The class graded once for the module (a grading of four students is ~2 CPU-s, which
    each test paid before); tests read it through :func:`graded`, each in a copy of its own."""
    base = tmp_path_factory.mktemp("reports")
    klass = base / "class"
    for name in ("perfect", "partial", "not-json", "attack-copy-visible"):
        shutil.copytree(SUBMISSIONS / name, klass / name)
    out = base / "out"
    said_out, said_err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(said_out), contextlib.redirect_stderr(said_err):
        status = main(["grade", str(klass), "--out", str(out), *ARGS])
    assert status == 1  # not-json needs attention
    return klass, out, said_out.getvalue(), said_err.getvalue()


@pytest.fixture
def graded(graded_once: tuple[Path, Path, str, str],
           tmp_path: Path) -> tuple[Path, Path, str, str]:
    """The graded class and its output folder, copied for this test alone (a test that grades
    again changes its copy, never another test's), and what the grading printed."""
    klass, out, said_out, said_err = graded_once
    shutil.copytree(klass, tmp_path / "class", symlinks=True)
    shutil.copytree(out, tmp_path / "out", symlinks=True)
    return tmp_path / "class", tmp_path / "out", said_out, said_err


def test_the_run_ends_with_a_summary_and_shows_progress(
        graded: tuple[Path, Path, str, str]) -> None:
    _, _, out, err = graded
    assert "4 students: 3 graded in full, 1 need attention: see gradebook.csv" in out
    assert "  not-json: invalid-notebook" in out
    lines = err.splitlines()  # not a terminal here: one plain line per student
    assert len(lines) == 4 and all(line.startswith("graded ") for line in lines)
    assert lines[-1].startswith("graded 4/4: ") and "elapsed, ~0:00 left" in lines[-1]


def test_one_row_per_student_for_an_lms(graded: tuple[Path, Path, str, str]) -> None:
    _, out, _, _ = graded
    with open(out / "grades-by-student.csv", newline="", encoding="utf-8") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert list(rows) == ["attack-copy-visible", "not-json", "partial", "perfect"]
    assert rows["perfect"] == {"student": "perfect", "01-orders.ipynb": "7", "total": "7",
                               "max_points": "7", "percent": "100.0"}
    assert rows["partial"]["total"] == "3.73" and rows["partial"]["percent"] == "53.29"
    assert rows["not-json"]["total"] == "0"


def test_feedback_in_html_is_self_contained_and_hides_hidden_cases(
        graded: tuple[Path, Path, str, str]) -> None:
    _, out, _, _ = graded
    page = (out / "feedback" / "attack-copy-visible.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'name="viewport"' in page
    assert "http://" not in page and "https://" not in page and " src=" not in page
    assert "✘ a hidden check failed: random sizes" in page
    after = page.split("a hidden check failed: random sizes\n", 1)[1].splitlines()[0]
    assert after.strip().startswith("hint:")  # never the hidden input or expected value
    assert "✔ my_get_order(4097)" in page  # what was checked, visible checks in full
    markdown = (out / "feedback" / "partial.md").read_text(encoding="utf-8")
    assert "expected: 52" in markdown and "received: 0" in markdown and "What was checked:" in \
        markdown


def test_regrading_one_student_replaces_only_their_rows(
        graded: tuple[Path, Path, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    klass, out, _, _ = graded
    before = {p.name: p.read_bytes() for p in (out / "feedback").iterdir()}
    old_rows = (out / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    shutil.copy(SUBMISSIONS / "perfect" / "01-orders.ipynb", klass / "partial")  # the fix
    assert main(["grade", str(klass), "--out", str(out), "--student", "partial", *ARGS]) == 0
    new_rows = (out / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    changed = [row for row in new_rows if row not in old_rows]
    assert changed and all(row.startswith("partial,") for row in changed)
    assert len(new_rows) == len(old_rows)
    after = {p.name: p.read_bytes() for p in (out / "feedback").iterdir()}
    assert {n for n in after if after[n] != before[n]} == {"partial.md", "partial.html"}
    assert "1 students: 1 graded in full, 0 need attention" in capsys.readouterr().out
    (klass / "perfect" / "01-orders.ipynb").write_text("broken")  # then giving the folder
    assert main(["grade", str(klass / "perfect"), "--out", str(out), *ARGS]) == 1
    rows = (out / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == len(old_rows) and [r for r in rows if "invalid-notebook" in r and
                                           r.startswith("perfect,")]
    assert [r for r in rows if r.startswith("not-json,")] == \
        [r for r in old_rows if r.startswith("not-json,")]
    assert "1 students: 0 graded in full, 1 need attention" in capsys.readouterr().out
    assert main(["grade", str(klass), "--out", str(out), "--student", "nobody", *ARGS]) == 2
    assert "no submission for student nobody" in capsys.readouterr().err


def test_a_regrade_with_other_hidden_cases_than_the_class_is_refused(
        graded: tuple[Path, Path, str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Re-grading one student must draw the hidden cases the rest of the class was graded
    with: a mistyped --secret (a new one would be made), a lost OUT/hidden-cases.key or a
    changed --per-student-cases would grade them on other cases than everyone else, so the
    re-grade stops, in one line, before any row changes."""
    klass, out, _, _ = graded
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    regrade = ["grade", str(klass), "--out", str(out), "--student", "partial", *ARGS]
    for extra in (["--secret", str(tmp_path / "mistyped.key")], ["--per-student-cases"]):
        assert main([*regrade, *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "other hidden cases" in err and \
            len(err.strip().splitlines()) == 1, err
        assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    (out / "hidden-cases.key").unlink()  # lost: a new one would be made
    assert main(regrade) == 2
    assert "other hidden cases" in capsys.readouterr().err
    assert not (out / "hidden-cases.key").exists()


def test_a_notebook_name_that_is_no_text_still_makes_a_gradebook(tmp_path: Path) -> None:
    """A notebook's file name with bytes that are not UTF-8 (read as lone surrogates) or that
    starts like a formula heads a column of the per-student files: they are written, with
    the name printable and inert, and two names that print alike keep their own columns."""
    from kit.grading.trusted.gradebook import Gradebook, Row, write_gradebook

    names = ["=SUM(1).ipynb", "odd\udcff.ipynb", "odd.ipynb"]
    rows = [Row("ann", name, "ex", float(i + 1), 4, "passed", "") for i, name in enumerate(names)]
    write_gradebook(Gradebook(rows, 1.0), tmp_path)
    with (tmp_path / "grades-by-student.csv").open(encoding="utf-8", newline="") as handle:
        header, ann = list(csv.reader(handle))
    assert header == ["student", "'=SUM(1).ipynb", "odd.ipynb", "odd.ipynb", "total",
                      "max_points", "percent"]
    assert ann == ["ann", "1", "2", "3", "6", "12", "50.0"]


def test_ctrl_c_ends_the_run_in_one_line_keeping_what_was_graded(tmp_path: Path) -> None:
    """An instructor's Ctrl-C mid-run: no traceback, one line saying what is kept and how to
    finish, status 130 (a shell's for SIGINT), the graded student's rows in the gradebook, and
    none of the run's cgroups left behind for the next run to clear."""
    klass = tmp_path / "class"
    # graded in this order, one at a time: the loop keeps the run going past the first
    for name, fixture in (("a-first", "perfect"), ("b-second", "infinite-loop")):
        shutil.copytree(SUBMISSIONS / fixture, klass / name)
    out = tmp_path / "out"
    kit = Path(sys.executable).parent / "kit"
    # as at a terminal: a suite started in the background has SIGINT ignored, and so would
    # the grader it starts (a run so saw the Ctrl-C ignored and both students graded)
    run = subprocess.Popen(at_a_terminal([str(kit), "grade", str(klass), "--out", str(out),
                                          *ARGS, "--jobs", "1"]),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert run.stderr is not None
    said = []
    for line in run.stderr:  # one plain line per student graded
        said.append(line)
        if line.startswith("graded 1/2: a-first "):
            break
    run.send_signal(signal.SIGINT)
    rest_out, rest_err = run.communicate(timeout=60)
    err = "".join(said) + rest_err
    assert run.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and str(out) in last, err
    rows = list(csv.DictReader((out / "gradebook.csv").open(encoding="utf-8")))
    assert {r["status"] for r in rows if r["student"] == "a-first"} == {"passed"}
    assert all(r["reason"].startswith("not graded: the grading run stopped")
               for r in rows if r["student"] == "b-second")
    left = [p for p in Path("/sys/fs/cgroup").glob(f"*/kit-grade-{run.pid}")]
    assert left == []
