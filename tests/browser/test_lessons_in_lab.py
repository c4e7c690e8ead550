"""Every lesson of the course opens and runs in a real JupyterLab without an error output, and
reads right in a student's window (1366x768, the most common laptop screen) and a desktop's
(1920x1080): no cut text, no widget past its output, buddyinfo counts under their orders, no
blank gap inside a widget (issue 20.8).  Each lesson runs once; the window is resized after."""

from pathlib import Path

import pytest
from legibility import assert_laid_out, assert_legible

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
LESSONS = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def test_the_course_has_eight_lessons():
    assert len(LESSONS) == 8, LESSONS


SIZES = [(1366, 768), (1920, 1080)]


@pytest.mark.browser
@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs_cleanly_in_jupyterlab(run_notebook, page, artifacts, lesson):
    stem = Path(lesson).stem
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    errors = run_notebook(f"notebooks/{lesson}")
    assert errors == [], f"{lesson} produced error outputs in JupyterLab: {errors}"
    rendered = page.locator(".jp-OutputArea-output .widget-box, .jp-OutputArea-output .bqplot")
    assert rendered.count() > 0, f"{lesson}: no widget rendered"
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts / f"lab-{stem}-{width}x{height}.png"))
        assert_laid_out(page, f"{lesson} at {width}x{height}")
        assert_legible(page, artifacts, f"lab-{stem}-{width}", width)


ASKING = [lesson for lesson in LESSONS if "Predict(" in (NOTEBOOKS / lesson).read_text()]


@pytest.mark.browser
@pytest.mark.parametrize("lesson", ASKING)
def test_lesson_demos_open_after_a_prediction(run_notebook, page, artifacts, lesson):
    """Type a prediction into every question a lesson asks before a demo, check it with
    Enter, ask "show me" (a wrong first try only gets a hint), and look at the verdicts and
    the demos they open as a reader sees them."""
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    assert run_notebook(f"notebooks/{lesson}") == []
    rows = page.locator(".jp-OutputArea-output .widget-hbox"
                        ":has(> button:has-text('show me'))")  # "... the answer" after a try
    asked = rows.count()
    assert asked > 0, f"{lesson}: no question before a demo"
    for index in range(asked):
        row = rows.nth(index)
        row.scroll_into_view_if_needed()
        box = row.locator("input")
        example = (box.get_attribute("placeholder") or "").removeprefix("e.g. ")
        # a readable guess opens the demo: the field's own example if it is numbers, else 3
        box.fill(example if example.replace(" ", "").isdigit() else "3")
        box.press("Enter")  # Enter checks, as the button does
        page.wait_for_function(
            "n => [...document.querySelectorAll('.jp-OutputArea-output .widget-html-content')]"
            ".filter(e => /^(Right: |Not quite: |Not yet: |The answer: |Not read as)/"
            ".test(e.textContent.trim())).length >= n", arg=index + 1, timeout=30_000)
        row.locator("xpath=..").screenshot(  # the question with its verdict or hint
            path=str(artifacts / f"lab-{Path(lesson).stem}-first-try-{index}.png"))
        row.locator("button:has-text('show me')").click()
    # every question has its verdict: right, or the answer shown (a timed-out wait fails)
    page.wait_for_function(
        "n => [...document.querySelectorAll('.jp-OutputArea-output .widget-html-content')]"
        ".filter(e => /^(Right: |Not quite: |The answer: |Not read as)/"
        ".test(e.textContent.trim())).length >= n", arg=asked, timeout=30_000)
    page.wait_for_timeout(1500)  # the demos opened by the answers draw their figures
    for width, height in SIZES:  # the demos as a student's and a desktop's window show them
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(500)
        assert_laid_out(page, f"{lesson} answered, at {width}x{height}")
        assert_legible(page, artifacts, f"lab-{Path(lesson).stem}-answered-{width}", width)
