"""Traces: what a zone did, operation by operation, with every event of each.

A trace serves three users.  The step-through player walks its operations and events; an
instructor saves its text form and replays it later to get the very same state; a student
compares its text with a real ``trace-cmd`` capture, since the lines are modelled on the kernel's
kmem tracepoints (``mm_page_alloc: pfn=0x0 order=0 ...``, ``mm_page_free: pfn=0x0 order=0``).
Operations the kernel has no tracepoint for (the exact allocator, ``split_page``, a per-CPU
drain) get ``kit_`` lines in the same style.  Addresses are never printed, so a trace is the same
on every run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidArgument
from .events import Event

HEADER_PREFIX = "# pagealloc-kit trace"


@dataclass(frozen=True)
class Operation:
    """One public call on a zone: its name, arguments, result pfn (None = failed) and events."""

    name: str
    args: tuple[int, ...]
    result: int | None
    events: tuple[Event, ...] = ()

    def to_text(self) -> str:
        """The tracepoint-style line for this operation."""
        name, args, pfn = self.name, self.args, self.result
        if name == "alloc_pages":
            if pfn is None:
                return f"# alloc_pages order={args[0]} failed"
            return f"mm_page_alloc: pfn={pfn:#x} order={args[0]} migratetype=0 gfp_flags=GFP_KERNEL"
        if name == "free_pages":
            return f"mm_page_free: pfn={args[0]:#x} order={args[1]}"
        if name == "alloc_pages_exact":
            if pfn is None:
                return f"# alloc_pages_exact size={args[0]} failed"
            return f"kit_alloc_pages_exact: pfn={pfn:#x} size={args[0]}"
        if name == "free_pages_exact":
            return f"kit_free_pages_exact: pfn={args[0]:#x} size={args[1]}"
        if name == "split_page":
            return f"kit_split_page: pfn={args[0]:#x} order={args[1]}"
        if name == "make_alloc_exact":
            return f"kit_make_alloc_exact: pfn={args[0]:#x} order={args[1]} size={args[2]}"
        if name == "drain_pages":
            return f"kit_drain_pages: pages={pfn}"
        raise InvalidArgument(f"unknown operation {name!r}")


@dataclass
class Trace:
    """The operations of one zone since it was built, with the zone's constructor arguments."""

    config: dict[str, object]
    operations: list[Operation] = field(default_factory=list)
    _pending: list[Event] = field(default_factory=list, repr=False)

    def add_event(self, event: Event) -> None:
        """Collect an event of the operation in progress."""
        self._pending.append(event)

    def end_operation(self, name: str, args: tuple[int, ...], result: int | None) -> None:
        """Close the operation in progress and keep it with its events."""
        self.operations.append(Operation(name, args, result, tuple(self._pending)))
        self._pending.clear()

    def events(self) -> list[Event]:
        """All events of all operations, in order."""
        return [event for op in self.operations for event in op.events]

    def to_text(self) -> str:
        """The whole trace as text: a header naming the zone, then one line per operation."""
        settings = " ".join(f"{key}={_format_setting(value)}" for key, value in self.config.items())
        lines = [f"{HEADER_PREFIX} {settings}"]
        lines += [op.to_text() for op in self.operations]
        return "\n".join(lines) + "\n"


def _format_setting(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


_LINE = re.compile(r"^(?P<name>[a-z_]+): (?P<fields>.*)$")
_FIELD = re.compile(r"(\w+)=(\S+)")


def parse_trace(text: str) -> tuple[dict[str, Any], list[tuple[str, dict[str, str]]]]:
    """Split a trace's text into the zone settings and (line name, fields) pairs.

    The settings are ``Zone`` keyword arguments (ints, ``preset`` a str, ``pcp`` a bool), typed
    ``Any`` because the header decides which are present; ``Zone`` checks each one.

    Comment lines (``#``) other than the header and blank lines are skipped; anything else that
    is not a tracepoint line is an error naming the line.
    """
    lines = text.splitlines()
    if not lines or not lines[0].startswith(HEADER_PREFIX):
        raise InvalidArgument(f"a trace starts with a {HEADER_PREFIX!r} line")
    config: dict[str, Any] = {}
    for key, value in _FIELD.findall(lines[0][len(HEADER_PREFIX):]):
        config[key] = value if key == "preset" else int(value)
    config["pcp"] = bool(config.get("pcp", 0))
    entries = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        match = _LINE.match(line.strip())
        if match is None:
            raise InvalidArgument(f"trace line {number} is not a tracepoint line: {line!r}")
        entries.append((match["name"], dict(_FIELD.findall(match["fields"]))))
    return config, entries
