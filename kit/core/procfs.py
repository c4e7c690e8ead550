"""Read, parse and render ``/proc/buddyinfo`` and ``/proc/pagetypeinfo``.

The simulator shows its zones in the same text format the kernel uses, so that a student can put
the kit's output next to ``cat /proc/buddyinfo`` on a real machine and compare them column by
column.  The other direction matters just as much: a real machine's files (or saved copies) can
be parsed and fed to the same widgets and fragmentation metrics.

Formats, as printed by the kernel's mm/vmstat.c:

* buddyinfo, one line per populated zone: ``"Node %d, zone %8s "`` and then ``"%6lu "`` for the
  number of free blocks of each order, so every line ends with a space.
* pagetypeinfo: the pageblock order and size, a table of free blocks per migratetype and order
  (counts of 100000 and more print as ``>100000`` since Linux 5.4), a table of how many
  pageblocks each migratetype owns, and with page_owner an optional table of "mixed" blocks.
  Since Linux 5.4 the file is readable by root only (mode 0400).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from kit.core.errors import InvalidArgument, KitError, ProcFileUnavailable
from kit.core.orders import _require_int
from kit.core.samples import sample_path

__all__ = [
    "BuddyInfoReading",
    "BuddyInfoZone",
    "PageBlockCount",
    "PageTypeFree",
    "PageTypeInfo",
    "format_buddyinfo",
    "main_zone",
    "parse_buddyinfo",
    "parse_pagetypeinfo",
    "read_buddyinfo",
    "read_pagetypeinfo",
    "take_buddyinfo",
]

_T = TypeVar("_T")

PAGETYPEINFO_CAP = 100000
"""Since Linux 5.4 pagetypeinfo stops counting a list at this many entries and prints '>'."""

_BUDDY_RE = re.compile(r"^Node\s+(\d+),\s*zone\s+(\S+)((?:\s+\d+)+)\s*$")
_BLOCK_ORDER_RE = re.compile(r"^Page block order:\s*(\d+)\s*$")
_PER_BLOCK_RE = re.compile(r"^Pages per block:\s*(\d+)\s*$")
_FREE_HEADER_RE = re.compile(r"^Free pages count per migrate type at order((?:\s+\d+)+)\s*$")
_FREE_ROW_RE = re.compile(r"^Node\s+(\d+),\s*zone\s+(\S+),\s*type\s+(\S+)((?:\s+>?\d+)+)\s*$")
_TABLE_HEADER_RE = re.compile(r"^Number of (blocks type|mixed blocks)((?:\s+\S+)+)\s*$")
_TABLE_ROW_RE = re.compile(r"^Node\s+(\d+),\s*zone\s+(\S+)((?:\s+\d+)+)\s*$")


# --------------------------------------------------------------------------------------------
# buddyinfo
# --------------------------------------------------------------------------------------------


def _require_zone_name(zone: object) -> str:
    if not isinstance(zone, str) or not zone or any(ch.isspace() for ch in zone):
        raise InvalidArgument(f"zone must be a non-empty name without spaces, got {zone!r}")
    return zone


def format_buddyinfo(nr_free: Sequence[int], node: int = 0, zone: str = "Normal") -> str:
    """Render one ``/proc/buddyinfo`` line for a zone, byte for byte, without the newline.

    ``"Node 0, zone   Normal "`` (zone name right-aligned in 8 columns), then each order's
    free-block count right-aligned in 6 columns and followed by a space, so the line ends with
    a space just like the kernel's.  Counts wider than 6 digits simply widen their column, as
    printf does.
    """
    if isinstance(nr_free, (str, bytes)) or not isinstance(nr_free, Sequence):
        raise InvalidArgument(f"nr_free must be a sequence of ints, got {nr_free!r}")
    counts = [_require_int(c, f"nr_free[{o}]") for o, c in enumerate(nr_free)]
    node = _require_int(node, "node")
    zone = _require_zone_name(zone)
    return f"Node {node}, zone {zone:>8} " + "".join(f"{count:6d} " for count in counts)


@dataclass
class BuddyInfoZone:
    """One zone's line of ``/proc/buddyinfo``: free-block counts per order (blocks, not pages)."""

    node: int
    zone: str
    nr_free: list[int]

    @property
    def free_pages(self) -> int:
        """Total free pages: an order-n block holds 2**n pages, so sum ``nr_free[n] << n``."""
        return sum(count << order for order, count in enumerate(self.nr_free))


def parse_buddyinfo(text: str) -> list[BuddyInfoZone]:
    """Parse the text of ``/proc/buddyinfo`` into one :class:`BuddyInfoZone` per line.

    Blank lines and trailing whitespace are ignored (copies pasted from a terminal often lose
    or add some); any other line that is not ``Node N, zone NAME counts...`` raises
    InvalidArgument naming its line number and content, so a wrong file is noticed at once.
    """
    if not isinstance(text, str):
        raise InvalidArgument(f"buddyinfo text must be a str, got {type(text).__name__}")
    zones: list[BuddyInfoZone] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _BUDDY_RE.match(line.strip())
        if match is None:
            raise InvalidArgument(
                f"line {lineno} is not a buddyinfo line "
                f"(expected 'Node N, zone NAME count count ...'): {line!r}"
            )
        node, zone, counts = match.groups()
        zones.append(BuddyInfoZone(int(node), zone, [int(c) for c in counts.split()]))
    return zones


