"""The classroom service behind a real JupyterHub and proxy: permissions and a class of 100.

One Hub (with configurable-http-proxy and the service, as ``scripts/classroom.sh`` starts them)
runs for the whole module on free loopback ports, in its own process group, and is torn down by
pid; tokens are real Hub tokens, created through the Hub's API the way a server's
``$JUPYTERHUB_API_TOKEN`` is.  Each test uses its own poll, so their order does not matter.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from waiting import eventually

pytest.importorskip("jupyterhub", reason="the [classroom] extra is not installed")

from kit.classroom.client import ClassroomClient, ClassroomError  # noqa: E402
from kit.classroom.hubconfig import access_scope, admin_scope  # noqa: E402
from kit.classroom.localhub import LocalHub, process_running, proxy_command  # noqa: E402

STUDENTS = [f"s{i:03d}" for i in range(1, 101)]
INSTRUCTOR = "teacher"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Any:
    proxy_command()  # a clear error when scripts/setup.sh has not installed the proxy
    local = LocalHub(tmp_path_factory.mktemp("hub"), STUDENTS, [INSTRUCTOR])
    local.start()
    try:
        yield local
    finally:
        pids = list(local.pids().values())
        local.stop(grace=3)  # nothing to save: a slow clean shutdown would only cost time
        alive = [pid for pid in pids if process_running(pid)]
        assert alive == [], f"left running after stop(): {alive}"


@pytest.fixture(scope="module")
def teacher(hub: LocalHub) -> ClassroomClient:
    return ClassroomClient(hub.service_url, hub.token(INSTRUCTOR))


@pytest.fixture(scope="module")
def student(hub: LocalHub) -> ClassroomClient:
    return ClassroomClient(hub.service_url, hub.token(STUDENTS[0]))


def raw(url: str, method: str = "GET", body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """Status and JSON answer of one request, errors included."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def status_of(call: Any) -> int:
    try:
        call()
    except ClassroomError as error:
        return error.status
    return 200


# -- who may do what ---------------------------------------------------------------------


def test_the_hub_started_the_proxy_and_the_service(hub: LocalHub) -> None:
    assert set(hub.pids()) == {"hub", "proxy", "service"}
    assert raw(hub.service_url + "health") == (200, {"ok": True, "service": "classroom"})


def test_the_user_comes_from_the_token(teacher: ClassroomClient,
                                       student: ClassroomClient) -> None:
    assert teacher.me() == {"name": INSTRUCTOR, "instructor": True}
    assert student.me() == {"name": STUDENTS[0], "instructor": False}


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "token not-a-real-token"}, {"Authorization": "bearer forged"},
    {"Cookie": "jupyterhub-services-classroom=forged"},
], ids=["none", "forged-token", "forged-bearer", "forged-cookie"])
def test_no_or_forged_credentials_get_401(hub: LocalHub, headers: dict[str, str]) -> None:
    for method, path in (("GET", "api/me"), ("GET", "api/polls/03-head-or-tail"),
                         ("PUT", "api/polls/03-head-or-tail/vote"),
                         ("POST", "api/polls/03-head-or-tail/open"), ("GET", "api/export")):
        body = b'{"choice": 0}' if method != "GET" else None
        status, answer = raw(hub.service_url + path, method, body, headers)
        assert status == 401, (method, path, answer)
        assert "token" in answer["message"]


def test_the_service_port_without_the_proxy_still_wants_a_token(hub: LocalHub) -> None:
    settings = json.loads((hub.workdir / "classroom-settings.json").read_text())
    direct = f"http://127.0.0.1:{settings['service_port']}/services/classroom/"
    assert raw(direct + "api/me")[0] == 401
    assert raw(direct + "api/me", headers={"Authorization": "token forged"})[0] == 401


def test_a_token_without_the_access_scope_gets_403(hub: LocalHub) -> None:
    token = hub.token(STUDENTS[1], scopes=["read:users:name!user"])
    status, answer = raw(hub.service_url + "api/me",
                         headers={"Authorization": f"token {token}"})
    assert status == 403 and "no access" in answer["message"]


