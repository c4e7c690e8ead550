"""Fixtures that several test modules share, each built once per pytest worker.

Under pytest-xdist the modules that use the costliest of these (the nbgrader course) run in one
worker (the root conftest.py's ``SHARED_STATE``), so it is built once in the whole run; the
others are built once in each worker that runs a test using them.  Each is a starting point
the tests copy or only read, never a folder a test writes in, so that no test's state reaches
another's verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kit.core.kerneltrace import PageEvent, TraceReport


@pytest.fixture(scope="session")
def nbgrader_generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An nbgrader course with every notebook of solutions/ generated as assignment ps1 and no
    student yet; tests grade in a copy (``nbgrader_course.course_from``)."""
    from nbgrader_course import CONFIG, NOTEBOOKS, new_course  # only where a test asks for it

    course = tmp_path_factory.mktemp("nbgrader-generated") / "course"
    new_course(course, NOTEBOOKS, CONFIG)
    return course


@pytest.fixture(scope="session")
def shipped_events() -> tuple[tuple[PageEvent, ...], TraceReport]:
    """The shipped recording read once by the careful reader (``Recording.events``, which is
    ``read_trace`` of its file), with the report that read filled.

    The tests of that reader's summary, timeline and counts (test_recording, test_tracesummary,
    test_tracecolumns, test_trace_predictions) each read the 274,647 events themselves before:
    2.7 CPU-s a read, five reads.  Events are named tuples and the report is only read, so no
    test can change what another is given; a worker keeps them (~110 MB) for its session.
    """
    from kit.core.kerneltrace import TraceReport
    from kit.core.recording import shipped_recording

    report = TraceReport()
    return tuple(shipped_recording().events(report)), report
