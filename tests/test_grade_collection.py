"""``kit grade`` collects a class the way classes hand in, and one student never costs the class.

The fixture class ``tests/fixtures/class-collection/`` (nbgrader's layout, renamed copies, an
extra notebook, junk, a stray notebook, a roster with a student who sent nothing and a folder
not on it) is graded to its exact expected gradebook and Canvas import file; the cases a
repository cannot hold well (look-alike names, hard links, other owners) are built here.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from waiting import eventually

from kit.cli import main
from kit.grading.trusted import cgroups, classrun, grading
from kit.grading.trusted.bwrap import Limits, open_sandbox
from kit.grading.trusted.collection import (
    SourceIds,
    file_problem,
    find_submissions,
    is_stray_reason,
)
from kit.grading.trusted.grading import GradingRun

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
FIXTURES = ROOT / "tests" / "fixtures"
COLLECTION = FIXTURES / "class-collection"
SUBMISSIONS = FIXTURES / "submissions"
PERFECT = SUBMISSIONS / "perfect" / "01-orders.ipynb"
ARGS = ["--source", str(SOLUTIONS), "--notebook", "01-orders.ipynb", "--timeout", "4"]
KIT = [sys.executable, "-m", "kit"]


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# ------------------------------------------------------------------------- the fixture class
def test_the_collection_class_gets_its_exact_gradebook_and_canvas_file(
        sandbox_available: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    (out / "feedback").mkdir(parents=True)
    (out / "feedback" / "left-the-class.md").write_text("old")  # an earlier run's student
    (out / "feedback" / ".ann.md.x1y2.tmp").write_text("half")  # a killed run's half file
    status = main(["grade", str(COLLECTION / "submitted"), "--out", str(out), *ARGS,
                   "--roster", str(COLLECTION / "roster.csv"), "--export", "canvas"])
    said = capsys.readouterr().out
    assert status == 1  # gus sent nothing, stray.ipynb is no student, zed is not rostered
    assert (out / "gradebook.csv").read_text(encoding="utf-8") == \
        (COLLECTION / "expected_gradebook.csv").read_text(encoding="utf-8")
    assert (out / "canvas-import.csv").read_text(encoding="utf-8") == \
        (COLLECTION / "expected_canvas.csv").read_text(encoding="utf-8")
    assert "  dee: extra notebooks, not graded: scratch.ipynb" in said
    assert "  eve: extra notebooks, not graded: 01-orders (1).ipynb" in said
    assert "  zed: not on the roster" in said
    students = {row[0] for row in read_csv((out / "gradebook.csv").read_text())[1:]}
    assert students == {"ann", "bob", "cy", "dee", "eve", "gus", "stray.ipynb", "zed"}
    assert sorted(p.name for p in (out / "feedback").iterdir()) == sorted(
        f"{s}.{ext}" for s in students - {"stray.ipynb"} for ext in ("html", "md"))
    assert not list(out.rglob("*.tmp"))


def test_the_fixture_class_covers_every_collection_case() -> None:
    rows = read_csv((COLLECTION / "expected_gradebook.csv").read_text(encoding="utf-8"))
    reasons = " ".join(row[6] for row in rows)
    assert "graded '01-orders (1).ipynb', a copy named differently" in reasons
    assert "graded '01-orders-Copy1.ipynb'" in reasons
    eve = [row[6] for row in rows if row[0] == "eve"]  # her copy lost to the right name
    assert eve and all(reason.startswith("graded 01-orders.ipynb, not '01-orders (1).ipynb', "
                                         "a copy of it, which was not graded") for reason in eve)
    assert "not submitted: on the roster" in reasons and "not on the roster" in reasons
    assert "at the top of the class folder" in reasons
    submitted = COLLECTION / "submitted"
    assert (submitted / "ann" / "ps1" / "01-orders.ipynb").exists()  # nbgrader's layout
    assert (submitted / ".DS_Store").exists() and (submitted / "__MACOSX").is_dir()
    assert (submitted / "dee" / ".ipynb_checkpoints").is_dir()


# --------------------------------------------------------------------- Canvas's import rules
#: Headers Canvas's importer treats as read-only, not as assignments (a substring match).
CANVAS_READ_ONLY = re.compile("Current Score|Current Points|Current Grade|Final Score|"
                              "Final Points|Final Grade|Override Score|Override Grade|"
                              "Override Status")


def canvas_problems(text: str, assignments: set[str]) -> list[str]:
    """What Canvas's gradebook import would refuse or misread in ``text``: its documented rules
    (Instructure's guide "How do I import grades in the Gradebook?"; the importer of canvas-lms:
    the header, the student columns ending with Section, read-only columns, the Points Possible
    row, a student found by ID, SIS User ID or SIS Login ID, a number or blank per grade)."""
    rows = read_csv(text)
    problems: list[str] = []
    header = rows[0]
    if len(header) <= 3 or "Student" not in header[0] or "ID" not in header[1]:
        return ["the header does not start with Student, ID"]
    identity = 3
    if header[2] == "SIS User ID" and header[3] == "SIS Login ID":
        identity = 5
    elif header[2] == "SIS Login ID":
        identity = 4
    if "Section" not in header[identity - 1]:
        problems.append("the student columns do not end with Section")
    for column in header[identity:]:
        if not CANVAS_READ_ONLY.search(column) and column not in assignments:
            problems.append(f"column {column!r} would be created as a new assignment")
    if any(len(row) != len(header) for row in rows):
        problems.append("rows of different lengths (Canvas guesses the delimiter from them)")
    body = rows[1:]
    if not body or "Points Possible" not in body[0][0]:
        problems.append("no Points Possible row under the header")
    for row in body:
        values = row[identity:]
        for value in values:
            try:
                float(value) if value not in ("", "-", "EX") else None
            except ValueError:
                problems.append(f"{value!r} is not a score")
        if "Points Possible" in row[0]:
            continue
        if not (row[1] or (identity == 5 and (row[2] or row[3])) or (identity == 4 and row[2])):
            problems.append(f"student {row[0]!r} has no ID, SIS User ID or SIS Login ID")
    return problems


def test_the_canvas_file_follows_canvas_import_rules_and_the_lms_csv_would_not() -> None:
    expected = (COLLECTION / "expected_canvas.csv").read_text(encoding="utf-8")
    assert canvas_problems(expected, {"01-orders"}) == []
    # The checker can fail: the generic one-row-per-student file has total, max_points and
    # percent columns, each of which Canvas would create as an assignment.
    generic = ("student,01-orders,total,max_points,percent\nann,7,7,7,100.0\n")
    assert canvas_problems(generic, {"01-orders"}) == [
        "the header does not start with Student, ID"]
    with_identity = ("Student,ID,SIS User ID,SIS Login ID,Section,01-orders,total\n"
                     "    Points Possible,,,,,7,7\nAnn,,,,Monday,7,7\n")
    assert canvas_problems(with_identity, {"01-orders"}) == [
        "column 'total' would be created as a new assignment",
        "student 'Ann' has no ID, SIS User ID or SIS Login ID"]


def test_without_a_roster_canvas_rows_carry_the_folder_as_the_login(
        sandbox_available: None, tmp_path: Path) -> None:
    klass = tmp_path / "class"
    shutil.copytree(SUBMISSIONS / "perfect", klass / "ann")
    out = tmp_path / "out"
    assert main(["grade", str(klass), "--out", str(out), *ARGS, "--export", "canvas"]) == 0
    text = (out / "canvas-import.csv").read_text(encoding="utf-8")
    assert read_csv(text) == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                               "01-orders"],
                              ["    Points Possible", "", "", "", "", "7"],
                              ["ann", "", "", "ann", "", "7"]]
    assert canvas_problems(text, {"01-orders"}) == []


def test_a_roster_of_folders_only_still_gives_canvas_a_login_per_row(
        sandbox_available: None, tmp_path: Path) -> None:
    """A roster with a 'folder' column and no Canvas identity (the README's first kind): the
    folder is the login, as without a roster; the rows had no ID, SIS User ID or SIS Login ID,
    so Canvas could place none of them."""
    klass = tmp_path / "class"
    shutil.copytree(SUBMISSIONS / "perfect", klass / "ann")
    roster = tmp_path / "roster.csv"
    roster.write_text("folder,name\nann,Ann Lovelace\ngus,Gus Grissom\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["grade", str(klass), "--out", str(out), *ARGS, "--export", "canvas",
                 "--roster", str(roster)]) == 1  # gus handed in nothing
    text = (out / "canvas-import.csv").read_text(encoding="utf-8")
    assert read_csv(text)[2:] == [["ann", "", "", "ann", "", "7"],
                                  ["gus", "", "", "gus", "", "0"]]
    assert canvas_problems(text, {"01-orders"}) == []


# ------------------------------------------------------------------------ names and files
def source_ids() -> SourceIds:
    return SourceIds({"01-orders.ipynb": frozenset({"orders-get-order", "orders-pages"})})


def test_folder_names_that_print_the_same_each_get_a_row(tmp_path: Path) -> None:
    klass = tmp_path / "class"
    long_a, long_b = "a" * 197 + "xyz1", "a" * 197 + "xyz2"  # 201 characters, one prefix
    for name in ("ann", "ann\u200b", long_a, long_b):
        (klass / name).mkdir(parents=True)
        shutil.copy(PERFECT, klass / name)
    found = find_submissions([klass], source_ids())
    assert len(found) == 4
    assert found["ann"].folder == klass / "ann" and not found["ann"].problem
    twins = [name for name in found if name.startswith("ann #")]
    assert len(twins) == 1 and "invisible characters" in found[twins[0]].problem
    longs = [name for name in found if name.startswith("a" * 197)]
    assert len(longs) == 2 and all("201 characters long" in found[n].problem for n in longs)


def test_a_notebook_beside_student_folders_is_a_stray_file(tmp_path: Path) -> None:
    klass = tmp_path / "class"
    (klass / "ann").mkdir(parents=True)
    shutil.copy(PERFECT, klass / "ann")
    shutil.copy(PERFECT, klass)
    found = find_submissions([klass], source_ids())
    assert list(found) == ["01-orders.ipynb", "ann"]
    assert "is a notebook at the top of the class folder" in found["01-orders.ipynb"].problem
    assert found["ann"].files == {"01-orders.ipynb": klass / "ann" / "01-orders.ipynb"}
    # a link to a file is one too, a link to a folder is not: a re-grade, which keeps their
    # rows and not their files, tells a stray file's by its reason alone
    (klass / "linked-file").symlink_to(klass / "01-orders.ipynb")
    (klass / "linked-folder").symlink_to(klass / "ann")
    found = find_submissions([klass], source_ids())
    assert {name: (s.stray, is_stray_reason(s.problem)) for name, s in found.items()} == {
        "01-orders.ipynb": (True, True), "linked-file": (True, True),
        "linked-folder": (False, False), "ann": (False, False)}


def test_a_notebook_given_for_a_student_folder_is_a_stray_file_not_a_student(
        sandbox_available: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``kit grade class/*`` (a shell glob) hands the grader the class's stray notebook
    beside the student folders: it is reported as a stray file, as when ``class/`` is given,
    and never counted or exported as a student (the summary's count, grades-by-student.csv,
    canvas-import.csv).  Given beside student folders into a graded class's out folder, it
    does not turn their re-grade into a run of a class without the others."""
    klass = tmp_path / "class"
    for student in ("ann", "bob"):
        (klass / student).mkdir(parents=True)
        shutil.copy(PERFECT, klass / student)
    shutil.copy(PERFECT, klass / "stray.ipynb")
    globbed = [str(p) for p in sorted(klass.iterdir())]
    for args, out in ((globbed, tmp_path / "out-glob"), ([str(klass)], tmp_path / "out-class")):
        status = main(["grade", *args, "--out", str(out), *ARGS, "--export", "canvas"])
        said = capsys.readouterr().out
        assert status == 1, said  # a stray file needs the instructor's look
        assert "2 students: 2 graded in full, 0 need attention" in said, said
        assert "stray files, not students: stray.ipynb" in said, said
        by_student = read_csv((out / "grades-by-student.csv").read_text(encoding="utf-8"))
        assert [row[0] for row in by_student[1:]] == ["ann", "bob"]
        canvas = read_csv((out / "canvas-import.csv").read_text(encoding="utf-8"))
        assert [row[0] for row in canvas[2:]] == ["ann", "bob"]
        stray = [row for row in read_csv((out / "gradebook.csv").read_text(encoding="utf-8"))
                 if row[0] == "stray.ipynb"]
        assert stray and {row[5] for row in stray} == {"invalid-submission"}
        assert all("is a notebook" in row[6] and "not a student's folder" in row[6]
                   for row in stray), stray
    # re-grades of ann: beside the stray file, and alone (the stray file's rows are kept
    # from the class's run, and it is still no student)
    for args, out in (([klass / "ann", klass / "stray.ipynb"], tmp_path / "out-glob"),
                      ([klass / "ann"], tmp_path / "out-class")):
        main(["grade", *map(str, args), "--out", str(out), *ARGS, "--export", "canvas"])
        said = capsys.readouterr().out
        assert "1 students: 1 graded in full" in said, said  # ann re-graded, bob kept
        by_student = read_csv((out / "grades-by-student.csv").read_text(encoding="utf-8"))
        assert [row[0] for row in by_student[1:]] == ["ann", "bob"], by_student
        canvas = read_csv((out / "canvas-import.csv").read_text(encoding="utf-8"))
        assert [row[0] for row in canvas[2:]] == ["ann", "bob"], canvas
        gradebook = read_csv((out / "gradebook.csv").read_text(encoding="utf-8"))
        assert "stray.ipynb" in {row[0] for row in gradebook}  # its rows are kept


def test_what_a_student_handed_in_instead_of_a_notebook_is_named_in_their_rows(
        tmp_path: Path) -> None:
    """A zip of the notebooks (an LMS upload), a notebook two folders down, a PDF: each is
    named in the 'not submitted' rows and in the summary, with what to do about an archive,
    never a bare 'was not submitted' for a student who handed something in. nbgrader's
    timestamp.txt and what file managers leave are not hand-ins."""
    import zipfile

    klass = tmp_path / "class"
    (klass / "zipper").mkdir(parents=True)
    with zipfile.ZipFile(klass / "zipper" / "hw.zip", "w") as archive:
        archive.write(PERFECT, "01-orders.ipynb")
    (klass / "deep" / "a" / "b").mkdir(parents=True)
    shutil.copy(PERFECT, klass / "deep" / "a" / "b")
    (klass / "ann" / "ps1").mkdir(parents=True)
    shutil.copy(PERFECT, klass / "ann" / "ps1")
    (klass / "ann" / "ps1" / "timestamp.txt").write_text("2026-12-07 08:00:00")
    (klass / "ann" / ".DS_Store").write_bytes(b"\0")
    (klass / "bo").mkdir()  # everything handed in, and a README beside it: nothing to say
    shutil.copy(PERFECT, klass / "bo")
    (klass / "bo" / "README.md").write_text("my notes")
    book = grading.grade([klass], SOLUTIONS, tmp_path / "out",
                         GradingRun(jobs=1, notebooks=["01-orders.ipynb"], log=lambda _: None))
    reasons = {r.student: r.reason for r in book.rows}
    assert reasons["zipper"] == ("01-orders.ipynb was not submitted; the folder holds hw.zip, "
                                 "which was not graded (archives are not unpacked: unpack it "
                                 "into the folder and grade again)")
    assert reasons["deep"] == ("01-orders.ipynb was not submitted; the folder holds "
                               "a/b/01-orders.ipynb, which was not graded")
    assert {r.status for r in book.rows if r.student == "ann"} == {"passed"}
    assert book.notes["zipper"] == ["other files, not graded: hw.zip"]
    assert "ann" not in book.notes and "bo" not in book.notes


def test_hard_links_and_files_of_other_owners_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ann"
    folder.mkdir()
    shutil.copy(PERFECT, tmp_path / "someone-elses.ipynb")  # never a link to the fixture
    os.link(tmp_path / "someone-elses.ipynb", folder / "01-orders.ipynb")
    owner = folder.stat().st_uid
    assert "is a hard link (2 names for one file" in \
        file_problem(folder / "01-orders.ipynb", "01-orders.ipynb", owner)
    copied = tmp_path / "bob.ipynb"
    shutil.copy(PERFECT, copied)
    assert file_problem(copied, "01-orders.ipynb", owner) == ""
    if os.geteuid() != 0:
        pytest.skip("giving a file to another owner needs root")
    os.chown(copied, 4242, 4242)
    assert file_problem(copied, "01-orders.ipynb", owner) == (
        f"01-orders.ipynb is owned by uid 4242, not by the owner of the student's folder "
        f"(uid {owner}) or the grader")


def test_a_hard_linked_notebook_gets_an_invalid_notebook_row(
        sandbox_available: None, tmp_path: Path) -> None:
    klass = tmp_path / "class"
    (klass / "copycat").mkdir(parents=True)
    shutil.copy(SOLUTIONS / "01-orders.ipynb", tmp_path / "solution.ipynb")  # as if in place
    os.link(tmp_path / "solution.ipynb", klass / "copycat" / "01-orders.ipynb")
    book = grading.grade([klass], SOLUTIONS, tmp_path / "out",
                         GradingRun(notebooks=["01-orders.ipynb"], log=lambda line: None))
    assert {(r.status, r.points) for r in book.rows} == {("invalid-notebook", 0.0)}
    assert "hard link" in book.rows[0].reason


def test_a_student_name_is_never_a_live_link_in_markdown_feedback(
        sandbox_available: None, tmp_path: Path) -> None:
    klass = tmp_path / "class"
    name = "[grades](javascript:alert(1))"
    (klass / name).mkdir(parents=True)
    shutil.copy(PERFECT, klass / name)
    out = tmp_path / "out"
    grading.grade([klass], SOLUTIONS, out, GradingRun(notebooks=["01-orders.ipynb"],
                                                      log=lambda line: None))
    text = (out / "feedback" / f"{name}.md").read_text(encoding="utf-8")
    heading = text.splitlines()[0]
    assert heading == r"# Feedback for \[grades\]\(javascript\:alert\(1\)\)"
    assert "](javascript:" not in text


# --------------------------------------------------------------------------- the out folder
def test_an_out_that_cannot_be_one_is_refused_before_any_grading(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    klass = tmp_path / "class"
    shutil.copytree(SUBMISSIONS / "perfect", klass / "ann")
    afile = tmp_path / "grades.csv"
    afile.write_text("keep me")
    for out, said in ((afile, f"error: --out {afile} is a file, not a folder"),
                      (klass / "results", f"error: --out {klass / 'results'} lies inside the "
                                          f"submissions folder {klass}"),
                      (SOLUTIONS / "out", f"error: --out {SOLUTIONS / 'out'} lies inside the "
                                          f"source folder {SOLUTIONS}")):
        started = time.monotonic()
        assert main(["grade", str(klass), "--out", str(out), *ARGS]) == 2
        err = capsys.readouterr().err
        assert err.startswith(said) and err.count("\n") == 1  # one line, no traceback
        assert time.monotonic() - started < 5  # refused before loading anything to grade
    assert afile.read_text() == "keep me" and not (klass / "results").exists()
    assert not (SOLUTIONS / "out").exists()


def test_export_moodle_is_refused_naming_the_file_always_written(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["grade", "class", "--export", "moodle"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "grades-by-student.csv" in err[-1] and "always written" in err[-1], err


# ------------------------------------------------------------------------- sandbox by default
def test_without_bubblewrap_nothing_runs_unless_sandbox_none(tmp_path: Path) -> None:
    """bwrap is taken off PATH, as on a machine without it."""
    env = {**os.environ, "PATH": str(tmp_path / "no-bin")}
    klass = tmp_path / "class"
    shutil.copytree(SUBMISSIONS / "perfect", klass / "ann")
    refused = subprocess.run([*KIT, "grade", str(klass), "--out", str(tmp_path / "o"), *ARGS],
                             capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert refused.returncode == 2 and not (tmp_path / "o").exists()
    assert refused.stderr.startswith("error: no sandbox: bubblewrap (bwrap) is not installed")
    assert refused.stderr.count("\n") == 1
    ran = subprocess.run([*KIT, "grade", str(klass), "--out", str(tmp_path / "o"), *ARGS,
                          "--sandbox", "none"], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=300)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("WARNING: sandbox: NONE (--sandbox none; ")
    assert "WARNING: graded without a sandbox (--sandbox none)" in ran.stdout
    rows = read_csv((tmp_path / "o" / "gradebook.csv").read_text())[1:]
    assert {(row[5], row[6]) for row in rows} == {
        ("passed", "graded without a sandbox (--sandbox none)")}


# ------------------------------------------------------------------ one student, not the class
SLOW = ("import time\n\nSLEPT = []\n\n\ndef my_get_order(size, page_size=4096):\n"
        "    if not SLEPT:\n        SLEPT.append(time.sleep(4))  # once: 4 s\n"
        "    shift = page_size.bit_length() - 1\n"
        "    return ((size - 1) >> shift).bit_length() if size else 64 - shift\n")


def slow_student(folder: Path) -> None:
    import nbformat

    nb = nbformat.read(PERFECT, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "orders-get-order":
            cell.source = SLOW
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "01-orders.ipynb")


def test_the_watchdog_stops_a_student_over_budget_and_the_class_goes_on(
        sandbox_available: None, tmp_path: Path) -> None:
    klass = tmp_path / "class"
    shutil.copytree(SUBMISSIONS / "perfect", klass / "ann")
    slow_student(klass / "slow")  # 4 s: within its exercise's 15 s, not in a budget of 3 s
    book = grading.grade([klass], SOLUTIONS, tmp_path / "out", GradingRun(
        limits=Limits(timeout=15), notebooks=["01-orders.ipynb"], student_budget=3,
        log=lambda line: None))
    rows = {(r.student, r.exercise): (r.status, r.reason) for r in book.rows}
    assert {rows[("ann", e)][0] for e in ("orders-get-order-tests", "orders-pages-tests",
                                          "orders-fits-tests")} == {"passed"}
    budget = "the student's grading took longer than its budget of 3 s: stopped"
    assert rows[("slow", "orders-get-order-tests")] == ("timeout", budget)
    assert rows[("slow", "orders-fits-tests")] == ("timeout", budget)


def test_a_student_stalled_in_the_grader_itself_is_given_up_and_reported(
        sandbox_available: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    klass = tmp_path / "class"
    for name in ("ann", "stuck"):
        shutil.copytree(SUBMISSIONS / "perfect", klass / name)
    read = grading.read_submitted

    def stalls(path: Path, name: str, owner: int | None = None) -> object:
        if path.parent.name == "stuck":
            time.sleep(60)  # no worker to stop: a stall in the grader's own code
        return read(path, name, owner)

    monkeypatch.setattr(grading, "read_submitted", stalls)
    monkeypatch.setattr(classrun, "GRACE", 1.0)
    started = time.monotonic()
    book = grading.grade([klass], SOLUTIONS, tmp_path / "out", GradingRun(
        notebooks=["01-orders.ipynb"], student_budget=2, log=lambda line: None))
    assert time.monotonic() - started < 30
    statuses = {(r.student, r.status) for r in book.rows}
    assert statuses == {("ann", "passed"), ("stuck", "timeout")}


def test_a_run_whose_cgroups_cannot_be_removed_says_which(
        sandbox_available: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's end removes its ``kit-grade-<pid>`` groups; one that stays (a process in it
    that does not end) is named in the run's log, not left behind in silence.  The removal is
    the real one; it then reports the run's folder as stuck, as it would after giving up."""
    (tmp_path / "class" / "ann").mkdir(parents=True)
    shutil.copy(PERFECT, tmp_path / "class" / "ann" / "01-orders.ipynb")
    remove = cgroups._kill_and_remove
    stuck: list[Path] = []

    def gives_up_on_the_run(group: Path) -> list[Path]:
        left = remove(group)
        if group.name == f"{cgroups.PREFIX}{os.getpid()}":
            stuck.append(group)
            return [*left, group]
        return left

    monkeypatch.setattr(cgroups, "_kill_and_remove", gives_up_on_the_run)
    said: list[str] = []
    book = grading.grade([tmp_path / "class"], SOLUTIONS, tmp_path / "out", GradingRun(
        notebooks=["01-orders.ipynb"], log=said.append))
    assert {r.status for r in book.rows} == {"passed"}
    warnings = [line for line in said if "could not be removed" in line]
    assert stuck and warnings == [
        f"WARNING: {len(stuck)} cgroup folder(s) of this run could not be removed (a process "
        f"in them did not end): {', '.join(map(str, stuck))}; the next grading run removes "
        "them once their processes end"]


def test_a_killed_grader_keeps_what_it_graded_and_the_rerun_cleans_up(
        sandbox_available: None, tmp_path: Path) -> None:
    klass = tmp_path / "class"
    for index in range(4):
        shutil.copytree(SUBMISSIONS / "perfect", klass / f"s{index}")
    slow_student(klass / "s9-slow")  # still being graded when the grader dies
    out = tmp_path / "out"
    command = [*KIT, "grade", str(klass), "--out", str(out), "--source", str(SOLUTIONS),
               "--notebook", "01-orders.ipynb", "--timeout", "15", "--jobs", "1"]
    grader = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True,
                              stdout=subprocess.DEVNULL)
    assert grader.stderr is not None
    for line in grader.stderr:
        if line.startswith("graded 4/5"):
            break
    # This grader's groups, named before the kill (while it lives, nothing of it is stale).
    run_folders = [tree.base / f"{cgroups.PREFIX}{grader.pid}"
                   for tree in open_sandbox().cgroups.hierarchies]  # type: ignore[union-attr]
    # Killed while the slow student's worker is at work: a process in a worker group of this
    # grader (s0-s3's groups went before "graded 4/5": a student's result comes after their
    # sandbox is closed), which the rerun has to end and remove; killed earlier, the check
    # after the rerun would hold whatever the rerun did.
    assert not run_folders or eventually(lambda: any(
        cgroups._read(worker / "cgroup.procs").split()
        for folder in run_folders for worker in folder.glob("w*")), timeout=60)
    grader.send_signal(signal.SIGKILL)
    grader.wait(timeout=30)
    rows = read_csv((out / "gradebook.csv").read_text(encoding="utf-8"))[1:]
    done = {row[0] for row in rows if row[5] == "passed"}
    assert done == {"s0", "s1", "s2", "s3"}
    assert {(row[5], row[6]) for row in rows if row[0] == "s9-slow"} == {
        ("grader-error", classrun.NOT_GRADED)}
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    # Gone after the rerun: removed by it, or by another grading run of the suite that started
    # first (every run removes every stale group; test_sandbox_resources tests the removal).
    assert not any(folder.exists() for folder in run_folders)
    rows = read_csv((out / "gradebook.csv").read_text(encoding="utf-8"))[1:]
    assert {row[5] for row in rows} == {"passed"} and len(rows) == 15
    assert not list(out.rglob("*.tmp"))
