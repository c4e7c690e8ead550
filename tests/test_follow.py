"""Follow the instructor, without a Hub: the state the presenter publishes, and two ``Follow``
widgets (an instructor's with a Playground, a student's with their own) talking through an
in-process stand-in for the classroom service's follow route (same versions, same long-poll,
the state sent as JSON).  The real service, Hub and browsers: tests/test_classroom_hub.py and
tests/browser/test_classroom_in_lab.py."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from waiting import eventually

import kit
from kit.classroom.follow import MAX_CALLS, FollowState, heading_key
from kit.core.errors import InvalidArgument

# -- the state ----------------------------------------------------------------------------


def test_a_state_goes_through_json_unchanged() -> None:
    state = FollowState("03-buddy-system", 4, "Head or tail?").with_calls(
        [("alloc_pages", 0), ("alloc_pages_exact", 135168), ("free_pages", 0, 0),
         ("free_pages_exact", 8, 20480), ("run_workload", 3, 100)])
    again = FollowState.from_json(json.loads(json.dumps(state.to_json())))
    assert again == state and again.complete
    assert FollowState.from_json({}) == FollowState()  # before the presenter starts


@pytest.mark.parametrize("bad", [
    [], {"section": -1}, {"section": True}, {"lesson": 3}, {"calls": "alloc"},
    {"calls": [["rm -rf", 1]]}, {"calls": [["alloc_pages"]]}, {"calls": [["alloc_pages", -1]]},
    {"calls": [["alloc_pages", "0"]]}, {"calls": [["free_pages", 1, 2, 3]]},
    {"calls": [["alloc_pages", 0]] * (MAX_CALLS + 1)},
])
def test_a_malformed_state_is_refused_with_its_reason(bad: Any) -> None:
    with pytest.raises(InvalidArgument):
        FollowState.from_json(bad)


def test_a_long_call_list_is_cut_and_marked_incomplete() -> None:
    calls = [("alloc_pages", 0)] * (MAX_CALLS + 5)
    state = FollowState("l").with_calls(calls)
    assert len(state.calls) == MAX_CALLS and not state.complete
    assert len(json.dumps(state.to_json())) < 16 * 1024  # under the service's body limit


def test_a_heading_matches_its_rendered_text() -> None:
    assert heading_key("`struct page`, pfns and addresses") == heading_key(
        "struct page, pfns and addresses¶")
    assert heading_key("Head or tail?") != heading_key("Buddies and merging")


# -- the widgets --------------------------------------------------------------------------

widgets = pytest.importorskip("kit.widgets", reason="needs the [widgets] extra")
SECTIONS = ["Start", "Splitting", "Merging"]


class FakeService:
    """The follow route's rules: a version per publish, long-polls woken by a new one."""

    def __init__(self) -> None:
        self.version, self.state = 0, "{}"
        self.changed = threading.Condition()

    def client(self, instructor: bool) -> FakeClient:
        return FakeClient(self, instructor)


class FakeClient:
    def __init__(self, service: FakeService, instructor: bool) -> None:
        self.service, self.instructor = service, instructor

    def me(self) -> dict[str, Any]:
        return {"name": "teacher" if self.instructor else "ann", "instructor": self.instructor}

    def publish(self, state: dict[str, Any]) -> int:
        assert self.instructor
        with self.service.changed:
            self.service.version += 1
            self.service.state = json.dumps(state)
            self.service.changed.notify_all()
            return self.service.version

    def follow(self, after: int = 0, *, wait: float = 0) -> dict[str, Any]:
        with self.service.changed:
            self.service.changed.wait_for(lambda: self.service.version > after, timeout=wait)
            return {"version": self.service.version, "state": json.loads(self.service.state)}



@pytest.fixture
def room():
    service = FakeService()
    teacher_pg = widgets.Playground(kit.Zone(64))
    teacher = widgets.Follow("03-buddy-system", sections=SECTIONS, playground=teacher_pg,
                             client=service.client(True))
    ann_pg = widgets.Playground(kit.Zone(64))
    ann = widgets.Follow("03-buddy-system", sections=SECTIONS, playground=ann_pg, wait=1,
                         client=service.client(False))
    yield teacher, teacher_pg, ann, ann_pg
    for widget in (teacher, ann, teacher_pg, ann_pg):
        widget.close()


