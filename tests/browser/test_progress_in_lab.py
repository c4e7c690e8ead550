"""Progress end to end: JupyterLab's kernels record it (the server names the notebook), lesson 1
shows it, and ``kit progress`` reads the same file.  A server of its own, with recording on
(the session's server, like every test run, has ``KIT_PROGRESS=off``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from labdriver import POLL_MS, LabServer, run_all_cells

from kit.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.browser
def test_jupyterlab_records_progress_and_lesson_1_shows_it(tmp_path, artifacts, monkeypatch,
                                                           capsys, browser):
    root = tmp_path / "course"
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    monkeypatch.delenv("KIT_PROGRESS", raising=False)  # the server's kernels inherit this
    with LabServer(state=tmp_path / "state", root=root).running() as server:
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        try:
            page = context.new_page()
            assert run_all_cells(page, server, "notebooks/01-start-here.ipynb") == []
            row = page.locator(".jp-OutputArea-output .widget-hbox"
                               ":has(> button:has-text('show me without predicting'))").first
            row.locator("input").fill("31")
            row.locator("button:has-text('check my prediction')").click()
            page.wait_for_function(
                "() => [...document.querySelectorAll('.widget-html-content')]"
                ".some(e => /^(Right: |Not quite: )/.test(e.textContent.trim()))",
                timeout=30_000, polling=POLL_MS)
            page.evaluate("""() => {
                const panel = window.jupyterapp.shell.currentWidget;
                const cells = panel.content.model.cells;
                for (let i = 0; i < cells.length; i++) {
                    if (cells.get(i).sharedModel.getSource().includes('progress_report')) {
                        panel.content.activeCellIndex = i;
                    }
                }
                return window.jupyterapp.commands.execute('notebook:run-cell');
            }""")
            shown = page.locator(".jp-OutputArea-output pre:has-text('Lessons run')")
            shown.wait_for(timeout=30_000)
            shown.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts / "lab-progress-lesson-1.png"))
            text = shown.inner_text()
        finally:
            context.close()  # its kernel's page closed before the server stops
    lessons = len(list((REPO / "notebooks").glob("0*.ipynb")))
    assert f"Lessons run: 1 of {lessons}" in text and "✔ 01-start-here" in text
    assert "Predictions made on 1 question, 1 answered right" in text
    data = json.loads((root / ".kit-progress.json").read_text())
    assert data["lessons"] == {"01-start-here": 1}
    monkeypatch.chdir(root / "notebooks")
    capsys.readouterr()
    assert main(["progress"]) == 0
    assert "Predictions made on 1 question, 1 answered right" in capsys.readouterr().out