# --------------------------------------------------------------------------------------------
# pagetypeinfo
# --------------------------------------------------------------------------------------------


@dataclass
class PageTypeFree:
    """One row of pagetypeinfo's free table: free blocks per order on one migratetype's lists.

    ``capped[o]`` is True where the kernel printed ``>100000``: it stops counting there (a long
    list walk holds the zone lock), so ``counts[o]`` is then only a lower bound.
    """

    node: int
    zone: str
    migratetype: str
    counts: list[int]
    capped: list[bool]


@dataclass
class PageBlockCount:
    """One row of a pageblock table: how many pageblocks of the zone each migratetype owns."""

    node: int
    zone: str
    counts: dict[str, int]


@dataclass
class PageTypeInfo:
    """The parsed content of ``/proc/pagetypeinfo``.

    ``mixed_blocks`` holds the optional "Number of mixed blocks" table (only printed by kernels
    with page_owner enabled); it is empty when the file has none.
    """

    pageblock_order: int
    pages_per_block: int
    free: list[PageTypeFree] = field(default_factory=list)
    blocks: list[PageBlockCount] = field(default_factory=list)
    mixed_blocks: list[PageBlockCount] = field(default_factory=list)

    def nr_free_by_zone(self) -> dict[tuple[int, str], list[int]]:
        """Sum the free table over migratetypes, giving buddyinfo-style counts per zone.

        A zone's ``nr_free[o]`` is the total over its migratetype lists, so the result can be
        used wherever buddyinfo counts are expected.  Capped (``>100000``) entries contribute
        100000, so such a sum is a lower bound.
        """
        totals: dict[tuple[int, str], list[int]] = {}
        for row in self.free:
            key = (row.node, row.zone)
            acc = totals.setdefault(key, [0] * len(row.counts))
            if len(acc) < len(row.counts):
                acc.extend([0] * (len(row.counts) - len(acc)))
            for order, count in enumerate(row.counts):
                acc[order] += count
        return totals


def _bad_line(lineno: int, line: str, what: str) -> InvalidArgument:
    return InvalidArgument(f"line {lineno} of pagetypeinfo: expected {what}, got {line!r}")


def parse_pagetypeinfo(text: str) -> PageTypeInfo:
    """Parse the text of ``/proc/pagetypeinfo``.

    The file repeats its sections for each node with memory; all rows are collected in file
    order.  Migratetype names are taken from the file itself (the pageblock table's header and
    each free row), because the set depends on the kernel's configuration (CMA, Isolate) and
    version.  A malformed line raises InvalidArgument naming its line number and content.
    """
    if not isinstance(text, str):
        raise InvalidArgument(f"pagetypeinfo text must be a str, got {type(text).__name__}")
    block_order: int | None = None
    per_block: int | None = None
    free: list[PageTypeFree] = []
    tables: dict[str, list[PageBlockCount]] = {"blocks type": [], "mixed blocks": []}
    section = "start"
    columns: list[str] = []

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if match := _BLOCK_ORDER_RE.match(line):
            value = int(match.group(1))
            if block_order is not None and value != block_order:
                raise _bad_line(lineno, raw, f"page block order {block_order} as before")
            block_order, section = value, "start"
        elif match := _PER_BLOCK_RE.match(line):
            per_block, section = int(match.group(1)), "start"
        elif _FREE_HEADER_RE.match(line):
            section = "free"
        elif match := _TABLE_HEADER_RE.match(line):
            section = match.group(1)
            columns = match.group(2).split()
        elif section == "free":
            match = _FREE_ROW_RE.match(line)
            if match is None:
                raise _bad_line(lineno, raw, "'Node N, zone NAME, type TYPE count ...'")
            node, zone, migratetype, values = match.groups()
            tokens = values.split()
            free.append(
                PageTypeFree(
                    node=int(node),
                    zone=zone,
                    migratetype=migratetype,
                    counts=[int(tok.lstrip(">")) for tok in tokens],
                    capped=[tok.startswith(">") for tok in tokens],
                )
            )
        elif section in tables:
            match = _TABLE_ROW_RE.match(line)
            if match is None:
                raise _bad_line(lineno, raw, "'Node N, zone NAME count ...'")
            node, zone, values = match.groups()
            numbers = [int(tok) for tok in values.split()]
            if len(numbers) != len(columns):
                raise _bad_line(
                    lineno, raw, f"{len(columns)} counts, one per migratetype {columns}"
                )
            tables[section].append(
                PageBlockCount(int(node), zone, dict(zip(columns, numbers, strict=True)))
            )
        else:
            raise _bad_line(lineno, raw, "a pagetypeinfo header or table row")

    if block_order is None or per_block is None:
        raise InvalidArgument(
            "not a pagetypeinfo file: the 'Page block order:' and 'Pages per block:' lines "
            "are missing"
        )
    return PageTypeInfo(
        pageblock_order=block_order,
        pages_per_block=per_block,
        free=free,
        blocks=tables["blocks type"],
        mixed_blocks=tables["mixed blocks"],
    )


