"""A recorded kernel trace with the /proc files taken before and after it.

A trace alone does not say how full the zones were or what ``batch`` and ``high`` the per-CPU
lists had; so a recording is a folder: ``trace.txt`` or ``trace.txt.gz`` (raw tracefs text with
a ``# key: value`` header naming the kernel, the machine, the workload and the command), and
``zoneinfo``, ``vmstat``, ``buddyinfo`` and ``pagetypeinfo`` as ``<name>-before.txt`` and
``<name>-after.txt``.  ``kit trace record`` writes one; the kit ships one
(:func:`shipped_recording`) that lessons and tests fall back to where recording is not allowed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kit.core.errors import InvalidArgument
from kit.core.kerneltrace import PageEvent, TraceReport, open_trace_text, parse_trace
from kit.core.procfs import BuddyInfoZone, PageTypeInfo, parse_buddyinfo, parse_pagetypeinfo
from kit.core.vmstat import parse_vmstat, vmstat_delta
from kit.core.zoneinfo import ZoneInfo, parse_zoneinfo

__all__ = ["PROC_FILES", "Recording", "load_recording", "shipped_recording"]

#: The /proc files a recording keeps, before and after the trace.
PROC_FILES = ("zoneinfo", "vmstat", "buddyinfo", "pagetypeinfo")

SHIPPED = Path(__file__).resolve().parent / "data" / "trace-6.18-x86_64"
"""The recording shipped with the kit (see its trace header for the workload)."""

_WHEN = ("before", "after")


@dataclass(frozen=True)
class Recording:
    """A recording folder: its trace, its header and its /proc snapshots."""

    directory: Path
    trace: Path
    header: dict[str, str]

    def proc_path(self, name: str, when: str) -> Path:
        """The saved copy of /proc/<name> ("zoneinfo", ...) taken "before" or "after"."""
        if name not in PROC_FILES or when not in _WHEN:
            raise InvalidArgument(
                f"a recording keeps {', '.join(PROC_FILES)} 'before' or 'after', "
                f"not {name!r} {when!r}"
            )
        return self.directory / f"{name}-{when}.txt"

    def _text(self, name: str, when: str) -> str:
        path = self.proc_path(name, when)
        try:
            return path.read_text()
        except OSError as exc:
            raise InvalidArgument(f"recording lacks {path}: {exc.strerror or exc}") from None

    def zoneinfo(self, when: str = "before") -> list[ZoneInfo]:
        """/proc/zoneinfo as it was before or after the trace."""
        return parse_zoneinfo(self._text("zoneinfo", when))

    def vmstat(self, when: str = "before") -> dict[str, int]:
        """/proc/vmstat as it was before or after the trace."""
        return parse_vmstat(self._text("vmstat", when))

    def buddyinfo(self, when: str = "before") -> list[BuddyInfoZone]:
        """/proc/buddyinfo as it was before or after the trace."""
        return parse_buddyinfo(self._text("buddyinfo", when))

    def pagetypeinfo(self, when: str = "before") -> PageTypeInfo:
        """/proc/pagetypeinfo as it was before or after the trace."""
        return parse_pagetypeinfo(self._text("pagetypeinfo", when))

    def vmstat_delta(self) -> dict[str, int]:
        """The page-allocator counters of /proc/vmstat that changed during the trace (pgalloc_*,
        pgfree, allocstall_*, pgsteal_*, compact_*), after minus before; unchanged ones left
        out.  They count the whole machine, not only what the trace recorded."""
        delta = vmstat_delta(self.vmstat("before"), self.vmstat("after"))
        return {name: change for name, change in delta.items() if change}

    def watermarks(self, when: str = "before") -> list[tuple[str, int, int, int, int, int, str]]:
        """Per populated zone: (zone, free, min, low, high, boost, level) from zoneinfo, in
        pages; level as :attr:`ZoneInfo.watermark_level` says it."""
        return [
            (z.zone, z.free, z.min, z.low, z.high, z.boost, z.watermark_level)
            for z in self.zoneinfo(when) if z.managed
        ]

    def events(self, report: TraceReport | None = None) -> Iterator[PageEvent]:
        """Stream the trace's events (see kit.core.kerneltrace.parse_trace)."""
        with open_trace_text(self.trace) as handle:
            yield from parse_trace(handle, report)


def _read_header(trace: Path) -> dict[str, str]:
    """The ``# key: value`` lines at the top of a trace."""
    report = TraceReport()
    with open_trace_text(trace) as handle:
        head = []
        for line in handle:
            if not line.startswith("#"):
                break
            head.append(line)
    for _ in parse_trace(head, report):
        pass
    return report.header


def load_recording(directory: str | os.PathLike[str]) -> Recording:
    """Open a recording folder written by ``kit trace record`` (or the shipped one)."""
    folder = Path(directory)
    for name in ("trace.txt.gz", "trace.txt"):
        if (folder / name).is_file():
            trace = folder / name
            return Recording(folder, trace, _read_header(trace))
    raise InvalidArgument(f"{folder} is not a recording: it has no trace.txt or trace.txt.gz")


def shipped_recording() -> Recording:
    """The recording that ships with the kit: Linux 6.18 on a 2-CPU x86-64 machine with 23.5 GiB
    during a described workload (its header says which and the command that recorded it)."""
    return load_recording(SHIPPED)
