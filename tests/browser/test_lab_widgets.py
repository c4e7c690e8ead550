"""The widgets in a real JupyterLab, in headless Chromium: rendered, interactive, offline."""

from __future__ import annotations

import pytest
from labdriver import POLL_MS
from legibility import assert_legible, settle

pytestmark = pytest.mark.browser

DEMO = "widgets_demo.ipynb"
EXPLORER_TITLE = "Bytes granted: used"

#: Geometry of the bars of the order explorer's chart, as drawn in the page.
BAR_GEOMETRY = """(title) => {
    const figures = [...document.querySelectorAll('.bqplot.figure')];
    const figure = figures.find(f => f.textContent.includes(title));
    if (!figure) return null;
    return [...figure.querySelectorAll('rect.bar')].map(
        r => [r.getAttribute('y'), r.getAttribute('height')].join(','));
}"""


#: Whether the bars of the figure titled ``title`` are drawn otherwise than ``before`` (a
#: ``BAR_GEOMETRY``), both serialised alike in the page (Python's json.dumps puts a space
#: after each comma, JSON.stringify none: compared as texts, any two differ).
BARS_CHANGED = f"""(title, before) => JSON.stringify(({BAR_GEOMETRY})(title))
    !== JSON.stringify(before)"""


#: [figure title, number of drawn mark elements] for every bqplot figure in the page.
MARKS_PER_FIGURE = """() => [...document.querySelectorAll('.bqplot.figure')].map(f => [
    (f.querySelector('.mainheading') || {}).textContent || '',
    f.querySelectorAll('rect.bar, path.line, .heatmapcell, .dot').length])"""


#: Heights of the bars of every figure whose title contains the argument.
BAR_HEIGHTS = """(title) => [...document.querySelectorAll('.bqplot.figure')]
    .filter(f => ((f.querySelector('.mainheading') || {}).textContent || '').includes(title))
    .map(f => [...f.querySelectorAll('rect.bar')].map(r => +r.getAttribute('height')))"""


#: Whether the kernel has applied the size the slider shows: the order explorer sets its text
#: box to the size it applied (in bytes), and the slider's readout shows its own value.
SLIDER_APPLIED = """(slider, box) => box.value
    === slider.querySelector('.widget-readout').textContent.trim()"""


@pytest.fixture
def page(shared_page):  # noqa: ANN001, ANN201
    """The JupyterLab tab the browser tests share (see conftest.py), 1400x1000."""
    shared_page.set_viewport_size({"width": 1400, "height": 1000})
    return shared_page


