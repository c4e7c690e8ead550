"""Slide mode (``kit present LESSON --slides``): lesson 3, the longest, one section per screen.

At 1280x720 and 1920x1080 every slide fits without scrolling and keeps large type, no code is
shown, the arrow keys move, and a cell's speaker notes (``metadata.kit.notes``) reach the notes
window's source, never the slide.  Screenshots: ``tests/artifacts/slides-WxH-N.png``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from labdriver import VoilaServer

LESSON = Path(__file__).resolve().parents[2] / "notebooks" / "03-buddy-system.ipynb"
NOTE = "Ask the room first: which pfn comes back? Then run the demo."


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slides-root")
    notebook = Path(shutil.copy(LESSON, folder / LESSON.name))
    data = json.loads(notebook.read_text())
    headed = [c for c in data["cells"] if c["cell_type"] == "markdown"
              and "".join(c["source"]).lstrip().startswith("#")]
    headed[1]["metadata"]["kit"] = {"notes": NOTE}  # the second section carries a note
    notebook.write_text(json.dumps(data))
    server = VoilaServer(state=tmp_path_factory.mktemp("slides-state"), notebook=notebook,
                         slides=True)
    with server.running():
        yield server


@pytest.mark.browser
@pytest.mark.parametrize("width,height", [(1280, 720), (1920, 1080)])
def test_every_slide_fits_the_screen_in_large_type(slides, browser, artifacts, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        page.goto(f"{slides.base_url}/", wait_until="domcontentloaded")
        page.wait_for_function("() => window.kitSlides && window.kitSlides.count() > 3",
                               timeout=180_000)
        page.wait_for_timeout(7000)  # the widgets have drawn and the slides are split
        count = page.evaluate("() => window.kitSlides.count()")
        noted = []
        for index in range(count):
            if index:
                page.keyboard.press("ArrowRight")
            page.wait_for_timeout(600)
            state = page.evaluate("""() => {
                const slide = document.querySelector('.kit-slide.kit-current');
                const body = slide.firstChild;
                const box = body.getBoundingClientRect();
                const para = slide.querySelector('.jp-MarkdownOutput p');
                return {current: window.kitSlides.current(), scale: +slide.dataset.scale,
                        bottom: box.bottom, right: box.right,
                        scrolls: document.scrollingElement.scrollHeight > innerHeight,
                        font: para ? parseFloat(getComputedStyle(para).fontSize)
                                     * +slide.dataset.scale : null,
                        notes: window.kitSlides.notes(),
                        notesShown: [...slide.querySelectorAll('.kit-notes')]
                                    .some(n => n.offsetParent !== null),
                        code: [...slide.querySelectorAll('.jp-InputArea-editor, .cm-content')]
                              .some(n => n.offsetParent !== null && n.textContent.trim())};
            }""")
            assert state["current"] == index, state
            where = f"slide {index + 1}/{count} at {width}x{height}"
            assert not state["scrolls"], where
            assert state["bottom"] <= height + 1 and state["right"] <= width + 1, (where, state)
            assert state["font"] is None or state["font"] >= 16, (where, state)
            assert not state["code"], f"code shown on {where}"
            assert not state["notesShown"], f"speaker notes on the screen on {where}"
            if state["notes"]:
                noted.append(state["notes"])
            if index < 4:
                page.screenshot(path=str(artifacts / f"slides-{width}x{height}-{index + 1}.png"))
        assert noted == [NOTE]
        page.keyboard.press("Home")
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.kitSlides.current()") == 0
        assert "from kit.widgets import" not in page.inner_text("body")
    finally:
        context.close()
