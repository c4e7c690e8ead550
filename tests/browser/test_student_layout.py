"""Lesson 3's Playground as a student uses it, at 1366x768 and 1920x1080 (issue 20.8, 20.2).

The issue's steps (alloc_pages(0), free it, alloc_pages_exact(132K), predict first off, random
workload seed 0 / 100 steps), then: the /proc/buddyinfo counts stand under their orders and
inside the output (a wrapped line put them under the wrong orders), the tooltip of pfn 40
agrees with what the zone has there, no text is cut and no axis title covers its ticks.  The
lesson runs once, in the student's window; the checks are made there, then again with the
window resized to a desktop's.
"""

from __future__ import annotations

import pytest
from labdriver import POLL_MS, wait_until_idle
from legibility import BUDDYINFO_LAYOUT, FIGURES_CUT, axis_overlaps, cut_text, settle

SIZES = [(1366, 768), (1920, 1080)]


def reads_right(page, playground, artifacts, size: tuple[int, int]) -> None:  # noqa: ANN001
    """The Playground after the issue's steps, in a window of ``size``."""
    page.mouse.move(0, 0)  # no tooltip left from a window before: this one must show its own
    page.set_viewport_size({"width": size[0], "height": size[1]})
    settle(page)
    playground.scroll_into_view_if_needed()
    assert page.evaluate(BUDDYINFO_LAYOUT) == [], size
    buddyinfo = playground.locator('table[title^="Node"] tr').nth(1).inner_text()
    assert buddyinfo.split()[2:] == ["2"] + ["0"] * 10  # "free blocks", then order 0..10
    figure = playground.locator(".bqplot:has-text('Memory map: pfn 0..63'):visible").last
    figure.scroll_into_view_if_needed()
    box = figure.bounding_box()
    # pfn 40 is row 5, column 0 of the 8x8 map (10 px margins, 50 px title)
    cell = (box["width"] - 20) / 8
    page.mouse.move(box["x"] + 10 + cell / 2, box["y"] + 50 + (box["height"] - 60) / 8 * 5.5)
    tooltip = page.locator(".bqplot-tooltip, .jupyter-widgets:has-text('pfn 40:')").filter(
        has_text="pfn 40:")
    tooltip.first.wait_for(timeout=10_000)
    text = tooltip.first.inner_text()
    assert text.startswith("pfn 40: allocated; allocated order-0 block at pfn 40"), text
    page.screenshot(path=str(artifacts / f"student-playground-{size[0]}x{size[1]}.png"))
    playground.scroll_into_view_if_needed()
    settle(page)  # bqplot lays out the axes of a figure once it is in view
    assert cut_text(page) == [], f"text cut off (text, scrollWidth, clientWidth) at {size}"
    assert page.evaluate(FIGURES_CUT) == [], f"figures cut at the right edge at {size}"
    assert axis_overlaps(page) == [], f"axis titles over tick labels at {size}"


@pytest.fixture
def page(shared_page):  # noqa: ANN001, ANN201
    """The JupyterLab tab the browser tests share (see conftest.py)."""
    return shared_page


@pytest.mark.browser
def test_playground_after_the_issues_steps_reads_right(run_notebook, page, artifacts):
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    assert run_notebook("notebooks/03-buddy-system.ipynb") == []
    playground = page.locator(
        ".jp-OutputArea-output:has(button:has-text('alloc_pages_exact(size)'))").first
    playground.scroll_into_view_if_needed()
    playground.locator(".widget-checkbox input").first.uncheck()
    for label in ("alloc_pages(order)", "free selected", "alloc_pages_exact(size)",
                  "random workload"):
        before = playground.inner_text()
        playground.locator(f"button:has-text('{label}')").click()
        # the kernel has made the call (the Playground shows it) and is done with it
        page.wait_for_function("([root, before]) => root.innerText !== before",
                               arg=[playground.element_handle(), before], timeout=30_000,
                               polling=POLL_MS)
        wait_until_idle(page)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-OutputArea-output')].some("
        "e => e.textContent.includes('random workload, seed 0, 100 steps'))", timeout=30_000,
        polling=POLL_MS)
    settle(page, drawn=True)  # the map and the charts drawn
    for size in SIZES:
        reads_right(page, playground, artifacts, size)
