"""Drive a real JupyterLab in headless Chromium: start a server, open a notebook, run it.

Shared by the browser tests (``conftest.py`` builds fixtures on it) so that any notebook of the
course can be run in JupyterLab the way a student runs it, and checked for error outputs.

What makes it work offline and reproducibly:

* the server is ``sys.executable -m jupyter lab`` (the venv's), on 127.0.0.1 with a random
  token, its root a temporary copy of the notebooks, and private config/runtime/settings dirs so
  nothing of the user's JupyterLab set-up leaks in;
* news, update checks and the PyPI extension manager are off, so the server itself contacts no
  other host, and the page's requests are recorded so a test can fail on any non-loopback one;
* notebook windowing is off (every cell stays in the DOM and laid out) and the app object is
  exposed to the page (``window.jupyterapp``), so "run all cells" is the real command;
* Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright (never ``playwright
  install``, which downloads a browser and fails here).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

#: Debian's headless build of Chromium (package chromium-headless-shell, the same sources and
#: version as its chromium): what Playwright itself runs for headless tests.  It draws the same
#: pages for about a quarter less CPU than the full browser in headless mode (measured with
#: ``bench/bench_browser_cpu.py tests/browser/test_lab_widgets.py+tests/browser/test_presenter.py``
#: run with each browser here: Chromium 28.3 -> 20.5 CPU-s, the whole run 54.3 -> 43.4).
CHROMIUM = "/usr/bin/chromium-headless-shell"
#: Playwright adds its own switches after these (it already turns PaintHolding, the back-forward
#: cache, MediaRouter, OptimizationHints and renderer backgrounding off; a ``--disable-features``
#: here would replace its list, not add to it).  Measured (2026-12-07, Chromium 156, per-thread
#: CPU of each Chromium process) and not kept, as no change stood out of the noise (about 10 %
#: of a file's Chromium CPU-s between two runs alike): ``--in-process-gpu`` (the GPU process's
#: compositing moves into the browser process, the sum stays: test_slides 34.3 and 30.4 CPU-s
#: without, 31.1 and 34.5 with it and ``--disable-software-rasterizer``), other
#: ``--disable-features``, ``--js-flags=--no-lazy-feedback-allocation``, and Playwright's
#: ``--disable-dev-shm-usage`` left out (repeated Voila loads: 1.1-1.9 CPU-s each either way).
#: Chromium's CPU is the pages' own work: in test_lessons_in_lab (59 of its 94 CPU-s) the
#: renderer's main thread spends 29 (scripts, style, layout, paint; CodeMirror measuring every
#: editor again after each scroll and resize, about a tenth of it), the GPU process 10
#: (frames composited in software), the renderer's raster and V8 workers 7, the browser 7.
#: An idle JupyterLab tab costs about 1 % of a core.  The browser process's share (7 of the
#: lessons' 116 CPU-s, 2026-12-07) is for about 40 % the 118 screenshots (each ~93 ms of CPU
#: across browser, GPU process and renderer), the rest relaying CDP traffic, mostly the
#: kernels' websocket frames, which Playwright receives, payload and all, whatever a test
#: listens to (4,227 frames in the lessons); the ``page.on("request")`` log costs Python about
#: 0.1 CPU-s a file.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
#: How often a ``wait_for_function`` condition is checked, in ms.  Playwright's default checks
#: it at every animation frame, which keeps the page drawing frames for the whole wait: four
#: to five times the CPU of a JupyterLab tab polled every 100 ms (a second of Chromium per 10 s
#: of waiting), and a condition is met 100 ms later at most.
POLL_MS = 100

#: User settings written for the test server (JUPYTERLAB_SETTINGS_DIR).
LAB_SETTINGS = {
    # Keep every cell rendered: windowing would drop or skip the layout of off-screen outputs.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # No "would you like news?" toast and no fetch of the news feed.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False,
    },
}


#: Server extensions installed beside JupyterLab that no browser test uses, off in the test
#: server: each is imported and started with it, and jupyter_lsp looks for language servers
#: (``npm prefix -g``, a node process) just after: 3.7-4.4 CPU-s to start a server with them,
#: 2.4-3.0 and none after without (the server's process tree, two starts each, 2026-12-07).
#: The pages the tests open need only JupyterLab's own; JupyterLab's front end copes without
#: the others, as it does in a server without them installed.
UNUSED_SERVER_EXTENSIONS = {name: False for name in (
    "jupyter_lsp", "jupyter_server_terminals", "notebook", "notebook_shim",
    "voila.server_extension")}


#: The page's configuration (labconfig/page_config.json): no build check.  A page that loads
#: asks the server whether JupyterLab needs building (extensions installed since), which runs
#: node (its version check), for a question no test asks.  (The extension manager's list of
#: installed extensions still runs node once, for ``yarn config``: 0.7 CPU-s a page load.)
LAB_PAGE_CONFIG = {"buildCheck": False, "buildAvailable": False}


#: A test server's kernel is sent SIGTERM as soon as it is asked to shut down (a test closes
#: its notebook, ``close_documents``), instead of being given 5 s to exit by itself: exiting by
#: itself, a lesson's kernel spends some 0.4 CPU-s (its interpreter's teardown; lesson 2 run,
#: then shut down by jupyter_client, 0.38-0.42 CPU-s, SIGTERM 0.02-0.03, 2026-12-07).  No test
#: reads anything a kernel writes as it exits (their progress files are written as they run).
KERNEL_SHUTDOWN_ARGS = ["--KernelManager.shutdown_wait_time=0"]


def free_port(preferred: int = 0) -> int:
    """A TCP port free on loopback right now: ``preferred`` if it is (a server can bind it as
    tornado does, with SO_REUSEADDR, after the one before it closed), else any."""
    if preferred:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with contextlib.suppress(OSError):
                sock.bind(("127.0.0.1", preferred))
                return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, theirs, and so on (from Linux's /proc; none elsewhere)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in map(int, (task / "children").read_text().split()):
                found += [child, *descendants(child)]
    return found


@dataclass
class ServerProcess:
    """A server started as a child process group on loopback, stopped whatever happens."""

    state: Path
    port: int = 0
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    _log: object = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self, name: str, command: list[str], *, cwd: Path, env: dict[str, str],
              ready_url: str, timeout: float = 90.0) -> None:
        """Start ``command`` and wait until ``ready_url`` answers 200."""
        env = {**env, "PYTHONUNBUFFERED": "1"}
        self.log_path = self.state / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{self.log_tail()}")
            # One request waits as long as it takes: a Voila page runs the whole notebook in
            # a new kernel for every request, so a short timeout and a retry would start
            # kernel after kernel on a loaded machine.
            wait = max(2.0, deadline - time.monotonic())
            try:
                with urllib.request.urlopen(ready_url, timeout=wait) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{name} did not answer within {timeout} s:\n{self.log_tail()}")

    def start(self, timeout: float = 90.0) -> None:  # pragma: no cover - subclasses define it
        raise NotImplementedError

    @contextlib.contextmanager
    def running(self) -> Iterator[ServerProcess]:
        """Start the server for a ``with`` block and stop it afterwards, whatever happens."""
        try:
            self.start()
            yield self
        finally:
            self.stop()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, for failure messages."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server and its kernels; safe to call twice.

        The kernels are stopped first: jupyter_client starts each in a session of its own, out
        of the server's process group, and a server stopped with its kernels alive asks each to
        shut down, which costs the kernel some 0.4 CPU-s (a Voila lesson's, measured
        2026-12-07); a kernel sent SIGTERM exits for 0.04."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            for pid in descendants(process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if process is not None:
            try:  # nothing of the server's process group is left behind
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
            self._log = None


@dataclass
class LabServer(ServerProcess):
    """A running ``jupyter lab`` process serving ``root`` on loopback."""

    root: Path = field(default_factory=Path)
    token: str = ""

    def url(self, rel_path: str = "") -> str:
        """The lab URL opening ``rel_path`` (relative to the root), with the token."""
        suffix = f"/tree/{rel_path}" if rel_path else ""
        return f"{self.base_url}/lab{suffix}?token={self.token}&reset"

    def start(self, timeout: float = 90.0) -> None:
        """Start the server and wait until its API answers."""
        self.port, self.token = free_port(), secrets.token_hex(16)
        env = dict(os.environ)
        for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                          ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                          ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")):
            path = self.state / sub
            path.mkdir(parents=True, exist_ok=True)
            env[name] = str(path)
        (self.state / "config" / "jupyter_server_config.json").write_text(json.dumps(
            {"ServerApp": {"jpserver_extensions": UNUSED_SERVER_EXTENSIONS}}))
        (self.state / "config" / "labconfig").mkdir(exist_ok=True)
        (self.state / "config" / "labconfig" / "page_config.json").write_text(
            json.dumps(LAB_PAGE_CONFIG))
        for rel, content in LAB_SETTINGS.items():
            target = self.state / "settings" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(content))
        command = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            f"--port={self.port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True",
            "--ServerApp.open_browser=False", *KERNEL_SHUTDOWN_ARGS,
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        self.spawn("jupyter-lab", command, cwd=self.root, env=env, timeout=timeout,
                   ready_url=f"{self.base_url}/api/status?token={self.token}")


@dataclass
class VoilaServer(ServerProcess):
    """``kit present``'s Voila command serving one notebook on loopback."""

    notebook: Path = field(default_factory=Path)
    slides: bool = False  # kit present --slides
    #: The port to serve on if it is free (else any): a browser tab that loaded a Voila page
    #: from it before has Voila's scripts in its cache.
    preferred_port: int = 0
    #: The environment ``kit present`` is started in (default: this process's), e.g. that of
    #: an instructor's server on a classroom Hub, as a terminal in their JupyterLab has it.
    base_env: dict[str, str] | None = None

    def start(self, timeout: float = 180.0) -> None:
        """Start Voila exactly as ``kit present`` does and wait until it serves.

        Ready when it serves its page's script: asking for the page itself would run the whole
        notebook in a kernel of its own, once more than the test's own load, and leave that
        kernel running."""
        from kit.cli.present import voila_command, voila_environment

        self.port = free_port(self.preferred_port)
        env = voila_environment(self.base_env, slides=self.slides, notebook=self.notebook)
        env["JUPYTER_RUNTIME_DIR"] = str(self.state / "runtime")
        command = voila_command(self.notebook, self.port, slides=self.slides)
        self.spawn("voila", command, cwd=self.notebook.parent, env=env,
                   ready_url=f"{self.base_url}/voila/static/voila.js", timeout=timeout)


