"""Every lesson of the course opens and runs in a real JupyterLab without an error output, and
reads right in a student's window (1366x768, the most common laptop screen) and a desktop's
(1920x1080): no cut text, no widget past its output, buddyinfo counts under their orders, no
blank gap inside a widget (issue 20.8).  A lesson that asks for a prediction before a demo is
then answered, question by question, and its verdicts and the demos they open are checked at
both sizes too.  Each lesson runs once (in the student's window); the window is resized after.
The lessons share one tab: each opens, with a new kernel, in the JupyterLab the first loaded.
"""

from pathlib import Path

import pytest
from labdriver import POLL_MS, wait_until_idle
from legibility import assert_laid_out, assert_legible, save_window, settle

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
LESSONS = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
ASKING = [lesson for lesson in LESSONS if "Predict(" in (NOTEBOOKS / lesson).read_text()]


def test_the_course_has_eight_lessons():
    assert len(LESSONS) == 8, LESSONS


def test_some_lessons_ask_for_a_prediction_before_a_demo():
    """The answering half of the lesson test below runs only for these lessons."""
    assert ASKING, "no lesson asks for a prediction (Predict(...))"


@pytest.fixture
def page(shared_page):  # noqa: ANN001, ANN201
    """The lessons share one tab (see ``shared_page``)."""
    return shared_page


SIZES = [(1366, 768), (1920, 1080)]


def at_both_sizes(page, artifacts, lesson: str, state: str) -> None:  # noqa: ANN001 - a Page
    """The page as a student's and a desktop's window show it: laid out and legible.  The
    widgets are photographed in the student's window (one PNG each per state); the window
    as it ran at both sizes."""
    stem = Path(lesson).stem
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        settle(page)
        if not state:  # the page as it ran, before any answer (Run All leaves no caret)
            save_window(page, artifacts / f"lab-{stem}-{width}x{height}.png")
        assert_laid_out(page, f"{lesson}{' ' + state if state else ''} at {width}x{height}")
        assert_legible(page, artifacts if width == SIZES[0][0] else None,
                       f"lab-{stem}{'-' + state if state else ''}-{width}", width)


def answer_every_question(page, artifacts, lesson: str) -> None:  # noqa: ANN001 - a Page
    """Type a prediction into every question the lesson asks before a demo, check it with
    Enter, ask "show me" (a wrong first try only gets a hint); every question then has its
    verdict (a timed-out wait fails)."""
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
            ".test(e.textContent.trim())).length >= n", arg=index + 1, timeout=30_000,
            polling=POLL_MS)
        row.locator("xpath=..").screenshot(  # the question with its verdict or hint
            path=str(artifacts / f"lab-{Path(lesson).stem}-first-try-{index}.png"))
        row.locator("button:has-text('show me')").click()
    # every question has its verdict: right, or the answer shown
    page.wait_for_function(
        "n => [...document.querySelectorAll('.jp-OutputArea-output .widget-html-content')]"
        ".filter(e => /^(Right: |Not quite: |The answer: |Not read as)/"
        ".test(e.textContent.trim())).length >= n", arg=asked, timeout=30_000, polling=POLL_MS)
    # the demos opened by the answers draw their figures: the kernel has sent them, and the
    # outputs have not changed for a while
    wait_until_idle(page)
    settle(page, drawn=True)


@pytest.mark.browser
@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs_cleanly_then_answered(run_notebook, page, artifacts, lesson):
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    errors = run_notebook(f"notebooks/{lesson}")
    assert errors == [], f"{lesson} produced error outputs in JupyterLab: {errors}"
    rendered = page.locator(".jp-OutputArea-output .widget-box, .jp-OutputArea-output .bqplot")
    assert rendered.count() > 0, f"{lesson}: no widget rendered"
    at_both_sizes(page, artifacts, lesson, "")
    if lesson not in ASKING:
        return
    # answered in the student's window, as the lesson ran
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    settle(page)
    answer_every_question(page, artifacts, lesson)
    at_both_sizes(page, artifacts, lesson, "answered")