def test_widgets_render_are_legible_and_respond(page, run_notebook, artifacts):
    """The demo notebook runs once: its figures are drawn, every widget is legible as drawn
    (no cut label, no axis title over tick labels, in either theme; a PNG of each widget),
    and then the widgets respond to a student's mouse and keyboard."""
    errors = run_notebook(DEMO)
    assert errors == [], f"the demo notebook printed errors: {errors}"

    # Every figure of the notebook rendered as bqplot SVG with its marks drawn.
    try:
        page.wait_for_function(
            f"""() => {{
                const figures = ({MARKS_PER_FIGURE})();
                return figures.length >= 12
                    && figures.every(([title, n]) => n > 0 || title.includes('/proc'));
            }}""",
            timeout=60_000,
            polling=POLL_MS,
        )
    except Exception:  # noqa: BLE001 - the assertions below say what is missing
        pass
    marks = page.evaluate(MARKS_PER_FIGURE)
    drawn = [title for title, count in marks if count]
    empty = [title for title, count in marks if not count and "/proc" not in title]
    assert not empty, f"figures rendered without marks: {empty}"
    assert len(drawn) >= 11, marks
    figures = page.locator(".bqplot.figure")

    # Bars really have a height (a wrong bar type once drew every bar flat).
    heights = page.evaluate(BAR_HEIGHTS, "free_area")
    assert heights and all(any(h > 0 for h in figure) for figure in heights), heights
    assert page.locator(".bqplot.figure rect.bar").count() >= 6
    assert page.locator(".bqplot.figure .heatmapcell").count() >= 1024
    assert page.locator(".bqplot.figure path.line").count() >= 3
    # No traceback anywhere in the rendered outputs.
    assert page.locator(".jp-OutputArea-output[data-mime-type*='error']").count() == 0

    # Legible as drawn, before anything is driven.
    page.wait_for_function(f"() => ({MARKS_PER_FIGURE})().length >= 12", timeout=60_000,
                           polling=POLL_MS)
    shots = assert_legible(page, artifacts, "demo")
    assert len(shots) == 12, shots  # every widget of the demo, the presenter one included
    page.set_viewport_size({"width": 1400, "height": 1000})  # back to the page's own window
    settle(page)

    explorer = figures.filter(has_text=EXPLORER_TITLE).first
    explorer.scroll_into_view_if_needed()
    page.wait_for_function(f"() => ({BAR_GEOMETRY})({EXPLORER_TITLE!r}) !== null", polling=POLL_MS)
    before = page.evaluate(BAR_GEOMETRY, EXPLORER_TITLE)
    assert before and len(before) == 6  # 3 strategies x (used, wasted)
    page.screenshot(path=str(artifacts / "widgets_order_explorer_before.png"))

    # Drag the size slider's handle to a quarter of its track, as a student would.
    slider = page.locator(".widget-slider").first
    handle = slider.locator(".noUi-handle").first
    track = slider.locator(".noUi-target").first
    handle.scroll_into_view_if_needed()
    box, start = track.bounding_box(), handle.bounding_box()
    assert box and start
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.25, start["y"] + start["height"] / 2, steps=8)
    page.mouse.up()
    # The drag sends the kernel several sizes, the last one after the mouse is up: the chart
    # first changes for one on the way.  The kernel has taken the last once the text box,
    # which it sets to the size it applied, reads as the slider's own readout.
    text = page.locator(".widget-text input").first
    page.wait_for_function(f"([slider, box]) => ({SLIDER_APPLIED})(slider, box)",
                           arg=[slider.element_handle(), text.element_handle()],
                           timeout=20_000, polling=POLL_MS)
    page.wait_for_function(f"(before) => ({BARS_CHANGED})({EXPLORER_TITLE!r}, before)",
                           arg=before, timeout=20_000, polling=POLL_MS)
    after_slider = page.evaluate(BAR_GEOMETRY, EXPLORER_TITLE)
    assert after_slider != before

    # Type a size into the text box: the kernel takes it (its summary says so), and the chart
    # changes again (4 MiB: no waste at all).
    text.fill("4MiB")
    text.press("Enter")
    page.get_by_text("4 MiB (4194304 bytes) with 4 KiB pages: get_order = 10").wait_for(
        timeout=20_000)
    page.wait_for_function(f"(before) => ({BARS_CHANGED})({EXPLORER_TITLE!r}, before)",
                           arg=after_slider, timeout=20_000, polling=POLL_MS)
    explorer.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "widgets_demo.png"))

    # Pointing at a page of the memory map shows its pfn, block and owner in a tooltip.
    grid = figures.filter(has_text="Memory map: pfn 0..1023").first
    grid.scroll_into_view_if_needed()
    cell = grid.locator(".heatmapcell").nth(70)  # pfn 70: the exact allocation kept it
    box = cell.bounding_box()
    assert box
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text("owner: the exact allocation at pfn").first.wait_for(timeout=20_000)
    page.screenshot(path=str(artifacts / "widgets_memory_map_tooltip.png"))

    # A button of the playground works in the page too.  It asks first (predict first is on):
    # the prediction typed into the widget is checked, then alloc_pages(0) runs and logs.
    button = page.get_by_role("button", name="alloc_pages(order)")
    button.scroll_into_view_if_needed()
    button.click()
    page.get_by_text("alloc_pages(0): which pfn will it return").first.wait_for(timeout=20_000)
    guess = page.locator(".widget-text", has_text="your prediction").locator("input")
    guess.fill("0")
    guess.press("Tab")  # the text reaches the kernel
    page.get_by_role("button", name="check, then run").click()
    page.get_by_text("Right: the simulator gives 0 too").first.wait_for(timeout=20_000)
    logged = page.get_by_text("alloc_pages(0) -> pfn").first
    logged.wait_for(timeout=20_000)
    logged.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "widgets_playground.png"))
    # The presenter option renders too: large type for a projector.
    presenter = figures.last
    presenter.scroll_into_view_if_needed()
    assert presenter.locator("rect.bar").count() == 6
    size = page.evaluate(
        "(f) => getComputedStyle(f.querySelector('.mainheading')).fontSize",
        presenter.element_handle(),
    )
    assert size == "26px", size
    page.screenshot(path=str(artifacts / "widgets_presenter.png"))
