"""Running a problem's calls on a zone, step by step, and drawing random programs."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kit.core.errors import KitError
from kit.core.events import Event
from kit.core.orders import format_size
from kit.core.zone import Zone


@dataclass(frozen=True)
class Call:
    """One step of a problem: ``op`` is alloc, free, exact or drain; ``arg`` an order or size."""

    op: str
    name: str = ""
    arg: int = 0

    def text(self) -> str:
        if self.op == "alloc":
            return f"{self.name} = alloc_pages(order={self.arg})"
        if self.op == "free":
            return f"free_pages({self.name}, order={self.arg})"
        if self.op == "exact":
            return f"{self.name} = alloc_pages_exact({self.arg})   # {format_size(self.arg)}"
        return "drain_pages()   # drain_local_pages: empty the per-CPU list"


@dataclass(frozen=True)
class Step:
    """What one call did to the zone, and the zone just before it (to name misconceptions)."""

    call: Call
    events: tuple[Event, ...]
    pfn: int | None
    nr_free: tuple[int, ...]
    pcp: int
    blocks: tuple[tuple[int, int], ...]
    before_nr_free: tuple[int, ...]
    before_blocks: tuple[tuple[int, int], ...]
    before_pcp: Mapping[int, list[int]]


def run_calls(config: Mapping[str, Any], calls: Sequence[Call]) -> tuple[Zone, list[Step]]:
    """Run the calls on a new zone, watching its events; a failed allocation's frees are skipped
    (only the wrong models of another preset can fail where the problem's zone did not)."""
    zone = Zone(**config)
    seen: list[Event] = []
    zone.subscribe(seen.append)
    held: dict[str, int] = {}
    steps = []
    for call in calls:
        before = (tuple(zone.nr_free()), tuple(zone.free_blocks()), zone.pcp_lists())
        seen.clear()
        pfn = None
        if call.op == "alloc":
            page = zone.alloc_pages(call.arg)
            pfn = None if page is None else page.pfn
        elif call.op == "exact":
            addr = zone.alloc_pages_exact(call.arg)
            pfn = None if addr is None else zone.virt_to_pfn(addr)
        elif call.op == "free" and call.name in held:
            zone.free_pages(zone.pfn_to_virt(held.pop(call.name)), call.arg)
        elif call.op == "drain":
            zone.drain_pages()
        if pfn is not None:
            held[call.name] = pfn
        steps.append(Step(call, tuple(seen), pfn, tuple(zone.nr_free()), zone.pcp_count,
                           tuple(zone.free_blocks()), *before))
    return zone, steps


def random_calls(rng: random.Random, config: Mapping[str, Any], steps: int,
                  orders: Sequence[int], free_share: float) -> list[Call]:
    """A random program of allocations (that succeed) and frees of live allocations."""
    zone = Zone(**config, record=False)
    live: dict[str, tuple[int, int]] = {}
    calls: list[Call] = []
    names = iter("abcdefghijklmnopqrstuvwxyz")
    for _ in range(steps):
        if live and rng.random() < free_share:
            name = rng.choice(sorted(live))
            pfn, order = live.pop(name)
            zone.free_pages(zone.pfn_to_virt(pfn), order)
            calls.append(Call("free", name, order))
            continue
        for order in sorted(orders, key=lambda _o: rng.random()):
            page = zone.alloc_pages(order)
            if page is not None:
                name = next(names)
                live[name] = (page.pfn, order)
                calls.append(Call("alloc", name, order))
                break
    return calls


def search(rng: random.Random, make: Callable[[], tuple[list[Call], bool]]) -> list[Call]:
    """Draw programs until one makes an interesting problem (``make`` says so)."""
    for _ in range(200):
        calls, interesting = make()
        if interesting:
            return calls
    raise KitError("no interesting problem found for this seed; try another seed")
