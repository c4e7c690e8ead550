"""Seeded workloads: many allocations of mixed sizes and lifetimes, for fragmentation demos.

Fragmentation only shows after many allocations and frees in a mixed order, which nobody wants
to click through by hand.  A workload is deterministic for a seed, so an instructor's projector
and every student's laptop show the same zone, and the same seed can be run once with
``alloc_pages`` and once with ``alloc_pages_exact`` to compare them on equal terms.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

from .errors import InvalidArgument
from .orders import get_order, page_align
from .zone import Zone

#: Request size mixes: (weight, smallest bytes, largest bytes) ranges, drawn uniformly inside.
SIZE_MIXES: dict[str, tuple[tuple[int, int, int], ...]] = {
    # Mostly single pages with some small multi-page blocks, like a busy kernel's order mix.
    "pages": ((60, 1, 4096), (20, 4097, 8192), (10, 8193, 16384), (10, 16385, 32768)),
    # Driver-style buffers from tens of KiB to a MiB, rarely a power-of-two number of pages.
    "buffers": ((50, 20_000, 70_000), (35, 70_001, 300_000), (15, 300_001, 1_100_000)),
    # Both together.
    "mixed": ((50, 1, 8192), (30, 8193, 70_000), (20, 70_001, 600_000)),
}

#: Lifetime mixes: (weight, shortest, longest) in workload steps.
LIFETIME_MIXES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "short": ((1, 1, 20),),
    "long": ((1, 200, 2000),),
    "mixed": ((75, 1, 20), (25, 200, 2000)),
}


@dataclass
class WorkloadResult:
    """What a workload did to a zone: counts, and what the live allocations hold."""

    allocations: int = 0
    failures: int = 0
    frees: int = 0
    live_requested_bytes: int = 0
    live_granted_bytes: int = 0
    live: list[tuple[int, int, bool]] = field(default_factory=list)

    @property
    def live_wasted_bytes(self) -> int:
        """Bytes held by live allocations beyond what was asked for."""
        return self.live_granted_bytes - self.live_requested_bytes


def _cumulative(mix: tuple[tuple[int, int, int], ...]) -> list[int]:
    return list(itertools.accumulate(weight for weight, _, _ in mix))


#: Each mix's cumulative weights, made once: ``random.choices`` turns weights into these before
#: every draw, and given them draws the same (its documentation says so).
_CUMULATIVE = {mix: _cumulative(mix) for mixes in (SIZE_MIXES, LIFETIME_MIXES)
               for mix in mixes.values()}


def _draw(rng: random.Random, mix: tuple[tuple[int, int, int], ...]) -> int:
    cumulative = _CUMULATIVE.get(mix) or _cumulative(mix)
    _, low, high = rng.choices(mix, cum_weights=cumulative)[0]
    return rng.randint(low, high)


def run_workload(
    zone: Zone,
    *,
    seed: int = 0,
    steps: int = 1000,
    sizes: str = "mixed",
    lifetimes: str = "mixed",
    exact: bool = False,
) -> WorkloadResult:
    """Run ``steps`` seeded steps: free what has expired, then make one request.

    With ``exact`` every request uses ``alloc_pages_exact``, otherwise ``__get_free_pages`` with
    ``get_order(size)``.  Allocations still alive at the end are left allocated (``result.live``
    holds them as (address, size, exact)), so the zone shows the fragmentation they cause.
    """
    if sizes not in SIZE_MIXES:
        raise InvalidArgument(f"unknown size mix {sizes!r}; choose one of {', '.join(SIZE_MIXES)}")
    if lifetimes not in LIFETIME_MIXES:
        raise InvalidArgument(
            f"unknown lifetime mix {lifetimes!r}; choose one of {', '.join(LIFETIME_MIXES)}"
        )
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise InvalidArgument(f"steps must be a non-negative int, got {steps!r}")
    rng = random.Random(seed)
    result = WorkloadResult()
    expiring: dict[int, list[tuple[int, int]]] = {}
    addr: int | None
    for step in range(steps):
        for addr, size in expiring.pop(step, ()):
            _release(zone, addr, size, exact)
            result.frees += 1
        size = _draw(rng, SIZE_MIXES[sizes])
        lifetime = _draw(rng, LIFETIME_MIXES[lifetimes])
        if exact:
            addr = zone.alloc_pages_exact(size)
        else:
            addr = zone.get_free_pages(get_order(size, zone.page_size))
        if addr is None:
            result.failures += 1
            continue
        result.allocations += 1
        expiring.setdefault(step + lifetime, []).append((addr, size))
    for when in sorted(expiring):
        for addr, size in expiring[when]:
            granted = _granted_bytes(zone, size, exact)
            result.live.append((addr, size, exact))
            result.live_requested_bytes += size
            result.live_granted_bytes += granted
    return result


def _granted_bytes(zone: Zone, size: int, exact: bool) -> int:
    if exact:
        return page_align(size, zone.page_size)
    return zone.page_size << get_order(size, zone.page_size)


def _release(zone: Zone, addr: int, size: int, exact: bool) -> None:
    if exact:
        zone.free_pages_exact(addr, size)
    else:
        zone.free_pages(addr, get_order(size, zone.page_size))


def free_workload(zone: Zone, result: WorkloadResult) -> None:
    """Free every allocation a workload left alive."""
    for addr, size, exact in result.live:
        _release(zone, addr, size, exact)
    result.live.clear()
    result.live_requested_bytes = result.live_granted_bytes = 0
