"""The ``kit release``, ``kit grade`` and ``kit execute`` subcommands (listed in ``kit.cli``).

Heavy imports (nbformat, nbclient) happen when a subcommand runs, so ``kit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from kit.core.errors import InvalidArgument
from kit.grading.trusted.bwrap import DEFAULT_JOBS, Limits
from kit.teaching.progress import SWITCH as PROGRESS_SWITCH

#: The exit status of a run ended by Ctrl-C: what a shell reports for a command killed by SIGINT.
INTERRUPTED = 128 + 2


def _export_format(name: str) -> str:
    """An ``--export`` name; Moodle's is refused with where its file already is (an instructor
    who reads "Moodle and Canvas" asks for both)."""
    if name.lower() == "moodle":
        raise argparse.ArgumentTypeError(
            "Moodle's file needs no --export: grades-by-student.csv (Moodle's CSV grade "
            "import) is always written")
    return name


def release_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", type=Path, default=Path("solutions"),
                        help="the instructor's notebooks (default: solutions)")
    parser.add_argument("--out", type=Path, default=Path("exercises"),
                        help="where the student notebooks go (default: exercises)")
    parser.add_argument("--execute-solutions", action="store_true",
                        help="first re-run the source notebooks in place, so their stored "
                             "outputs are what nbval expects")
    parser.add_argument("--no-check-solutions", dest="check_solutions", action="store_false",
                        help="do not first run every solution against its visible and hidden "
                             "checks (by default a solution that fails one stops the release)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if OUT is not what a release would write")


def release_run(args: argparse.Namespace) -> int:
    from kit.grading.trusted.release import execute_solutions, release, release_differences

    if args.check:
        problems = release_differences(args.source, args.out, check=args.check_solutions)
        for problem in problems:
            print(problem)
        if problems:
            print(f"run `kit release --source {args.source} --out {args.out}` to update")
            return 1
        print(f"{args.out} is up to date")
        return 0
    if args.execute_solutions:
        for path in execute_solutions(args.source):
            print(f"executed {path}")
    for path in release(args.source, args.out, check=args.check_solutions):
        print(f"wrote {path}")
    return 0


def grade_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", nargs="+", type=Path, metavar="SUBMISSIONS",
                        help="a student's folder of notebooks (named after the student), or a "
                             "folder of such folders (a file given, as by a shell glob, is a "
                             "stray file: reported, never a student)")
    parser.add_argument("--source", type=Path, default=Path("solutions"),
                        help="the instructor's notebooks (default: solutions)")
    parser.add_argument("--out", type=Path, required=True,
                        help="where gradebook.csv, gradebook.json and feedback/ go")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                        help=f"submissions graded at once (default: {DEFAULT_JOBS}, the fastest "
                             "measured on 2 cores)")
    limits = Limits()
    parser.add_argument("--timeout", type=float, default=limits.timeout,
                        help=f"seconds of the sandbox's CPU time per exercise, and 5 times "
                             f"as many by the clock (default: {limits.timeout:g}; where no "
                             "cgroup counts CPU time, seconds by the clock)")
    parser.add_argument("--memory", type=int, default=limits.memory_mib, metavar="MIB",
                        help=f"address space of an answer process, MiB (default: "
                             f"{limits.memory_mib})")
    parser.add_argument("--cpu", type=int, default=limits.cpu_seconds, metavar="SECONDS",
                        help="CPU seconds of a notebook's sandbox, counted by the grader "
                             f"(default: {limits.cpu_seconds})")
    parser.add_argument("--output-limit", type=int, default=limits.output_bytes, metavar="BYTES",
                        help=f"what an answer process may print (default: {limits.output_bytes})")
    parser.add_argument("--processes", type=int, default=limits.processes,
                        help=f"processes and threads of an answer (default: {limits.processes})")
    parser.add_argument("--roster", type=Path, metavar="CSV",
                        help="the class list: every student on it gets a row (0, not "
                             "submitted, when nothing came) and folders not on it are flagged; "
                             "a CSV with a 'folder' (or 'SIS Login ID') column, such as Canvas's "
                             "gradebook export")
    parser.add_argument("--export", action="append", dest="exports", choices=("canvas",),
                        type=_export_format,
                        default=[], help="also write an LMS import file: canvas -> "
                                         "canvas-import.csv (Grades > Import in Canvas); "
                                         "Moodle's, grades-by-student.csv, is always written")
    parser.add_argument("--student-timeout", type=float, metavar="SECONDS",
                        help="seconds one student may take in all before they are stopped "
                             "(default: twice every exercise's --timeout, plus a minute)")
    parser.add_argument("--sandbox", choices=("required", "none"), default="required",
                        help="required (default): answers run only inside bubblewrap, and "
                             "grading is refused where it cannot work; none: where it cannot, "
                             "run them as plain processes (a warning at the start and end, "
                             "every row marked)")
    parser.add_argument("--secret", type=Path, metavar="FILE",
                        help="the instructor's secret behind the hidden cases (default: "
                             "OUT/hidden-cases.key, made on first use; keep it, never share it)")
    parser.add_argument("--per-student-cases", action="store_true",
                        help="draw hidden cases per student instead of one set per exercise for "
                             "the class (see the README for the trade-off)")
    parser.add_argument("--notebook", action="append", dest="notebooks", metavar="NAME",
                        help="grade only this source notebook (repeatable)")
    parser.add_argument("--student", action="append", dest="students", metavar="NAME",
                        help="re-grade only this student (repeatable): their rows and feedback "
                             "in OUT are replaced, everyone else's are kept")


def grade_run(args: argparse.Namespace) -> int:
    from kit.grading.trusted.grading import GradingRun, grade

    os.environ[PROGRESS_SWITCH] = "off"  # grading records no student's progress, even in a kernel
    for flag in ("timeout", "memory", "cpu", "output_limit", "processes", "student_timeout"):
        if getattr(args, flag) is not None and getattr(args, flag) <= 0:
            raise InvalidArgument(f"--{flag.replace('_', '-')} must be positive")
    limits = Limits(timeout=args.timeout, memory_mib=args.memory, cpu_seconds=args.cpu,
                    output_bytes=args.output_limit, processes=args.processes)
    progress = Progress(sys.stderr)
    try:
        book = grade(args.submissions, args.source, args.out,
                     GradingRun(limits, args.sandbox, args.jobs, args.notebooks, args.students,
                                progress=progress.update, secret=args.secret,
                                per_student_cases=args.per_student_cases, roster=args.roster,
                                student_budget=args.student_timeout, exports=args.exports))
    except KeyboardInterrupt:  # the instructor's Ctrl-C: what was graded is already written
        progress.close()
        kept = args.out / "gradebook.csv"
        print(f"interrupted: {kept} keeps the students graded so far (the others' rows say "
              "\"not graded\"); run the same command again to grade them" if kept.exists()
              else "interrupted before any student was graded; run the same command again",
              file=sys.stderr)
        return INTERRUPTED
    progress.close()
    # A re-grade speaks of its students only; a stray file is none (its rows say why).
    strays = sorted(set(book.graded) & book.strays)
    graded = set(book.graded) - book.strays
    for student, (got, most) in book.totals().items():
        if student in graded:
            print(f"{student}: {got:g} / {most:g}")
    attention = {s: why for s, why in book.attention().items() if s in graded}
    count = len(graded)
    print(f"{count} students: {count - len(attention)} graded in full, "
          f"{len(attention)} need attention{': see gradebook.csv' if attention else ''} "
          f"({book.seconds:.1f} s; results in {args.out})")
    for student, why in sorted(attention.items()):
        print(f"  {student}: {', '.join(why)}")
    if strays:
        print(f"stray files, not students: {', '.join(strays)} (see gradebook.csv)")
    noted = {s: notes for s, notes in book.notes.items() if s in graded}
    if noted:
        print("noticed while collecting:")
    for student, notes in sorted(noted.items()):
        print(f"  {student}: {'; '.join(notes)}")
    if book.unsandboxed:
        print("WARNING: graded without a sandbox (--sandbox none): every row says so")
    return 1 if attention or noted or strays else 0


class Progress:
    """Students done out of all, elapsed time and an estimate: a bar that redraws itself on a
    terminal, a plain line per student elsewhere (a log file, CI)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.drawn = False

    def update(self, done: int, total: int, student: str) -> None:
        elapsed = time.monotonic() - self.started
        left = elapsed / done * (total - done) if done else 0.0
        times = f"{_clock(elapsed)} elapsed, ~{_clock(left)} left"
        if self.tty:
            width = 30
            bar = "#" * (width * done // total) + "-" * (width - width * done // total)
            self.stream.write(f"\r[{bar}] {done}/{total} students, {times} ")
            self.drawn = True
        else:
            self.stream.write(f"graded {done}/{total}: {student} ({times})\n")
        self.stream.flush()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"




def execute_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("notebooks", nargs="+", type=Path, metavar="NOTEBOOK",
                        help="notebooks to re-run in place (e.g. notebooks/*.ipynb)")


def execute_run(args: argparse.Namespace) -> int:
    from kit.grading.trusted.release import execute_in_place

    for path in execute_in_place(args.notebooks):
        print(f"executed {path}")
    return 0
