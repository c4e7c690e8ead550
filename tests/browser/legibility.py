"""Checks of what a reader sees in the page: no cut text, no axis title over tick labels.

Assertions on widget state cannot see a label cut to "alloc_pages_exa…" or an axis title
printed over its tick labels; the browser's layout can.  Every browser test that renders
widgets calls ``assert_legible(page, artifacts, name)``, which also saves a screenshot of each
widget (``tests/artifacts/<name>-widget-<n>.png``) for a person to look at.
``assert_laid_out(page, name)`` adds what a window's size changes: a widget wider than its
output, a ``/proc/buddyinfo`` count not under its order, a blank gap inside a widget.
``settle(page)`` waits for what a resize or a scroll sets off (bqplot lays a figure out again
a moment later) instead of a fixed sleep.
"""

from __future__ import annotations

import base64
import contextlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path

#: Text-holding parts of ipywidgets controls; their text is cut when it is wider than them.
TEXT_PARTS = ", ".join([
    ".widget-button", ".widget-toggle-button", ".widget-label", ".widget-label-basic",
    ".widget-radio-box label", ".widget-checkbox label", ".widget-readout",
    ".widget-html-content", ".widget-html-content *",
])

#: [widget text, scrollWidth, clientWidth] of every visible text part whose text is cut:
#: wider than its box where the box does not scroll.
CUT_TEXT = """(parts) => {
    const cut = [];
    for (const el of document.querySelectorAll(parts)) {
        if (!el.offsetParent || el.clientWidth === 0) continue;  // hidden or not laid out
        const overflow = getComputedStyle(el).overflowX;
        if (overflow === 'auto' || overflow === 'scroll') continue;  // a reader can scroll
        if (el.scrollWidth > el.clientWidth + 1) {
            cut.push([el.textContent.trim().slice(0, 80), el.scrollWidth, el.clientWidth]);
        }
    }
    return cut;
}"""

#: [figure title, axis title, tick label] wherever a bqplot axis title overlaps one of its
#: tick labels, or [figure title, axis title, "outside the figure"] where it is cut off.
AXIS_OVERLAPS = """() => {
    const overlaps = (a, b) => a.left < b.right && b.left < a.right
        && a.top < b.bottom && b.top < a.bottom;
    const bad = [];
    for (const fig of document.querySelectorAll('.bqplot.figure')) {
        if (!fig.offsetParent) continue;
        const title = (fig.querySelector('.mainheading') || {}).textContent || '';
        const box = fig.getBoundingClientRect();
        for (const axis of fig.querySelectorAll('g.axis')) {
            const label = axis.querySelector('text.axislabel');
            if (!label || !label.textContent.trim()) continue;
            const lb = label.getBoundingClientRect();
            if (lb.left < box.left - 1 || lb.right > box.right + 1
                    || lb.top < box.top - 1 || lb.bottom > box.bottom + 1) {
                bad.push([title, label.textContent, 'outside the figure']);
            }
            for (const tick of axis.querySelectorAll('g.tick text')) {
                const tb = tick.getBoundingClientRect();
                if (tb.width > 0 && overlaps(lb, tb)) {
                    bad.push([title, label.textContent, tick.textContent]);
                }
            }
        }
    }
    return bad;
}"""

#: [figure title, pixels] of every bqplot figure reaching past the right edge of the output
#: area (or page) that holds it, where its right part is hidden.
FIGURES_CUT = """() => [...document.querySelectorAll('.bqplot.figure')]
    .filter(fig => fig.offsetParent)
    .map(fig => {
        const holder = fig.closest('.jp-OutputArea-output') || document.body;
        const past = fig.getBoundingClientRect().right - holder.getBoundingClientRect().right;
        return [(fig.querySelector('.mainheading') || {}).textContent || '', Math.round(past)];
    })
    .filter(([, past]) => past > 1)"""

#: [text] of every control of the widget marked ``index`` that is hidden in part: clipped by
#: a box of the same widget that hides or scrolls its overflow (a row squeezed by its
#: column), or
#: covered by another part of the widget (the element at its centre is not the control).
COVERED = """(index) => {
    const root = document.querySelector(`[data-kit-widget="${index}"]`);
    const covered = [];
    for (const el of root.querySelectorAll(
            '.widget-button, .widget-toggle-button, .widget-label, .widget-checkbox label,'
            + ' .widget-radio-box label, input, select')) {
        const r = el.getBoundingClientRect();
        if (!el.offsetParent || r.width === 0) continue;
        const text = (el.textContent.trim() || el.value || el.tagName).slice(0, 60);
        for (let box = el.parentElement; box && root.contains(box); box = box.parentElement) {
            const style = getComputedStyle(box);
            // a box that hides or scrolls its overflow: a control must fit in it whole
            if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
            const b = box.getBoundingClientRect();
            if (r.bottom > b.bottom + 1 || r.right > b.right + 1
                    || r.top < b.top - 1 || r.left < b.left - 1) {
                covered.push(text);
                break;
            }
        }
        if (r.top < 0 || r.bottom > innerHeight) continue;
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        if (hit && root.contains(hit) && !el.contains(hit) && !hit.contains(el)) {
            covered.push(text);
        }
    }
    return covered;
}"""

