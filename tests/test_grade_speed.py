"""What makes grading faster keeps every guarantee: one sandbox per student, each notebook in a
fresh process of it (nothing of one notebook reaches the next), and the instructor's cache of
solution verdicts, shared by out folders, out of every sandbox's reach."""

from __future__ import annotations

import io
import json
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kit.grading.boundary import checks
from kit.grading.sandboxed import worker
from kit.grading.trusted import notebooks as nbs
from kit.grading.trusted import reference
from kit.grading.trusted.bwrap import Limits, SandboxSession, WorkerStopped, open_sandbox
from kit.grading.trusted.collection import Submission
from kit.grading.trusted.grading import (
    GradingError,
    HiddenCases,
    SolutionChecks,
    load_source,
    prestart,
)
from kit.grading.trusted.phases import Phases
from kit.grading.trusted.remote import AnswerError, CallContext, RemoteFunction

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def session(sandbox_available: None) -> Iterator[SandboxSession]:
    started = SandboxSession(open_sandbox(), Limits(timeout=20), Phases())
    yield started
    started.close()


def run(session_or_worker: Any, source: str) -> dict[str, Any]:
    worker = session_or_worker.worker() if isinstance(session_or_worker, SandboxSession) \
        else session_or_worker
    return worker.request({"op": "run", "cell": "c", "source": source, "forbid": []}, 20)


def value(worker: Any, source: str) -> Any:
    reply = run(worker, f"def probe():\n    return {source}\n")
    assert reply["ok"], reply
    answer = worker.request({"op": "call", "name": "probe", "args": [], "forbid": []}, 20)
    assert answer["ok"], answer
    return answer["value"]


def test_each_notebook_gets_a_fresh_process_of_the_students_one_sandbox(
        session: SandboxSession) -> None:
    first = session.worker()
    assert run(first, "import os, sys\nleft = 'from notebook 1'\nsys.modules['os'].marker = 1\n"
                      "open('/tmp/left', 'w').write('x')\n"
                      "open(os.path.expanduser('~/also'), 'w').write('x')\n")["ok"]
    pid = value(first, "os.getpid()")
    second = session.worker()
    assert second is first  # the same sandbox: no new bubblewrap, interpreter or kit import
    assert value(second, "__import__('os').getpid()") != pid
    assert value(second, "'left' in globals()") is False
    assert value(second, "hasattr(__import__('os'), 'marker')") is False
    left_in_tmp = value(second, "sorted(__import__('os').listdir('/tmp'))")
    # (a checkout under /tmp, a CI clone say, is bound read-only into the sandbox's /tmp)
    assert [name for name in left_in_tmp if not f"{ROOT}/".startswith(f"/tmp/{name}/")] == []
    home = "__import__('os').path.expanduser('~')"
    assert value(second, f"sorted(__import__('os').listdir({home}))") \
        == []
    assert session.phases.spent["sandbox: next notebook"].count == 1
    assert session.phases.spent["sandbox: start, until ready"].count == 1


def test_every_notebooks_process_collects_garbage_as_python_does(
        session: SandboxSession) -> None:
    """The worker loads the kit with the collector off (a faster start); every notebook's
    process has it on again, with Python's thresholds, and the kit frozen out of its passes."""
    first = session.worker()
    collector = "[g.isenabled(), list(g.get_threshold()), g.get_freeze_count() > 10_000]"
    assert value(first, f"(lambda g: {collector})(__import__('gc'))") == \
        [True, [700, 10, 10], True]
    second = session.worker()
    assert value(second, f"(lambda g: {collector})(__import__('gc'))") == \
        [True, [700, 10, 10], True]


def test_what_a_notebook_leaves_in_the_pipes_never_reaches_the_next(
        session: SandboxSession) -> None:
    first = session.worker()
    # Its last request's reply forged, with a reply for the next request behind it, and a
    # request written into its own standard input for whoever reads it next.
    forged = json.dumps({"ok": True, "id": 1}) + "\n" + \
        json.dumps({"ok": True, "value": 42, "id": 2}) + "\n"
    planted = json.dumps({"op": "run", "cell": "x", "source": "planted = 1", "id": 2}) + "\n"
    assert run(first, "import os, sys\n"
                      "reply = int([a for a in sys.argv if a.startswith('--reply-fd=')][0][11:])\n"
                      "fd = os.open('/proc/self/fd/0', os.O_WRONLY)\n"
                      f"os.write(fd, {planted!r}.encode())\n"
                      f"os.write(reply, {forged!r}.encode())\n") == {"ok": True, "id": 1}
    second = session.worker()
    assert value(second, "'planted' in globals()") is False
    assert value(second, "6 * 7") == 42