def test_a_student_cannot_get_the_admin_scope_from_the_hub(hub: LocalHub) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        hub.token(STUDENTS[2], scopes=[access_scope("classroom"), admin_scope("classroom")])
    assert refused.value.code in (400, 403)


def test_instructor_only_calls_are_refused_to_students(student: ClassroomClient) -> None:
    poll = "01-allocation-unit"
    calls = {
        "open": lambda: student.open_round(poll),
        "close": lambda: student.close_round(poll),
        "reveal": lambda: student.reveal(poll, 1),
        "reset": lambda: student.reset(poll),
        "results": lambda: student.results(poll),
        "export": student.export,
        "publish": lambda: student.publish({"lesson": "03"}),
    }
    assert {name: status_of(call) for name, call in calls.items()} == dict.fromkeys(calls, 403)


def test_votes_follow_the_rounds(teacher: ClassroomClient, student: ClassroomClient) -> None:
    poll = "02-get-order-by-hand"
    assert status_of(lambda: student.vote(poll, 0)) == 409  # no round yet
    assert teacher.open_round(poll) == {"number": 1, "open": True, "reveal": False}
    assert status_of(lambda: teacher.open_round(poll)) == 409  # one open at a time
    assert student.vote(poll, 2)["round"] == 1
    assert student.vote(poll, 1)["round"] == 1  # a changed vote replaces the first
    seen = student.poll(poll)
    assert seen["my_votes"] == {"1": 1} and seen["histograms"] == {}  # round 1 hidden
    assert teacher.poll(poll)["histograms"] == {"1": [0, 1, 0]}
    teacher.close_round(poll)
    assert status_of(lambda: student.vote(poll, 0)) == 409  # closed
    assert status_of(lambda: teacher.close_round(poll)) == 409
    teacher.reveal(poll, 1)
    assert student.poll(poll)["histograms"] == {"1": [0, 1, 0]}
    assert teacher.open_round(poll)["reveal"] is True  # round 2 shown by default
    student.vote(poll, 0)
    teacher.close_round(poll)
    assert status_of(lambda: teacher.open_round(poll)) == 409  # two rounds only
    rows = [r for r in teacher.export() if r["poll"] == poll]
    assert [(r["user"], r["round"], r["choice"], r["changes"]) for r in rows] == [
        (STUDENTS[0], 1, 1, 1), (STUDENTS[0], 2, 0, 0)]
    teacher.reset(poll)
    assert teacher.poll(poll)["rounds"] == []


def test_bad_requests_get_json_errors(hub: LocalHub, teacher: ClassroomClient,
                                      student: ClassroomClient) -> None:
    # here, not at the top: the service module imports JupyterHub's auth (~1 CPU-s), which
    # the Hub's own process needs, and every pytest worker would import it to collect this
    from kit.classroom.service import MAX_BODY

    poll = "02-aligned-start"
    teacher.open_round(poll)
    auth = {"Authorization": f"token {student.token}", "Content-Type": "application/json"}
    vote = hub.service_url + f"api/polls/{poll}/vote"
    cases = {
        "out of range": (b'{"choice": 3}', 400),
        "negative": (b'{"choice": -1}', 400),
        "not a number": (b'{"choice": "pfn 8"}', 400),
        "a boolean": (b'{"choice": true}', 400),
        "missing": (b"{}", 400),
        "not JSON": (b"choice=1", 400),
        "not an object": (b"[1]", 400),
        "oversized": (b'{"choice": 1, "pad": "' + b"x" * MAX_BODY + b'"}', 413),
    }
    for name, (body, expected) in cases.items():
        status, answer = raw(vote, "PUT", body, auth)
        assert (name, status) == (name, expected), answer
        assert answer["status"] == expected and answer["message"]
    assert raw(hub.service_url + "api/polls/no-such-question", headers=auth)[0] == 404
    assert raw(hub.service_url + "api/polls/no-such-question/vote", "PUT", b'{"choice": 0}',
               auth)[0] == 404
    assert raw(hub.service_url + "api/nothing-here", headers=auth)[0] == 404
    assert student.poll(poll)["my_votes"] == {}  # nothing refused was counted
    teacher.close_round(poll)
    teacher.reset(poll)


