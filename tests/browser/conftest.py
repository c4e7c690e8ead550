"""Fixtures for the real-browser tests: one JupyterLab server per session, and one Chromium
for each run of browser tests a process makes in a row.

Under pytest-xdist each worker that runs a browser test starts its own server (the root
conftest.py spreads the browser tests over the workers); tests that bring a server of their
own (Voila, a JupyterHub) use ``browser`` or ``page`` without starting JupyterLab.  The server
serves a temporary copy of ``tests/browser/*.ipynb`` and of the course notebooks
(``notebooks/``, ``solutions/``, ``exercises/`` when present) and is stopped at the end of the
session whatever happens.

Chromium's CPU is most of what the browser tests cost, and most of a page's is its first load
(JupyterLab's or Voila's scripts parsed and compiled, some 5 CPU-s; the same page loaded again
in the same tab, about 1.5).  So Chromium (``SharedBrowser``) outlives a module: it stays open
while the process runs browser tests one after another, whatever their module, and is closed
before any other test (Playwright's sync API keeps an event loop running in the thread while
it is open, which would break a later test's ``asyncio.run``) and at the end of the session.
It keeps two tabs for the tests to share, each in a context of its own: ``lab_tab``, where
JupyterLab is loaded once and each test opens its notebook, with a new kernel, in it
(``labdriver.open_notebook``), and ``voila_tab``, where each Voila page is loaded (the slides,
the presenter view), their servers one after another on one port while it is free
(``voila_port``), so that the tab's cache serves Voila's scripts again.  (V8's code cache would
not spare more: Chromium keeps it only for a profile on disk, not for these incognito contexts,
and a lesson's Voila page loaded again in a tab of a persistent profile cost the same, 1.2-1.7
CPU-s a load either way, measured 2026-12-07.)

``page`` is a fresh tab (its own context) whose requests are checked: any request to a host
other than loopback fails the test; ``shared_page`` is the shared JupyterLab tab, checked the
same way.  ``run_notebook(rel_path)`` runs a notebook's cells in JupyterLab and returns its error
outputs (see ``labdriver.run_all_cells``).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from labdriver import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LabServer,
    RequestLog,
    close_documents,
    free_port,
    run_all_cells,
)

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


class SharedBrowser:
    """Headless Debian Chromium driven by Playwright (never a downloaded browser), started on
    first use and kept, with its shared tabs, until ``close``."""

    def __init__(self) -> None:
        self._playwright: Any = None
        self._browser: Any = None
        self._tabs = contextlib.ExitStack()
        self.tabs: dict[str, CheckedTab] = {}

    def browser(self) -> Any:
        """The running Chromium, started if need be."""
        if self._browser is None:
            from playwright.sync_api import sync_playwright

            if not Path(CHROMIUM).exists():
                pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs it (Debian's "
                            "package)")
            playwright = sync_playwright().start()
            try:
                self._browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            except BaseException:
                playwright.stop()
                raise
            self._playwright = playwright
        return self._browser

    def tab(self, name: str) -> CheckedTab:
        """The shared tab ``name`` (1400x1000 when opened), opened if need be."""
        if name not in self.tabs:
            self.tabs[name] = self._tabs.enter_context(checked_tab(self.browser()))
        return self.tabs[name]

    def close(self) -> None:
        """Close the shared tabs and Chromium, and stop Playwright; safe to call twice."""
        tabs, self._tabs = self._tabs, contextlib.ExitStack()
        self.tabs.clear()
        browser, playwright, self._browser, self._playwright = (
            self._browser, self._playwright, None, None)
        try:
            with contextlib.suppress(Exception):  # a crashed tab must not keep Chromium open
                tabs.close()
            if browser is not None:
                browser.close()
        finally:
            if playwright is not None:
                playwright.stop()


class _CloseBeforeOtherTests:
    """Closes the shared Chromium before a test outside tests/browser/ (see the module's
    docstring)."""

    def __init__(self, shared: SharedBrowser) -> None:
        self.shared = shared

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if not Path(str(item.path)).resolve().is_relative_to(HERE):
            self.shared.close()


@pytest.fixture(scope="session")
def shared_browser(request: pytest.FixtureRequest) -> Iterator[SharedBrowser]:
    """This process's ``SharedBrowser``, closed before any test outside tests/browser/."""
    shared = SharedBrowser()
    closer = _CloseBeforeOtherTests(shared)
    request.config.pluginmanager.register(closer, "kit-shared-browser")
    try:
        yield shared
    finally:
        request.config.pluginmanager.unregister(closer)
        shared.close()


@pytest.fixture
def browser(shared_browser: SharedBrowser) -> Iterator[Any]:
    """The shared Chromium; the contexts a test opens in it and leaves open are closed after
    the test."""
    chromium = shared_browser.browser()
    before = set(chromium.contexts)
    yield chromium
    for context in chromium.contexts:
        if context not in before:
            context.close()


@pytest.fixture
def page(browser):
    """A new tab, 1400x1000; fails the test if the page contacted a non-loopback host."""
    with checked_tab(browser) as tab:
        yield tab.page
    tab.assert_offline()


@pytest.fixture
def lab_tab(shared_browser: SharedBrowser) -> CheckedTab:
    """The shared JupyterLab tab (see the module's docstring)."""
    return shared_browser.tab("lab")


@pytest.fixture
def shared_page(lab_tab: CheckedTab):
    """The shared JupyterLab tab; fails the test if it contacted a non-loopback host meanwhile.

    A module whose tests each run a notebook overrides ``page`` with it: each test then opens
    its notebook, with a new kernel, in the JupyterLab an earlier test loaded
    (``labdriver.open_notebook``) instead of loading the application again.  Its size is the
    one the test before left: a test sets the size it needs.
    """
    yield lab_tab.page
    close_documents(lab_tab.page, "w => false")  # an idle notebook's page still draws and polls
    lab_tab.assert_offline()


@pytest.fixture
def voila_tab(shared_browser: SharedBrowser) -> Iterator[CheckedTab]:
    """The shared tab for Voila pages; fails the test if it contacted a non-loopback host.
    A test leaves it blank (``about:blank``) before it stops its server."""
    tab = shared_browser.tab("voila")
    yield tab
    tab.assert_offline()


@pytest.fixture(scope="session")
def voila_port() -> int:
    """The port this process's Voila servers take, one after another, while it is free."""
    return free_port()


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