def test_only_the_notebooks_own_process_runs_beside_the_zygote(session: SandboxSession) -> None:
    first = session.worker()
    assert value(first, "1") == 1
    second = session.worker()
    # bubblewrap's init, the zygote and this notebook's process: the last one is gone
    assert value(second, "[p for p in __import__('os').listdir('/proc') if p.isdigit()]") \
        == ["1", "2", str(value(second, "__import__('os').getpid()"))]


def test_a_notebook_process_that_dies_is_the_workers_end_and_the_next_gets_a_new_sandbox(
        session: SandboxSession) -> None:
    first = session.worker()
    with pytest.raises(WorkerStopped, match="exited with status 3") as stopped:
        run(first, "import os\nos._exit(3)")
    assert stopped.value.status == "crashed"
    second = session.worker()
    assert second is not first
    assert value(second, "1 + 1") == 2


def test_the_shared_cache_serves_another_out_folder(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    nb = nbs.read_notebook(ROOT / "solutions" / "01-orders.ipynb")
    shared = tmp_path / "cache" / reference.CACHE_FILE
    assert reference.cached_failures(nb, "01", lambda gid, base: base,
                                     tmp_path / "out-a" / reference.CACHE_FILE, shared) == {}

    def not_again(*args: object) -> dict[str, str]:
        raise AssertionError("the solution ran again")

    monkeypatch.setattr(reference, "solution_failures", not_again)
    other = tmp_path / "out-b" / reference.CACHE_FILE
    assert reference.cached_failures(nb, "01", lambda gid, base: base, other, shared) == {}
    assert other.exists()  # the out folder keeps its own copy of the verdict
    with pytest.raises(AssertionError, match="ran again"):  # another secret's seeds
        reference.cached_failures(nb, "01", lambda gid, base: base + 7, other, shared)


def test_the_shared_cache_keeps_its_newest_entries_only(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    nb = nbs.read_notebook(ROOT / "solutions" / "01-orders.ipynb")
    shared = tmp_path / reference.CACHE_FILE
    monkeypatch.setattr(reference, "SHARED_ENTRIES", 3)
    monkeypatch.setattr(reference, "solution_failures", lambda *args: {})
    keys = []
    for offset in range(5):
        def seed(gid: str, base: int, offset: int = offset) -> int:
            return base + 10 * offset

        reference.cached_failures(nb, "01", seed, None, shared)
        keys.append(reference.content_key(nb, seed))
    assert list(json.loads(shared.read_text())) == keys[-3:]


def test_no_shared_cache_where_a_sandbox_could_read_it(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "venv" / "cache"))
    assert reference.shared_cache([tmp_path / "venv"]) is None
    assert reference.shared_cache([tmp_path / "elsewhere"]) == \
        (tmp_path / "venv" / "cache" / "pagealloc-kit" / reference.CACHE_FILE).resolve()


@pytest.mark.parametrize(("source", "reason"), [
    ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "killed by signal 9 (SIGKILL)"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)", "killed by signal 11 (SIGSEGV)"),
])
def test_the_zygote_ends_as_its_notebooks_process_did(session: SandboxSession, source: str,
                                                      reason: str) -> None:
    worker = session.worker()
    with pytest.raises(WorkerStopped, match=re.escape(reason)):
        run(worker, source)


def remote(session: SandboxSession, replaced: list[bool]) -> RemoteFunction:
    worker = session.worker()
    assert run(worker, "calls = []\n\ndef f(x):\n    calls.append(x)\n"
                       "    if x < 0:\n        raise ValueError(x)\n    return x * x\n")["ok"]
    context = CallContext(frozenset(), lambda: 20.0,
                          replace_process=lambda: replaced.append(True))
    return RemoteFunction("f", lambda: worker, context)


def test_call_each_gives_what_calls_one_by_one_give_in_one_request(
        session: SandboxSession) -> None:
    replaced: list[bool] = []
    f = remote(session, replaced)
    sent = f._worker()._sent
    assert list(f.call_each([(1,), (2,), (3,)])) == [1, 4, 9]
    assert f._worker()._sent == sent + 1  # one request
    assert f(4) == 16
    assert value(f._worker(), "calls") == [1, 2, 3, 4]
    assert replaced == []


