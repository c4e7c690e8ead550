"""Known wrong answers of the arithmetic exercises, each with the rule it missed."""

from __future__ import annotations

from kit.core.metrics import ContigPageInfo
from kit.core.orders import get_order, page_align, pages_for
from kit.teaching.practice import Misconception
from kit.teaching.practice.misconceptions import (
    kib_for_bytes_misconceptions,
    kib_misconceptions,
    order_misconceptions,
)


def get_order_misconceptions(size: int, page_size: int = 4096) -> list[tuple[object, str]]:
    """Wrong ``get_order`` answers for one size, each with the rule it missed (the ones
    ``kit practice`` names), as ``Checks.expect``'s ``misconceptions``."""
    if size <= 0:
        return []  # size 0 has its own hint in the test cell
    order, pages = get_order(size, page_size), pages_for(size, page_size)
    return _named(order_misconceptions(size, order, pages, page_size))


def pages_for_misconceptions(size: int) -> list[tuple[object, str]]:
    """Wrong ``pages_for`` answers (exercise 2), each with the rule it missed."""
    return [(size // 4096, "rounded down: a partly used page is a whole page too"),
            (size // 4096 + 1, "added a page even where the size fills its pages exactly: "
                               "4096 bytes are one page")]


def page_align_misconceptions(size: int) -> list[tuple[object, str]]:
    """Wrong ``page_align`` answers (exercise 2), each with the rule it missed."""
    return [(pages_for(size), "gave pages, not bytes: page_align is the size rounded up to "
                              "whole pages, in bytes"),
            (size // 4096 * 4096, "rounded down: a partly used page is a whole page too")]


def waste_misconceptions(size: int, strategy: str) -> list[tuple[object, str]]:
    """Wrong waste answers (exercises 4 and 5) for ``strategy`` "alloc_pages" or
    "alloc_pages_exact", each with the rule it missed."""
    block = 4096 << get_order(size)
    whole_pages = page_align(size)
    wasted = block - size if strategy == "alloc_pages" else whole_pages - size
    wrong: list[tuple[object, str]] = [
        (wasted // 4096, "counted pages, not bytes: the waste is asked in bytes"),
        (size + wasted, "gave the bytes granted: the waste is what is granted beyond the "
                        "size"),
        *_named(kib_for_bytes_misconceptions(wasted)),
    ]
    if strategy == "alloc_pages":
        wrong.append((whole_pages - size, "gave alloc_pages_exact's waste: alloc_pages keeps "
                                          "the whole power-of-two block"))
    else:
        wrong.append((block - size, "gave alloc_pages's waste: alloc_pages_exact keeps only "
                                    "the whole pages the size needs"))
    return wrong


def pages_returned_misconceptions(size: int) -> list[tuple[object, str]]:
    """Wrong ``pages_returned`` answers (exercise 5), each with the rule it missed."""
    return [(pages_for(size), "gave the pages kept: the pages returned are the rest of the "
                              "block"),
            (1 << get_order(size), "gave the whole block: the pages the size needs are kept"),
            *_named(kib_misconceptions((1 << get_order(size)) - pages_for(size)))]


def _named(found: list[Misconception]) -> list[tuple[object, str]]:
    """The practice's misconceptions as ``Checks.expect``'s (value, hint) pairs."""
    return [(wrong.value, f"{wrong.name}: {wrong.explanation}") for wrong in found]


def kmalloc_misconceptions(size: int) -> list[tuple[object, str]]:
    """Wrong ``kmalloc_granted`` answers (exercise 6), each with the rule it missed."""
    power = 1 << max(3, (size - 1).bit_length())
    return [(page_align(size), "gave whole pages: above 8 KiB kmalloc takes a power-of-two "
                               "block from the page allocator"),
            (power, "rounded to a power of two: 96 and 192 bytes are size classes too"),
            (size, "granted the size asked: kmalloc serves a request from a fixed size class")]


def buddy_misconceptions(pfn: int, order: int) -> list[tuple[object, str]]:
    """Wrong ``buddy_of`` answers (exercise 8), each with the rule it missed."""
    return [(pfn + (1 << order), "added 2^order: that finds the buddy only of a lower buddy; "
                                 "flipping bit `order` finds it from either side"),
            (pfn - (1 << order), "subtracted 2^order: that finds the buddy only of an upper "
                                 "buddy; flipping bit `order` finds it from either side"),
            (pfn ^ order, "flipped the bits of the number `order`: the buddy differs in bit "
                          "number `order`, the value 1 << order")]


def merged_start_misconceptions(pfn: int, order: int) -> list[tuple[object, str]]:
    """Wrong ``merged_start`` answers (exercise 8), each with the rule it missed.

    When the freed block is the higher buddy, keeping its start and starting at the higher
    buddy give the same answer: the hint then names both, not one the student did not make.
    """
    higher = pfn | (1 << order)
    if higher == pfn:
        return [(pfn, "started at the higher buddy, here the freed block itself: the merged "
                      "block starts at the lower one, bit `order` cleared")]
    return [(pfn, "kept the freed block's own start: the merged block starts at the lower "
                  "buddy"),
            (higher, "started at the higher buddy: the merged block starts at the lower one, "
                     "bit `order` cleared")]


def unusable_misconceptions(nr_free: list[int], order: int) -> list[tuple[object, str]]:
    """Wrong unusable indexes for one case, each with the mistake that gives it.

    A student's answer equal to one of them is told that mistake (``Checks.expect``'s
    ``misconceptions``) instead of a general tip: counting blocks is the common one, and a
    hint about division would send them looking in the wrong place.
    """
    info = ContigPageInfo.from_nr_free(nr_free, order)
    free, blocks = info.free_pages, info.free_blocks_total
    usable, usable_blocks = info.free_blocks_suitable << order, sum(nr_free[order:])
    wrong: list[tuple[object, str]] = []
    if blocks:
        wrong.append(((blocks - usable_blocks) * 1000 // blocks,
                      "counted free blocks, not free pages: an order-o block holds 1 << o "
                      "pages, and the index is a share of free *memory*"))
    if free:
        wrong += [
            (usable * 1000 // free, "gave the share of pages that *can* serve the order; the "
             "index is the share that cannot"),
            ((free - usable + (nr_free[order] << order)) * 1000 // free,
             "left out the blocks of exactly this order: an order-n block serves an order-n "
             "request"),
            ((free - usable) * 1000 / free, "divided with /: the kernel's index is whole "
             "thousandths (integer division, //)"),
        ]
    else:
        wrong.append((0, "returned 0 for a zone with no free page: nothing there is usable, "
                         "so the kernel says 1000"))
    return wrong
