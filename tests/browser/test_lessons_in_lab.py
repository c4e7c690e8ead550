"""Every lesson of the course opens and runs in a real JupyterLab without an error output."""

from pathlib import Path

import pytest
from legibility import assert_legible

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
LESSONS = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def test_the_course_has_seven_lessons():
    assert len(LESSONS) == 7, LESSONS


@pytest.mark.browser
@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs_cleanly_in_jupyterlab(run_notebook, page, artifacts, lesson):
    errors = run_notebook(f"notebooks/{lesson}")
    page.screenshot(path=str(artifacts / f"lab-{Path(lesson).stem}.png"), full_page=False)
    assert errors == [], f"{lesson} produced error outputs in JupyterLab: {errors}"
    rendered = page.locator(".jp-OutputArea-output .widget-box, .jp-OutputArea-output .bqplot")
    assert rendered.count() > 0, f"{lesson}: no widget rendered"
    assert_legible(page, artifacts, f"lab-{Path(lesson).stem}")