# --------------------------------------------------------------------------------------------
# Reading the real files
# --------------------------------------------------------------------------------------------


def _read_proc_file(path: str | os.PathLike[str], hint: str) -> str:
    """Read a /proc file, turning every way it can be missing into ProcFileUnavailable.

    The notebooks run on laptops as well as Linux servers, so "no such file" is an expected
    situation that deserves an explanation, not a traceback.
    """
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ProcFileUnavailable(
            f"{name} does not exist: this is probably not Linux (macOS and Windows have no "
            "/proc), or /proc is not mounted (e.g. a container without /proc). "
            "Parse a saved copy instead."
        ) from None
    except PermissionError:
        raise ProcFileUnavailable(f"{name} cannot be read: permission denied. {hint}") from None
    except OSError as exc:
        raise ProcFileUnavailable(f"{name} cannot be read: {exc.strerror or exc}") from None
    if not text.strip():
        raise ProcFileUnavailable(
            f"{name} is empty: the kernel printed no zone (e.g. an emulated /proc in a "
            "container or sandbox that does not implement it)"
        )
    return text


def _parse_or_explain(parser: Callable[[str], _T], text: str, name: str) -> _T:
    """Run ``parser`` and prefix any parse error with the file it came from."""
    try:
        return parser(text)
    except InvalidArgument as exc:
        raise InvalidArgument(f"{name}: {exc}") from None


def read_buddyinfo(path: str | os.PathLike[str] = "/proc/buddyinfo") -> list[BuddyInfoZone]:
    """Read and parse ``/proc/buddyinfo`` (or a saved copy at ``path``).

    Raises ProcFileUnavailable, saying which file and the likely reason, when the file is
    absent, unreadable or empty.
    """
    text = _read_proc_file(path, "The file is normally world-readable; check the path.")
    return _parse_or_explain(parse_buddyinfo, text, os.fspath(path))


def main_zone(zones: Sequence[BuddyInfoZone]) -> int:
    """The index of the zone a lesson looks at first: the first Normal zone, where most memory
    of a 64-bit machine is; without one (a machine below 4 GiB, some 32-bit boards), the zone
    with the most free pages.  Raises InvalidArgument for a buddyinfo without zones."""
    if not zones:
        raise InvalidArgument("the buddyinfo lists no zone")
    normal = [i for i, z in enumerate(zones) if z.zone == "Normal"]
    return normal[0] if normal else max(range(len(zones)), key=lambda i: zones[i].free_pages)


@dataclass(frozen=True)
class BuddyInfoReading:
    """One reading of buddyinfo, kept so that a question and the view that answers it show the
    same numbers: the live file changes from one read to the next.

    ``path`` is the file the zones come from ("" for zones given, not read); ``stand_in`` says
    why the kit's sample replaced the file asked for ("" when the file itself was read).
    """

    zones: tuple[BuddyInfoZone, ...]
    path: str
    stand_in: str = ""

    @property
    def own_machine(self) -> bool:
        """True when this is the running machine's /proc/buddyinfo, read when it was taken."""
        return not self.stand_in and self.path == "/proc/buddyinfo"


def take_buddyinfo(path: str | os.PathLike[str] = "/proc/buddyinfo") -> BuddyInfoReading:
    """Read ``path`` once.  Where it cannot be read or lists no zone (macOS, Windows, a
    container without /proc), the kit's sample from an x86-64 machine stands in, and the
    reading says why, so a lesson still has numbers to ask about."""
    name = os.fspath(path)
    try:
        zones = read_buddyinfo(name)
        if not zones:
            raise ProcFileUnavailable(f"{name} lists no zone")
        return BuddyInfoReading(tuple(zones), name)
    except KitError as exc:
        sample = sample_path("buddyinfo")
        return BuddyInfoReading(tuple(read_buddyinfo(sample)), str(sample), str(exc))


def read_pagetypeinfo(path: str | os.PathLike[str] = "/proc/pagetypeinfo") -> PageTypeInfo:
    """Read and parse ``/proc/pagetypeinfo`` (or a saved copy at ``path``).

    Since Linux 5.4 the file is mode 0400 (reading it walks free lists under the zone lock), so
    an ordinary user gets permission denied; the error raised then says it needs root.
    """
    text = _read_proc_file(
        path,
        "Since Linux 5.4 /proc/pagetypeinfo is readable by root only (mode 0400): run as root "
        "(e.g. 'sudo cat /proc/pagetypeinfo > copy.txt') and parse the copy.",
    )
    return _parse_or_explain(parse_pagetypeinfo, text, os.fspath(path))