#: Marks every outermost widget view of the page with data-kit-widget=<n>; returns how many.
MARK_WIDGETS = """() => {
    const roots = [...document.querySelectorAll('.jupyter-widgets')]
        .filter(el => el.offsetParent && !el.parentElement.closest('.jupyter-widgets'));
    roots.forEach((el, i) => el.setAttribute('data-kit-widget', String(i)));
    return roots.length;
}"""


#: bqplot (0.13) lays a figure out again 300 ms after the last change of its size or of its
#: visibility (a debounced relayout, run in the next animation frame), and only a visible
#: figure whose size is not the one it was last laid out at; a margin on top.
FIGURE_RELAYOUT_MS = 350

#: Resolves once the page is still: every figure laid out for its present size and place and,
#: if ``quiet`` > 0, no change in any output for ``quiet`` ms.  A figure's relayout is due
#: when it changes size while in view, comes into view at a size other than the one it was
#: last in view at, or first appears; it is done ``relayout`` ms later, and the animation
#: frames after.  The observers are installed once per page and kept, so that a resize made
#: just before a call is seen too.  Fails after ``limit`` ms: a hang detector, not a speed
#: target.
SETTLE = """async ([relayout, quiet, limit]) => {
    const start = performance.now();
    const frames = async n => {
        for (let i = 0; i < n; i++) await new Promise(done => requestAnimationFrame(done));
    };
    let seen = window.kitLayoutWatch;
    if (!seen) {
        seen = window.kitLayoutWatch = {due: 0, output: 0, sizes: new WeakMap(),
                                         inView: new WeakMap()};
        const report = entries => {
            for (const entry of entries) {
                const fig = entry.target;
                if ('isIntersecting' in entry) seen.inView.set(fig, entry.isIntersecting);
                if (!seen.inView.get(fig)) continue;  // laid out when it comes into view
                const box = fig.getBoundingClientRect();
                const size = `${box.width}x${box.height}`;
                if (seen.sizes.get(fig) !== size) seen.due = performance.now();
                seen.sizes.set(fig, size);
            }
        };
        seen.resized = new ResizeObserver(report);
        seen.shown = new IntersectionObserver(report, {threshold: 0});  // as bqplot's
        seen.watched = new WeakSet();
        const inOutput = node => (node.nodeType === 1 ? node : node.parentElement)
            ?.closest('.jp-OutputArea-output');
        new MutationObserver(records => {
            if (records.some(r => inOutput(r.target))) seen.output = performance.now();
        }).observe(document.body, {subtree: true, childList: true, attributes: true,
                                   characterData: true});
    }
    for (;;) {
        for (const fig of document.querySelectorAll('.bqplot.figure')) {
            if (seen.watched.has(fig)) continue;
            seen.watched.add(fig);
            seen.resized.observe(fig);
            seen.shown.observe(fig);
        }
        await frames(3);  // the resize or scroll reaches the observers, a relayout is drawn
        const now = performance.now();
        const left = Math.max(seen.due + relayout - now, seen.output + quiet - now);
        if (left <= 0) return;
        if (now - start > limit) throw new Error(`the page did not settle within ${limit} ms`);
        await new Promise(done => setTimeout(done, left));
    }
}"""


#: Milliseconds without a change in any output after which what the kernel sent counts as
#: drawn (a demo that replays itself has played to its end).
DRAWN_MS = 400


def settle(page, *, drawn: bool = False) -> None:  # noqa: ANN001 - a playwright Page
    """Wait until every figure is laid out for the page's present size and scroll (see
    ``SETTLE``); with ``drawn``, until no output has changed for ``DRAWN_MS`` too."""
    page.evaluate(SETTLE, [FIGURE_RELAYOUT_MS, DRAWN_MS if drawn else 0, 60_000])


def cut_text(page) -> list:  # noqa: ANN001 - a playwright Page
    """The cut texts of the page (see ``CUT_TEXT``)."""
    return page.evaluate(CUT_TEXT, TEXT_PARTS)


