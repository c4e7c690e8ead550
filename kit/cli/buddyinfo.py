"""``kit buddyinfo [FILE]``: /proc/buddyinfo (or FILE) as a table of free blocks per order."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Protocol


class BuddyinfoRow(Protocol):
    """What ``kit.core.procfs.read_buddyinfo`` returns per line: one zone of one NUMA node."""

    @property
    def node(self) -> int: ...

    @property
    def zone(self) -> str: ...

    @property
    def nr_free(self) -> Sequence[int]: ...


def add_arguments(parser: argparse.ArgumentParser) -> None:
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


def run(args: argparse.Namespace) -> int:
    from kit.core.procfs import read_buddyinfo

    zones = read_buddyinfo(args.file)
    print(buddyinfo_table(zones))
    return 0
