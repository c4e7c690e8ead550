"""Parse ``/proc/zoneinfo``: each zone's watermarks, sizes, counters and per-CPU lists.

buddyinfo says how many blocks are free; zoneinfo says what the kernel does about it.  Per zone
(format of mm/vmstat.c's zoneinfo_show, as printed by Linux 6.18):

* ``pages free`` and the watermarks ``min``/``low``/``high`` in pages: below ``low`` kswapd is
  woken to reclaim until ``high``; below ``min`` only allocations allowed to dip into the reserve
  (``__GFP_HIGH``, atomic) succeed and the others enter direct reclaim.  ``boost`` (since 5.0)
  raises them for a while after a fallback steals a pageblock; ``promo`` (since 6.0) is the
  memory-tiering promotion mark;
* ``spanned``/``present``/``managed`` pages, ``protection`` (lowmem_reserve, one per higher zone);
* the zone's counters (``nr_free_pages``, ``nr_zone_active_file``...);
* ``pagesets``: each CPU's per-CPU list, ``count`` pages now on it, ``high`` (drain above it),
  ``batch`` (pages moved per refill or drain), and since 6.7 ``high_min``/``high_max`` between
  which the kernel tunes ``high`` itself;
* ``start_pfn``, the first page frame of the zone, from which its pfn range follows.

The first zone of each node also carries the node's counters under ``per-node stats``.
Unknown counters are kept by name (each kernel adds some); a line that fits nowhere raises
InvalidArgument naming its line number, as the buddyinfo and pagetypeinfo parsers do.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from kit.core.errors import InvalidArgument
from kit.core.procfs import _parse_or_explain, _read_proc_file

__all__ = ["PageSet", "ZoneInfo", "parse_zoneinfo", "read_zoneinfo"]

_ZONE = re.compile(r"^Node\s+(\d+),\s*zone\s+(\S+)\s*$")
_COUNTER = re.compile(r"^\s*([a-z_][\w]*):?\s+(-?\d+)\s*$")
_PAGES_FREE = re.compile(r"^\s*pages free\s+(\d+)\s*$")
_PROTECTION = re.compile(r"^\s*protection:\s*\(([\d,\s]*)\)\s*$")
_CPU = re.compile(r"^\s*cpu:\s*(\d+)\s*$")
_THRESHOLD = re.compile(r"^\s*vm stats threshold:\s*(\d+)\s*$")

_ZONE_FIELDS = ("boost", "min", "low", "high", "promo", "spanned", "present", "managed", "cma")
_PAGESET_FIELDS = ("count", "high", "batch", "high_min", "high_max")


@dataclass
class PageSet:
    """One CPU's per-CPU page list of a zone (``struct per_cpu_pages``), in pages.

    ``high_min``/``high_max`` are None before Linux 6.7, which added them.
    """

    cpu: int
    count: int
    high: int
    batch: int
    high_min: int | None = None
    high_max: int | None = None
    vm_stats_threshold: int | None = None


@dataclass
class ZoneInfo:
    """One zone of ``/proc/zoneinfo``.  Sizes and watermarks are in pages."""

    node: int
    zone: str
    free: int = 0
    min: int = 0
    low: int = 0
    high: int = 0
    boost: int = 0
    promo: int | None = None
    spanned: int = 0
    present: int = 0
    managed: int = 0
    cma: int = 0
    protection: list[int] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    node_counters: dict[str, int] = field(default_factory=dict)
    pagesets: list[PageSet] = field(default_factory=list)
    start_pfn: int | None = None
    node_unreclaimable: int | None = None

    @property
    def end_pfn(self) -> int | None:
        """One past the zone's last page frame (``start_pfn + spanned``), None if unknown."""
        return None if self.start_pfn is None else self.start_pfn + self.spanned

    def contains(self, pfn: int) -> bool:
        """True when the page frame lies in this zone's span."""
        return self.start_pfn is not None and self.start_pfn <= pfn < self.start_pfn + self.spanned

    @property
    def watermark_level(self) -> str:
        """Where free pages stand against the watermarks (boost added, as the kernel adds it):
        "above high" (kswapd sleeps), "low to high" (kswapd, once woken, reclaims up to high),
        "min to low" (an allocation wakes kswapd), "below min" (only reserve-allowed
        allocations succeed, the others reclaim directly), or "unmanaged" (no pages)."""
        if not self.managed:
            return "unmanaged"
        boost = self.boost
        if self.free >= self.high + boost:
            return "above high"
        if self.free >= self.low + boost:
            return "low to high"
        if self.free >= self.min + boost:
            return "min to low"
        return "below min"

    @property
    def pcp_pages(self) -> int:
        """Pages sitting on the per-CPU lists, over all CPUs (free, yet not in nr_free)."""
        return sum(p.count for p in self.pagesets)


