"""Every read from the sandbox is bounded (issue 24, item 2): writing a request, decoding a
reply, keeping its text, reading a submitted notebook.  Each test names the hostile input; none
times anything (the figures are in the report and bench/), they check the bound is there."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from kit.grading.boundary import wire
from kit.grading.trusted import notebooks as nbs
from kit.grading.trusted.bwrap import Limits, Worker, WorkerStopped, open_sandbox
from kit.grading.trusted.grading import ExerciseRun, read_submitted
from kit.grading.trusted.remote import MAX_ERROR_CHARS, AnswerError, CallContext, RemoteFunction

EXERCISES = Path(__file__).resolve().parents[1] / "exercises"
#: Forges the reply to the request it runs in, then stops reading its requests for good.
FORGE_AND_SPIN = '''import json, os, sys
frame = sys._getframe()
while "message" not in frame.f_locals:
    frame = frame.f_back
fd = int([a for a in sys.argv if a.startswith("--reply-fd=")][0].split("=")[1])
os.write(fd, json.dumps({"ok": True, "id": frame.f_locals["message"]["id"]}).encode() + b"\\n")
while True:
    pass
'''


def test_a_worker_that_stops_reading_cannot_block_the_graders_write() -> None:
    worker = Worker(open_sandbox(), Limits(timeout=3))
    outcome: list[object] = []

    def talk() -> None:
        try:
            worker.request({"op": "run", "cell": "a", "source": FORGE_AND_SPIN}, 10)
            big = ["x" * 1000] * 2000  # 2 MB: far more than a pipe holds
            worker.request({"op": "call", "name": "f", "args": big, "forbid": []}, 3)
        except WorkerStopped as stopped:
            outcome.append(stopped.status)

    thread = threading.Thread(target=talk, daemon=True)
    try:
        thread.start()
        thread.join(60)  # a hang detector, not a speed target: the deadline is 3 s
        assert not thread.is_alive(), "the grader's write blocked past its deadline"
        assert outcome == ["timeout"]
    finally:
        worker.close()


@pytest.mark.parametrize(("data", "message"), [
    ({"s": [2.0 ** (-61 * k) for k in range(12)]}, "collide in a hash table"),
    ({"d": [[1, 0]] * 20}, "or repeat"),
    ({"s": [k * ((1 << 61) - 1) for k in range(1, 1000)]}, "larger than 2\\*\\*64"),
    ({"s": [{"t": [1, 1 << 70]}]}, "larger than 2\\*\\*64"),
    ({"s": list(range(wire.MAX_KEYS + 1))}, "a set or dict of more than"),
])
def test_keys_that_would_make_a_hash_table_quadratic_are_refused(data: Any, message: str) -> None:
    with pytest.raises(wire.WireError, match=message):
        wire.decode(data)


def test_decoding_stops_at_its_deadline() -> None:
    data = list(range(wire.CLOCK_EVERY * 3))
    assert wire.decode(data) == data
    with pytest.raises(wire.WireError, match="takes too long"):
        wire.decode(data, deadline=0.0)


def test_the_worker_cannot_send_a_string_past_the_cap() -> None:
    with pytest.raises(wire.WireError, match="a string longer than"):
        wire.encode("x" * (wire.MAX_STR + 1))


class _Replying:
    """A stand-in worker whose every reply is the one given."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        return self.reply


def test_the_text_of_what_the_answer_raised_is_capped_in_the_grader() -> None:
    worker = _Replying({"ok": False, "exc": "ValueError", "error": "x" * 5_000_000})
    function = RemoteFunction("f", lambda: worker, CallContext(frozenset(), lambda: 5.0))  # type: ignore[arg-type, return-value]
    with pytest.raises(AnswerError) as raised:
        function(1)
    assert raised.value.kind == "ValueError" and len(str(raised.value)) <= MAX_ERROR_CHARS


def test_a_checks_report_keeps_a_bounded_detail() -> None:
    from kit.grading.boundary.checks import Outcome

    run = ExerciseRun(lambda base: base)
    text = "✘ a check\n" + "\n".join("  " + "y" * 100_000 for _ in range(500))
    run.outcome(None, Outcome("a check", False, text, "hint"))  # type: ignore[arg-type]
    assert len(run.checked) <= 20 and max(map(len, run.checked)) <= 1000


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_json_nested_too_deep_is_that_notebooks_problem(tmp_path: Path) -> None:
    deep = write(tmp_path / "n.ipynb", '{"nbformat": 4, "cells": ' + "[" * 10_000 +
                 "]" * 10_000 + "}")
    with pytest.raises(nbs.NotebookError, match="JSON nested too deeply"):
        read_submitted(deep, "n.ipynb")


def test_a_notebook_of_too_many_cells_is_refused(tmp_path: Path) -> None:
    nb = json.loads((EXERCISES / "01-orders.ipynb").read_text(encoding="utf-8"))
    nb["cells"] += [{"cell_type": "raw", "metadata": {}, "source": ""}] * nbs.MAX_SUBMITTED_CELLS
    with pytest.raises(nbs.NotebookError, match="cells, over the grader's"):
        read_submitted(write(tmp_path / "n.ipynb", json.dumps(nb)), "n.ipynb")


def test_outputs_and_foreign_metadata_are_dropped_before_validation(tmp_path: Path) -> None:
    nb = json.loads((EXERCISES / "01-orders.ipynb").read_text(encoding="utf-8"))
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * 1_000_000}]
    code["metadata"]["deep"] = json.loads("[" * 500 + "]" * 500)
    read = read_submitted(write(tmp_path / "n.ipynb", json.dumps(nb)), "n.ipynb")
    kept = next(c for c in read.cells if c.cell_type == "code")
    assert kept.outputs == [] and set(kept.metadata) <= {"nbgrader"}
    assert [nbs.grade_id(c) for c in read.cells] == \
        [nbs.grade_id(c) for c in nbs.read_notebook(EXERCISES / "01-orders.ipynb").cells]
