"""``kit progress``: what this student has done so far (``kit.teaching.progress``'s file)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kit.teaching.progress import course_lessons, course_root, load, progress_path, summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--file", type=Path, metavar="FILE",
        help="the progress file (default: .kit-progress.json in the course root, the folder "
             "holding notebooks/: the current folder or its parent; or KIT_PROGRESS_FILE)")


def run(args: argparse.Namespace) -> int:
    path = args.file if args.file is not None else progress_path()
    data = load(path)  # a file that is not kit progress: a one-line error (KitError)
    print(f"Progress recorded in {path}" if path.exists() else
          f"No progress recorded yet ({path} does not exist): run the lessons in JupyterLab.")
    print(summary(data, course_lessons(course_root(path.resolve().parent)) or None))
    return 0
