"""Fixtures for the real-browser tests: one JupyterLab server per session and one Chromium per
module.

Under pytest-xdist each worker that runs a browser test starts its own server (the root
conftest.py spreads the browser tests over the workers); tests that bring a server of their
own (Voila, a JupyterHub) use ``browser`` or ``page`` without starting JupyterLab.  The server
serves a temporary copy of ``tests/browser/*.ipynb`` and of the course notebooks
(``notebooks/``, ``solutions/``, ``exercises/`` when present) and is stopped at the end of the
session whatever happens.  ``page`` is a fresh tab whose requests are checked: any request to
a host other than loopback fails the test; ``shared_page`` is one such tab for all the tests
of a module.  ``run_notebook(rel_path)`` runs a notebook's cells
in JupyterLab and returns its error outputs (see ``labdriver.run_all_cells``).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from labdriver import CHROMIUM, CHROMIUM_ARGS, LabServer, RequestLog, run_all_cells

#: The demo notebook is run in the browser, not by nbval.
collect_ignore_glob = ["*.ipynb"]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ARTIFACTS = REPO / "tests" / "artifacts"
COURSE_DIRS = ("notebooks", "solutions", "exercises")


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory):
    """A JupyterLab server on 127.0.0.1 serving a temporary copy of the notebooks."""
    root = tmp_path_factory.mktemp("lab-root")
    for notebook in HERE.glob("*.ipynb"):
        shutil.copy(notebook, root / notebook.name)
    for name in COURSE_DIRS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, root / name,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    with LabServer(state=tmp_path_factory.mktemp("lab-state"), root=root).running() as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright (never a downloaded browser).

    Module-scoped: Playwright's sync API keeps an event loop running while it is open, which
    must not outlive the browser tests and leak into the other tests of the session.
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class CheckedTab:
    """A tab and the requests it made."""

    page: Any  # a playwright Page
    requests: RequestLog

    def assert_offline(self) -> None:
        """Fail if the page contacted a non-loopback host (since the last call)."""
        foreign, self.requests.foreign = self.requests.foreign, []
        assert not foreign, f"requests to non-loopback hosts: {foreign}"


@contextlib.contextmanager
def checked_tab(browser, width: int = 1400, height: int = 1000) -> Iterator[CheckedTab]:  # noqa: ANN001
    """A new tab (its own context) whose requests are recorded; closed after."""
    context = browser.new_context(viewport={"width": width, "height": height})
    tab = CheckedTab(context.new_page(), RequestLog())
    tab.page.on("request", tab.requests)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def page(browser):
    """A new tab, 1400x1000; fails the test if the page contacted a non-loopback host."""
    with checked_tab(browser) as tab:
        yield tab.page
    tab.assert_offline()


@pytest.fixture(scope="module")
def module_tab(browser):
    """One tab for all the tests of a module, 1400x1000 (see ``shared_page``)."""
    with checked_tab(browser) as tab:
        yield tab


@pytest.fixture
def shared_page(module_tab: CheckedTab):
    """The module's tab; fails the test if it contacted a non-loopback host meanwhile.

    A module whose tests each run a notebook overrides ``page`` with it: each test then opens
    its notebook, with a new kernel, in the JupyterLab the first one loaded
    (``labdriver.open_notebook``) instead of loading the application again.
    """
    yield module_tab.page
    module_tab.assert_offline()


@pytest.fixture
def run_notebook(page, lab_server: LabServer):
    """``run_notebook("notebooks/01-x.ipynb")`` runs it in JupyterLab; returns error outputs."""

    def run(rel_path: str, timeout: float = 120_000) -> list[dict]:
        return run_all_cells(page, lab_server, rel_path, timeout)

    return run


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