def parse_zoneinfo(text: str) -> list[ZoneInfo]:
    """Parse the text of ``/proc/zoneinfo`` into one :class:`ZoneInfo` per zone, in file order.

    Raises InvalidArgument naming the line number and content of a line that is not part of
    the format (or comes before the first ``Node N, zone NAME`` line).
    """
    if not isinstance(text, str):
        raise InvalidArgument(f"zoneinfo text must be a str, got {type(text).__name__}")
    zones: list[ZoneInfo] = []
    zone: ZoneInfo | None = None
    section = "zone"  # "node" (per-node stats), "zone" or "pagesets"
    pageset: dict[str, int] | None = None

    def close_pageset() -> None:
        nonlocal pageset
        if pageset is not None and zone is not None:
            if not {"cpu", "count", "high", "batch"} <= pageset.keys():
                raise InvalidArgument(
                    f"zoneinfo: cpu {pageset.get('cpu')} of zone {zone.zone} lacks "
                    "count, high or batch"
                )
            zone.pagesets.append(PageSet(**pageset))
        pageset = None

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if match := _ZONE.match(line):
            close_pageset()
            zone = ZoneInfo(int(match.group(1)), match.group(2))
            zones.append(zone)
            section = "zone"
            continue
        if zone is None:
            raise InvalidArgument(
                f"line {lineno} of zoneinfo comes before any 'Node N, zone NAME' line: {raw!r}"
            )
        if line == "per-node stats":
            section = "node"
        elif match := _PAGES_FREE.match(line):
            section, zone.free = "zone", int(match.group(1))
        elif match := _PROTECTION.match(line):
            zone.protection = [int(v) for v in match.group(1).replace(",", " ").split()]
        elif line == "pagesets":
            section = "pagesets"
        elif section == "pagesets" and (match := _CPU.match(line)):
            close_pageset()
            pageset = {"cpu": int(match.group(1))}
        elif section == "pagesets" and (match := _THRESHOLD.match(line)):
            if pageset is not None:
                pageset["vm_stats_threshold"] = int(match.group(1))
        elif match := _COUNTER.match(line):
            name, value = match.group(1), int(match.group(2))
            if section == "pagesets" and pageset is not None and name in _PAGESET_FIELDS:
                pageset[name] = value
            elif name in ("start_pfn", "node_unreclaimable"):
                close_pageset()
                section = "zone"
                setattr(zone, name, value)
            elif section == "node":
                zone.node_counters[name] = value
            elif section == "zone" and name in _ZONE_FIELDS:
                setattr(zone, name, value)
            else:
                zone.counters[name] = value
        else:
            raise InvalidArgument(
                f"line {lineno} of zoneinfo: expected 'name value', a 'Node N, zone NAME' "
                f"line or a pageset line, got {raw!r}"
            )
    close_pageset()
    return zones


def read_zoneinfo(path: str | os.PathLike[str] = "/proc/zoneinfo") -> list[ZoneInfo]:
    """Read and parse ``/proc/zoneinfo`` (or a saved copy).  The file is world-readable;
    ProcFileUnavailable says why when it cannot be read (no /proc on macOS or Windows)."""
    text = _read_proc_file(path, "The file is normally world-readable; check the path.")
    return _parse_or_explain(parse_zoneinfo, text, os.fspath(path))
