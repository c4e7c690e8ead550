"""The wrong answers worth naming, each computed by a wrong model of the allocator."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kit.core import events as ev
from kit.core.events import Event
from kit.core.orders import format_size

from .problems import Misconception
from .programs import Call, Step, run_calls
from .words import label, version_difference

_PAGES = ("pages, not blocks",
          "nr_free (and /proc/buddyinfo) counts free BLOCKS of each order, not pages: one free "
          "order-3 block adds 1 to column 3, not 8.")


_REVERSED = ("highest order first",
             "nr_free and /proc/buddyinfo list order 0 first, then 1, 2, ... up to the largest.")


def count_misconceptions(expected: Sequence[int]) -> list[Misconception]:
    """Wrong ways to write down correct counts."""
    found = []
    pages = tuple(c << o for o, c in enumerate(expected))
    if pages != tuple(expected):
        found.append(Misconception(pages, *_PAGES))
    backwards = tuple(reversed(expected))
    if backwards != tuple(expected):
        found.append(Misconception(backwards, *_REVERSED))
    return found


def model_misconceptions(models: Sequence[tuple[list[Step], str, str]], index: int,
                          pick: Callable[[Step], object], expected: object
                          ) -> list[Misconception]:
    """What each wrong model (steps, name, explanation) gives at step ``index``, if different."""
    found = []
    for steps, name, explanation in models:
        value = pick(steps[index])
        if value is not None and value != expected:
            found.append(Misconception(value, name, explanation))
    return found


def preset_models(preset: str, others: Sequence[str], config: Mapping[str, Any],
                   calls: Sequence[Call]) -> list[tuple[list[Step], str, str]]:
    """The same calls under other presets, each with what that version does differently."""
    models = []
    exact = any(call.op == "exact" for call in calls)
    for other in others:
        steps = run_calls({**config, "preset": other}, calls)[1]
        why = version_difference(preset, other, pcp=bool(config.get("pcp")), exact=exact)
        models.append((steps, f"{label(other)} rules",
                       f"that is what {label(other)} gives, not {label(preset)}: {why}."))
    return models


def split_misconceptions(events: Sequence[Event], order: int, pfn: int | None
                         ) -> list[Misconception]:
    """For an allocation of ``order`` that split a larger block: the caller got the upper half."""
    takes = [e for e in events if e.kind == ev.TAKE]
    if not takes or takes[0].order == order or pfn is None:
        return []
    taken = takes[0]
    why = ("when expand() splits a larger block it keeps the LOWER half and puts the upper half "
           "on the free list one order down, so the caller gets the first pages of the block "
           "taken.")
    every = taken.pfn + (1 << taken.order) - (1 << order)  # the upper half at every halving
    first = taken.pfn + (1 << (taken.order - 1))  # the upper half of the first halving: 32 of 64
    return [Misconception(start, "kept the upper half", why)
            for start in dict.fromkeys((every, first))]


def first_fit_misconceptions(order: int, pfn: int | None,
                             before_blocks: Sequence[tuple[int, int]]) -> list[Misconception]:
    """The lowest free pfn that fits: the answer of an allocator that searches by address."""
    fits = sorted(start for start, o in before_blocks if o >= order)
    if not fits or fits[0] == pfn:
        return []
    return [Misconception(
        fits[0], "lowest address first",
        "the buddy allocator does not search by address: it takes the HEAD of free_area[n] for "
        "order n, or, when that list is empty, of the next non-empty list up, and splits it.")]


def nr_free_misconceptions(op: str, order: int, events: Sequence[Event],
                           before_nr_free: Sequence[int]) -> list[Misconception]:
    """Counts that forget the split remnants of an allocation (``op`` "alloc") or the merges
    of a free (``op`` "free") of an order-``order`` block."""
    found = []
    before = list(before_nr_free)
    takes = [e for e in events if e.kind == ev.TAKE]
    if op == "alloc" and takes and takes[0].order > order:
        no_remnants = before.copy()
        no_remnants[takes[0].order] -= 1
        found.append(Misconception(tuple(no_remnants), "forgot the split halves",
                                   "expand() leaves one free block at every order between the "
                                   "order asked for and the order of the block it took: the "
                                   "halves it did not need."))
    merges = [e for e in events if e.kind == ev.MERGE]
    if op == "free" and merges:
        no_merge = before.copy()
        no_merge[order] += 1
        found.append(Misconception(tuple(no_merge), "forgot the merge",
                                   "a freed block merges with its buddy (pfn XOR 2^order) when "
                                   "that buddy is a free block of the same order, then tries "
                                   "again one order up; only the merged block is counted."))
    return found


def _pages_fill(pages: int) -> str:
    """"1 page fills", "2 pages fill": the hint is read by a student."""
    return "1 page fills" if pages == 1 else f"{pages} pages fill"


def order_misconceptions(size: int, order: int, pages: int, page_size: int
                         ) -> list[Misconception]:
    """The wrong orders a reader gives for ``size`` (``order`` and ``pages`` are the right
    ones), each with the rule they missed; exercise 1's checks name them too."""
    found = []
    if page_size != 4096:
        assumed = ((size - 1) >> 12).bit_length()
        found.append(Misconception(assumed, "assumed 4 KiB pages",
                                   f"this machine's pages are {format_size(page_size)}: get_order "
                                   "counts pages of PAGE_SIZE, whatever their size."))
    if pages == 1 << order:
        found.append(Misconception(order + 1, "a full block does not fit",
                                   f"{_pages_fill(pages)} an order-{order} block exactly: "
                                   "get_order gives the smallest n with PAGE_SIZE << n >= size, "
                                   "so an exact power of two pages needs no larger block."))
    elif order:
        found.append(Misconception(order - 1, "rounded down",
                                   f"get_order rounds UP: the block must hold all {pages} pages, "
                                   f"and an order-{order - 1} block has only {1 << (order - 1)}."))
    found.append(Misconception(pages, "pages, not the order",
                               "the order is an exponent: an order-n block has 2^n pages, so "
                               f"{pages} pages need order {order}, not order {pages}."))
    found.append(Misconception((size - 1).bit_length(), "counted bytes",
                               "get_order counts pages, not bytes: the smallest n with 2^n "
                               "pages >= size (log2 of the size minus PAGE_SHIFT, rounded up)."))
    return found


