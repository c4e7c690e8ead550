"""Fixtures that several test modules share, each built once per pytest worker.

Under pytest-xdist the modules that use one of these run in one worker (the root conftest.py's
``SHARED_STATE``), so it is built once in the whole run.  Each is a starting point the tests
copy, never a folder a test writes in, so that no test's state reaches another's verdict.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def nbgrader_generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An nbgrader course with every notebook of solutions/ generated as assignment ps1 and no
    student yet; tests grade in a copy (``nbgrader_course.course_from``)."""
    from nbgrader_course import CONFIG, NOTEBOOKS, new_course  # only where a test asks for it

    course = tmp_path_factory.mktemp("nbgrader-generated") / "course"
    new_course(course, NOTEBOOKS, CONFIG)
    return course
