"""Which kernel wrote a trace (exercise 23): anonymous traces and the presets they fit."""

from __future__ import annotations

import random
from functools import partial

from kit.core.errors import KitError
from kit.core.replay import replay
from kit.core.zone import Zone
from kit.grading.trusted.memo import class_cache, plain_key

from .placement import PRESETS_ORDER
from .zones import quietly


def anonymous_trace(zone: Zone) -> str:
    """A zone's trace text with the preset taken out of its header: what a student observes."""
    assert zone.trace is not None
    header, _, body = zone.trace.to_text().partition("\n")
    header = " ".join(word for word in header.split(" ") if not word.startswith("preset="))
    return header + "\n" + body


def consistent_presets(text: str) -> list[str]:
    """The presets (oldest first) under which the kit reproduces an anonymous trace: every
    allocation returns the recorded pfn and every drain drains the recorded number of pages.

    Worked out once per trace in a grader process (the class's hidden traces are every
    student's): each call gets a list of its own."""
    return list(_consistent_presets(text))


@class_cache(maxsize=1024)
def _consistent_presets(text: str) -> tuple[str, ...]:
    header, _, body = text.partition("\n")
    found = []
    for name in PRESETS_ORDER:
        candidate = f"{header} preset={name}\n{body}"
        try:
            zone = replay(candidate)
        except KitError:
            continue
        assert zone.trace is not None
        if _drains(zone.trace.to_text()) == _drains(candidate):
            found.append(name)
    return tuple(found)


def _drains(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("kit_drain_pages")]


def trace_cases(seed: int, count: int) -> list[str]:
    """Seeded anonymous traces of small zones of every preset: allocations of orders 0..3,
    frees, exact allocations, per-CPU lists on or off, drains; none with a failed allocation.
    Made once per seed for the class; each caller gets a list of its own."""
    return list(_trace_cases(seed, count))


@class_cache(maxsize=256, key=plain_key)
def _trace_cases(seed: int, count: int) -> tuple[str, ...]:
    rng = random.Random(seed)
    texts: list[str] = []
    while len(texts) < count:
        preset = PRESETS_ORDER[(len(texts) + seed) % len(PRESETS_ORDER)]
        max_order = rng.randint(3, 5)
        pcp = rng.random() < 0.5
        zone = Zone(rng.randint(2, 4) << max_order, max_order=max_order, preset=preset,
                    pcp=pcp, pcp_batch=rng.randint(1, 4), pcp_high=rng.randint(2, 8))
        live: list[tuple[str, int, int]] = []
        for _ in range(rng.randint(4, 14)):
            roll = rng.random()
            if live and roll < 0.35:
                kind, addr, arg = live.pop(rng.randrange(len(live)))
                if kind == "exact":
                    zone.free_pages_exact(addr, arg)
                else:
                    zone.free_pages(addr, arg)
            elif pcp and roll < 0.42:
                zone.drain_pages()
            elif roll < 0.6:
                size = rng.randint(1, 7) * zone.page_size - rng.randint(0, 100)
                exact = quietly(partial(zone.alloc_pages_exact, size))
                if exact is not None:
                    live.append(("exact", exact, size))
            else:
                order = rng.randint(0, 3)
                pages = zone.get_free_pages(order)
                if pages is not None:
                    live.append(("pages", pages, order))
        text = anonymous_trace(zone)
        if " failed" not in text:  # every allocation of a case succeeded: nothing to guess
            texts.append(text)
    return tuple(texts)
