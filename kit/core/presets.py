"""Kernel version presets: where the page allocator differs between the kernels the course uses.

Each preset records only the differences a student can observe in the simulator (and that the
course talks about): how the largest order is named and counted, which orders the per-CPU lists
hold, whether freed blocks may go to the tail of a list because a merge is likely, whether the
memory released at boot goes to the head or the tail of the lists, and how
``alloc_pages_exact`` gives back the pages it does not need.  Everything else behaves the same.
Sources: ../shared/reference/kernel-facts-detailed.md sections 2, 3.3, 3.4 and 4.2, and its
"Corrections" section (checked against kernel history).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidArgument

#: The highest order with 4 KiB pages on x86-64 in every kernel the kit models (4 MiB blocks).
DEFAULT_MAX_ORDER = 10


@dataclass(frozen=True)
class Preset:
    """What one kernel version does differently.

    ``max_order_inclusive`` tells how the kernel's constant counts: before 6.4 ``MAX_ORDER`` was
    the number of orders (11, exclusive bound); 6.4 made it the highest order (10); 6.8 renamed
    it ``MAX_PAGE_ORDER``.  ``pcp_max_order`` is the highest order the per-CPU lists cache (0
    before 5.14, ``PAGE_ALLOC_COSTLY_ORDER`` = 3 after).  ``merge_likely_to_tail`` is the
    tail-placement heuristic (commit 6dda9d55bf54, merged for 2.6.35; named
    ``buddy_merge_likely()`` only from 5.7), absent in 2008.  ``boot_to_tail`` says whether
    boot-time frees go to the tail of their list (``__free_pages_core`` with ``FPI_TO_TAIL``,
    commit 7fef431be9c9, 5.10); before 5.10 they went to the head, so a zone handed out its
    highest free block first.  ``exact_trim`` is ``"split_page"`` when
    ``make_alloc_exact`` splits the block and frees each tail page like any page (through the
    per-CPU lists), ``"to_tail"`` when it frees them straight to the buddy lists' tails.
    """

    name: str
    max_order_symbol: str
    max_order_inclusive: bool
    pcp_max_order: int
    merge_likely_to_tail: bool
    exact_trim: str
    pcp_high_factor: int
    boot_to_tail: bool

    def max_order_constant(self, highest_order: int) -> int:
        """The value the kernel's constant has for a zone whose highest order is given."""
        return highest_order if self.max_order_inclusive else highest_order + 1

    def describe_max_order(self, highest_order: int) -> str:
        """One sentence a student can compare with the kernel source of this version."""
        value = self.max_order_constant(highest_order)
        if self.max_order_inclusive:
            meaning = "the highest order (inclusive)"
        else:
            meaning = "the number of orders (exclusive bound)"
        return (
            f"Linux {self.name}: {self.max_order_symbol} = {value}, {meaning}; "
            f"orders 0..{highest_order}"
        )


#: The kernel versions the kit models, by name ("2.6.27", "5.10", "6.1", "6.8"): ``Zone(preset=)``.
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("2.6.27", "MAX_ORDER", False, 0, False, "split_page", 6, boot_to_tail=False),
        Preset("5.10", "MAX_ORDER", False, 0, True, "split_page", 6, boot_to_tail=True),
        Preset("6.1", "MAX_ORDER", False, 3, True, "split_page", 4, boot_to_tail=True),
        Preset("6.8", "MAX_PAGE_ORDER", True, 3, True, "to_tail", 4, boot_to_tail=True),
    )
}


def get_preset(name: str) -> Preset:
    """Look a preset up by kernel version, with an error listing the ones that exist."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        known = ", ".join(PRESETS)
        raise InvalidArgument(f"unknown kernel preset {name!r}; known presets: {known}") from None
