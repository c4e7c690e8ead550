"""Fixtures for the real-browser tests: one JupyterLab server per session and one Chromium per
module.

Under pytest-xdist each worker that runs a browser test starts its own server (the root
conftest.py spreads the browser tests over the workers); tests that bring a server of their
own (Voila, a JupyterHub) use ``browser`` or ``page`` without starting JupyterLab.  The server
serves a temporary copy of ``tests/browser/*.ipynb`` and of the course notebooks
(``notebooks/``, ``solutions/``, ``exercises/`` when present) and is stopped at the end of the
session whatever happens.  ``page`` is a fresh tab whose requests are checked: any request to
a host other than loopback fails the test.  ``run_notebook(rel_path)`` runs a notebook's cells
in JupyterLab and returns its error outputs (see ``labdriver.run_all_cells``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

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


@pytest.fixture
def page(browser):
    """A new tab, 1400x1000; fails the test if the page contacted a non-loopback host."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    requests = RequestLog()
    tab.on("request", requests)
    try:
        yield tab
    finally:
        context.close()
    assert not requests.foreign, f"requests to non-loopback hosts: {requests.foreign}"


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
