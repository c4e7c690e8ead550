"""A worker's start is the grader's time, not the answer's: an exercise's clock starts at the
worker's ready reply.  On a busy machine starting bubblewrap, Python and the kit can take
seconds; before, they were charged to the first exercise of a notebook (and to the next one
after every limit restarted the worker), so honest answers timed out under load."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from kit.grading.trusted import bwrap, grading
from kit.grading.trusted.bwrap import Limits, Sandbox, Worker, WorkerStopped, open_sandbox
from kit.grading.trusted.grading import GradingRun, grade

ROOT = Path(__file__).resolve().parents[1]


class SlowStart:
    """A sandbox whose workers take ``delay`` seconds to start, as on a busy machine."""

    def __init__(self, sandbox: Sandbox, delay: float) -> None:
        self.sandbox = sandbox
        self.delay = delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sandbox, name)

    def command(self, fd: int, limits: Limits, seccomp_fd: int | None = None,
                control: tuple[int, int] = (-1, -1)) -> list[str]:
        return ["/bin/sh", "-c", f'sleep {self.delay}; exec "$@"', "sh",
                *self.sandbox.command(fd, limits, seccomp_fd, control)]


@pytest.fixture
def slow_sandbox(sandbox_available: None) -> SlowStart:
    return SlowStart(open_sandbox(), delay=3)


def test_a_slow_start_is_not_the_first_requests_time(slow_sandbox: SlowStart) -> None:
    worker = Worker(slow_sandbox, Limits(timeout=1))  # type: ignore[arg-type]
    try:
        reply = worker.request({"op": "run", "cell": "a", "source": "x = 1"}, 1)
    finally:
        worker.close()
    assert reply["ok"] is True


def test_a_worker_that_never_starts_is_the_graders_error(
        slow_sandbox: SlowStart, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bwrap, "START_SECONDS", 1.0)
    worker = Worker(slow_sandbox, Limits(timeout=1))  # type: ignore[arg-type]
    try:
        with pytest.raises(WorkerStopped) as stopped:
            worker.request({"op": "run", "cell": "a", "source": "x = 1"}, 30)
    finally:
        worker.close()
    assert stopped.value.status == "grader-error"
    assert "did not start within 1 s" in stopped.value.reason


def test_right_answers_pass_under_a_short_timeout_however_slow_the_start(
        slow_sandbox: SlowStart, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(grading, "open_sandbox", lambda allow_none=False: slow_sandbox)
    student = tmp_path / "class" / "ada"
    student.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "01-orders.ipynb", student / "01-orders.ipynb")
    book = grade([tmp_path / "class"], ROOT / "solutions", tmp_path / "out",
                 GradingRun(limits=Limits(timeout=2), notebooks=["01-orders.ipynb"],
                            log=lambda line: None, secret=None))
    statuses = {row.status for row in book.rows}
    assert statuses == {"passed"}, [(r.exercise, r.status, r.reason) for r in book.rows]


def test_ipython_is_read_in_before_the_clock_when_a_cell_needs_it(sandbox_available: None) -> None:
    probe = "import sys\ndef loaded():\n    return 'IPython' in sys.modules\n"
    seen = []
    for ipython in (False, True):
        worker = Worker(open_sandbox(), Limits())
        try:
            worker.wait_ready(ipython=ipython)
            assert worker.request({"op": "run", "cell": "a", "source": probe}, 10)["ok"]
            seen.append(worker.request({"op": "call", "name": "loaded", "args": []},
                                       10)["value"])
        finally:
            worker.close()
    assert seen == [False, True]


@pytest.mark.parametrize(("source", "plain"), [
    ("def f(n):\n    return n\n", True),
    ("%timeit f(1)\n", False),
    ("x = !ls\n", False),
    ("def f(:\n", False),
    ("x = 'a\0b'\n", False),  # a NUL: ast raises ValueError, not SyntaxError
])
def test_cells_only_ipython_reads_are_told_apart(source: str, plain: bool) -> None:
    assert grading.is_plain_python(source) is plain