class RequestLog:
    """Records every request a page makes; ``foreign`` lists those to non-loopback hosts."""

    def __init__(self) -> None:
        self.foreign: list[str] = []

    def __call__(self, request) -> None:  # noqa: ANN001 - a playwright Request
        parsed = urlparse(request.url)
        if parsed.scheme in ("data", "blob", "about", "chrome", "chrome-extension"):
            return
        if parsed.hostname not in LOOPBACK:
            self.foreign.append(request.url)


#: Closes the documents of the JupyterLab in the page that ``keep(widget)`` does not keep,
#: shutting their kernels down first (a notebook that ran is modified: it is closed without
#: saving, as no test saves one).
CLOSE = """async (keep) => {
    const shell = window.jupyterapp.shell;
    for (const widget of [...shell.widgets('main')]) {
        if (keep(widget)) continue;
        if (widget.sessionContext) await widget.sessionContext.shutdown();
        if (widget.context) widget.context.model.dirty = false;
        widget.dispose();
    }
}"""


def close_documents(page, keep: str) -> None:  # noqa: ANN001 - a playwright Page
    """Close the documents of the page's JupyterLab except those ``keep`` (a JavaScript
    function of the widget) keeps (see ``CLOSE``)."""
    page.evaluate(f"() => ({CLOSE})({keep})")


