"""Speaker notes: every section of every lesson carries short notes for the presenter.

A note lives in the metadata of the markdown cell that opens the section
(``"kit": {"notes": "..."}``): slide mode shows it in the speaker-notes window only
(tests/browser/test_slides.py checks that no note reaches a slide or the student's page).
Each note starts with its time ("4 min."), and a lesson's times add up to the time its
learning goals announce, so a presenter who follows the notes ends the lesson on time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

LESSONS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]-*.ipynb"))
TIME = re.compile(r"(\d+) min\. ")
ANNOUNCED = re.compile(r"After this (\d+)-minute lesson")
#: Short enough to read at a glance beside the projector.
MAX_NOTE = 400


def sections(lesson: Path) -> list[dict]:
    cells = json.loads(lesson.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "markdown"
            and "".join(c["source"]).lstrip().startswith("#")]


def note(cell: dict) -> str:
    return str((cell["metadata"].get("kit") or {}).get("notes", ""))


def test_there_are_lessons() -> None:
    assert len(LESSONS) >= 8


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_section_has_a_short_timed_note(lesson: Path) -> None:
    for cell in sections(lesson):
        heading = "".join(cell["source"]).lstrip().split("\n", 1)[0]
        text = note(cell)
        assert text, f"{lesson.name}: section {heading!r} has no speaker notes"
        assert TIME.match(text), f"{lesson.name}: {heading!r}: start with its time, '3 min. '"
        assert len(text) <= MAX_NOTE, f"{lesson.name}: {heading!r}: note over {MAX_NOTE} chars"


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_the_notes_times_add_up_to_the_lessons_time(lesson: Path) -> None:
    first = "".join(sections(lesson)[0]["source"])
    announced = ANNOUNCED.search(first)
    assert announced, f"{lesson.name}: no 'After this N-minute lesson' in its first cell"
    total = sum(int(TIME.match(note(cell)).group(1))  # type: ignore[union-attr]
                for cell in sections(lesson) if TIME.match(note(cell)))
    assert total == int(announced.group(1)), (lesson.name, total)


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_no_note_is_in_what_students_read(lesson: Path) -> None:
    """Notes stay in metadata: never copied into a cell's text or outputs."""
    cells = json.loads(lesson.read_text())["cells"]
    shown = json.dumps([[c["source"], c.get("outputs", [])] for c in cells])
    for cell in sections(lesson):
        assert note(cell)[6:60] not in shown, (lesson.name, note(cell)[:40])
