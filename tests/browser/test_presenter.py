"""The presenter view: ``kit present``'s Voila serves a lesson offline, code hidden, widgets live.

The ``voila_tab`` fixture fails the test on any request to a host other than loopback, which is
what Voila's stock template would make (it links its icon font from a CDN).
"""

import shutil
from pathlib import Path

import pytest
from labdriver import POLL_MS, VoilaServer
from legibility import assert_legible

from kit.teaching.quiz_bank import question

LESSON = Path(__file__).resolve().parents[2] / "notebooks" / "01-start-here.ipynb"


@pytest.fixture
def voila(tmp_path, voila_port):
    folder, state = tmp_path / "lesson", tmp_path / "voila"
    folder.mkdir()
    state.mkdir()
    notebook = Path(shutil.copy(LESSON, folder / LESSON.name))
    server = VoilaServer(state=state, notebook=notebook, preferred_port=voila_port)
    with server.running():
        yield server


@pytest.fixture
def page(voila_tab, voila):  # noqa: ANN001, ANN201
    """The tab Voila pages share (see conftest.py), 1400x1000; left blank before the server
    stops."""
    voila_tab.page.set_viewport_size({"width": 1400, "height": 1000})
    yield voila_tab.page
    voila_tab.page.goto("about:blank")


@pytest.mark.browser
def test_presenter_view_renders_responds_and_stays_offline(voila, page, artifacts):
    # Voila sends the spinner before it runs the lesson: it turns by the template's timer, not
    # by a CSS animation (which would draw 60 frames a second while the lesson runs)
    page.goto(f"{voila.base_url}/", wait_until="commit")
    page.wait_for_function(
        "() => document.querySelector('#loading .spinner')"
        " && document.querySelector('#loading .spinner').style.transform.startsWith('rotate')",
        timeout=90_000, polling=POLL_MS)
    assert page.evaluate("() => document.getAnimations().map(a => a.animationName)") == []
    # the order explorer opens once the lesson's question has a prediction
    page.get_by_text("Predict first:", exact=False).wait_for(timeout=90_000)
    asking = page.locator(".widget-hbox:has(> button:has-text('show me without predicting'))")
    asking.locator("input").fill("31")
    asking.locator("button:has-text('check my prediction')").click()
    page.get_by_text("Right: the simulator gives 31", exact=False).wait_for(timeout=30_000)
    page.wait_for_selector(".bqplot.figure rect.bar", timeout=30_000)
    summary = page.get_by_text("get_order = 6", exact=False)
    summary.wait_for(timeout=30_000)
    assert "from kit.widgets import" not in page.content(), "code cells must be hidden"

    size_box = page.locator('input[placeholder="132K, 4MiB or 5000"]')
    size_box.fill("4097")
    size_box.press("Enter")
    page.get_by_text("get_order = 1", exact=False).wait_for(timeout=30_000)

    font = page.get_by_text("get_order = 1", exact=False).evaluate(
        "element => parseFloat(getComputedStyle(element).fontSize)"
    )
    assert font >= 20, f"presenter styling should use large type, got {font}px"

    quiz = question("01-allocation-unit")  # the lesson's first quiz; its answer from the bank
    page.get_by_text(quiz.texts[quiz.answer]).click()
    page.get_by_text("Right: alloc_pages(gfp, order)", exact=False).wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts / "voila-presenter.png"))

    # every control of the presenter theme is at least 24 px, radio buttons included
    small = page.evaluate("""() => [...document.querySelectorAll(
            '.kit-presenter label, .kit-presenter button, .kit-presenter input,'
            + ' .kit-presenter select, .kit-presenter .widget-readout')]
        .filter(el => el.offsetParent && el.textContent.trim() + (el.value || '') !== '')
        .map(el => [el.textContent.trim().slice(0, 40) || el.value,
                    parseFloat(getComputedStyle(el).fontSize)])
        .filter(([, size]) => size < 24)""")
    assert not small, f"presenter controls under 24 px: {small}"
    radios = page.locator(".kit-presenter .widget-radio-box input")
    if radios.count():
        box = radios.first.bounding_box()
        assert box and box["height"] >= 24, box
    assert_legible(page, artifacts, "voila-presenter")