def waste_misconceptions(size: int, order: int, waste: int, exact_waste: int, page_size: int
                          ) -> list[Misconception]:
    return [
        Misconception(waste // page_size, "pages, not bytes",
                      "the waste is asked in bytes: the block's bytes (PAGE_SIZE << order) "
                      "minus the size."),
        Misconception(exact_waste, "only the last page",
                      "alloc_pages hands out the whole 2^order block; only alloc_pages_exact "
                      "trims it to whole pages."),
        Misconception(page_size << order, "the block, not the waste",
                      "that is the whole block; the waste is what is left after the size."),
    ]


def kib_misconceptions(pages: int, page_size: int = 4096) -> list[Misconception]:
    """A count of pages given in KiB (124 for the 31 pages of 4 KiB that 132 KiB leaves
    unused in its 256 KiB block): the reader counted the memory, not the pages."""
    kib = pages * page_size // 1024
    if kib == pages:
        return []
    return [Misconception(kib, "KiB, not pages",
                          f"the question counts pages of {format_size(page_size)}, not KiB: a "
                          f"size in KiB is {page_size // 1024} times its number of pages.")]


def kib_for_bytes_misconceptions(nbytes: int) -> list[Misconception]:
    """A number of bytes given in KiB (124 for 126,976 bytes)."""
    if nbytes < 1024:
        return []
    return [Misconception(nbytes // 1024, "KiB, not bytes",
                          "the question asks for bytes: a KiB is 1024 bytes.")]


def count_off_misconceptions(kind: str, count: int, full_tree: int | None = None
                             ) -> list[Misconception]:
    """A wrong number of splits or merges (``kind`` "split" or "merge"; ``count`` is right):
    one too few, the blocks counted instead of the halvings or joins (n of them touch n + 1
    blocks), and, for splits, every piece halved down to the order asked for (``full_tree``,
    2^(k-n) - 1 for one block of order k split to order n)."""
    if kind == "split":
        few = ("one split too few", "every halving counts, the last one too: from order k down "
               "to order n a block is halved k - n times.")
        blocks = ("counted blocks, not splits", "n halvings leave n + 1 blocks (the n upper "
                  "halves on the free lists and the block handed out): count the halvings.")
    else:
        few = ("one merge too few", "every join with a free buddy counts, the last one too.")
        blocks = ("counted blocks, not merges", "n merges join n + 1 blocks (the freed block "
                  "and n buddies): count the joins.")
    found = [Misconception(count + 1, *blocks)]
    if count:
        found.append(Misconception(count - 1, *few))
    if full_tree is not None and full_tree not in (count, count + 1):
        found.append(Misconception(
            full_tree, "split every piece",
            "expand() halves only the half it keeps; each upper half goes to the free list "
            "whole, unsplit."))
    return found


def bump_pfns(steps: Sequence[Step], first_pfn: int = 0) -> list[int | None]:
    """The pfn a bump allocator returns at each step (None for a step that allocates nothing):
    the next pfn after the last allocation, in address order, freed pages never reused."""
    pointer = first_pfn
    pfns: list[int | None] = []
    for step in steps:
        if step.call.op == "alloc" and step.pfn is not None:
            pfns.append(pointer)
            pointer += 1 << step.call.arg
        else:
            pfns.append(None)
    return pfns


def bump_misconceptions(pfn: int | None) -> list[Misconception]:
    """The answer of a bump allocator (``bump_pfns``), to name when a reader gives it."""
    if pfn is None:
        return []
    return [Misconception(
        pfn, "a bump allocator's pfn",
        "the buddy allocator does not hand out pages in address order after the last "
        "allocation: it takes the head of the smallest free list that fits, a freed block "
        "included, and every block starts at a multiple of its size.")]