def test_follow_the_instructor(teacher: ClassroomClient, student: ClassroomClient) -> None:
    before = student.follow()["version"]
    idle = teacher.follow()["followers"]
    assert "followers" not in student.follow()  # the instructor's figure
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(student.follow, before, wait=25)
        # Published once the service holds the student's long-poll (not before it arrives:
        # then it would be answered at once, and the wake-up would go untested).
        assert eventually(lambda: teacher.follow()["followers"] > idle or waiting.done())
        assert not waiting.done()
        version = teacher.publish({"lesson": "03-buddy-system", "section": 4})
        woke = waiting.result(timeout=10)  # woken by the publish, long before its 25 s
    assert woke == {"version": version, "state": {"lesson": "03-buddy-system", "section": 4}}
    assert teacher.follow()["followers"] == idle
    assert student.follow(0) == woke  # a follower that reconnects catches up at once
    started = time.monotonic()
    assert student.follow(version, wait=0.5)["version"] == version  # nothing new: times out
    assert time.monotonic() - started >= 0.4


# -- a class of 100 ----------------------------------------------------------------------


def test_a_class_of_100_votes_in_two_rounds_and_nothing_is_lost(
        hub: LocalHub, teacher: ClassroomClient) -> None:
    poll = "03-find-the-buddy"
    clients = [ClassroomClient(hub.service_url, hub.token(name), timeout=30)
               for name in STUDENTS]
    # Round 1: student i picks i % 3; every fifth changes their mind to (i + 1) % 3.
    first = {name: i % 3 for i, name in enumerate(STUDENTS)}
    changed = {name: (i + 1) % 3 for i, name in enumerate(STUDENTS) if i % 5 == 0}
    # Round 2: most converge on choice 2.
    second = {name: 2 if i % 4 else i % 3 for i, name in enumerate(STUDENTS)}

    def burst(votes: dict[str, int]) -> list[int]:
        by_name = dict(zip(STUDENTS, clients, strict=True))
        with ThreadPoolExecutor(len(votes)) as pool:
            return list(pool.map(lambda item: by_name[item[0]].vote(poll, item[1])["round"],
                                 votes.items()))

    teacher.open_round(poll)
    assert burst(first) == [1] * 100
    assert burst(changed) == [1] * len(changed)
    teacher.close_round(poll)
    teacher.open_round(poll)
    assert burst(second) == [2] * 100
    teacher.close_round(poll)

    final_first = {**first, **changed}
    results = teacher.results(poll)
    assert [r["answered"] for r in results["rounds"]] == [100, 100]
    assert results["rounds"][0]["histogram"] == [
        sum(1 for c in final_first.values() if c == k) for k in range(3)]
    assert results["rounds"][1]["histogram"] == [
        sum(1 for c in second.values() if c == k) for k in range(3)]
    assert results["present"] >= 100
    paired = [name for pair in results["pairs"] for name in pair] + results["unpaired"]
    assert sorted(paired) == STUDENTS  # everyone in a pair or named as left over
    assert all(final_first[a] != final_first[b] for a, b in results["pairs"])
    rows = [r for r in teacher.export() if r["poll"] == poll]
    assert {(r["user"], r["round"]): r["choice"] for r in rows} == {
        **{(n, 1): c for n, c in final_first.items()}, **{(n, 2): c for n, c in second.items()}}
    assert sum(r["changes"] for r in rows) == len(changed)


def test_the_hub_holds_sqlite_in_wal_mode(hub: LocalHub) -> None:
    assert os.path.exists(hub.workdir / "classroom.sqlite-wal")


# -- the Poll widget against the real service ----------------------------------------------


