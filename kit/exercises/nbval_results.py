"""A pytest plugin the grader loads beside nbval: one JSON line per executed notebook cell.

nbval turns every code cell into a pytest item and fails it when the cell raises.  The grader
needs more than pass/fail per item: which nbgrader cell it was (``grade_id``), why it failed in
a few lines, and the partial-credit tally the checks print.  Each result is appended and
flushed as soon as the cell finishes, so a notebook killed by its time limit still leaves the
results of the cells that ran.

Usage: ``pytest -p kit.exercises.nbval_results --kit-results FILE --nbval NOTEBOOK``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import pytest

from kit.exercises.checks import TALLY_PREFIX

#: Characters of a failure message and of a cell's output kept per cell.
MAX_MESSAGE_CHARS = 4000
MAX_OUTPUT_CHARS = 8000
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--kit-results", default=None, help="append per-cell results (JSON lines)")
    parser.addoption("--kit-notebook-timeout", type=float, default=None,
                     help="seconds a notebook may run; no cell of it starts after that")


_started: dict[str, float] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Enforce the per-notebook time limit: once used up, the notebook's other cells fail."""
    limit = item.config.getoption("--kit-notebook-timeout")
    start = _started.get(str(item.path))
    if limit is not None and start is not None and time.monotonic() - start > limit:
        pytest.fail(f"notebook time limit of {limit:g} seconds reached before this cell ran",
                    pytrace=False)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """A notebook's clock starts once its first cell has run: the grader's prelude cell, so
    kernel start-up (not the student's doing) is not counted."""
    if getattr(item, "cell", None) is not None:
        _started.setdefault(str(item.path), time.monotonic())


def _clip(text: str, limit: int) -> str:
    text = _ANSI.sub("", text)
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters cut)"


def _stdout(item: Any) -> str:
    parts = []
    for out in getattr(item, "test_outputs", None) or []:
        if out.get("output_type") == "stream":
            parts.append(str(out.get("text", "")))
    return "".join(parts)


def _message(call: pytest.CallInfo[None]) -> str:
    if call.excinfo is None:
        return ""
    exc = call.excinfo.value
    inner = getattr(exc, "inner_traceback", None)
    text = f"{exc}\n{inner}" if inner else str(exc)
    return _clip(text.strip(), MAX_MESSAGE_CHARS)


class _KernelWatch:
    """Notices a kernel that dies during a cell (nbval only sees a cell that never replies)."""

    def __init__(self, kernel: Any, limit: float) -> None:
        self.kernel = kernel
        self.deadline = time.monotonic() + limit  # later, nbval itself stops the kernel
        self.died = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                alive = self.kernel.is_alive()
            except Exception:
                return
            if not alive:
                self.died = time.monotonic() < self.deadline
                return

    def stop(self) -> bool:
        self._stop.set()
        self._thread.join()
        return self.died


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):  # noqa: ANN201
    kernel = getattr(getattr(item, "parent", None), "kernel", None)
    limit = float(item.config.getoption("--nbval-cell-timeout", 2000))
    watch = None
    if kernel is not None and getattr(item, "cell", None) is not None:
        watch = _KernelWatch(kernel, limit)
    try:
        yield
    finally:
        if watch is not None:
            # Only a death before the cell limit is the cell's doing (nbval stops the kernel
            # of a cell it cannot interrupt, later).
            item.kit_kernel_died = watch.stop()  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    outcome = yield
    path = item.config.getoption("--kit-results")
    cell = getattr(item, "cell", None)
    if path is None or cell is None:
        return
    report = outcome.get_result()
    if report.when != "call" and report.passed:
        return
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    output = _stdout(item)
    tally = [line for line in output.splitlines() if line.startswith(TALLY_PREFIX)]
    record = {
        "notebook": item.path.name,
        "cell": getattr(item, "cell_num", None),
        "grade_id": nbgrader.get("grade_id"),
        "when": report.when,
        "outcome": report.outcome,
        "xfail": hasattr(report, "wasxfail"),
        "message": _message(call) or _clip(str(report.longrepr or ""), MAX_MESSAGE_CHARS),
        "output": _clip(output, MAX_OUTPUT_CHARS),
        "tally": tally[-1][len(TALLY_PREFIX):].strip() if tally else None,
        "kernel_died": bool(getattr(item, "kit_kernel_died", False)),
    }
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
