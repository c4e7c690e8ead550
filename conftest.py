"""How pytest-xdist shares the suite out (scripts/test.sh runs ``pytest -n`` cores + 1).

Tests go to the workers one by one (each its own *scope*), except what must share a process:

- the cells of one notebook (nbval): one kernel runs them in order, each after the one before;
- the tests of a module that defines a module- or class-scoped fixture: that fixture is costly
  (a built wheel and its venv, a class graded by nbgrader and by ``kit grade``, a JupyterHub with
  100 students, a Voila server, the shipped trace replayed) and must be built once, not once per
  worker.  This is read from the module's source, so a new module with such a fixture is kept
  together without being listed here;
- the modules of one entry of ``SHARED_STATE``: they change a state of the machine the others
  check (the tracing tests record real kernel traces and check that the tracefs mount and its
  instances are the same after as before, which two recordings at once would break), or they
  share a session-scoped fixture of tests/conftest.py that each worker would build again (the
  nbgrader tests' generated course, the shipped trace read by the careful reader), or a
  module's tests share what a process cache of its own keeps (the lessons run in-process).

Browser tests are ordinary tests here: each worker that runs one starts its own JupyterLab
server (a session fixture, ``tests/browser/conftest.py``), so the lessons run in two browsers
at once instead of one after the other; its Chromium, and the JupyterLab and Voila tabs in it,
stay open while it runs browser tests one after another, whatever their module.

The scopes start longest first (``LONGEST_FIRST``), so that no long scope is left to run alone
at the end while the other workers idle; unranked scopes follow in collection order.

To add a slow group: if its tests must share a process, give it a module-scoped fixture (or an
entry in ``SHARED_STATE``); then give it an entry in ``LONGEST_FIRST`` at the place of its
measured time (``--durations=0``, the phases of its tests summed by ``xdist_scope``).  A group
left out still runs, only later than it could.  tests/test_scheduling.py checks that every entry
still names a test file.

(``xdist_group`` marks would say this in the tests themselves, but pytest 9.2 drops the node-id
suffix ``--dist loadgroup`` relies on: pytest-dev/pytest-xdist#1386.)  Without ``-n`` none of
this applies.

Apart from the sharing out, every pytest process imports hypothesis as Python does, without
pytest's assert rewriting (``spare_rewriting``), and the workers collect one first, then the
others at once (``pytest_collection``): the first writes the bytecode the others then read.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

# No test run records a student's progress (kit.teaching.progress): not the nbval kernels, and
# not the kernels of the browser tests' JupyterLab, where a Jupyter server would let them.
os.environ["KIT_PROGRESS"] = "off"

ROOT = Path(__file__).resolve().parent

#: Modules that must run in one worker though no module-scoped fixture says so: name of the
#: scope -> modules.
SHARED_STATE = {
    "tracing": ("tests/test_tracefs.py", "tests/test_trace_cli.py",
                "tests/test_kerneltrace_widget.py"),
    # the session fixture ``nbgrader_generated``: nbgrader generates the course once
    "nbgrader": ("tests/test_nbgrader_parity.py", "tests/test_nbgrader_stock.py",
                 "tests/test_one_verdict.py"),
    # the session fixture ``shipped_events``: the careful reader reads the shipped trace once
    "shipped-trace": ("tests/test_recording.py", "tests/test_tracesummary.py",
                      "tests/test_tracecolumns.py", "tests/test_trace_predictions.py"),
    # its tests read what each lesson asks from one in-process run of the lesson, kept for
    # the process (``asked``, a functools cache): spread over three workers, two ran them all
    # again (a fresh-clone run, 2026-12-07: 1.30 + 1.26 + 0.13 CPU-s, against ~1.4 in one)
    "lessons-asked": ("tests/test_no_answer_in_sight.py",),
}

#: Longest scopes first: test-id prefixes or scope names (a ``SHARED_STATE`` entry).  A scope
#: takes the rank of the first entry that its first test's id starts with, or that is its name.
#: Seconds: one run of the whole suite on 2 workers, 2026-12-06 13:46-14:18 UTC, the machine
#: shared (load 5-18, so two to three times an idle machine's); "each" is one test's longest
#: when a module's tests are scopes of their own.  The lesson test and the widget demo's ran
#: their notebook twice then (the figure given); run once now, they take about 0.6 of it.
LONGEST_FIRST = (
    # 306 + 49 + 45 s: nbgrader autogrades 48 notebooks, kit grade too; a stock nbgrader and the
    # one-verdict students, since 2026-12-06 in copies of one generated course
    "nbgrader",
    # 267 s: a JupyterHub, three users' servers; + ~45 s since the slide-mode test (Voila);
    # ~0.6 of it since the users' pages load at once and following answers at once; some 0.8
    # of that since each user loads JupyterLab once for the module (CPU 93 -> 74 s alone)
    "tests/browser/test_classroom_in_lab.py",
    # Slide tests, a lesson (one Voila load, both sizes) each; seconds scaled by the test alone
    # before and after it loaded each lesson once (17:07-17:19): lesson 8, ~85 s (its load
    # replays the shipped trace), the others ~40 s each
    "tests/browser/test_slides.py::test_every_slide_fits_the_screen_in_large_type[08",
    # 163, 102 and 110 s; since the lessons share one JupyterLab and wait on conditions, not
    # sleeps, about 0.5, 0.75 and 0.65 of it (the module alone, load 5-7: 257 -> 148 s)
    "tests/browser/test_lessons_in_lab.py::test_lesson_runs_cleanly_then_answered[08",
    "tests/browser/test_lab_widgets.py",  # 102 s
    "tests/browser/test_lessons_in_lab.py::test_lesson_runs_cleanly_then_answered[03",
    "tests/browser/test_lessons_in_lab.py::test_lesson_runs_cleanly_then_answered[05",
    "tests/browser/test_slides.py",  # here, not by its time: "tests/browser/" would take it
    "tests/browser/",  # the other lessons and browser tests: 94 s each and less
    # 14 s in a loaded fresh-clone run (2026-12-07; 69 s once): real kernel traces recorded one
    # at a time.  After the browser scopes, not by its time among them: a worker that takes a
    # scope outside tests/browser/ closes its Chromium, and relaunching it for the next browser
    # scope cost ~5 CPU-s of Chromium and ~1 of the server, with JupyterLab's tab loaded again
    "tracing",
    "tests/test_packaging.py",  # 56 s: a wheel built and installed in a fresh venv
    "tests/test_grade_class_correctness.py",  # 56 s: a class graded once for the module
    # 47 s: the shipped trace replayed once for the module (since read in bulk, half the CPU)
    "tests/test_tracemodel.py",
    "tests/test_traceparts.py",  # ~50 s alone at load 4-10: cuts of generated traces, 300 examples
    "tests/test_memory_map_incremental.py",  # 37 s each (~0.75 of it since a cheaper oracle)
    # tracecolumns' 36 s each, tracesummary's 20 and trace_predictions' 23 then; in one scope
    # since they read the shipped trace once (2026-12-06 22:30, not yet timed in a whole run:
    # ~45 s estimated from their CPU-s in one process, 13 against 26 before)
    "shipped-trace",
    # 35 s (~0.8 of it since one recomputing map per example, not one per check)
    "tests/test_map_tells_the_truth.py",
    "tests/test_grade",  # 32 s each and less
    "tests/test_classroom_hub.py",  # 29 s: a JupyterHub with 100 students
    # 33 s in a fresh-clone run on 3 workers (2026-12-07 00:04 UTC; the hub's 39 s then): one
    # sandbox for the module, taken to its limits.  Unranked, it started with some 130 s of the
    # suite's summed test time left, 43 s a worker: a long scope that close to the end is what
    # leaves workers idle when the leftover is shorter
    "tests/test_sandbox_resources.py",
    # 27 s: the shipped trace summarised and replayed (the timeline and the replay since read
    # in bulk: some 4 CPU-s less)
    "notebooks/08-watch-your-kernel.ipynb",
    "tests/test_delegation.py",  # 20 s
    "tests/test_saved_widgets.py",  # 18 s each
    "tests/test_release.py",  # 16 s each then; now one scope, one kit release for the module
    "tests/test_getting_in.py",  # 14 s: scripts/lab.sh's JupyterLab
)

_SHARED_FIXTURE = re.compile(r"""scope\s*=\s*["'](module|class|package)["']""")


@functools.cache
def has_shared_fixture(path: str) -> bool:
    """Whether the test module at ``path`` (relative to the repository) defines a fixture that
    lives longer than one test."""
    source = ROOT / path
    return source.suffix == ".py" and bool(_SHARED_FIXTURE.search(source.read_text("utf-8")))


def xdist_scope(nodeid: str) -> str:
    """The unit of work a test belongs to: tests with the same scope run in one worker."""
    path = nodeid.split("::", 1)[0]
    for name, modules in SHARED_STATE.items():
        if path in modules:
            return name
    if path.endswith(".ipynb") or has_shared_fixture(path):
        return path
    return nodeid


def rank(nodeid: str) -> int:
    """Where the test's scope starts: its entry's place in ``LONGEST_FIRST``, else after all."""
    scope = xdist_scope(nodeid)
    for place, entry in enumerate(LONGEST_FIRST):
        if nodeid.startswith(entry) or scope == entry:
            return place
    return len(LONGEST_FIRST)


class _Scheduling:
    @staticmethod
    def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
        from xdist.scheduler import LoadScopeScheduling

        class ByScope(LoadScopeScheduling):  # type: ignore[misc]
            def _split_scope(self, nodeid: str) -> str:
                return xdist_scope(nodeid)

        # Scopes are handed out in the workers' collection order, which rank() sets, instead of
        # xdist's largest-count-first.
        config.option.loadscopereorder = False
        return ByScope(config, log)


#: The kernelspec ``python3`` of the suite's headless kernels (nbval's here, nbgrader's in
#: tests/nbgrader_course.py): ipykernel's own launcher and arguments, with three differences that
#: no notebook's output or verdict depends on (tests/test_headless_kernel.py compares it with the
#: installed kernel).  debugpy is not loaded (``sys.modules["debugpy"] = None``, so ipykernel
#: finds it unavailable): it is the debugger JupyterLab's debug panel talks to, which no headless
#: run uses, and ~140 of the ~620 modules a kernel loads to start.  IPython keeps the history of
#: In/Out in memory (``HistoryManager.enabled=False``), not in ``~/.ipython``'s SQLite file that
#: every kernel of the run would write and lock, one commit per cell.  And a kernel shut down by
#: request (nbgrader's; nbval kills its own) exits as Python would, its threads joined and its
#: atexit handlers run (ipykernel's closes the sockets, IPython's clears the namespace), but
#: without the interpreter's teardown of its modules, as ``os._exit`` ends a forked worker.
#: Measured (2026-12-07, load 10-17): to its first idle 0.50-0.60 -> 0.37-0.46 CPU-s, start to
#: exit by request 0.76-0.86 -> 0.46-0.56.  Lab, Voila and Hub kernels keep the installed
#: kernelspec: students see the debugger there.
TEST_JUPYTER_PATH = ROOT / "tests" / "jupyter"


def _kernels_on_unix_sockets(folder: str) -> None:
    """nbval's kernels talk to the worker over Unix sockets in ``folder``, not TCP.

    jupyter_client picks a kernel's five TCP ports by binding and releasing them, and the
    kernel binds them again when it starts: in between, any other process (the other workers'
    kernels, JupyterLab's, nbgrader's, the sandboxes) can take one, and the kernel then exits
    before it answers ("Kernel died before replying to kernel_info": one notebook's cells all
    errored in one fresh-clone run).  A socket path of its own per kernel cannot be taken.
    nbval starts its kernels with ``nbval.kernel.KernelManager``, which this swaps for a
    subclass; the notebooks run exactly as before, in the suite's ``python3`` kernel
    (``TEST_JUPYTER_PATH``)."""
    import itertools

    import nbval.kernel
    from jupyter_client.manager import KernelManager

    numbers = itertools.count()
    headless = str(TEST_JUPYTER_PATH / "kernels")

    class UnixSocketKernelManager(KernelManager):
        def __init__(self, **kwargs: Any) -> None:
            # an absolute path: the kernel runs in the notebook's folder, the client here
            super().__init__(transport="ipc", ip=f"{folder}/k{next(numbers)}", **kwargs)
            specs = self.kernel_spec_manager  # nbval's own: it finds the headless one first
            specs.kernel_dirs = [headless, *specs.kernel_dirs]

    nbval.kernel.KernelManager = UnixSocketKernelManager


#: Packages pytest would rewrite the asserts of though no test is in them: hypothesis is a pytest
#: plugin, and pytest rewrites the whole package of every plugin.
NOT_REWRITTEN = ("hypothesis",)


def spare_rewriting(config: pytest.Config) -> None:
    """Import ``NOT_REWRITTEN`` as Python does, from the bytecode set-up compiled.

    Rewritten, hypothesis's 80 modules are parsed and compiled afresh in every worker (where
    ``PYTHONDONTWRITEBYTECODE`` is set, pytest keeps no rewritten bytecode): 1.2 CPU-s a worker.
    Their asserts are hypothesis's own, not the tests', and run alike either way.  (pytest
    keeps the marks in a private set; a pytest without it just rewrites them as before.)"""
    marked = getattr(getattr(config.pluginmanager, "rewrite_hook", None), "_must_rewrite", None)
    if isinstance(marked, set):
        marked.difference_update(NOT_REWRITTEN)


def pytest_configure(config: pytest.Config) -> None:
    spare_rewriting(config)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_Scheduling(), "kit-xdist-scheduling")
    if config.pluginmanager.hasplugin("nbval"):
        folder = tempfile.mkdtemp(prefix="nbval-kernels-")
        config.add_cleanup(functools.partial(shutil.rmtree, folder, ignore_errors=True))
        _kernels_on_unix_sockets(folder)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    """In an xdist worker, collect after the first worker to start collecting, if one is.

    Collecting imports every test module and what they import (kit, numpy, pandas through
    bqplot, nbformat, nbval, hypothesis...), ~1,000 modules, and on a fresh clone none has bytecode
    yet: the workers, all starting at once, each compiled all of it (11-12 CPU-s a worker,
    against 3.5 once the bytecode is written; 37 CPU-s for three workers against 19 in turn).
    The first worker to get here holds an exclusive lock on this file while it collects; the
    others wait for it, then collect together from the bytecode it wrote.  A worker that
    starts late collects at once (it finds the lock free or shared).  ``flock`` locks are
    advisory (the file is only opened to read) and end with the process that holds them, so a
    worker that dies cannot leave the others waiting.  Where no bytecode is written
    (``PYTHONDONTWRITEBYTECODE``), waiting would gain nothing: all collect at once."""
    if not hasattr(session.config, "workerinput") or sys.dont_write_bytecode:
        return (yield)
    with open(__file__, "rb") as turn:
        try:
            fcntl.flock(turn, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fcntl.flock(turn, fcntl.LOCK_SH)  # until the first has collected
        return (yield)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In an xdist worker, longest scopes first; a scope's tests keep their order (stable sort).

    A scope's rank is its first test's, so a scope is never pulled apart by the sort."""
    if not hasattr(config, "workerinput"):
        return
    scope_rank: dict[str, int] = {}
    for item in items:
        scope_rank.setdefault(xdist_scope(item.nodeid), rank(item.nodeid))
    items.sort(key=lambda item: scope_rank[xdist_scope(item.nodeid)])


@pytest.fixture(scope="session")
def sandbox_available() -> None:
    """The grading tests expect bubblewrap's isolation (CI runs as root, where it works);
    elsewhere they are skipped, saying why."""
    from kit.grading.trusted.bwrap import SandboxUnavailable, open_sandbox

    try:
        open_sandbox()
    except SandboxUnavailable as exc:
        pytest.skip(f"no sandbox on this machine: {exc}")
