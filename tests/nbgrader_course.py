"""A real nbgrader course made from ``solutions/``, for the tests that run nbgrader.

A course on nbgrader takes ``solutions/`` as its source folder and runs ``nbgrader
generate_assignment`` once (README: "Using these exercises in an nbgrader course").  The tests
do the same once per pytest worker (the session fixture ``nbgrader_generated``,
tests/conftest.py) and each grades its students in a copy of that course: a generation costs
an nbgrader start and a new gradebook (nbgrader runs alembic in a subprocess for it), about 3.5
CPU-s with the venv byte-compiled (10 without), which three modules used to pay each.  A copy
is what the course would be had it been generated there: ``generate_assignment`` writes the
release and the gradebook the same way whatever the ``OverwriteCells`` settings, which only
``autograde`` reads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kit.grading.trusted import notebooks as nbs

ROOT = Path(__file__).resolve().parents[1]
#: Where nbgrader (and ``kit release`` in tests/test_release.py) find the kernelspec
#: ``python3`` of their kernels (see the root conftest.py)
TEST_JUPYTER_PATH = ROOT / "tests" / "jupyter"
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = sorted(p.name for p in SOLUTIONS.glob("*.ipynb"))
ASSIGNMENT = "ps1"
#: The only setting a course adds to nbgrader's defaults (README: "Using these exercises in an
#: nbgrader course").
CONFIG = 'c = get_config()  # noqa: F821\nc.OverwriteCells.add_missing_cells = True\n'
#: What a course folder holds once ``generate_assignment`` ran, before any student submits.
GENERATED = ("source", "release", "gradebook.db")


def headless_jupyter_path() -> str:
    """``JUPYTER_PATH`` with the suite's headless ``python3`` kernelspec (the root conftest.py's
    ``TEST_JUPYTER_PATH``) found first: a kernel started by that name is the headless one."""
    return os.pathsep.join([str(TEST_JUPYTER_PATH),
                            *filter(None, [os.environ.get("JUPYTER_PATH")])])


def nbgrader_environment() -> dict[str, str]:
    """The environment nbgrader runs in: this checkout's kit, this venv's commands, and the
    suite's headless ``python3`` kernel (:func:`headless_jupyter_path`), one per notebook as
    ever."""
    env = {**os.environ, "PYTHONPATH": nbs.kit_pythonpath(),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
           "JUPYTER_PATH": headless_jupyter_path()}
    env.pop("NBGRADER_EXECUTION", None)
    return env


#: A notebook's kernel is killed once its cells ran, not asked to shut down: nbgrader has every
#: output and score by then.  Asked (nbclient's default), the suite's headless kernel
#: (``TEST_JUPYTER_PATH``) sometimes does not exit by itself (1-3 in 10 here, in its
#: ``atexit._run_exitfuncs()``; the installed kernel 0 in 10), and jupyter_client waits half its
#: ``shutdown_wait_time``, 2.5 s, before it terminates it.  Measured on 3 students x 8
#: notebooks, 24 kernels (2026-12-07, shared machine): wall 40.3, 31.2, 46.9, 34.2 -> 25.6, 22.6,
#: 22.4, 22.2 s; cgroup CPU 13.0, 11.9, 11.8, 11.7 -> 11.1, 11.2, 11.8, 12.5 s.
KERNEL_ENDS_AT_ONCE = ["--ExecutePreprocessor.shutdown_kernel=immediate"]


def run(command: list[str], cwd: Path) -> str:
    """Run an nbgrader command the way a course does (failing with its log when it fails);
    return what it printed."""
    env = nbgrader_environment()
    # Kernels talk over Unix sockets, not TCP: jupyter_client picks a TCP port by binding and
    # releasing it, and the kernels of other processes (the suite's other worker, the other
    # course folder) can take it in between; the kernel then dies and nbgrader stops.  The
    # sockets' path is absolute: a relative one is taken from the notebook's folder by the
    # kernel and from this one by nbgrader.
    with tempfile.TemporaryDirectory(prefix="nbk-") as sockets:
        transport = ["--KernelManager.transport=ipc", f"--KernelManager.ip={sockets}/kernel"]
        done = subprocess.run([sys.executable, "-m", "nbgrader", *command, *transport,
                               *KERNEL_ENDS_AT_ONCE],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode:  # its log from the first traceback or error (the cause) on
        start = min((i for i in (done.stderr.find("Traceback"), done.stderr.find("ERROR"))
                     if i >= 0), default=0)
        pytest.fail(f"nbgrader {' '.join(command)} failed:\n{done.stderr[start:start + 6000]}")
    return done.stdout


def new_course(base: Path, names: list[str], config: str) -> dict[str, object]:
    """An nbgrader course folder with ``names`` as assignment ps1, generated: its releases."""
    (base / "source" / ASSIGNMENT).mkdir(parents=True)
    for name in names:
        shutil.copy(SOLUTIONS / name, base / "source" / ASSIGNMENT / name)
    (base / "nbgrader_config.py").write_text(config, encoding="utf-8")
    run(["generate_assignment", ASSIGNMENT], base)
    return releases_of(base)


def course_from(generated: Path, base: Path, config: str) -> dict[str, object]:
    """A course folder at ``base`` with ``config``, copied from the course ``generated`` (made
    by :func:`new_course`) before any student submitted: its releases."""
    base.mkdir(parents=True)
    for name in GENERATED:
        copy = shutil.copytree if (generated / name).is_dir() else shutil.copy
        copy(generated / name, base / name)
    (base / "nbgrader_config.py").write_text(config, encoding="utf-8")
    return releases_of(base)


def releases_of(course: Path) -> dict[str, object]:
    return {path.name: nbs.read_notebook(path)
            for path in sorted((course / "release" / ASSIGNMENT).glob("*.ipynb"))}


def nbgrader_points(course: Path, students: list[str],
                    names: list[str] = NOTEBOOKS) -> dict[tuple[str, str], float]:
    """The points nbgrader's gradebook holds: (student, grade id) -> score."""
    from nbgrader.api import Gradebook

    points = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in students:
            for name in names:
                found = gradebook.find_submission_notebook(Path(name).stem, ASSIGNMENT, student)
                points.update({(student, grade.name): float(grade.score)
                               for grade in found.grades})
    return points
