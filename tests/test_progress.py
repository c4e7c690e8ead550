"""Progress (kit.teaching.progress, ``kit progress``): atomic, locked, kept, off in grading."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from kit.cli import main
from kit.grading.boundary import checks
from kit.grading.boundary.checks import Checks
from kit.teaching import progress

COURSE_ENV = (progress.SWITCH, progress.FILE_ENV, progress.NOTEBOOK_ENV, progress.SESSION_ENV,
              "NBGRADER_EXECUTION")


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A course folder (notebooks/, exercises/) whose lesson 1 kernel records progress."""
    for name in COURSE_ENV:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "exercises").mkdir()
    for name in ("01-start-here", "02-pages-and-orders"):
        (tmp_path / "notebooks" / f"{name}.ipynb").write_text("{}")
    monkeypatch.setenv(progress.SESSION_ENV, str(tmp_path / "notebooks" / "01-start-here.ipynb"))
    monkeypatch.setattr(progress, "_lessons_seen", set())
    monkeypatch.setattr(progress, "_warned", set())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def recorded(course: Path) -> dict:
    return json.loads((course / progress.FILE_NAME).read_text())


def test_records_in_the_course_root_beside_the_notebooks(course: Path) -> None:
    progress.record_lesson()
    progress.record_lesson()  # once per kernel
    progress.record_prediction("the order of 132 KiB?", False)
    progress.record_prediction("the order of 132 KiB?", True)
    progress.record_practice("order", 1, True)
    progress.record_practice("order", 1, False)
    data = recorded(course)
    assert data["lessons"] == {"01-start-here": 1}
    assert data["predictions"] == {"01-start-here: the order of 132 KiB?": {"made": 2,
                                                                            "right": True}}
    assert data["practice"] == {"order level 1": {"checked": 2, "right": 1}}
    text = progress.progress_report()
    assert "Lessons run: 1 of 2" in text and "· 02-pages-and-orders" in text
    assert "order level 1: 1 of 2 right" in text