def open_in_app(page, rel_path: str) -> None:  # noqa: ANN001 - a playwright Page
    """Open a notebook, with a new kernel, in the JupyterLab the page shows, as its only
    document: the others are closed and their kernels shut down (a page loaded once serves
    notebook after notebook; loading the application again costs Chromium some 3-5 CPU-s).
    Returns once it is opened; its kernel may still be starting."""
    # the notebook's own tab first (opening it would show it with its old kernel), the
    # others once it shows (closing the last tab would open a launcher in its place)
    path = json.dumps(rel_path)
    close_documents(page, f"w => !w.context || w.context.path !== {path}")
    page.evaluate("async (path) => { await window.jupyterapp.commands.execute("
                  "'docmanager:open', {path, factory: 'Notebook'}); }", rel_path)
    close_documents(page, f"w => w.context && w.context.path === {path}")


def open_notebook(page, server: LabServer, rel_path: str, timeout: float = 90_000) -> None:  # noqa: ANN001
    """Open a notebook in JupyterLab and wait for its kernel to be idle.

    A page that already shows this server's JupyterLab keeps it: its documents are closed
    (their kernels shut down) and the notebook is opened there, with a new kernel, instead of
    loading the whole application again.
    """
    in_app = page.url.startswith(f"{server.base_url}/lab") and page.evaluate(
        "() => Boolean(window.jupyterapp && window.jupyterapp.shell)")
    if in_app:
        open_in_app(page, rel_path)
    else:
        page.goto(server.url(rel_path), wait_until="domcontentloaded")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell",
                               timeout=timeout, polling=POLL_MS)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=timeout)
    page.wait_for_function(
        """(path) => {
            const panel = window.jupyterapp.shell.currentWidget;
            const kernel = panel && panel.sessionContext && panel.sessionContext.session
                && panel.sessionContext.session.kernel;
            return kernel && kernel.status === 'idle' && panel.context.path === path;
        }""",
        arg=rel_path, timeout=timeout,
        polling=POLL_MS,
    )


