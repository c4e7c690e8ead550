"""The slide mode publishes its slide (``kit.widgets.slidefollow``), without a Hub: which
section a slide's cell lies in, what the presenter's kernel publishes for it through a stand-in
client, and that without a classroom (or as a student, or with the service down) nothing is
published and nothing fails.  The real Hub, Voila and browsers:
tests/browser/test_classroom_in_lab.py."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from waiting import eventually

from kit.classroom.client import ClassroomClient
from kit.classroom.follow import (
    SLIDES_LESSON_VARIABLE,
    FollowState,
    lesson_cells,
    lesson_sections,
    section_of_cell,
)

LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "03-buddy-system.ipynb"


def markdown(cell_id: str, source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": source}


def code(cell_id: str) -> dict[str, Any]:
    return {"cell_type": "code", "id": cell_id, "metadata": {}, "outputs": [],
            "source": "pg", "execution_count": None}


CELLS = [code("imports"), markdown("title", "# Buddies\n\ntext"), code("demo"),
         markdown("prose", "No heading here"), markdown("split", "  ## Splitting\nmore"),
         code("pg"), markdown("merge", ["### Merging", "\n", "text"])]


# -- the mapping slide -> section ---------------------------------------------------------

def test_a_cell_lies_in_the_section_of_the_last_heading_at_or_above_it() -> None:
    got = {cell["id"]: section_of_cell(CELLS, cell["id"]) for cell in CELLS}
    assert got == {"imports": None, "title": (0, "Buddies"), "demo": (0, "Buddies"),
                   "prose": (0, "Buddies"), "split": (1, "Splitting"), "pg": (1, "Splitting"),
                   "merge": (2, "Merging")}
    assert section_of_cell(CELLS, "no-such-cell") is None


def test_every_cell_of_a_lesson_maps_to_a_section_the_follow_picker_names() -> None:
    cells, titles = lesson_cells(LESSON), lesson_sections(LESSON)
    assert len(titles) > 3
    seen = [section_of_cell(cells, cell["id"]) for cell in cells]
    # each heading cell starts the section the picker lists at the same index, in order
    starts = [s for s, cell in zip(seen, cells, strict=True)
              if cell["cell_type"] == "markdown" and "".join(cell["source"]).lstrip()
              .startswith("#")]
    assert starts == list(enumerate(titles))
    # and the sections never go back: slides move through them in order
    indices = [s[0] for s in seen if s is not None]
    assert indices == sorted(indices) and indices[-1] == len(titles) - 1


# -- the presenter's kernel -----------------------------------------------------------------

slidefollow = pytest.importorskip("kit.widgets.slidefollow",
                                  reason="needs the [widgets] extra")


class FakeClient:
    """The classroom client's follow calls, as the service answers them."""

    def __init__(self, instructor: bool = True, state: dict[str, Any] | None = None) -> None:
        self.instructor = instructor
        self.published: list[dict[str, Any]] = [] if state is None else [state]
        self.asked_me = 0

    def me(self) -> dict[str, Any]:
        self.asked_me += 1
        return {"name": "teacher" if self.instructor else "ann", "instructor": self.instructor}

    def follow(self, after: int = 0, *, wait: float = 0) -> dict[str, Any]:
        state = self.published[-1] if self.published else {}
        return {"version": len(self.published), "state": json.loads(json.dumps(state))}

    def publish(self, state: dict[str, Any]) -> int:
        assert self.instructor, "the service refuses a student's publish (403)"
        self.published.append(json.loads(json.dumps(state)))
        return len(self.published)