def test_nothing_is_recorded_without_a_jupyter_session(course: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(progress.SESSION_ENV)
    progress.record_lesson()
    progress.record_prediction("q", True)
    assert not (course / progress.FILE_NAME).exists()
    report = progress.progress_report()
    assert report.startswith("Your progress appears here when")
    # short lines: an output area (a presenter's Voila page too) breaks a long one mid-word
    assert max(map(len, report.splitlines())) <= 72


@pytest.mark.parametrize("env", [(progress.SWITCH, "off"), ("NBGRADER_EXECUTION", "autograde")])
def test_switched_off_by_kit_execute_and_nbgrader(course: Path, monkeypatch: pytest.MonkeyPatch,
                                                  env: tuple[str, str]) -> None:
    monkeypatch.setenv(*env)
    progress.record_practice("order", 1, True)
    assert not (course / progress.FILE_NAME).exists()
    assert progress.progress_report().startswith("Your progress appears here when")


def test_on_records_outside_a_jupyter_server(course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(progress.SESSION_ENV)
    monkeypatch.chdir(course / "notebooks")
    monkeypatch.setenv(progress.SWITCH, "on")
    monkeypatch.setenv(progress.NOTEBOOK_ENV, "03-buddy-system.ipynb")
    progress.record_lesson()
    assert recorded(course)["lessons"] == {"03-buddy-system": 1}


@pytest.mark.parametrize("content, problem", [
    ("{not json", "not valid JSON"),
    ('{"lessons": {}}', "not a kit progress file"),
    ('{"format": "kit-progress", "version": 99}', "version 99"),
    (b"\xff\xfe\x00garbage", "not text"),
])
def test_a_corrupt_or_foreign_file_is_kept_and_named_in_one_line(
        course: Path, capsys: pytest.CaptureFixture[str], content: str | bytes,
        problem: str) -> None:
    path = course / progress.FILE_NAME
    raw = content if isinstance(content, bytes) else content.encode()
    path.write_bytes(raw)
    progress.record_prediction("q", True)  # never raises
    progress.record_prediction("q", True)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err and "kit progress not recorded" in err
    assert path.read_bytes() == raw  # not lost
    assert main(["progress"]) == 2
    message = capsys.readouterr().err
    assert message.startswith("error: ") and problem in message and message.count("\n") == 1
    assert "Progress not shown" in progress.progress_report()


def test_a_failed_write_leaves_the_old_file_whole(course: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    progress.record_practice("order", 1, True)
    before = (course / progress.FILE_NAME).read_text()

    def crash(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")
    monkeypatch.setattr(progress.json, "dump", crash)
    progress.record_practice("order", 1, True)
    assert (course / progress.FILE_NAME).read_text() == before
    assert [p.name for p in course.iterdir() if p.name.endswith(".tmp")] == []


def _hammer(path: str, worker: int, count: int) -> None:
    def add(key: str) -> Callable[[progress.Data], None]:
        return lambda data: data["practice"].__setitem__(key, {"checked": 1, "right": 1})
    for i in range(count):
        progress.update(Path(path), add(f"w{worker}-{i}"))


def test_concurrent_kernels_do_not_clobber_each_other(tmp_path: Path) -> None:
    path = tmp_path / progress.FILE_NAME
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_hammer, args=(str(path), w, 25)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    assert len(progress.load(path)["practice"]) == 100


def test_exercise_self_checks_record_passes_without_changing_a_verdict(
        course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import kit.grading.trusted.harness  # noqa: F401  (the exercise notebooks' import sets the hook)

    assert checks.on_finished is progress.record_exercise
    monkeypatch.setenv(progress.SESSION_ENV, str(course / "exercises" / "01-orders.ipynb"))
    with Checks("get_order") as t:
        t.expect("double(2)", lambda x: 2 * x, (2,), 4)
    with Checks("pages_for") as t:  # in a student's kernel a failure is printed, not raised
        t.expect("double(3)", lambda x: 2 * x, (3,), 7)
    assert "✘ pages_for: 1 of 1 checks failed" in capsys.readouterr().out
    with Checks("unanswered"):
        raise NotImplementedError("not yet")
    assert recorded(course)["exercises"] == {"01-orders": {"get_order": True, "pages_for": False}}
    assert "Exercises passed: 1 of 2 checked" in progress.progress_report()

    def broken(_exercise: str, _passed: bool) -> None:
        raise RuntimeError("hook broke")
    monkeypatch.setattr(checks, "on_finished", broken)
    with Checks("get_order") as t:  # a broken hook changes nothing
        t.expect("double(2)", lambda x: 2 * x, (2,), 4)
    assert "all 1 checks passed" in capsys.readouterr().out


def test_the_grader_never_records(course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``kit grade`` a Reporter receives the outcomes: the hook is never called."""
    calls: list[tuple[str, bool]] = []
    monkeypatch.setattr(checks, "on_finished", lambda *args: calls.append(args))

    class Recorder:
        def outcome(self, _checks: Checks, _outcome: checks.Outcome) -> None: ...
        def finished(self, _checks: Checks, _u: str | None, _e: str | None) -> None: ...
        def seed(self, base: int) -> int:
            return base

    token = checks.reporter.set(Recorder())
    try:
        with Checks("get_order") as t:
            t.expect("double(2)", lambda x: 2 * x, (2,), 4)
    finally:
        checks.reporter.reset(token)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with Checks("get_order") as t:
        t.expect("double(2)", lambda x: 2 * x, (2,), 4)
    assert calls == []
    assert not (course / progress.FILE_NAME).exists()


def test_kit_execute_kernels_and_kit_grade_switch_recording_off(
        course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kit.grading.trusted import notebooks

    seen: list[str | None] = []

    class Client:
        def __init__(self, *_args: object, **_kwargs: object) -> None: ...
        def execute(self) -> None:
            seen.append(os.environ.get(progress.SWITCH))
    monkeypatch.setattr("nbclient.NotebookClient", Client)
    notebooks.execute({}, course)
    assert seen == ["off"]
    assert os.environ.get(progress.SWITCH) is None  # restored afterwards


def test_kit_progress_prints_the_summary(course: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(course)
    assert main(["progress"]) == 0
    assert "No progress recorded yet" in capsys.readouterr().out
    progress.record_lesson()
    monkeypatch.chdir(course / "exercises")  # the course root is found from a subfolder too
    assert main(["progress"]) == 0
    out = capsys.readouterr().out
    assert f"Progress recorded in {course / progress.FILE_NAME}" in out
    assert "Lessons run: 1 of 2\n  ✔ 01-start-here\n  · 02-pages-and-orders" in out