def wait_until_idle(page, timeout: float = 30_000) -> None:  # noqa: ANN001 - a playwright Page
    """Wait until the kernel of the current notebook is idle."""
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
        " === 'idle'", timeout=timeout, polling=POLL_MS)


def run_all_cells(page, server: LabServer, rel_path: str, timeout: float = 120_000) -> list[dict]:  # noqa: ANN001
    """Open ``rel_path``, run all its cells with JupyterLab's own command, wait for the end.

    Returns the error outputs (``{"cell": index, "ename": ..., "evalue": ...}``, stderr streams
    included as ename "stderr"); an empty list means the notebook ran cleanly.
    """
    open_notebook(page, server, rel_path, timeout)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        """() => {
            const panel = window.jupyterapp.shell.currentWidget;
            const kernel = panel.sessionContext.session.kernel;
            const prompts = [...panel.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            const done = prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
            return done && kernel.status === 'idle';
        }""",
        timeout=timeout,
        polling=250,
    )
    return page.evaluate(
        """() => {
            const panel = window.jupyterapp.shell.currentWidget;
            const cells = panel.content.model.cells;
            const errors = [];
            for (let i = 0; i < cells.length; i++) {
                const cell = cells.get(i);
                if (cell.type !== 'code') continue;
                for (const out of cell.toJSON().outputs || []) {
                    if (out.output_type === 'error') {
                        errors.push({cell: i, ename: out.ename, evalue: out.evalue});
                    } else if (out.output_type === 'stream' && out.name === 'stderr') {
                        errors.push({cell: i, ename: 'stderr', evalue: String(out.text)});
                    }
                }
            }
            return errors;
        }"""
    )
