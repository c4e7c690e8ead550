"""Benchmark in the browser: click to settled for the Playground's buttons on 2^20 pages.

Run with ``bash scripts/bench.sh browser`` (or ``python bench/bench_browser.py``).  Prints
figures; it does not assert them.  Target (the widgets issue): a median of at most 150 ms from
a click to a settled page.

A JupyterLab server (the browser tests' ``labdriver``: loopback only, private settings) opens a
notebook holding ``Playground(kit.Zone(1 << 20))`` in Debian's Chromium, headless, and runs it.
Then, ``ROUNDS`` times, the buttons a student presses: ``alloc_pages_exact`` of 2101248 bytes
(2 MiB + 4 KiB), free it, ``alloc_pages(0)``, a random workload of 100 steps, reset.  For each
click the page records, with a MutationObserver on the widget, when the DOM last changed; the
click is settled once nothing changed for ``QUIET_MS`` (300 ms), and "click to settled" is the
time of the last change minus the time of the click.  Comm messages are the kernel's
``comm_msg`` frames the page's websocket received for the click.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "browser"))

from labdriver import CHROMIUM, CHROMIUM_ARGS, LabServer, run_all_cells  # noqa: E402

NR_PAGES = 1 << 20
ROUNDS = 5
QUIET_MS = 300
TARGET_MS = 150
EXACT_SIZE = "2101248"
NOTEBOOK = {
    "cells": [{
        "cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
        "source": ["import kit\n", "from kit.widgets import Playground\n",
                   f"play = Playground(kit.Zone({NR_PAGES}))\n", "play"],
    }],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}

#: Watches the playground's output for DOM changes; ``window.kitLastChange`` is the time of the
#: latest one (performance.now()).
WATCH = """() => {
    const root = document.querySelector('.jp-OutputArea-output .jupyter-widgets');
    window.kitLastChange = performance.now();
    new MutationObserver(() => { window.kitLastChange = performance.now(); })
        .observe(root, {subtree: true, childList: true, attributes: true, characterData: true});
}"""

#: Clicks the button whose label is the argument, from the page itself; returns the click time.
CLICK = """(label) => {
    const button = [...document.querySelectorAll('.jp-OutputArea-output button')]
        .find(b => b.textContent.trim() === label);
    const start = performance.now();
    button.click();
    return start;
}"""

#: Milliseconds since the last DOM change once nothing changed for QUIET_MS, else null.
SETTLED = f"""(start) => {{
    const quiet = performance.now() - window.kitLastChange;
    return quiet >= {QUIET_MS} && window.kitLastChange > start
        ? window.kitLastChange - start : null;
}}"""


class CommCounter:
    """Counts the ``comm_msg`` frames the page receives from the kernel's websocket."""

    def __init__(self) -> None:
        self.count = 0

    def attach(self, websocket) -> None:  # noqa: ANN001 - a playwright WebSocket
        websocket.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        data = payload if isinstance(payload, bytes) else payload.encode()
        if b'"comm_msg"' in data:
            self.count += 1


def click_and_settle(page, label: str, comms: CommCounter) -> tuple[float, int]:  # noqa: ANN001
    """Click a button, wait until the widget settled; (ms to settled, comm messages)."""
    before = comms.count
    start = page.evaluate(CLICK, label)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        settled = page.evaluate(SETTLED, start)
        if settled is not None:
            return settled, comms.count - before
        page.wait_for_timeout(50)
    raise TimeoutError(f"{label}: the page did not settle within 60 s")


def run(page, server: LabServer, comms: CommCounter) -> dict[str, list[tuple[float, int]]]:  # noqa: ANN001
    errors = run_all_cells(page, server, "playground.ipynb", timeout=180_000)
    if errors:
        raise RuntimeError(f"the playground notebook failed: {errors}")
    page.wait_for_selector(".jp-OutputArea-output .bqplot.figure .heatmapcell", timeout=60_000)
    page.wait_for_timeout(1000)
    size = page.locator(".jp-OutputArea-output .widget-text input").nth(1)
    size.fill(EXACT_SIZE)
    size.press("Enter")
    page.evaluate(WATCH)
    results: dict[str, list[tuple[float, int]]] = {}
    for _ in range(ROUNDS):
        for label in ("alloc_pages_exact(size)", "free selected", "alloc_pages(order)",
                      "random workload", "reset zone"):
            results.setdefault(label, []).append(click_and_settle(page, label, comms))
    return results


def main() -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: scripts/setup.sh installs it (Debian's package)")
    with tempfile.TemporaryDirectory() as tmp:
        root, state = Path(tmp) / "root", Path(tmp) / "state"
        root.mkdir()
        state.mkdir()
        (root / "playground.ipynb").write_text(json.dumps(NOTEBOOK))
        with LabServer(state=state, root=root).running() as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         headless=True)
            try:
                page = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
                comms = CommCounter()
                page.on("websocket", comms.attach)
                results = run(page, server, comms)
            finally:
                browser.close()
    print(f"browser: Playground on {NR_PAGES} pages in JupyterLab (headless Chromium); click to "
          f"settled (no DOM change for {QUIET_MS} ms, minus those ms), {ROUNDS} rounds")
    print(f"{'button':<26} {'median ms':>9} {'max ms':>7} {'comm msgs':>9}")
    every = []
    for label, samples in results.items():
        times = [ms for ms, _ in samples]
        every += times
        print(f"{label:<26} {statistics.median(times):>9.0f} {max(times):>7.0f} "
              f"{statistics.median([n for _, n in samples]):>9.0f}")
    print(f"all clicks: median {statistics.median(every):.0f} ms (target: at most "
          f"{TARGET_MS} ms)")


if __name__ == "__main__":
    main()
