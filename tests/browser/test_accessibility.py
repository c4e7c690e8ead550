"""Lesson 3 as a student who uses the keyboard, sees fewer colours or reads in the dark theme
(issue 20.7), in one JupyterLab tab: the lesson runs once for all four tests, in file order.

1. The Playground from the keyboard only: Tab reaches every control, Space and Enter press,
   the order, size and steps fields take typing; the zone ends as the same calls made in
   Python leave it (its ``/proc/buddyinfo`` line).
2. Every button has a name a screen reader announces (ipywidgets 8 renders a button's
   ``description`` as its text and its ``tooltip`` as ``title``, no ``aria-label``): none in
   the lesson is nameless, the player's are "play", "stop", "step back", ...
3. The memory map under simulated protanopia and deuteranopia (an SVG colour-matrix filter
   with Machado's matrices): screenshots, and the legend's swatches measured in them.
4. JupyterLab's dark theme: the figures' titles, axis labels and ticks and the widgets' labels
   contrast with what is behind them (WCAG ratio), and a screenshot.
"""

from __future__ import annotations

import base64
import itertools
import re

import pytest
from colourvision import MACHADO, ciede2000, hex_rgb, lab, simulate, svg_filter_matrix
from labdriver import POLL_MS, close_documents, run_all_cells
from legibility import height_to_show, settle

import kit
from kit.widgets import Playground

pytestmark = pytest.mark.browser

LESSON = "notebooks/03-buddy-system.ipynb"
VIEWPORT = {"width": 1366, "height": 768}
PLAYGROUND = ".jp-OutputArea-output:has(button:has-text('alloc_pages_exact(size)'))"
#: Controls a keyboard user must reach: what the browser puts in the Tab order.
FOCUSABLE = "input, select, button, textarea, summary, a[href], [tabindex]:not([tabindex='-1'])"


@pytest.fixture(scope="module")
def lesson(shared_browser, lab_server):
    """The JupyterLab tab the browser tests share (see conftest.py), at 1366x768 with lesson 3
    run; fails if it contacted a non-loopback host."""
    tab = shared_browser.tab("lab")
    tab.page.set_viewport_size(VIEWPORT)
    assert run_all_cells(tab.page, lab_server, LESSON) == []
    yield tab.page
    close_documents(tab.page, "w => false")  # an idle notebook's page still draws and polls
    tab.assert_offline()


#: What has the focus: its tag, then its label, text or value.
FOCUSED = """() => {
    const el = document.activeElement;
    const box = el.closest('.widget-inline-hbox');
    const label = el.closest('label') || (box && box.querySelector('.widget-label'));
    return `${el.tagName.toLowerCase()}:${(label && label.textContent.trim())
        || el.textContent.trim().slice(0, 40) || el.value || el.title}`;
}"""


def focused(page) -> str:  # noqa: ANN001 - a playwright Page
    """What has the focus (see ``FOCUSED``)."""
    return page.evaluate(FOCUSED)


