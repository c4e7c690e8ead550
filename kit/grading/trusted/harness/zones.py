"""Seeded random zones and quiet calls, shared by the references of several exercises."""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from typing import Any

from kit.core.zone import Zone


def random_zone(rng: random.Random, nr_pages: int, max_order: int,
                preset: str = "6.8") -> tuple[Zone, list[tuple[int, int]]]:
    """A zone after a seeded mix of allocations and frees; returns it and its live blocks."""
    zone = Zone(nr_pages, max_order=max_order, preset=preset, record=False)
    live: list[tuple[int, int]] = []
    for _ in range(rng.randint(4, 40)):
        if live and rng.random() < 0.4:
            pfn, order = live.pop(rng.randrange(len(live)))
            zone.free_pages(zone.pfn_to_virt(pfn), order)
        else:
            order = rng.randint(0, max(0, max_order - 2))
            page = zone.alloc_pages(order)
            if page is not None:
                live.append((page.pfn, page.order))
    return zone, live


def quietly(call: Callable[[], Any]) -> Any:
    # An order above the largest warns once; the warning names a file and line, which would
    # make stored outputs differ between machines.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call()