@pytest.fixture
def lesson(tmp_path: Path) -> Path:
    path = tmp_path / "03-buddy-system.ipynb"
    path.write_text(json.dumps({"cells": CELLS, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def test_a_slide_shown_publishes_its_section(lesson: Path) -> None:
    client = FakeClient()
    publisher = slidefollow.SlidePublisher(lesson, client)
    publisher.show_cell("pg")
    assert eventually(lambda: len(client.published) == 1)
    assert FollowState.from_json(client.published[0]) == FollowState(
        "03-buddy-system", 1, "Splitting")
    publisher.show_cell("imports")  # above the first heading: where it was
    publisher.show_cell("merge")
    assert eventually(lambda: len(client.published) == 2)
    assert client.published[-1]["section"] == 2 and client.published[-1]["title"] == "Merging"
    assert publisher.published == FollowState("03-buddy-system", 2, "Merging")
    publisher.show_cell("merge")  # the same section again: nothing new to say
    time.sleep(0.2)
    assert len(client.published) == 2 and client.asked_me == 1


def test_the_playground_calls_last_published_for_the_lesson_are_kept(lesson: Path) -> None:
    calls = [("alloc_pages", 1), ("run_workload", 3, 20)]
    before = FollowState("03-buddy-system", 0, "Buddies").with_calls(calls).to_json()
    client = FakeClient(state=before)
    slidefollow.SlidePublisher(lesson, client).show_cell("split")
    assert eventually(lambda: len(client.published) == 2)
    state = FollowState.from_json(client.published[-1])
    assert (state.section, state.calls) == (1, tuple(calls))
    # another lesson's calls are not this lesson's Playground: they are left out
    other = FakeClient(state=FollowState("04-wastage", 0, "x").with_calls(calls).to_json())
    slidefollow.SlidePublisher(lesson, other).show_cell("split")
    assert eventually(lambda: len(other.published) == 2)
    assert FollowState.from_json(other.published[-1]).calls == ()


def test_a_students_kernel_publishes_nothing(lesson: Path) -> None:
    client = FakeClient(instructor=False)
    publisher = slidefollow.SlidePublisher(lesson, client)
    publisher.show_cell("split")
    assert eventually(lambda: "only an instructor" in publisher.error)
    publisher.show_cell("merge")
    time.sleep(0.2)
    assert client.published == [] and client.asked_me == 1 and publisher.published is None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_with_the_service_down_slides_move_and_nothing_is_published(lesson: Path) -> None:
    client = ClassroomClient(f"http://127.0.0.1:{free_port()}/services/classroom/", "token",
                             timeout=2)
    publisher = slidefollow.SlidePublisher(lesson, client)
    started = time.monotonic()
    publisher.show_cell("split")  # returns at once: the kernel never waits for the service
    publisher.show_cell("merge")
    assert time.monotonic() - started < 0.5
    assert eventually(lambda: "cannot reach" in publisher.error)
    assert publisher.published is None


@pytest.fixture
def comm_manager():
    import comm

    manager = comm.get_comm_manager()
    yield manager
    manager.targets.pop(slidefollow.COMM_TARGET, None)


class FakeComm:
    def __init__(self) -> None:
        self.closed = False
        self.handler = None

    def close(self) -> None:
        self.closed = True

    def on_msg(self, handler) -> None:  # noqa: ANN001
        self.handler = handler


def test_no_classroom_registers_nothing_outside_slides_and_declines_in_them(
        lesson: Path, comm_manager) -> None:  # noqa: ANN001
    classroom = {"KIT_CLASSROOM_URL": "http://127.0.0.1:1/services/classroom/",
                 "JUPYTERHUB_API_TOKEN": "token"}
    assert slidefollow.listen_to_slides(classroom) is None  # not slide mode
    assert slidefollow.COMM_TARGET not in comm_manager.targets
    assert slidefollow.listen_to_slides({SLIDES_LESSON_VARIABLE: str(lesson)}) is None
    page = FakeComm()
    comm_manager.targets[slidefollow.COMM_TARGET](page, {})
    assert page.closed and page.handler is None  # the page stops sending: nothing published


def test_in_a_classroom_the_pages_messages_reach_the_publisher(lesson: Path,
                                                               comm_manager) -> None:  # noqa: ANN001
    publisher = slidefollow.listen_to_slides({
        SLIDES_LESSON_VARIABLE: str(lesson), "JUPYTERHUB_API_TOKEN": "token",
        "KIT_CLASSROOM_URL": "http://127.0.0.1:1/services/classroom/"})
    assert publisher is not None and publisher.lesson == "03-buddy-system"
    client = FakeClient()
    publisher.client = client
    page = FakeComm()
    comm_manager.targets[slidefollow.COMM_TARGET](page, {})
    assert not page.closed
    for junk in ({"content": {"data": {"cell": 42}}}, {"content": {"data": "merge"}}, {}):
        page.handler(junk)  # not a cell id: ignored
    page.handler({"content": {"data": {"cell": "merge"}}})
    assert eventually(lambda: len(client.published) == 1)
    assert client.published[0]["title"] == "Merging"