def test_a_follower_scrolls_to_the_section_and_replays_the_calls(room) -> None:  # noqa: ANN001
    teacher, teacher_pg, ann, ann_pg = room
    ann.toggle.value = True
    teacher.picker.value = 2
    assert eventually(lambda: "section 3: Merging" in ann.status.value)
    (script,) = ann.scroller.outputs
    assert json.dumps(heading_key("Merging")) in script["data"]["application/javascript"]
    teacher_pg.alloc(2)
    teacher_pg.alloc_exact(20 * 1024)
    teacher_pg.free("free_pages", 0, 2)
    assert eventually(lambda: ann_pg.calls == teacher_pg.calls)
    assert ann_pg.zone.nr_free() == teacher_pg.zone.nr_free()
    assert ann_pg.zone is not teacher_pg.zone  # the student's own zone
    assert ann_pg.history[0].title == teacher_pg.history[0].title  # the same log line
    assert ann.state.section == 2 and ann.state.title == "Merging"


def test_a_follower_who_leaves_and_comes_back_catches_up(room) -> None:  # noqa: ANN001
    teacher, teacher_pg, ann, ann_pg = room
    ann.toggle.value = True
    teacher_pg.alloc(0)
    assert eventually(lambda: ann_pg.calls == [("alloc_pages", 0)])
    follower = ann._worker
    ann.toggle.value = False  # leaves; plays on their own
    ann_pg.alloc(3)
    teacher.picker.value = 1
    teacher_pg.reset()
    teacher_pg.alloc(1)
    follower.join(10)  # woken by those publishes, it has ended: nothing more can come of it
    assert not follower.is_alive()
    assert ann_pg.calls == [("alloc_pages", 0), ("alloc_pages", 3)]
    assert "Not following" in ann.status.value
    ann.toggle.value = True  # back: the presenter's zone as it is now, from the start
    assert eventually(lambda: ann_pg.calls == [("alloc_pages", 1)])
    assert ann_pg.zone.nr_free() == teacher_pg.zone.nr_free()
    assert eventually(lambda: "section 2: Splitting" in ann.status.value)


def test_leaving_is_final_even_when_an_answer_is_already_on_its_way(
        room, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The follow thread can hold the instructor's newest position when the student presses
    leave: it must not then write "Following: ..." over "Not following." nor replay the calls on
    the student's own Playground.  The thread is held where it reads the answer, before any
    write; leave is pressed; the thread is let go and runs to its end."""
    teacher, teacher_pg, ann, ann_pg = room
    ann.toggle.value = True
    teacher.picker.value = 1
    assert eventually(lambda: "section 2: Splitting" in ann.status.value)
    reached, release = threading.Event(), threading.Event()
    read = FollowState.from_json

    def held(data: Any) -> FollowState:
        reached.set()
        assert release.wait(10), "the test never let the follow thread go"
        return read(data)

    monkeypatch.setattr(FollowState, "from_json", staticmethod(held))
    teacher_pg.alloc(0)  # published: the follow thread wakes with it and is held
    assert reached.wait(10), "the follow thread never received the new position"
    follower = ann._worker
    ann.toggle.value = False  # leaves while the answer is on its way
    assert "Not following" in ann.status.value
    release.set()
    follower.join(10)
    assert not follower.is_alive()
    assert "Not following" in ann.status.value
    assert ann_pg.calls == []  # the student's own Playground, untouched


def test_a_presenters_calls_are_published_as_they_happen(room) -> None:  # noqa: ANN001
    teacher, teacher_pg, _ann, _ann_pg = room
    teacher.picker.value = 0
    teacher_pg.alloc(1)
    teacher_pg.run_random(3, 20)
    state = FollowState.from_json(json.loads(teacher.client.service.state))
    assert state.calls == (("alloc_pages", 1), ("run_workload", 3, 20))
    assert state.section == 0 and state.title == "Start"
    assert "2 calls" in teacher.status.value


def test_a_student_who_follows_before_the_instructor_starts_is_told_at_once() -> None:
    """The first request after the toggle asks without holding: a long poll would leave the
    status blank until it timed out (25 s in a classroom) when nothing is published yet."""
    service = FakeService()
    ann = widgets.Follow("03-buddy-system", sections=SECTIONS, wait=60,
                         client=service.client(False))
    try:
        ann.toggle.value = True
        assert eventually(lambda: "has not started" in ann.status.value, timeout=10)
        teacher = widgets.Follow("03-buddy-system", sections=SECTIONS,
                                 client=service.client(True))
        teacher.picker.value = 1  # the long poll that follows wakes on the first publish
        assert eventually(lambda: "section 2: Splitting" in ann.status.value, timeout=10)
        teacher.close()
    finally:
        ann.close()
