"""The ``kit`` command line; may import every layer of kit, and nothing in kit imports it.

``SUBCOMMANDS`` below is the one table of subcommands: a name, its one-line help, the function
that adds its arguments, the function that runs it, and the optional layer (pip extra) it needs.
The functions live in one module per job (:mod:`kit.cli.buddyinfo`, :mod:`kit.cli.practice`,
:mod:`kit.cli.present`, :mod:`kit.cli.grading`, :mod:`kit.cli.progress`, :mod:`kit.cli.trace`),
which do not import this package back.

``main`` builds one ``argparse`` sub-parser per subcommand, calls its ``run`` and returns its
exit status.  A ``KitError`` raised by a subcommand is printed as ``error: <message>`` on stderr
with exit status 2 and no traceback; so is a subcommand whose optional layer is not installed
(the message names the pip extra).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from kit.cli import buddyinfo, grading, practice, present, progress, trace
from kit.core.errors import KitError
from kit.core.extras import require_extra


class Subcommand(NamedTuple):
    """One ``kit`` subcommand: its one-line help, its argument set-up, its action and the pip
    extra it needs (``kit.core.extras``; None: the core is enough)."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    extra: str | None = None


#: name -> Subcommand: every ``kit`` subcommand.
SUBCOMMANDS: dict[str, Subcommand] = {
    "buddyinfo": Subcommand(
        "print /proc/buddyinfo (or FILE) as a table of free blocks per order",
        buddyinfo.add_arguments, buddyinfo.run),
    "execute": Subcommand(
        "re-run notebooks in place so their stored outputs are current",
        grading.execute_arguments, grading.execute_run, "grading"),
    "grade": Subcommand(
        "grade a class of submitted notebooks (answers run in a sandbox)",
        grading.grade_arguments, grading.grade_run, "grading"),
    "practice": Subcommand(
        "print seeded practice problems (-c: with their solutions)",
        practice.add_arguments, practice.run),
    "progress": Subcommand(
        "show what you have done: lessons run, predictions, practice, exercises passed",
        progress.add_arguments, progress.run),
    "present": Subcommand(
        "serve a lesson with Voila for a projector",
        present.add_arguments, present.run, "course"),
    "trace": Subcommand(
        "record the kernel's page-allocator events (root) or summarise a recording",
        trace.add_arguments, trace.run),
    "release": Subcommand(
        "generate the student notebooks (exercises/) from the solutions",
        grading.release_arguments, grading.release_run, "grading"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kit",
        description="pagealloc-kit: a teaching kit for the Linux buddy page allocator.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in sorted(SUBCOMMANDS):
        cmd = SUBCOMMANDS[name]
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kit`` command line with ``argv`` (default ``sys.argv[1:]``); return its status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    cmd = SUBCOMMANDS[args.command]
    try:
        if cmd.extra is not None:
            require_extra(cmd.extra, f"kit {args.command}")
        return cmd.run(args)
    except KitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