def tab_to(page, want: str, *, back: bool = False, limit: int = 25) -> None:  # noqa: ANN001
    """Press Tab (Shift+Tab) until the focus is on ``want`` (see ``focused``)."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        seen.append(focused(page))
        if seen[-1] == want:
            return
    raise AssertionError(f"Tab never reached {want!r}; it went {seen}")


def shoot(page, locator, path) -> None:  # noqa: ANN001
    """Screenshot ``locator`` whole: JupyterLab scrolls its notebook panel, not the page, so a
    widget taller than the window is photographed in a window as wide and as tall as it needs
    (at most 2400 px)."""
    height = height_to_show(locator, 2400)
    if height != VIEWPORT["height"]:
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    locator.scroll_into_view_if_needed()
    settle(page)
    locator.screenshot(path=str(path))
    if height != VIEWPORT["height"]:
        page.set_viewport_size(VIEWPORT)
        settle(page)


#: Whether the kernel has answered every change of every widget drawn in the current
#: notebook.  ipywidgets sends a model's first change at once and holds the later ones back
#: (``_msg_buffer``) until the kernel is idle after it, counting the changes sent and not yet
#: answered (``_pending_msgs``).  The views are found through the notebook's Lumino widgets
#: (a widget view's Lumino widget keeps it as ``_view``).
CHANGES_ANSWERED = """() => {
    const models = new Set();
    const walk = widget => {
        if (widget._view) models.add(widget._view.model);
        for (const child of widget.children()) walk(child);
    };
    walk(window.jupyterapp.shell.currentWidget.content);
    return models.size > 0
        && [...models].every(model => model._pending_msgs === 0 && model._msg_buffer === null);
}"""


def type_into(page, text: str) -> None:  # noqa: ANN001
    """Replace a field's text, then wait until the kernel has taken it in.

    ipywidgets holds back a field's later updates while the kernel has not answered the
    earlier ones, but sends a button press at once: a press a few milliseconds after typing
    (no person is that quick) could reach a busy kernel before the field's last characters.
    The kernel's status alone does not tell: it still reads idle while the first update is on
    its way, and again between an answer and the held-back update it releases.
    """
    page.keyboard.press("Control+a")
    page.keyboard.type(text)
    page.wait_for_function(
        f"(text) => document.activeElement.value === text && ({CHANGES_ANSWERED})()",
        arg=text, timeout=30_000, polling=POLL_MS)


#: The Playground's /proc/buddyinfo line (its table's title), spaces squeezed.
BUDDYINFO = """(root) => (root.querySelector('table[title^="Node"]') || {}).title
    .split(/\\s+/).filter(Boolean).join(' ')"""


def buddyinfo(page) -> str:  # noqa: ANN001
    return page.locator(PLAYGROUND).first.evaluate(BUDDYINFO)


def menu_reads(page, menu, count: int, index: int) -> None:  # noqa: ANN001
    """Wait (up to 20 s) until the menu ``menu`` lists ``count`` options with option ``index``
    chosen; fail saying what it shows instead."""
    try:
        page.wait_for_function(
            "([el, count, index]) => el.options.length === count && el.selectedIndex === index",
            arg=[menu, count, index], timeout=20_000, polling=POLL_MS)
    except Exception:  # noqa: BLE001 - the comparison below says what differs
        pass
    shown = menu.evaluate("el => [el.options.length, el.selectedIndex]")
    assert shown == [count, index], f"the allocation menu shows {shown}, not {[count, index]}"


#: Notes the index a menu's ``change`` event carried (``data-chosen``): ipywidgets sends a
#: menu's choice to the kernel on that event, not when the menu shows it chosen.
NOTE_CHANGES = """el => { el.dataset.chosen = '';
    el.addEventListener('change', () => { el.dataset.chosen = String(el.selectedIndex); }); }"""


def menu_sent(page, menu, index: int) -> None:  # noqa: ANN001
    """Wait (up to 20 s) until the menu's ``change`` event has carried option ``index`` (see
    ``NOTE_CHANGES``); fail saying what it carried instead."""
    try:
        page.wait_for_function("([el, index]) => el.dataset.chosen === String(index)",
                               arg=[menu, index], timeout=20_000, polling=POLL_MS)
    except Exception:  # noqa: BLE001 - the comparison below says what differs
        pass
    sent = menu.evaluate("el => el.dataset.chosen")
    assert sent == str(index), f"the allocation menu's change event carried {sent!r}, not {index}"


def assert_zone_matches(page, model: Playground) -> None:  # noqa: ANN001
    """Wait (up to 20 s) for the page's buddyinfo to read as ``model``'s, then compare."""
    want = " ".join(model.zone.format_buddyinfo().split())
    try:
        page.wait_for_function(f"([root, want]) => ({BUDDYINFO})(root) === want",
                               arg=[page.locator(PLAYGROUND).first.element_handle(), want],
                               timeout=20_000, polling=POLL_MS)
    except Exception:  # noqa: BLE001 - the comparison below says what differs
        pass
    assert buddyinfo(page) == want


def test_the_playground_works_from_the_keyboard_only(lesson, artifacts):
    page = lesson
    playground = page.locator(PLAYGROUND).first
    playground.scroll_into_view_if_needed()
    checkbox = playground.locator(".widget-checkbox input").first
    checkbox.focus()  # where a student's first Tab into the widget lands; keys only from here
    # (bqplot's own toolbar buttons show on hover only: not in the Tab order, and named by a
    # title).  A keyboard-only student's pointer is not on a chart: the shared tab's may be,
    # left there by an earlier test, so it goes to the page's corner and the toolbars fade out.
    page.mouse.move(0, 0)
    playground.evaluate(
        "(root) => new Promise(done => { const poll = () => [...root.querySelectorAll("
        "'.toolbar_div')].every(el => getComputedStyle(el).visibility === 'hidden' || "
        "getComputedStyle(el).display === 'none') ? done() : setTimeout(poll, 100); poll(); })")
    controls = playground.evaluate(
        f"(root) => [...root.querySelectorAll(`{FOCUSABLE}`)]"
        ".filter(el => el.offsetParent && !el.disabled"
        " && getComputedStyle(el).visibility !== 'hidden')"
        ".map(el => `${el.tagName} ${el.title} ${el.textContent.trim().slice(0, 30)}`)")
    reached = [focused(page)]
    root = playground.element_handle()
    for _ in range(len(controls) + 5):
        page.keyboard.press("Tab")
        # whether the focus is still in the Playground, and on what: one round trip
        inside, now = page.evaluate(f"(root) => [root.contains(document.activeElement),"
                                    f" ({FOCUSED})()]", root)
        if not inside:
            break
        reached.append(now)
    assert len(reached) == len(controls), f"Tab reached {reached} of {controls}"
    for control in ("input:predict first", "select:asking for", "input:order",
                    "button:alloc_pages(order)", "input:size", "button:alloc_pages_exact(size)",
                    "select:allocation", "button:free selected", "input:seed", "input:steps",
                    "button:random workload", "button:reset zone", "button:replay the changes",
                    "button:play", "button:stop", "button:free blocks", "button:free pages",
                    "input:log scale"):
        assert control in reached, f"{control} not in the Tab order {reached}"

    model = Playground(kit.Zone(64), predict_first=True)
    assert_zone_matches(page, model)
    before = buddyinfo(page)
    # predict first is on: alloc_pages(2) asks; type a guess and press Enter
    tab_to(page, "input:order", back=True)
    type_into(page, "2")
    tab_to(page, "button:alloc_pages(order)")
    page.keyboard.press("Enter")
    playground.locator(".widget-label:text-is('your prediction')").wait_for(timeout=20_000)
    tab_to(page, "input:your prediction")
    type_into(page, "0")
    page.keyboard.press("Enter")  # Enter in the box checks, as "check, then run" does
    model.press("alloc_pages", 2)
    model.check_prediction("0")
    assert_zone_matches(page, model)
    assert buddyinfo(page) != before
    # Space unticks "predict first"; the size field takes typing; Space presses the button
    tab_to(page, "input:predict first", back=True)
    page.keyboard.press("Space")
    tab_to(page, "input:size")
    type_into(page, "12K")
    tab_to(page, "button:alloc_pages_exact(size)")
    page.keyboard.press("Space")
    model.predict_first.value = False
    model.press("alloc_pages_exact", 12 * 1024)
    assert_zone_matches(page, model)
    # the allocation menu from the keyboard: open it, the older allocation, then free it.
    # (A closed menu's plain arrow keys are JupyterLab's: in command mode Up and Down move
    # between cells, and ipywidgets cannot mark a control to keep them; Alt+Down opens the
    # menu, whose keys are the menu's own.)
    # The menu's options and choice come from the kernel after the buddyinfo line does: the
    # keys choose only once the menu lists both allocations with the newest chosen (a late
    # update would otherwise choose the newest again under them), and the button is pressed
    # only once the older one is chosen and the menu's change event has sent it to the
    # kernel: a menu can show the choice before that event (an idle fresh-clone run freed the
    # newest so, its click in the kernel ahead of the choice).
    menu = playground.locator(
        ".widget-inline-hbox:has(> .widget-label:text-is('allocation')) select").element_handle()
    menu_reads(page, menu, len(model.allocation.options), model.allocation.index)
    menu.evaluate(NOTE_CHANGES)
    tab_to(page, "select:allocation")
    page.keyboard.press("Alt+ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    menu_reads(page, menu, len(model.allocation.options), 0)
    menu_sent(page, menu, 0)
    tab_to(page, "button:free selected")
    page.keyboard.press("Enter")
    model.allocation.value = model.allocation.options[0][1]
    model.press("free")
    assert_zone_matches(page, model)
    tab_to(page, "input:steps")
    type_into(page, "7")
    tab_to(page, "button:random workload")
    page.keyboard.press("Enter")
    model.run_random(0, 7)
    assert_zone_matches(page, model)
    settle(page, drawn=True)
    shoot(page, playground, artifacts / "a11y-playground-keyboard.png")


def test_every_button_has_a_name_a_screen_reader_reads(lesson, artifacts):
    page = lesson
    # reveal the player under the Playground from the keyboard: "show me without predicting"
    page.locator(PLAYGROUND).first.locator("button:has-text('reset zone')").focus()
    tab_to(page, "button:show me without predicting", limit=40)
    page.keyboard.press("Enter")
    player = page.locator(".jp-OutputArea-output:has(button:has-text('step forward'))").first
    player.wait_for(timeout=30_000)
    player.scroll_into_view_if_needed()
    # The names a screen reader gets, as Chromium computes them: the words, after the Font
    # Awesome icon's glyph (CSS generated content, a private-use character readers skip).
    snapshot = player.aria_snapshot()

    def named(words: str):  # noqa: ANN202 - a playwright Locator
        return player.get_by_role("button", name=re.compile(rf"^\W*({words})$"))

    for name in ("stop", "step back", "step forward", "replay"):
        assert named(name).count() == 1, snapshot
    # the short scenario plays once revealed: its toggle offers "pause", then "play"
    toggle = named("play|pause")
    assert toggle.count() == 1, snapshot
    assert toggle.get_attribute("title") in ("play the steps", "pause the steps here")
    nameless = page.evaluate("""() => [...document.querySelectorAll(
            '.jp-OutputArea-output button')]
        .filter(b => b.offsetParent)
        .filter(b => !(b.getAttribute('aria-label') || b.textContent.trim() || b.title))
        .map(b => b.outerHTML.slice(0, 120))""")
    assert nameless == [], f"buttons without a name: {nameless}"
    shoot(page, player, artifacts / "a11y-player-buttons.png")


#: Shows the page through a dichromat's eyes: filters the notebook with Machado's matrix.
SIMULATE = """([id, values]) => {
    const ns = 'http://www.w3.org/2000/svg';
    let svg = document.getElementById('kit-cvd-filters');
    if (!svg) {
        svg = document.createElementNS(ns, 'svg');
        svg.id = 'kit-cvd-filters';
        svg.setAttribute('width', '0'); svg.setAttribute('height', '0');
        svg.style.position = 'absolute';
        document.body.appendChild(svg);
    }
    if (!document.getElementById(id)) {
        const filter = document.createElementNS(ns, 'filter');
        filter.id = id;
        filter.setAttribute('color-interpolation-filters', 'linearRGB');
        const matrix = document.createElementNS(ns, 'feColorMatrix');
        matrix.setAttribute('type', 'matrix');
        matrix.setAttribute('values', values);
        filter.appendChild(matrix);
        svg.appendChild(filter);
    }
    document.querySelector('.jp-NotebookPanel').style.filter = id ? `url(#${id})` : '';
}"""

#: [r, g, b] of the screenshot (a PNG data URL) at each [x, y].
PIXELS = """async ([url, points]) => {
    const image = await createImageBitmap(await (await fetch(url)).blob());
    const canvas = new OffscreenCanvas(image.width, image.height);
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    return points.map(([x, y]) => [...context.getImageData(x, y, 1, 1).data.slice(0, 3)]);
}"""


def test_the_map_under_simulated_colour_blindness(lesson, artifacts):
    """Through the filter, the allocated states and every free order in the legend stay apart,
    and the swatches read as the simulation computed in Python says (the filter works)."""
    page = lesson
    playground = page.locator(PLAYGROUND).first
    legend = playground.locator(".widget-html-content:has-text('free block of order')").first
    legend.scroll_into_view_if_needed()
    # [label, x, y] of a point inside each swatch (its corner, clear of the order's number),
    # relative to the legend
    swatches = legend.evaluate("""(el) => {
        const box = el.getBoundingClientRect();
        return [...el.querySelectorAll('span[style*="min-width"]')].map(s => {
            const r = s.getBoundingClientRect();
            return [s.textContent, Math.round(r.left - box.left + 3),
                    Math.round(r.top - box.top + 3)];
        });
    }""")
    palette = Playground(kit.Zone(64)).map.palette  # free orders 0..10, then the other states
    for deficiency in (None, *MACHADO):
        page.evaluate(SIMULATE, [deficiency or "", svg_filter_matrix(deficiency)
                                 if deficiency else ""])
        name = deficiency or "normal"
        shoot(page, playground, artifacts / f"a11y-map-{name}.png")
        legend.scroll_into_view_if_needed()
        url = "data:image/png;base64," + base64.b64encode(legend.screenshot()).decode()
        pixels = page.evaluate(PIXELS, [url, [[x, y] for _, x, y in swatches]])
        seen = [lab(tuple(c / 255 for c in rgb)) for rgb in pixels]
        for colour, measured in zip(palette, seen, strict=False):
            rgb = hex_rgb(colour)
            computed = lab(simulate(rgb, deficiency) if deficiency else rgb)
            assert ciede2000(computed, measured) < 3, (name, colour, computed, measured)
        orders = [i for i, (label, _, _) in enumerate(swatches) if label.isdigit()]
        assert len(orders) == len(palette) - 6, swatches  # six states after the free orders
        for allocated in (orders[-1] + 1, orders[-1] + 2):  # allocated, exact (kept)
            for order in orders:
                assert ciede2000(seen[allocated], seen[order]) >= 25, (name, allocated, order)
        for one, two in itertools.pairwise(orders):
            assert ciede2000(seen[one], seen[two]) > 1, (name, one, two)
    page.evaluate(SIMULATE, ["", ""])


#: [text, contrast ratio] of every visible text of the outputs' widgets and figures whose
#: colour contrasts with the background behind it by less than ``min``.
LOW_CONTRAST = """(min) => {
    const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => [r, g, b].map(c => c / 255)
        .map(c => c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4)
        .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
    const behind = el => {
        for (let e = el; e; e = e.parentElement) {
            if (e instanceof SVGElement && !(e instanceof SVGSVGElement)) continue;
            const c = rgb(getComputedStyle(e).backgroundColor);
            if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
        }
        return [255, 255, 255];
    };
    const low = [];
    const texts = document.querySelectorAll(
        '.jp-OutputArea-output .bqplot text, .jp-OutputArea-output .widget-label,'
        + ' .jp-OutputArea-output .widget-html-content div,'
        + ' .jp-OutputArea-output .widget-checkbox label, .jp-OutputArea-output th,'
        + ' .jp-OutputArea-output td');
    for (const el of texts) {
        const text = el.textContent.trim();
        const r = el.getBoundingClientRect();
        if (!text || r.width === 0 || getComputedStyle(el).visibility === 'hidden') continue;
        const style = getComputedStyle(el);
        const fg = rgb(el instanceof SVGElement ? style.fill : style.color).slice(0, 3);
        if (fg.length < 3) continue;
        const [a, b] = [lum(fg), lum(behind(el))].sort((x, y) => y - x);
        const ratio = (a + 0.05) / (b + 0.05);
        if (ratio < min) low.push([text.slice(0, 40), Math.round(ratio * 10) / 10]);
    }
    return low;
}"""


def test_the_dark_theme_keeps_titles_axes_and_labels_legible(lesson, artifacts):
    page = lesson
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme',"
                  " {theme: 'JupyterLab Dark'})")
    try:
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'",
                               timeout=30_000, polling=POLL_MS)
        playground = page.locator(PLAYGROUND).first
        shoot(page, playground, artifacts / "a11y-dark-playground.png")
        low = page.evaluate(LOW_CONTRAST, 4.5)
        assert low == [], f"text below a 4.5:1 contrast in the dark theme: {low}"
    finally:
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: 'JupyterLab Light'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'",
                               timeout=30_000, polling=POLL_MS)
