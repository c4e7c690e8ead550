"""Benchmark of the exercise clock: do honest answers time out on a loaded machine?

Run with ``python bench/bench_exercise_clock.py [--students N] [--jobs N] [--timeout S ...]``.
Every student hands in the instructor's own solutions (every notebook), so every exercise
should pass; each ``--timeout`` is graded twice: with the exercise's time counted as the
sandbox's CPU time (a cgroup counts it: the grader's default where it can make one) and on the
wall clock alone (what the grader does where no cgroup counts CPU time, had here by leaving
the ``cpuacct`` tree out).  Prints, for each, the honest exercises that timed out, the time the
run took and the load average before and after; the two runs of a ``--timeout`` follow each
other, so they see much the same load.  Asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kit.grading.trusted import cgroups, grading  # noqa: E402
from kit.grading.trusted.bwrap import Limits, Sandbox, open_sandbox  # noqa: E402
from kit.grading.trusted.grading import GradingRun, grade  # noqa: E402


def wall_clock_only(allow_none: bool = False) -> Sandbox:
    """The machine's sandbox with no cgroup counting CPU time: the wall-clock fallback."""
    sandbox = open_sandbox(allow_none=allow_none)
    assert sandbox.cgroups is not None
    trees = [dataclasses.replace(tree, controllers=tree.controllers - {cgroups.CPU_TIME})
             for tree in sandbox.cgroups.hierarchies]
    return dataclasses.replace(sandbox, cgroups=cgroups.Cgroups(
        [tree for tree in trees if tree.controllers]))


def run(klass: Path, out: Path, jobs: int, timeout: float, clock: str) -> str:
    sandbox = mock.patch.object(grading, "open_sandbox", wall_clock_only) if clock == "wall" \
        else contextlib.nullcontext()
    with sandbox:
        load = os.getloadavg()[0]
        started = time.monotonic()
        book = grade([klass], ROOT / "solutions", out, GradingRun(
            limits=Limits(timeout=timeout), jobs=jobs, log=lambda line: None,
            student_budget=3600))
        took = time.monotonic() - started
    timed_out = Counter(row.exercise for row in book.rows if row.status == "timeout")
    which = ", ".join(f"{name} {count}" for name, count in sorted(timed_out.items())) or "-"
    statuses = Counter(row.status for row in book.rows)
    return (f"--timeout {timeout:g} on {clock:4s}: {statuses['timeout']:3d} of "
            f"{len(book.rows)} honest exercises timed out ({which}); "
            f"{dict(sorted(statuses.items()))}; {took:.0f} s, load {load:.1f} -> "
            f"{os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--timeout", type=float, nargs="+", default=[4.0, 1.0])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        klass = Path(folder) / "class"
        for index in range(args.students):
            (klass / f"s{index:02d}").mkdir(parents=True)
            for notebook in sorted((ROOT / "solutions").glob("*.ipynb")):
                shutil.copy(notebook, klass / f"s{index:02d}" / notebook.name)
        print(f"{args.students} students handing in the solutions, --jobs {args.jobs}, "
              f"{os.cpu_count()} CPUs")
        for timeout in args.timeout:
            for clock in ("cpu", "wall"):
                print(run(klass, Path(folder) / f"out-{timeout:g}-{clock}", args.jobs, timeout,
                          clock), flush=True)


if __name__ == "__main__":
    main()