def test_the_poll_widget_runs_two_rounds_between_presenter_and_students(
        hub: LocalHub, teacher: ClassroomClient) -> None:
    widgets = pytest.importorskip("kit.widgets", reason="needs the [widgets] extra")
    poll = "04-waste-by-hand"
    presenter = widgets.Poll(poll, client=teacher, refresh=0)
    ann = widgets.Poll(poll, client=ClassroomClient(hub.service_url, hub.token(STUDENTS[10])),
                       refresh=0, seed=1)
    bob = widgets.Poll(poll, client=ClassroomClient(hub.service_url, hub.token(STUDENTS[11])),
                       refresh=0, seed=2)
    assert (presenter.live, presenter.instructor, ann.live, ann.instructor) == (
        True, True, True, False)
    assert ann.choices.disabled and "Wait for the instructor" in ann.status.value
    assert presenter.action.description == "Open round 1"
    presenter.action.click()
    assert presenter.action.description == "Close round 1"
    texts = presenter.question.texts
    ann.refresh()
    bob.refresh()
    ann.choices.value = texts[0]
    bob.choices.value = texts[1]
    ann.choices.value = texts[2]  # changes her mind
    presenter.refresh()
    assert "round 1: 2 answered" in presenter.status.value
    assert presenter.results["rounds"][0]["histogram"] == [0, 1, 1]
    assert ann.histograms.value == ""  # round 1 hidden from students
    presenter.action.click()  # close round 1
    presenter._show_pairs()
    assert STUDENTS[10] in presenter.pairs.value and STUDENTS[11] in presenter.pairs.value
    ann.refresh()
    assert ann.choices.disabled and "discuss" in ann.status.value
    presenter.show_first.value = True
    ann.refresh()
    assert "Round 1" in ann.histograms.value
    presenter.action.click()  # open round 2
    ann.refresh()
    ann.choices.value = texts[presenter.question.answer]
    presenter.action.click()  # close round 2
    assert presenter.action.disabled
    ann.refresh()
    assert "The poll is over" in ann.status.value and "✔" in ann.histograms.value
    rows = [r for r in teacher.export() if r["poll"] == poll]
    assert [(r["user"], r["round"], r["choice"]) for r in rows] == [
        (STUDENTS[10], 1, 2), (STUDENTS[11], 1, 1),
        (STUDENTS[10], 2, presenter.question.answer)]
    for widget in (presenter, ann, bob):
        widget.close()


def test_students_follow_the_instructor_and_catch_up_after_leaving(
        hub: LocalHub, teacher: ClassroomClient) -> None:
    widgets = pytest.importorskip("kit.widgets", reason="needs the [widgets] extra")
    sections = ["Start", "Splitting", "Merging"]
    presenting = widgets.Follow("03-buddy-system", sections=sections, client=teacher)
    student = widgets.Follow("03-buddy-system", sections=sections, wait=2,
                             client=ClassroomClient(hub.service_url, hub.token(STUDENTS[20])))

    def shows(text: str) -> bool:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if text in student.status.value:
                return True
            time.sleep(0.1)
        return False

    student.toggle.value = True
    presenting.picker.value = 1
    assert shows("section 2: Splitting")
    student.toggle.value = False  # leaves
    presenting.picker.value = 2
    time.sleep(0.5)
    assert "Not following" in student.status.value
    student.toggle.value = True  # back: the newest position at once
    assert shows("section 3: Merging")
    for widget in (presenting, student):
        widget.close()


def test_the_slide_mode_publishes_its_section_for_an_instructor_only(
        hub: LocalHub, teacher: ClassroomClient, student: ClassroomClient) -> None:
    slidefollow = pytest.importorskip("kit.widgets.slidefollow",
                                      reason="needs the [widgets] extra")
    from kit.classroom.follow import lesson_cells, lesson_sections

    lesson = Path(__file__).resolve().parents[1] / "notebooks" / "03-buddy-system.ipynb"
    cell = lesson_cells(lesson)[-1]["id"]
    last = len(lesson_sections(lesson)) - 1  # the last cell lies in the last section

    def waits_for(check: Any) -> bool:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.1)
        return False

    before = student.follow()["version"]
    refused = slidefollow.SlidePublisher(lesson, student)  # a student's own kit present
    refused.show_cell(cell)
    assert waits_for(lambda: "only an instructor" in refused.error)
    assert student.follow()["version"] == before
    presenting = slidefollow.SlidePublisher(lesson, teacher)
    presenting.show_cell(cell)
    assert waits_for(lambda: student.follow()["version"] > before)
    state = student.follow()["state"]
    assert (state["lesson"], state["section"], state["title"]) == (
        "03-buddy-system", last, lesson_sections(lesson)[last])
