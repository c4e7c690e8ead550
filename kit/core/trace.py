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
from dataclasses import FrozenInstanceError, dataclass, field
from typing import Any

from .errors import InvalidArgument
from .events import Event, make_event

HEADER_PREFIX = "# pagealloc-kit trace"


#: An event as a zone records it: the fields of an :class:`Event`, in their order.
RawEvent = tuple[str, int, int, str, "int | None"]


class Operation:
    """One public call on a zone: its name, arguments, result pfn (None = failed) and events.

    A value: frozen, equal and hashed by its name, arguments, result and events.  The events
    are kept as the zone recorded them (:data:`RawEvent` tuples) and made :class:`Event`
    objects when first read: a recording zone's 300-step exact workload records some 20,000
    events that nobody may read (a student's answer run by the grader), and making each an
    object took about 40 % of the workload's time.
    """

    __slots__ = ("name", "args", "result", "_raw", "_events")

    name: str
    args: tuple[int, ...]
    result: int | None
    _raw: tuple[RawEvent, ...]
    _events: tuple[Event, ...] | None

    def __init__(self, name: str, args: tuple[int, ...], result: int | None,
                 events: tuple[Event, ...] = ()) -> None:
        raw = tuple((e.kind, e.pfn, e.order, e.where, e.other) for e in events)
        self._set(name, args, result, raw, tuple(events) if events else None)

    @classmethod
    def recorded(cls, name: str, args: tuple[int, ...], result: int | None,
                 raw: tuple[RawEvent, ...]) -> Operation:
        """An operation whose events are the zone's records, made Events when read."""
        operation = cls.__new__(cls)
        operation._set(name, args, result, raw, None)
        return operation

    def _set(self, name: str, args: tuple[int, ...], result: int | None,
             raw: tuple[RawEvent, ...], events: tuple[Event, ...] | None) -> None:
        setter = object.__setattr__  # the instance refuses its own __setattr__: frozen
        setter(self, "name", name)
        setter(self, "args", args)
        setter(self, "result", result)
        setter(self, "_raw", raw)
        setter(self, "_events", events)

    @property
    def events(self) -> tuple[Event, ...]:
        """The events of the operation, in order."""
        events = self._events
        if events is None:
            events = tuple(make_event(*raw) for raw in self._raw)
            object.__setattr__(self, "_events", events)
        return events

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        """Copied and pickled as the value it is (the default would set the fields one by one,
        which a frozen instance refuses)."""
        return (Operation.recorded, (self.name, self.args, self.result, self._raw))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Operation)
        return (self.name, self.args, self.result, self._raw) == \
            (other.name, other.args, other.result, other._raw)

    def __hash__(self) -> int:
        return hash((self.name, self.args, self.result, self._raw))

    def __repr__(self) -> str:
        return (f"Operation(name={self.name!r}, args={self.args!r}, result={self.result!r}, "
                f"events={self.events!r})")

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
    _pending: list[RawEvent] = field(default_factory=list, repr=False)

    def record(self, kind: str, pfn: int, order: int, where: str, other: int | None) -> None:
        """Collect an event of the operation in progress, given by its fields (what a zone
        does: no Event is made until someone reads the operation's events)."""
        self._pending.append((kind, pfn, order, where, other))

    def end_operation(self, name: str, args: tuple[int, ...], result: int | None) -> None:
        """Close the operation in progress and keep it with its events."""
        self.operations.append(Operation.recorded(name, args, result, tuple(self._pending)))
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
