"""The generated nbgrader course kept between test runs (``nbgrader_course.generated_course``) is
the one generated from the same inputs, and is generated afresh when any of them changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbgrader_course
import pytest


@pytest.fixture()
def generations(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """``new_course`` replaced by a stand-in that writes what it was given and counts its calls
    (nbgrader itself runs in tests/test_nbgrader_parity.py)."""
    made: list[Path] = []

    def new_course(base: Path, names: list[str], config: str) -> dict[str, object]:
        made.append(base)
        (base / "release").mkdir(parents=True)
        (base / "release" / "made.txt").write_text(f"{len(made)} {names} {config}")
        return {}

    monkeypatch.setattr(nbgrader_course, "new_course", new_course)
    return made


def test_without_a_folder_to_keep_it_in_every_run_generates(
        tmp_path: Path, generations: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(nbgrader_course.KEEP, raising=False)
    for run in ("one", "two"):
        nbgrader_course.generated_course(tmp_path / run)
    assert generations == [tmp_path / "one", tmp_path / "two"]


def test_a_kept_course_is_copied_until_an_input_changes(
        tmp_path: Path, generations: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(nbgrader_course.KEEP, str(tmp_path / "kept"))
    first = nbgrader_course.generated_course(tmp_path / "one")
    second = nbgrader_course.generated_course(tmp_path / "two")
    assert generations == [first]
    assert (second / "release" / "made.txt").read_text() == \
        (first / "release" / "made.txt").read_text()
    assert not list((tmp_path / "kept").rglob("*.partial"))

    solutions = tmp_path / "solutions"  # one solution edited: generated again
    shutil.copytree(nbgrader_course.SOLUTIONS, solutions)
    edited = solutions / nbgrader_course.NOTEBOOKS[0]
    edited.write_bytes(edited.read_bytes().replace(b"\n", b"\n ", 1))
    monkeypatch.setattr(nbgrader_course, "SOLUTIONS", solutions)
    third = nbgrader_course.generated_course(tmp_path / "three")
    assert generations == [first, third]

    monkeypatch.setattr(nbgrader_course, "CONFIG", nbgrader_course.CONFIG + "# changed\n")
    fourth = nbgrader_course.generated_course(tmp_path / "four")
    assert generations == [first, third, fourth]
    assert len(list((tmp_path / "kept" / "nbgrader-course").iterdir())) == 3