def axis_overlaps(page) -> list:  # noqa: ANN001
    """The axis titles over tick labels or outside their figure (see ``AXIS_OVERLAPS``)."""
    return page.evaluate(AXIS_OVERLAPS)


#: The part of the window where the element ``el`` can be seen: the window, within the box
#: that scrolls ``el`` (JupyterLab's notebook panel, below its toolbar), if any.
SHOWN = """(el) => {
    let box = el.parentElement;
    while (box && box !== document.documentElement
           && !['auto', 'scroll'].includes(getComputedStyle(box).overflowY)) {
        box = box.parentElement;
    }
    const b = box && box !== document.documentElement ? box.getBoundingClientRect()
        : {top: 0, left: 0, bottom: innerHeight, right: innerWidth};
    return {top: Math.max(0, b.top), left: Math.max(0, b.left),
            bottom: Math.min(innerHeight, b.bottom), right: Math.min(innerWidth, b.right)};
}"""

#: Visits the outermost widgets ``indices`` (marked by ``MARK_WIDGETS``) one after another:
#: each is scrolled into view if it is not in view whole (centred, as Playwright's
#: ``scroll_into_view_if_needed`` does), the page settles (``SETTLE``: a figure scrolled into
#: view is laid out again), and its controls are checked (``COVERED``) while in view.  Returns
#: per widget [its box in the viewport, its covered controls].  One evaluation for many widgets:
#: each Playwright call costs the JupyterLab page (and Playwright's driver) some 15-45 ms of
#: CPU, a scroll and a bounding box more than a whole check.
VISIT = f"""async ([indices, relayout, limit]) => {{
    const settle = {SETTLE};
    const covered = {COVERED};
    const visited = [];
    for (const index of indices) {{
        const el = document.querySelector(`[data-kit-widget="${{index}}"]`);
        const r = el.getBoundingClientRect();
        const v = ({SHOWN})(el);
        if (r.top < v.top || r.left < v.left || r.bottom > v.bottom || r.right > v.right) {{
            el.scrollIntoViewIfNeeded(true);
        }}
        await settle([relayout, 0, limit]);
        const b = el.getBoundingClientRect();
        visited.push([{{x: b.left, y: b.top, width: b.width, height: b.height}}, covered(index)]);
    }}
    return visited;
}}"""


#: The tallest window the widgets are checked and photographed in.
TALLEST = 2600

#: The window height at which the elements ``els`` fit whole, each in the box that scrolls it
#: (JupyterLab's notebook panel, else the window): the tallest plus the window's height outside
#: that box, and a margin; never less than the window's present height, nor more than
#: ``tallest``.
FIT = f"""(els, tallest) => Math.min(tallest, Math.ceil(Math.max(innerHeight, ...els.map(el => {{
    const shown = ({SHOWN})(el);
    return innerHeight - (shown.bottom - shown.top) + el.getBoundingClientRect().height + 40;
}}))))"""

#: ``FIT`` for every outermost widget (marked by ``MARK_WIDGETS``).
FIT_HEIGHT = f"""(tallest) => ({FIT})([...document.querySelectorAll('[data-kit-widget]')],
                                      tallest)"""

#: ``FIT`` for one element.
FIT_ELEMENT = f"""(el, tallest) => ({FIT})([el], tallest)"""


def height_to_show(locator, tallest: int = TALLEST) -> int:  # noqa: ANN001 - a Locator
    """The window height at which ``locator``'s element can be seen whole (see
    ``FIT_ELEMENT``): the present height if it fits already, at most ``tallest``."""
    return locator.evaluate(FIT_ELEMENT, tallest)


@contextlib.contextmanager
def fast_camera(page) -> Iterator[Callable[[Path, dict], None]]:  # noqa: ANN001 - a Page
    """``shoot(path, clip)`` saves the part ``clip`` of the window (CSS pixels from its top
    left) as a PNG: the capture ``page.screenshot(clip=clip, caret="initial")`` makes (the clip
    trimmed to the window, its size rounded down, at the page's scroll and zoom, as Playwright
    does), the same pixels, with Chromium's fast PNG encoding (``optimizeForSpeed``; the file
    about 30 % larger) and without Playwright's preparation of the page, which the caret left as
    it is makes a no-op: some 25 ms of CPU less a widget (browser, renderer and driver; 65-80
    -> 45-57 ms, 45 shots of lesson 3's widgets each way, 2026-12-07).  One CDP session for
    the shots of a ``with`` block."""
    cdp = page.context.new_cdp_session(page)

    def shoot(path: Path, clip: dict) -> None:
        size = page.viewport_size
        left, top = (max(0.0, min(clip[k], size[d])) for k, d in (("x", "width"),
                                                                   ("y", "height")))
        right, bottom = (max(0.0, min(clip[k] + clip[d], size[d]))
                         for k, d in (("x", "width"), ("y", "height")))
        view = cdp.send("Page.getLayoutMetrics")["cssVisualViewport"]
        scale = view["scale"]
        shot = cdp.send("Page.captureScreenshot", {
            "format": "png", "optimizeForSpeed": True, "captureBeyondViewport": False,
            "clip": {"x": view["pageX"] + left, "y": view["pageY"] + top,
                     "width": math.floor((right - left) / scale + 1e-3),
                     "height": math.floor((bottom - top) / scale + 1e-3), "scale": scale}})
        path.write_bytes(base64.b64decode(shot["data"]))

    try:
        yield shoot
    finally:
        cdp.detach()


