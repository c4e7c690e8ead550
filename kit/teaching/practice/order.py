"""The ``order`` kind: get_order and the bytes alloc_pages and alloc_pages_exact waste."""

from __future__ import annotations

import random

from kit.core import events as ev
from kit.core.events import Event
from kit.core.orders import format_size, page_align, pages_for
from kit.core.zone import Zone

from .drafts import Draft
from .misconceptions import (
    kib_for_bytes_misconceptions,
    order_misconceptions,
    waste_misconceptions,
)
from .problems import Misconception
from .reading import Field
from .words import pages_text


def order_problem(rng: random.Random, level: int, preset: str | None) -> Draft:
    page_size = 4096 if level < 3 else rng.choice((16384, 65536))
    zone = Zone(1024, page_size=page_size)
    seen: list[Event] = []
    zone.subscribe(seen.append)
    sizes = _order_sizes(rng, level, page_size)
    arch = "" if page_size == 4096 else " (an arm64 or ppc64 kernel)"
    draft = Draft(preset or "6.8", "get_order and the memory each allocator wastes",
                   f"PAGE_SIZE is {format_size(page_size)}{arch}; the largest order is 10.  "
                   "get_order() is the same in every kernel version.\n\nSizes:\n"
                   + "\n".join(f"  {i}. {size} bytes" for i, size in enumerate(sizes, 1))
                   + "\n\nFor each size predict get_order(size) and the bytes alloc_pages("
                   "get_order(size)) wastes"
                   + (", and the bytes alloc_pages_exact(size) wastes." if level > 1 else "."),
                   [], {}, [], {})
    for i, size in enumerate(sizes, 1):
        seen.clear()
        addr = zone.alloc_pages_exact(size)
        block = next(e for e in seen if e.kind == ev.ALLOC)
        given_back = sum(e.kind == ev.TRIM for e in seen)
        zone.free_pages_exact(addr, size)
        order, pages = block.order, pages_for(size, page_size)
        kept = (1 << order) - given_back
        waste, exact_waste = (page_size << order) - size, kept * page_size - size
        draft.add(Field(f"order{i}", f"size {i}: get_order", "int", "e.g. 3"), order,
                  order_misconceptions(size, order, pages, page_size))
        draft.add(Field(f"waste{i}", f"size {i}: bytes alloc_pages wastes", "bytes", "e.g. 1024"),
                  waste, [*waste_misconceptions(size, order, waste, exact_waste, page_size),
                          *kib_for_bytes_misconceptions(waste)])
        if level > 1:
            draft.add(Field(f"exact{i}", f"size {i}: bytes alloc_pages_exact wastes", "bytes",
                            "e.g. 100"), exact_waste, [
                Misconception(waste, "no tail given back",
                              "alloc_pages_exact() keeps only the pages the size needs and "
                              "gives the rest of the block back, so it wastes less than a page."),
                Misconception(0, "no rounding at all",
                              "alloc_pages_exact() still hands out whole pages: the unused end "
                              "of the last page is wasted (less than one page)."),
                Misconception(given_back * page_size, "given back is not wasted",
                              "the tail pages alloc_pages_exact() gives back are free again; "
                              "only what the caller holds beyond the size is wasted."),
                *kib_for_bytes_misconceptions(exact_waste)])
        named = "" if format_size(size).endswith(" B") else f" = {format_size(size)}"
        draft.solution.append(
            f"Size {i}: {size} bytes{named} needs {pages_text(pages)} of {format_size(page_size)} "
            "(rounded up).\n"
            f"  get_order: the smallest n with 2^n >= {pages} pages is {order} "
            f"({1 << order} pages, {format_size(page_size << order)}).\n"
            f"  alloc_pages({order}) grants {page_size << order} bytes: {waste} wasted "
            f"({waste * 100 / (page_size << order):.1f} % of what was granted).\n"
            f"  alloc_pages_exact keeps {kept} pages ({page_align(size, page_size)} bytes) and "
            f"gives {given_back} back: {exact_waste} wasted.")
    return draft


def _order_sizes(rng: random.Random, level: int, page_size: int) -> list[int]:
    """A power of two pages, one just above, and random sizes; bytes only from level 2 up."""
    count = 3 if level == 1 else 4
    power = rng.randint(0, 7)
    pages = [1 << power, (1 << rng.randint(1, 7)) + 1]
    pages += [rng.randint(2, 600) for _ in range(count - 2)]
    if level == 1:
        sizes = [p * page_size for p in pages]
    else:
        sizes = [pages[0] * page_size, pages[1] * page_size - page_size + 1]
        sizes += [p * page_size - rng.randint(0, page_size - 1) for p in pages[2:]]
    rng.shuffle(sizes)
    return sizes