def test_call_each_stops_at_the_first_call_that_raises(session: SandboxSession) -> None:
    replaced: list[bool] = []
    f = remote(session, replaced)
    results = f.call_each([(1,), (-2,), (3,)])
    assert next(results) == 1
    with pytest.raises(AnswerError, match="ValueError|-2"):
        next(results)
    assert value(f._worker(), "calls") == [1, -2]  # the third was never called
    assert replaced == []


def test_a_reader_that_stops_early_has_the_process_replaced(session: SandboxSession) -> None:
    replaced: list[bool] = []
    f = remote(session, replaced)
    results = f.call_each([(1,), (2,), (3,), (4,)])
    assert next(results) == 1
    results.close()  # a wrong value: the check reads no further, the worker may go on
    assert replaced == [True]


def test_expect_each_reports_the_first_wrong_case_as_before(session: SandboxSession) -> None:
    replaced: list[bool] = []
    f = remote(session, replaced)
    outcomes: list[str] = []

    class Reporter:
        def outcome(self, block: object, outcome: checks.Outcome) -> None:
            outcomes.append(outcome.text)

        def finished(self, block: object, unanswered: object, error: object) -> None:
            pass

        def seed(self, base: int) -> int:
            return base

    token = checks.reporter.set(Reporter())  # type: ignore[arg-type]
    try:
        with checks.Checks("squares") as t:
            t.expect_each("squares", f, [(1,), (2,), (3,), (5,)],
                          lambda x: 5 if x == 2 else x * x)
    finally:
        checks.reporter.reset(token)
    assert "f(2,)" in outcomes[0] and "✘" in outcomes[0] and replaced == [True]


def test_clearing_a_scratch_folder_keeps_the_mounts_in_it_and_nothing_else(
        tmp_path: Path) -> None:
    kit_mount = tmp_path / "clone" / "kit"
    (kit_mount / "core").mkdir(parents=True)
    (kit_mount / "core" / "zone.py").write_text("x")
    (tmp_path / "clone" / "planted").write_text("x")  # beside a mount, on the way to it
    (tmp_path / "left" / "deep").mkdir(parents=True)
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(kit_mount)
    worker.clear(tmp_path, frozenset({kit_mount}))
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == \
        ["clone", "clone/kit", "clone/kit/core", "clone/kit/core/zone.py"]


def each(worker: Any, name: str, cases: list[list[Any]], forbid: list[str]) -> list[dict[str, Any]]:
    """The raw replies to one call_each request."""
    message = {"op": "call_each", "name": name, "cases": cases, "forbid": forbid}
    return list(worker.stream(message, len(cases), lambda: 20.0))


def test_call_each_refuses_each_case_as_a_request_of_its_own(session: SandboxSession) -> None:
    worker = session.worker()
    assert run(worker, "import kit\n"
                       "def f(x):\n"
                       "    if x == 2:\n"
                       "        try:\n"
                       "            kit.Zone(64)\n"
                       "        except Exception:\n"
                       "            pass  # caught: the case is refused all the same\n"
                       "    return x\n")["ok"]
    replies = each(worker, "f", [[1], [2], [3]], ["get_order", "Zone"])
    assert [r.get("value") for r in replies[:1]] == [1] and replies[0]["ok"] is True
    assert replies[1] == {"ok": False, "exc": "ForbiddenCall", "forbidden": 1, "id": 2}
    assert len(replies) == 2  # stopped at the refusal, as the grader's check stops there
    # The refusals ended with the request: the next one refuses only its own names.
    assert each(worker, "f", [[2], [4]], ["get_order"]) == [
        {"ok": True, "value": 2, "logs": {}, "id": 3},
        {"ok": True, "value": 4, "logs": {}, "id": 3}]


def test_a_case_after_a_refusal_free_case_starts_with_nothing_refused(
        session: SandboxSession) -> None:
    worker = session.worker()
    assert run(worker, "import kit\n"
                       "def f(x):\n"
                       "    return kit.get_order(x) if x > 100 else x\n")["ok"]
    replies = each(worker, "f", [[1], [2], [4097], [5]], ["get_order"])
    assert [r["ok"] for r in replies] == [True, True, False]
    assert replies[2]["exc"] == "ForbiddenCall" and replies[2]["forbidden"] == 0


