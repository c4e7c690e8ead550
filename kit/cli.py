"""The ``kit`` command line (``kit``, ``python -m kit``).

Subcommands live in a registry so that other modules can add their own::

    from kit.cli import register

    def _add_arguments(parser):
        parser.add_argument("notebook")

    def _run(args):
        ...
        return 0

    register("grade", "grade an exercise notebook", _add_arguments, _run)

``main`` builds one ``argparse`` sub-parser per registered subcommand, calls its ``run`` and
returns its exit status.  A ``KitError`` raised by a subcommand is printed as
``error: <message>`` on stderr with exit status 2 and no traceback; so is a subcommand whose
optional layer is not installed (``SUBCOMMAND_EXTRAS``: the message names the pip extra).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from kit.errors import KitError
from kit.extras import require_extra


class Subcommand(NamedTuple):
    """One ``kit`` subcommand: its one-line help, its argument set-up and its action."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


#: name -> Subcommand.  Add to it with :func:`register`.
SUBCOMMANDS: dict[str, Subcommand] = {}

#: Subcommands that need an optional layer -> its pip extra (``kit.extras``).  ``main`` checks
#: the extra before running the subcommand, so a core-only install says what to install.
SUBCOMMAND_EXTRAS: dict[str, str] = {
    "execute": "grading",
    "grade": "grading",
    "present": "course",
    "release": "grading",
}


def register(
    name: str,
    help: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
) -> None:
    """Add (or replace) the subcommand ``name``."""
    SUBCOMMANDS[name] = Subcommand(help, add_arguments, run)


# ---------------------------------------------------------------------------------------------
# kit buddyinfo [FILE]


class BuddyinfoRow(Protocol):
    """What ``kit.procfs.read_buddyinfo`` returns per line: one zone of one NUMA node."""

    @property
    def node(self) -> int: ...

    @property
    def zone(self) -> str: ...

    @property
    def nr_free(self) -> Sequence[int]: ...


def _buddyinfo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        nargs="?",
        default="/proc/buddyinfo",
        metavar="FILE",
        help="a file in /proc/buddyinfo format (default: /proc/buddyinfo)",
    )


def buddyinfo_table(zones: Sequence[BuddyinfoRow]) -> str:
    """Render parsed buddyinfo rows as a table: one row per zone, one column per order."""
    max_orders = max((len(z.nr_free) for z in zones), default=0)
    header = ["node", "zone"] + [f"o{order}" for order in range(max_orders)] + ["free pages"]
    rows = []
    for z in zones:
        nr_free = list(z.nr_free)
        pages = sum(count << order for order, count in enumerate(nr_free))
        cells = [str(c) for c in nr_free] + [""] * (max_orders - len(nr_free))
        rows.append([str(z.node), str(z.zone), *cells, str(pages)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        left = cells[:2]
        right = cells[2:]
        parts = [c.ljust(w) for c, w in zip(left, widths[:2], strict=True)]
        parts += [c.rjust(w) for c, w in zip(right, widths[2:], strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


def _buddyinfo_run(args: argparse.Namespace) -> int:
    from kit.procfs import read_buddyinfo

    zones = read_buddyinfo(args.file)
    print(buddyinfo_table(zones))
    return 0


register(
    "buddyinfo",
    "print /proc/buddyinfo (or FILE) as a table of free blocks per order",
    _buddyinfo_arguments,
    _buddyinfo_run,
)


# ---------------------------------------------------------------------------------------------


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
    try:
        if args.command in SUBCOMMAND_EXTRAS:
            require_extra(SUBCOMMAND_EXTRAS[args.command], f"kit {args.command}")
        return SUBCOMMANDS[args.command].run(args)
    except KitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


# Subcommands defined in other modules register themselves when imported.
from kit import practice_cli as _practice_cli  # noqa: E402,F401
from kit import present as _present  # noqa: E402,F401
from kit.exercises import commands as _exercise_commands  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