def save_window(page, path: Path) -> None:  # noqa: ANN001 - a Page
    """Save what the window shows as a PNG by :func:`fast_camera` (the caret as it is: callers
    shoot pages where no editor has the focus)."""
    size = page.viewport_size
    with fast_camera(page) as shoot:
        shoot(path, {"x": 0, "y": 0, "width": size["width"], "height": size["height"]})


def screenshot_widgets(page, folder: Path | None, name: str,  # noqa: ANN001
                       width: int = 1400) -> tuple[list[Path], list]:
    """Save one PNG per outermost widget of the page, laid out ``width`` pixels wide; returns
    their paths, and the controls covered by another part of their widget (see ``COVERED``),
    looked for while in view.  Without ``folder`` the widgets are checked, not photographed:
    all in one evaluation (``VISIT``)."""
    paths, covered = [], []
    # tall enough for the tallest widget: JupyterLab scrolls its notebook panel, not the page,
    # so a widget taller than the panel would be photographed cut.  No taller: the window's
    # whole height is drawn again at every scroll and screenshot.
    if page.viewport_size["width"] != width:
        page.set_viewport_size({"width": width, "height": page.viewport_size["height"]})
        settle(page)
    count = page.evaluate(MARK_WIDGETS)
    page.set_viewport_size({"width": width, "height": page.evaluate(FIT_HEIGHT, TALLEST)})
    settle(page)
    visits = [list(range(count))] if folder is None else [[index] for index in range(count)]
    with contextlib.ExitStack() as stack:
        shoot = stack.enter_context(fast_camera(page)) if folder is not None else None
        for indices in visits:
            for index, (box, hidden) in zip(indices, page.evaluate(
                    VISIT, [indices, FIGURE_RELAYOUT_MS, 60_000]), strict=True):
                if shoot is not None:
                    path = folder / f"{name}-widget-{index}.png"
                    # the widget's box, as settled and checked; the caret as it is: hiding it
                    # restyles the whole page twice per shot, a quarter of the shot's CPU in a
                    # lesson's JupyterLab
                    shoot(path, box)
                    paths.append(path)
                covered += [[index, text] for text in hidden]
    return paths, covered


#: The page's cut texts, axis titles over ticks and figures cut at the right edge (see
#: ``CUT_TEXT``, ``AXIS_OVERLAPS``, ``FIGURES_CUT``), in one evaluation.
LEGIBILITY = f"""(parts) => [({CUT_TEXT})(parts), ({AXIS_OVERLAPS})(), ({FIGURES_CUT})()]"""


def assert_legible(page, folder: Path | None, name: str,  # noqa: ANN001
                   width: int = 1400) -> list[Path]:
    """Screenshot every widget (laid out ``width`` pixels wide; none without ``folder``), then
    fail on cut text, a control covered by another part of its widget, a figure cut at the
    right edge or an axis title over tick labels.

    The screenshots come first so that a failure can be looked at.  Figures are scrolled
    into view, and laid out there, before measuring: bqplot lays out a figure's axes once it
    is visible.
    """
    paths, covered = screenshot_widgets(page, folder, name, width)
    cut, axes, figures = page.evaluate(LEGIBILITY, TEXT_PARTS)
    assert not cut, f"{name}: text cut off (text, scrollWidth, clientWidth): {cut}"
    assert not figures, f"{name}: figures cut at the right edge (title, pixels): {figures}"
    assert not covered, f"{name}: controls clipped or covered (widget, text): {covered}"
    assert not axes, f"{name}: axis titles over tick labels (figure, title, tick): {axes}"
    return paths


