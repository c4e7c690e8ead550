"""The layout checks of ``legibility.assert_laid_out`` find what they look for, and
``legibility.settle`` waits for a figure's relayout, and ``legibility.screenshot_widgets``
scrolls each widget into view before it checks and photographs it, with
``legibility.fast_camera``, which saves the pixels ``page.screenshot`` saves.

A static page shaped like JupyterLab's output areas (no server, no kernel) holds one widget
with each fault: a blank gap two lines tall, a row wider than its output, a buddyinfo table
whose counts stand under the wrong orders and past the output's edge.  Each check must name
its fault, and a page without them must pass.
"""

from __future__ import annotations

import base64

import pytest
from legibility import (
    BLANK_GAPS,
    BUDDYINFO_LAYOUT,
    LINE,
    WIDGETS_OVERFLOW,
    assert_laid_out,
    fast_camera,
    screenshot_widgets,
    settle,
)

pytestmark = pytest.mark.browser

BUDDYINFO = """<table title="Node 0, zone Normal 1 2" style="{table}">
<tr><th>order</th><th>0</th><th>1</th></tr>
<tr><td>free blocks</td><td>1</td><td>2</td></tr></table>"""


def output(inner: str) -> str:
    return (f'<div class="jp-OutputArea-output" style="width:600px;overflow:hidden">'
            f'<div class="jupyter-widgets" style="width:100%">{inner}</div></div>')


GOOD = output("<div>first line</div><div style='margin-top:8px'>second line</div>"
              + BUDDYINFO.format(table=""))
GAP = output("<div>first line</div><div style='height:60px'></div><div>after the gap</div>")
WIDE = output("<div style='width:900px'>a row of controls too wide</div>")
#: the counts shifted one order right (the label spans two columns), and the table past the
#: output's edge
MISALIGNED = output(BUDDYINFO.format(table="width:800px").replace(
    "<td>free blocks</td>", "<td colspan=2>free blocks</td>"))


def test_a_clean_widget_passes(page):
    page.set_content(GOOD)
    assert_laid_out(page, "clean")


def test_a_blank_gap_taller_than_a_line_is_found(page):
    page.set_content(GAP)
    gaps = page.evaluate(BLANK_GAPS, LINE)
    assert [gap[:2] for gap in gaps] == [["first line", "after the gap"]]
    assert gaps[0][2] >= 60


def test_a_widget_wider_than_its_output_is_found(page):
    page.set_content(WIDE)
    assert [text for text, _ in page.evaluate(WIDGETS_OVERFLOW)] == ["a row of controls too wide"]


def test_counts_not_under_their_orders_are_found(page):
    page.set_content(MISALIGNED)
    assert [bad[0] for bad in page.evaluate(BUDDYINFO_LAYOUT)] == ["0", "1", "overflow"]


#: A figure that, like bqplot's, lays itself out 300 ms after its size last changed (then in
#: an animation frame), writing the width it was laid out at.
DEBOUNCED_FIGURE = """<div class="jp-OutputArea-output" style="width:80%">
<div class="bqplot figure" id="fig" style="width:100%;height:100px"></div></div>
<script>
const fig = document.getElementById('fig');
let timer;
new ResizeObserver(() => {
    clearTimeout(timer);
    timer = setTimeout(() => requestAnimationFrame(() => {
        fig.dataset.laidOutAt = String(fig.getBoundingClientRect().width);
    }), 300);
}).observe(fig);
</script>"""


def test_settle_waits_for_a_figures_debounced_relayout(page):
    laid_out = "() => [fig.dataset.laidOutAt, String(fig.getBoundingClientRect().width)]"
    page.set_content(DEBOUNCED_FIGURE)
    settle(page)
    at, width = page.evaluate(laid_out)
    assert at == width, "settle returned before the figure's first layout"
    page.set_viewport_size({"width": 1000, "height": 1000})
    settle(page)
    at_now, width_now = page.evaluate(laid_out)
    assert width_now != width  # the window's resize changed the figure's width
    assert at_now == width_now, "settle returned before the figure's layout at the new width"


