"""Parse ``/proc/vmstat``: the kernel's event and state counters, and what changed between two.

The file is one ``name value`` line per counter (mm/vmstat.c, vmstat_show).  The ones a
page-allocator lesson reads, as named in Linux 6.18:

* ``pgalloc_<zone>`` pages allocated per zone, ``pgfree`` pages freed (both count pages, so an
  order-3 block adds 8);
* ``allocstall_<zone>`` direct reclaims entered, ``pgsteal_kswapd``/``pgsteal_direct`` pages
  reclaimed by kswapd or by the allocating task;
* ``compact_stall``/``compact_success``/``compact_fail`` direct compactions and their outcome,
  ``compact_daemon_wake`` kcompactd runs, ``compact_*_scanned`` pages looked at;
* ``nr_free_pages`` (a state, not an event: it can go down).

Counters come and go between kernel versions, so every name is kept; a line that is not
``name value`` raises InvalidArgument naming its line number, as the other /proc parsers do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from kit.core.errors import InvalidArgument
from kit.core.procfs import _parse_or_explain, _read_proc_file

__all__ = ["VMSTAT_ALLOCATOR_PREFIXES", "parse_vmstat", "read_vmstat", "vmstat_delta"]

#: The counter families of /proc/vmstat that tell about the page allocator.
VMSTAT_ALLOCATOR_PREFIXES = ("pgalloc_", "pgfree", "allocstall_", "pgsteal_", "compact_")

_LINE = re.compile(r"^([a-z_][\w]*)\s+(-?\d+)$")


def parse_vmstat(text: str) -> dict[str, int]:
    """Parse the text of ``/proc/vmstat`` into ``{counter name: value}``, in file order."""
    if not isinstance(text, str):
        raise InvalidArgument(f"vmstat text must be a str, got {type(text).__name__}")
    counters: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise InvalidArgument(
                f"line {lineno} of vmstat: expected 'name value', got {raw!r}"
            )
        counters[match.group(1)] = int(match.group(2))
    return counters


def read_vmstat(path: str | os.PathLike[str] = "/proc/vmstat") -> dict[str, int]:
    """Read and parse ``/proc/vmstat`` (or a saved copy)."""
    text = _read_proc_file(path, "The file is normally world-readable; check the path.")
    return _parse_or_explain(parse_vmstat, text, os.fspath(path))


def vmstat_delta(
    before: Mapping[str, int],
    after: Mapping[str, int],
    prefixes: tuple[str, ...] = VMSTAT_ALLOCATOR_PREFIXES,
) -> dict[str, int]:
    """``after - before`` for the counters whose name starts with one of ``prefixes`` (all
    counters with ``prefixes=("",)``), keeping those present in both readings, in file order."""
    return {
        name: value - before[name]
        for name, value in after.items()
        if name in before and name.startswith(prefixes)
    }
