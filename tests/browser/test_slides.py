"""Slide mode (``kit present LESSON --slides``): every lesson, one section per screen.

At 1280x720 and 1920x1080 every slide of every lesson fits without scrolling at a scale of at
least ``MIN_SCALE`` (widgets take their compact slide layout; a text cell too tall continues on
the next slide) and keeps large type, no code is shown, the arrow keys move, and the lesson's
speaker notes (``metadata.kit.notes``) all reach the notes window but never a slide or the
page's text, and without a classroom the kernel declines the page's follow comm (nothing
is published).

Each lesson is loaded once (Voila runs the whole lesson on every load), in the tab the lessons
share (``voila_tab``: Voila's scripts come from its cache after the first), and checked at both
sizes:
at the size it was loaded at, then resized to the other, as a presenter moves the window to the
projector; the page cuts its slides again for the new size, and the test checks that it did
(the smaller screen needs more slides).  The lessons alternate which size they load at, so both
a fresh load and a resize reach each size.  The test waits for the page's own signal that its
layout has settled (``kitSlides.settled()``: every widget drawn, the slides cut, the slide shown
fitted), never for a fixed time.  Screenshots: ``tests/artifacts/slides-LESSON-WxH-N.png`` (the
first slides, and every slide scaled below 1).
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pytest
from labdriver import POLL_MS, VoilaServer
from legibility import save_window

LESSONS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]-*.ipynb"))
SIZES = ((1280, 720), (1920, 1080))
#: The smallest scale a slide may be shown at: the screenshots show widget text still >= 18 px
#: at 0.8 of the presenter's 24 px, and bqplot figures drawn at their size (scaled further,
#: bqplot lays a figure out at its scaled size and draws it smaller again).
MIN_SCALE = 0.8
#: The page's layout settles in seconds; these only bound a page that never does.
SETTLE_TIMEOUT = 120_000

#: What each slide holds: per cell, its id ("+" for a continuation) and how many paragraphs or
#: printed lines it shows; two sizes cut alike give the same list.
CUT = """() => [...document.querySelectorAll('.kit-slide')].map(slide =>
    [...slide.firstChild.children].map(cell => {
        const text = cell.querySelector('.jp-MarkdownOutput');
        const pre = cell.querySelector('.jp-OutputArea-output > pre');
        const parts = text ? text.children.length
                           : pre ? pre.textContent.split('\\n').length : 0;
        return `${cell.dataset.kitCell || '+'}:${parts}`;
    }).join(' '))"""

#: Waits in the page until slide ``index`` is shown, split and fitted (``kitSlides.settled()``,
#: checked every ``POLL_MS``, ``SETTLE_TIMEOUT`` at most), then reads it and the slide count (a
#: slide split as it is shown adds one): one round trip per slide, not a wait and two reads.
STATE = """async ([index, poll, timeout]) => {
    const deadline = performance.now() + timeout;
    while (!(window.kitSlides.current() === index && window.kitSlides.settled())) {
        if (performance.now() > deadline) {
            return {settled: false, current: window.kitSlides.current()};
        }
        await new Promise(resolve => setTimeout(resolve, poll));
    }
    const slide = document.querySelector('.kit-slide.kit-current');
    const body = slide.firstChild;
    const box = body.getBoundingClientRect();
    const para = slide.querySelector('.jp-MarkdownOutput p');
    return {settled: true, current: window.kitSlides.current(), count: window.kitSlides.count(),
            scale: +slide.dataset.scale, bottom: box.bottom, right: box.right, hash: location.hash,
            scrolls: document.scrollingElement.scrollHeight > innerHeight,
            font: para ? parseFloat(getComputedStyle(para).fontSize)
                         * +slide.dataset.scale : null,
            notes: window.kitSlides.notes(),
            code: [...slide.querySelectorAll('.jp-InputArea-editor, .cm-content')]
                  .some(n => n.offsetParent !== null && n.textContent.trim())};
}"""


def lesson_notes(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text())["cells"]
    return [(c["metadata"].get("kit") or {}).get("notes", "") for c in cells
            if (c["metadata"].get("kit") or {}).get("notes")]


def wait_until_cut(page, width: int, height: int) -> None:  # noqa: ANN001 - a playwright Page
    """Wait until the slides are cut for ``width`` x ``height`` and the layout has settled,
    every widget drawn (the page's cap on waiting was not what ended it)."""
    page.wait_for_function(
        "size => window.kitSlides && window.kitSlides.cutFor() === size"
        " && window.kitSlides.settled()", arg=f"{width}x{height}", timeout=SETTLE_TIMEOUT,
        polling=POLL_MS)
    assert page.evaluate("() => window.kitSlides.settledBy()") == "quiet", (
        f"the layout at {width}x{height} never settled: a widget never drew or never stopped")


def show(page, index: int) -> None:  # noqa: ANN001 - a playwright Page
    """Wait until slide ``index`` is shown, split and fitted."""
    page.wait_for_function(
        "i => window.kitSlides.current() === i && window.kitSlides.settled()", arg=index,
        timeout=SETTLE_TIMEOUT, polling=POLL_MS)


def check_every_slide(page, stem: str, width: int, height: int, artifacts: Path) -> set[str]:  # noqa: ANN001
    """Walk from the first slide to the last by key, checking each; return the notes shown.

    The count is read again at every slide (``STATE``): a slide split as it is shown adds one."""
    noted: set[str] = set()
    index, count = 0, 1
    while index < count:
        if index:
            page.keyboard.press("ArrowRight")
        state = page.evaluate(STATE, [index, POLL_MS, SETTLE_TIMEOUT])
        assert state["settled"] and state["current"] == index, state
        count = state["count"]
        where = f"{stem} slide {index + 1}/{count} at {width}x{height}"
        if index < 3 or state["scale"] < 1:
            name = f"slides-{stem}-{width}x{height}-{index + 1}.png"
            save_window(page, artifacts / name)
        assert not state["scrolls"], where
        assert state["bottom"] <= height + 1 and state["right"] <= width + 1, (where, state)
        assert state["scale"] >= MIN_SCALE, (where, state["scale"])
        assert state["font"] is None or state["font"] >= 16, (where, state)
        assert not state["code"], f"code shown on {where}"
        assert state["hash"] == f"#slide-{index + 1}", (where, state["hash"])  # for a reload
        noted.update(n for n in state["notes"].split("\n\n") if n)
        index += 1
    return noted


@pytest.mark.browser
@pytest.mark.parametrize(
    "lesson,sizes", [(lesson, SIZES if n % 2 == 0 else SIZES[::-1])
                     for n, lesson in enumerate(LESSONS)], ids=[p.stem for p in LESSONS])
def test_every_slide_fits_the_screen_in_large_type(lesson, sizes, voila_tab, voila_port,
                                                   artifacts, tmp_path):
    folder, state = tmp_path / "lesson", tmp_path / "voila"
    folder.mkdir()
    state.mkdir()
    notebook = Path(shutil.copy(lesson, folder / lesson.name))
    notes = lesson_notes(notebook)
    assert notes, f"{notebook.name} has no speaker notes"
    (width, height), _ = sizes
    server = VoilaServer(state=state, notebook=notebook, slides=True, preferred_port=voila_port)
    with server.running():
        page = voila_tab.page  # the lessons' tests load their pages in one tab: see conftest.py
        page.set_viewport_size({"width": width, "height": height})
        try:
            page.goto(f"{server.base_url}/", wait_until="domcontentloaded", timeout=180_000)
            wait_until_cut(page, width, height)
            # no classroom here: the kernel declines the slide page's follow comm, nothing is sent
            page.wait_for_function("() => window.kitSlides.follow() !== 'connecting'",
                                   timeout=60_000, polling=POLL_MS)
            assert page.evaluate("() => [window.kitSlides.follow(), window.kitSlides.told()]") \
                == ["declined", None]
            cuts = {}
            for width, height in sizes:
                if cuts:  # the window moved to the other screen: the slides are cut again
                    page.set_viewport_size({"width": width, "height": height})
                    wait_until_cut(page, width, height)
                    page.keyboard.press("Home")
                    show(page, 0)
                cuts[width, height] = page.evaluate(CUT)
                noted = check_every_slide(page, notebook.stem, width, height, artifacts)
                assert noted == set(notes), (
                    f"at {width}x{height} every section's notes reach the notes window")
            small, large = (cuts[size] for size in SIZES)
            assert len(small) > len(large), (
                f"{notebook.stem}: the slides were not cut again for the new size", small, large)
            # ... and never the slides or the page's text (the notes travel as JSON data)
            slide_text = page.evaluate(
                "() => [...document.querySelectorAll('.kit-slide')].map(s => s.textContent)"
                ".join()")
            visible = page.inner_text("body")
            for note in notes:
                assert note not in slide_text and note not in visible, note[:60]
            page.keyboard.press("Home")
            show(page, 0)
            assert "from kit.widgets import" not in visible
        finally:
            page.goto("about:blank")


@contextlib.contextmanager
def slides_at_720p(voila_tab, voila_port: int, notebook: Path, state: Path):  # noqa: ANN001
    """``notebook`` as slides in the lessons' tab at 1280x720, once cut and settled; the tab
    goes back to a blank page after."""
    state.mkdir()
    server = VoilaServer(state=state, notebook=notebook, slides=True, preferred_port=voila_port)
    with server.running():
        page = voila_tab.page
        page.set_viewport_size({"width": 1280, "height": 720})
        try:
            page.goto(f"{server.base_url}/", wait_until="domcontentloaded", timeout=180_000)
            wait_until_cut(page, 1280, 720)
            yield page
        finally:
            page.goto("about:blank")


#: The first slide showing printed text and no widget: its index, or -1.
FIRST_TEXT_SLIDE = """() => [...document.querySelectorAll('.kit-slide')].findIndex(s =>
    s.querySelector('.jp-RenderedText > pre') && !s.querySelector('.jupyter-widgets'))"""


@pytest.mark.browser
def test_a_text_slide_that_grows_once_shown_is_split_not_shrunk(voila_tab, voila_port,
                                                                tmp_path):
    """Printed text laid out larger after its slide settled (a font, a style arriving late)
    continues on a new slide, as at its showing, instead of being scaled down below large
    type."""
    lesson = next(p for p in LESSONS if p.stem.startswith("05-"))
    notebook = Path(shutil.copy(lesson, tmp_path / lesson.name))
    with slides_at_720p(voila_tab, voila_port, notebook, tmp_path / "voila") as page:
        index = page.evaluate(FIRST_TEXT_SLIDE)
        assert index >= 0, "lesson 5 has no slide of printed text"
        page.evaluate("i => window.kitSlides.show(i)", index)
        show(page, index)
        count = page.evaluate("() => window.kitSlides.count()")
        page.evaluate("""() => { const pre = document.querySelector(
            '.kit-slide.kit-current .jp-RenderedText > pre');
            pre.style.fontSize = '200%'; pre.style.lineHeight = '2'; }""")
        page.wait_for_function("n => window.kitSlides.count() > n", arg=count,
                               timeout=20_000, polling=POLL_MS)
        scale = page.evaluate(
            "() => +document.querySelector('.kit-slide.kit-current').dataset.scale")
        assert scale >= MIN_SCALE, scale


@pytest.mark.browser
def test_printed_text_sent_in_several_messages_is_split_like_one(voila_tab, voila_port,
                                                                 tmp_path):
    """A cell's printed text reaches Voila in as many stream messages as the kernel flushed
    (a loaded machine flushes a long log in several), and Voila keeps each as an output of its
    own: the slide shows them as one text, as JupyterLab does, and continues its lines on the
    next slide instead of scaling it down (a fresh-clone run saw lesson 5's event log, four
    prints, fitted at 0.695)."""
    lines = [f"line {n:02d} of the log" for n in range(60)]
    source = ("import sys\n"
              "for n in range(60):\n    print(f'line {n:02d} of the log')\n"
              "    if n % 20 == 19:\n        sys.stdout.flush()\n")
    notebook = tmp_path / "log.ipynb"
    notebook.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "markdown", "id": "heading", "metadata": {},
                   "source": "# A long log"},
                  {"cell_type": "code", "id": "log", "metadata": {}, "execution_count": None,
                   "outputs": [], "source": source}]}))
    shown: list[str] = []
    with slides_at_720p(voila_tab, voila_port, notebook, tmp_path / "voila") as page:
        for index in range(page.evaluate("() => window.kitSlides.count()")):
            page.evaluate("i => window.kitSlides.show(i)", index)
            show(page, index)
            slide = page.evaluate("""() => {
                const slide = document.querySelector('.kit-slide.kit-current');
                return {scale: +slide.dataset.scale, text: [...slide.querySelectorAll(
                    '.jp-RenderedText > pre')].map(pre => pre.textContent).join('\\n')};
            }""")
            assert slide["scale"] >= MIN_SCALE, (index, slide["scale"])
            shown += [line for line in slide["text"].split("\n") if line]
    assert shown == lines