#: [order header text, its left, right; count text, its center] of every buddyinfo column
#: whose count is not under its header, and [table right, output right] where it overflows.
BUDDYINFO_LAYOUT = """() => {
    const bad = [];
    for (const table of document.querySelectorAll('.jp-OutputArea-output table[title^="Node"]')) {
        if (!table.offsetParent) continue;
        const [head, counts] = table.rows;
        for (let i = 1; i < head.cells.length; i++) {
            const h = head.cells[i].getBoundingClientRect();
            if (!counts.cells[i]) { bad.push([head.cells[i].textContent, 'no count']); continue; }
            const c = counts.cells[i].getBoundingClientRect();
            const center = (c.left + c.right) / 2;
            if (center < h.left || center > h.right || c.top < h.bottom - 1) {
                bad.push([head.cells[i].textContent, h.left, h.right, counts.cells[i].textContent,
                          center]);
            }
        }
        const out = table.closest('.jp-OutputArea-output').getBoundingClientRect();
        const t = table.getBoundingClientRect();
        if (t.right > out.right + 1) bad.push(['overflow', t.right, out.right]);
    }
    return bad;
}"""

#: [widget's first text, pixels] of every outermost widget wider than its output area (its
#: right part hidden or scrolled off).
WIDGETS_OVERFLOW = """() => [...document.querySelectorAll('.jp-OutputArea-output')]
    .filter(out => out.offsetParent && out.querySelector('.jupyter-widgets'))
    .flatMap(out => {
        const right = out.getBoundingClientRect().right;
        const wide = [...out.querySelectorAll('.jupyter-widgets')]
            .filter(el => el.offsetParent && getComputedStyle(el).visibility !== 'hidden')
            .map(el => el.getBoundingClientRect().right - right);
        const past = Math.max(out.scrollWidth - out.clientWidth, ...wide);
        return past > 1 ? [[out.textContent.trim().slice(0, 60), Math.round(past)]] : [];
    })"""

#: [text above, text below, pixels] of every blank band taller than ``line`` pixels inside a
#: widget: between two things a reader sees (text, a control, a figure, a table) with nothing
#: beside them at that height.  Whitespace a figure draws inside itself is the figure's.
BLANK_GAPS = """(line) => {
    const gaps = [];
    const roots = [...document.querySelectorAll('.jp-OutputArea-output .jupyter-widgets')]
        .filter(el => el.offsetParent && !el.parentElement.closest('.jupyter-widgets'));
    const seen = el => {
        if (el.matches('svg, input, select, button, textarea, img, canvas, table, summary'))
            return true;
        return [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    };
    for (const root of roots) {
        const bands = [];
        for (const el of root.querySelectorAll('*')) {
            if (el instanceof SVGElement && !(el instanceof SVGSVGElement)) continue;
            if (!el.offsetParent && !(el instanceof SVGSVGElement)) continue;
            if (el.closest('table, svg, select, button') !== el
                && el.closest('table, svg, select, button')) continue;
            const style = getComputedStyle(el);
            if (style.visibility === 'hidden' || !seen(el)) continue;
            const r = el.getBoundingClientRect();
            if (r.width === 0 || r.height === 0) continue;
            bands.push([r.top, r.bottom, el.textContent.trim().slice(0, 40) || el.tagName]);
        }
        bands.sort((a, b) => a[0] - b[0]);
        let [bottom, above] = [root.getBoundingClientRect().top, 'the top of the widget'];
        for (const [top, end, text] of bands) {
            if (top - bottom > line) gaps.push([above, text, Math.round(top - bottom)]);
            if (end > bottom) [bottom, above] = [end, text];
        }
    }
    return gaps;
}"""

#: Blank space a widget may hold between two things: a line and a half of its 13 px text.
LINE = 24


#: ``WIDGETS_OVERFLOW``, ``BUDDYINFO_LAYOUT`` and ``BLANK_GAPS`` in one evaluation.
LAID_OUT = f"""(line) => [({WIDGETS_OVERFLOW})(), ({BUDDYINFO_LAYOUT})(), ({BLANK_GAPS})(line)]"""


def assert_laid_out(page, name: str) -> None:  # noqa: ANN001 - a playwright Page
    """Fail on a widget wider than its output, a buddyinfo count not under its order, or a
    blank gap taller than a line inside a widget, at the page's present size."""
    wide, buddyinfo, gaps = page.evaluate(LAID_OUT, LINE)
    assert not wide, f"{name}: widgets wider than their output (text, pixels): {wide}"
    assert not buddyinfo, f"{name}: buddyinfo counts not under their orders: {buddyinfo}"
    assert not gaps, f"{name}: blank gaps inside widgets (above, below, pixels): {gaps}"