def test_an_answer_cannot_settle_or_end_the_guard(session: SandboxSession) -> None:
    worker = session.worker()
    assert run(worker, "import sys\n"
                       "def f(how):\n"
                       "    guard = sys.modules['kit.grading.sandboxed.worker'].GUARD\n"
                       "    try:\n"
                       "        getattr(guard, how)(None)\n"
                       "    except PermissionError as exc:\n"
                       "        return str(exc)\n"
                       "    return 'not refused'\n")["ok"]
    replies = each(worker, "f", [["settle"], ["end"]], ["get_order"])
    assert [r["value"] for r in replies] == [
        "a grading request cannot be ended from an answer"] * 2


class _Session:
    """Stands in for a SandboxSession: records its start and close."""

    def __init__(self) -> None:
        self.started = self.closed = False

    def start(self) -> None:
        self.started = True

    def close(self) -> None:
        self.closed = True


def test_the_first_students_sandboxes_are_started_before_the_reference_check() -> None:
    """Only the first --jobs students who have a notebook to grade, each a sandbox of their
    own (a student with nothing handed in, or a folder that cannot be graded, needs none)."""
    folder = Path("/nowhere")
    students = {
        "absent": Submission("absent", None),
        "bad": Submission("bad", folder, problem="a link"),
        "other": Submission("other", folder, files={"99-other.ipynb": folder}),
        **{f"s{i}": Submission(f"s{i}", folder, files={"01-orders.ipynb": folder})
           for i in range(4)},
    }
    started = prestart(students, ["01-orders.ipynb"], 3, _Session)  # type: ignore[arg-type]
    assert list(started) == ["s0", "s1", "s2"]
    assert len({id(s) for s in started.values()}) == 3
    assert all(s.started for s in started.values())  # type: ignore[attr-defined]


def test_a_sandbox_that_cannot_start_early_is_left_to_the_students_grading() -> None:
    class Failing(_Session):
        def start(self) -> None:
            raise OSError("no more processes")

    folder = Path("/nowhere")
    students = {"s": Submission("s", folder, files={"01-orders.ipynb": folder})}
    made: list[Failing] = []

    def session() -> Failing:
        made.append(Failing())
        return made[-1]

    assert prestart(students, ["01-orders.ipynb"], 2, session) == {}  # type: ignore[arg-type]
    assert made[0].closed


def test_a_started_sandbox_is_the_students_first_worker(session: SandboxSession) -> None:
    session.start()
    first = session.worker()
    assert first is session._worker and value(first, "1 + 1") == 2
    assert session.worker() is first  # the next notebook: a fresh process of the same sandbox


BROKEN = ROOT / "tests" / "fixtures" / "class-correctness" / "instructor" / "broken-hidden-test"


def test_the_solutions_are_checked_beside_the_grading_each_notebook_before_its_answers(
        tmp_path: Path) -> None:
    source = load_source(BROKEN)
    said: list[str] = []
    checks_ = SolutionChecks(source, list(source.notebooks), HiddenCases(b"k" * 32),
                             tmp_path / "cache.json", None, said.append).start()
    broken = checks_.get("01-orders.ipynb")  # waits for that notebook's check
    assert broken is not None and set(broken) == {"orders-pages-tests"}
    assert said == [f"the test of orders-pages-tests is broken, not the answers: "
                    f"{broken['orders-pages-tests']}"]
    checks_.done()


def test_a_check_that_fails_stops_the_grading_of_its_notebook_and_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> dict[str, str]:
        raise OSError("disk full")

    monkeypatch.setattr(reference, "cached_failures", fail)
    source = load_source(BROKEN)
    checks_ = SolutionChecks(source, list(source.notebooks), HiddenCases(b"k" * 32),
                             tmp_path / "cache.json", None, print).start()
    with pytest.raises(GradingError, match="the check of the solutions failed: OSError"):
        checks_.get("01-orders.ipynb")
    with pytest.raises(OSError, match="disk full"):
        checks_.done()


def test_a_solutions_prints_are_dropped_and_the_other_threads_kept(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The solution's cells may print; the grader's progress lines, printed meanwhile by
    another thread, still reach the terminal."""
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    inside, outside = threading.Event(), threading.Event()

    def solution() -> None:
        with reference.this_thread_quiet():
            print("a solution's own print")
            inside.set()
            assert outside.wait(10)
            print("and another")

    quiet = threading.Thread(target=solution)
    quiet.start()
    assert inside.wait(10)
    print("student 3 of 20 graded")
    outside.set()
    quiet.join()
    assert out.getvalue() == "student 3 of 20 graded\n"
    assert sys.stdout is out  # put back once no thread is quiet