#: Two widgets in a panel that scrolls, as JupyterLab's notebook does: the first in view, the
#: second far below, with its button under another part of the widget.
WIDGETS_IN_A_PANEL = """<div id="panel" style="height:500px;overflow:auto">
<div class="jupyter-widgets" style="width:300px">
<button class="widget-button">in view</button></div>
<div style="height:3000px"></div>
<div class="jupyter-widgets" style="width:240px;position:relative">
<button class="widget-button">covered</button>
<div style="position:absolute;top:0;left:0;width:240px;height:40px;background:red"></div></div>
</div>"""


def png_width(path) -> int:  # noqa: ANN001
    """The width in the PNG's header."""
    return int.from_bytes(path.read_bytes()[16:20], "big")


def test_each_widget_is_scrolled_into_view_checked_and_photographed(page, tmp_path):
    """``screenshot_widgets`` scrolls the panel to a widget below it before looking for covered
    controls (out of view, none would be found), and photographs each widget whole."""
    page.set_content(WIDGETS_IN_A_PANEL)
    paths, covered = screenshot_widgets(page, tmp_path, "panel", 800)
    assert covered == [[1, "covered"]]
    assert [png_width(path) for path in paths] == [300, 240]
    page.evaluate("() => { panel.scrollTop = 0; }")
    assert screenshot_widgets(page, None, "panel", 800) == ([], [[1, "covered"]])


#: Stripes one pixel apart in both directions and text, so that a capture shifted, scaled or
#: cut by a pixel differs; below a text field with the focus (its caret left as it is).
STRIPES = """<div style="width:600px;height:300px;background:repeating-linear-gradient(90deg,
#c00 0 1px,#fff 1px 2px),repeating-linear-gradient(#00c 0 1px,transparent 1px 3px);
background-blend-mode:multiply;font:13px sans-serif">stripes 0123456789</div>
<input id="field" value="a field">"""

#: The number of differing bytes of two PNGs' pixels (both data URLs), or their sizes if these
#: differ, as the page decodes them.
PIXEL_DIFFERENCES = """async ([a, b]) => {
    const pixels = async url => {
        const image = new Image();
        image.src = url;
        await image.decode();
        const canvas = document.createElement('canvas');
        [canvas.width, canvas.height] = [image.width, image.height];
        const context = canvas.getContext('2d');
        context.drawImage(image, 0, 0);
        return [image.width, image.height,
                context.getImageData(0, 0, image.width, image.height).data];
    };
    const [[w1, h1, d1], [w2, h2, d2]] = [await pixels(a), await pixels(b)];
    if (w1 !== w2 || h1 !== h2) return `${w1}x${h1} against ${w2}x${h2}`;
    return d1.filter((value, i) => value !== d2[i]).length;
}"""


@pytest.mark.parametrize("clip", [
    {"x": 0, "y": 0, "width": 800, "height": 600},  # the whole window
    {"x": 10.5, "y": 20.25, "width": 100.6, "height": 50.4},  # a widget's fractional box
    {"x": 700, "y": -30, "width": 300, "height": 200},  # a box past the window's edges
])
def test_the_fast_camera_saves_what_page_screenshot_saves(page, tmp_path, clip):
    """``fast_camera`` photographs a box as ``page.screenshot(clip=..., caret="initial")`` does:
    the same size, trimmed and rounded alike, and the same pixels."""
    page.set_viewport_size({"width": 800, "height": 600})
    page.set_content(STRIPES)
    page.focus("#field")
    with fast_camera(page) as shoot:
        shoot(tmp_path / "fast.png", clip)
    slow = page.screenshot(clip=clip, caret="initial")
    urls = ["data:image/png;base64," + base64.b64encode(png).decode()
            for png in ((tmp_path / "fast.png").read_bytes(), slow)]
    assert page.evaluate(PIXEL_DIFFERENCES, urls) == 0
