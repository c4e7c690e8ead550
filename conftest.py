"""How pytest-xdist shares the suite out (scripts/test.sh runs ``pytest -n auto``).

Tests go to the workers one by one, except what must share a process:

- the cells of one notebook (nbval): one kernel runs them in order, each after the one before;
- the browser tests (``tests/browser/``): one JupyterLab server and one Chromium serve them all;
- the tests of a module in ``KEEP_TOGETHER``: their module-scoped fixture is costly (a built
  wheel and its venv, a class graded by nbgrader and by ``kit grade``, a JupyterHub with the
  classroom service and 100 students) and is built once;
- the modules in ``TRACING``: they record real kernel traces and check that the machine's
  tracing state (the tracefs mount, its instances) is the same after as before, which two
  recordings at once would break.

(``xdist_group`` marks would say this in the tests themselves, but pytest 9.2 drops the node-id
suffix ``--dist loadgroup`` relies on: pytest-dev/pytest-xdist#1386.)  Without ``-n`` none of
this applies.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

# No test run records a student's progress (kit.teaching.progress): not the nbval kernels, and
# not the kernels of the browser tests' JupyterLab, where a Jupyter server would let them.
os.environ["KIT_PROGRESS"] = "off"

BROWSER_TESTS = "tests/browser/"
KEEP_TOGETHER = ("tests/test_packaging.py", "tests/test_nbgrader_parity.py",
                 "tests/test_classroom_hub.py")
TRACING = ("tests/test_tracefs.py", "tests/test_trace_cli.py", "tests/test_kerneltrace_widget.py")


def xdist_scope(nodeid: str) -> str:
    """The unit of work a test belongs to: tests with the same scope run in one worker."""
    if nodeid.startswith(BROWSER_TESTS):
        return BROWSER_TESTS
    path = nodeid.split("::", 1)[0]
    if path in TRACING:
        return "tracing"
    if path.endswith(".ipynb") or path in KEEP_TOGETHER:
        return path
    return nodeid


class _Scheduling:
    @staticmethod
    def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
        from xdist.scheduler import LoadScopeScheduling

        class ByScope(LoadScopeScheduling):  # type: ignore[misc]
            def _split_scope(self, nodeid: str) -> str:
                return xdist_scope(nodeid)

        return ByScope(config, log)


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_Scheduling(), "kit-xdist-scheduling")


@pytest.fixture(scope="session")
def sandbox_available() -> None:
    """The grading tests expect bubblewrap's isolation (CI runs as root, where it works);
    elsewhere they are skipped, saying why."""
    from kit.grading.trusted.bwrap import SandboxUnavailable, open_sandbox

    try:
        open_sandbox()
    except SandboxUnavailable as exc:
        pytest.skip(f"no sandbox on this machine: {exc}")
