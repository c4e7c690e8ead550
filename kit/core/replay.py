"""Replay a trace's text to rebuild the zone it came from, step by step.

Replaying checks every allocation against the pfn the trace recorded, so a replay that diverges
(an edited trace, a different preset) stops at the first line that no longer holds.
``nr_free_history`` replays only the free-block counts, from a zone's own trace, for a chart
that plays its changes again.
"""

from __future__ import annotations

from .errors import KitError
from .events import apply_to_nr_free
from .trace import parse_trace
from .zone import Page, Zone


class ReplayMismatch(KitError):
    """A replayed allocation returned another pfn than the trace recorded."""


def replay(text: str) -> Zone:
    """Build the zone a trace's header describes and apply every operation of the trace."""
    config, entries = parse_trace(text)
    nr_pages = config.pop("nr_pages", None)
    if nr_pages is None:
        raise KitError("the trace header does not give nr_pages")
    zone = Zone(nr_pages, **config)
    for number, (name, fields) in enumerate(entries, start=1):
        try:
            values = {key: int(value, 0) for key, value in fields.items() if key != "gfp_flags"}
        except ValueError as exc:
            raise KitError(f"operation {number} ({name}) has a field that is not a number") from exc
        _apply(zone, number, name, values)
    return zone


def _apply(zone: Zone, number: int, name: str, f: dict[str, int]) -> None:
    if name == "mm_page_alloc":
        got = zone.get_free_pages(f["order"])
        _expect(number, name, f["pfn"], got and zone.virt_to_pfn(got))
    elif name == "mm_page_free":
        zone.free_pages(zone.pfn_to_virt(f["pfn"]), f["order"])
    elif name == "kit_alloc_pages_exact":
        got = zone.alloc_pages_exact(f["size"])
        _expect(number, name, f["pfn"], got and zone.virt_to_pfn(got))
    elif name == "kit_free_pages_exact":
        zone.free_pages_exact(zone.pfn_to_virt(f["pfn"]), f["size"])
    elif name == "kit_split_page":
        zone.split_page(Page(f["pfn"], f["order"]))
    elif name == "kit_make_alloc_exact":
        zone.make_alloc_exact(zone.pfn_to_virt(f["pfn"]), f["order"], f["size"])
    elif name == "kit_drain_pages":
        zone.drain_pages()
    else:
        raise KitError(f"operation {number}: unknown trace line {name!r}")


def _expect(number: int, name: str, recorded: int, got: int | None) -> None:
    if got != recorded:
        raise ReplayMismatch(
            f"operation {number} ({name}): the trace recorded pfn {recorded:#x}, "
            f"the replay got {'NULL' if got is None else hex(got)}"
        )


def nr_free_history(zone: Zone, since: int = 0) -> list[tuple[str, tuple[int, ...]]]:
    """The zone's free-block counts per order before and after each operation since the
    ``since``-th of its trace: ("start", counts), then (the operation's trace line, counts).

    Nothing is copied while the zone runs: the counts are rebuilt from the trace's events,
    starting from the freshly booted zone (``kit.core.events.apply_to_nr_free``), which is what a
    chart needs to replay the changes one operation at a time.
    """
    if zone.trace is None:
        raise KitError("the zone records no trace (Zone(record=False)): it has no history")
    operations = zone.trace.operations
    if not 0 <= since <= len(operations):
        raise KitError(f"since must be between 0 and {len(operations)}, the operations the "
                       f"zone's trace holds; got {since}")
    counts = Zone(**zone.trace.config, record=False).nr_free()  # type: ignore[arg-type]
    for operation in operations[:since]:
        apply_to_nr_free(counts, operation.events)
    history = [("start", tuple(counts))]
    for operation in operations[since:]:
        history.append((operation.to_text(), tuple(apply_to_nr_free(counts, operation.events))))
    return history
