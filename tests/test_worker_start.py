"""A worker's start is the grader's time, not the answer's: an exercise's clock starts at the
worker's ready reply.  On a busy machine starting bubblewrap, Python and the kit can take
seconds; before, they were charged to the first exercise of a notebook (and to the next one
after every limit restarted the worker), so honest answers timed out under load."""

from __future__ import annotations

import importlib.util
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


def valid_bytecode(source: Path) -> bool:
    """Whether ``source`` has a .pyc that Python would load instead of compiling it again
    (magic number, timestamp mode, the source's time and size)."""
    cached = Path(importlib.util.cache_from_source(str(source)))
    if not cached.is_file():
        return False
    header = cached.read_bytes()[:16]
    info = source.stat()
    return header[:4] == importlib.util.MAGIC_NUMBER and header[4:8] == bytes(4) and \
        int.from_bytes(header[8:12], "little") == int(info.st_mtime) & 0xFFFFFFFF and \
        int.from_bytes(header[12:16], "little") == info.st_size & 0xFFFFFFFF


def test_the_kit_the_sandbox_reads_is_compiled_before_grading(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox cannot write bytecode: the grader writes it for every module the worker can
    load, and only for those (the hidden folders are no sandbox's business)."""
    copy = tmp_path / "kit"
    shutil.copytree(ROOT / "kit", copy, ignore=shutil.ignore_patterns("__pycache__"))
    stale = copy / "core" / "zone.py"
    monkeypatch.setattr(bwrap, "_kit_folder", lambda: copy)
    bwrap.compile_kit()
    stale.write_text(stale.read_text() + "\n# changed after the last compile\n")
    bwrap.compile_kit()
    modules = sorted(copy.rglob("*.py"))
    hidden = [p for p in modules if any(p.is_relative_to(copy / name)
                                        for name in bwrap.HIDDEN_KIT_FOLDERS)]
    readable = [p for p in modules if p not in hidden]
    assert hidden and len(readable) > 20
    assert [p for p in readable if not valid_bytecode(p)] == []
    assert [p for p in hidden if Path(importlib.util.cache_from_source(str(p))).exists()] == []


def test_every_kit_module_the_worker_loads_has_its_bytecode(sandbox_available: None) -> None:
    probe = ("import sys, os\ndef uncompiled():\n"
             "    return sorted(n for n, m in sys.modules.items() if n.split('.')[0] == 'kit'\n"
             "                  and getattr(m, '__cached__', None)\n"
             "                  and not os.path.exists(m.__cached__))\n")
    worker = Worker(open_sandbox(), Limits())
    try:
        assert worker.request({"op": "run", "cell": "a", "source": probe}, 10)["ok"]
        reply = worker.request({"op": "call", "name": "uncompiled", "args": []}, 10)
    finally:
        worker.close()
    assert reply["ok"] is True and reply["value"] == [], reply
