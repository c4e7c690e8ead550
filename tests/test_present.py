"""``kit present``: lesson lookup and the Voila command line (the browser test runs it)."""

import os
import sys

import pytest

from kit import InvalidArgument
from kit.cli.present import TEMPLATE_ROOT, find_lesson, voila_command, voila_environment


@pytest.fixture
def lessons(tmp_path):
    for name in ("01-start-here", "03-buddy-system", "03-buddy-extra"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    return tmp_path


def test_a_lesson_is_found_by_number_name_or_path(lessons):
    assert find_lesson("1", lessons).name == "01-start-here.ipynb"
    assert find_lesson("01-start", lessons).name == "01-start-here.ipynb"
    path = lessons / "03-buddy-system.ipynb"
    assert find_lesson(str(path), lessons) == path


@pytest.mark.parametrize(
    ("lesson", "message"),
    [("9", "no lesson matches '9'.*01-start-here"), ("3", "more than one lesson")],
)
def test_unknown_or_ambiguous_lessons_are_refused(lessons, lesson, message):
    with pytest.raises(InvalidArgument, match=message):
        find_lesson(lesson, lessons)


def test_a_missing_notebook_path_is_refused(tmp_path):
    with pytest.raises(InvalidArgument, match="no notebook at"):
        find_lesson(str(tmp_path / "nope.ipynb"), tmp_path)


def test_voila_serves_on_loopback_with_the_presenter_template(lessons):
    command = voila_command(lessons / "01-start-here.ipynb", 9123)
    assert command[:3] == [sys.executable, "-m", "voila"]
    assert {"--template=presenter", "--port=9123", "--Voila.ip=127.0.0.1"} <= set(command)
    assert (TEMPLATE_ROOT / "voila" / "templates" / "presenter" / "index.html.j2").is_file()


def test_the_environment_finds_the_template_and_turns_presenter_style_on():
    env = voila_environment({"JUPYTER_PATH": "/elsewhere"})
    assert env["JUPYTER_PATH"].split(os.pathsep) == [str(TEMPLATE_ROOT), "/elsewhere"]
    assert env["KIT_PRESENTER"] == "1"


def test_slide_mode_asks_the_widgets_for_their_compact_layout():
    assert voila_environment({}, slides=True)["KIT_SLIDES"] == "1"
    # the plain presenter view never inherits it from the shell that started it
    assert "KIT_SLIDES" not in voila_environment({"KIT_SLIDES": "1"})


def test_slide_mode_names_its_lesson_for_the_kernel_that_publishes_its_slides(lessons):
    notebook = lessons / "03-buddy-system.ipynb"
    env = voila_environment({}, slides=True, notebook=notebook)
    assert env["KIT_SLIDES_LESSON"] == str(notebook.resolve())
    # the plain presenter view publishes nothing, whatever the shell had
    assert "KIT_SLIDES_LESSON" not in voila_environment(
        {"KIT_SLIDES_LESSON": str(notebook)}, notebook=notebook)
