"""Kernel version presets: where the page allocator differs between the kernels the course uses.

Each preset records the differences a student can observe in the simulator: how the largest
order is named and counted, which orders the per-CPU lists hold, whether a freed block may go to
the tail of its list because a merge is likely, whether memory released at boot goes to the head
or the tail, how ``alloc_pages_exact`` gives back the pages it does not need, and the per-CPU
list arithmetic (batch, high, how many pages a free past ``high`` gives back, how many an empty
list is refilled with, which list drains first).  Everything else behaves the same.

Every row below was read in a kernel tree of that version (trees named in
../shared/reference/kernel-review-2026-12-06.md: v2.6.27 tag of caglar10ur/linux-2.6.27.y,
ejga2001/linux-5.10.7, HHRhr/linux-6.0.1, c1336658570/linux-6.1.20, vivo50kff/linux-6.8);
``mm/page_alloc.c`` unless another file is named.  tests/test_presets_pinned.py checks each
row against what a ``Zone`` of each preset does, so a change of behaviour fails there.

============================  ============================  ==================================
behaviour                     presets: value                 where (file:line in that tree)
============================  ============================  ==================================
largest-order constant        2.6.27-6.1: MAX_ORDER = 11,   include/linux/mmzone.h:24 (2.6.27),
                              exclusive; 6.8:                :27 (5.10.7), :28 (6.0.1, 6.1.20);
                              MAX_PAGE_ORDER = 10,           6.8 :30, NR_PAGE_ORDERS :38
                              inclusive
per-CPU list orders           2.6.27, 5.10: order 0 only;    2.6.27 :1050; 5.10.7 :3168-3199;
                              6.0-6.8: orders 0..3 (the kit  6.0.1 :753, 6.1.20 :756,
                              has no THP order)              6.8 :549 (pcp_allowed_order)
freed block to the tail when  2.6.27: never (always head);   2.6.27 :450; 5.10.7 :942, :1071;
a merge looks likely          5.10-6.8: yes, below the top   6.0.1 :1171; 6.1.20 :1180;
                              two orders                     6.8 :724, :833
boot frees go to              2.6.27: the head; 5.10-6.8:    2.6.27 mm/bootmem.c:174-199 then
                              the tail (FPI_TO_TAIL)         :450; 5.10.7 :1558; 6.8 :1317
exact allocator's tail        2.6.27-6.0: split_page() then  2.6.27 :1720-1737 (inline);
                              free_page() each (per-CPU      5.10.7 :5145-5159; 6.0.1
                              list); 6.1, 6.8:               :5789-5803; 6.1.20 :5790-5806;
                              __free_pages_ok(page, 0,       6.8 :4798-4815
                              FPI_TO_TAIL), no split_page
per-CPU batch                 zone pages / 1024, capped at   2.6.27 :2634-2664; 5.10.7
                              512 KiB (2.6.27) or 1 MiB      :6211-6235; 6.1.20 :7068-7096;
                              (since 4.19), / 4, rounded to  6.8 :5351-5380
                              2^n - 1 (0 below 32 MiB)
per-CPU high                  2.6.27, 5.10: 6 x batch taken  2.6.27 :2674-2675; 5.10.7
                              before batch is raised to 1    :6288-6290; 6.1.20 :7116-7156,
                              (so 0 below 32 MiB); 6.0,      :7229; 6.8 :5400-5442, :5517
                              6.1, 6.8: the floor 4 x batch
                              (the kernel takes the larger
                              of that and low watermark /
                              CPUs; 6.7+ auto-tunes it)
pages freed past high         2.6.27, 5.10: batch;           2.6.27 :998-1000; 5.10.7
                              6.0, 6.1: batch << free_factor :3196-3199; 6.1.20 :3395-3422,
                              clamped to [batch, high -      :3461, :3801; 6.8 :2354-2377,
                              batch] (factor +1 per such     :2440-2466, :2860
                              free, halved per allocation);
                              6.8: the count of frees since
                              the last allocation (halved
                              by it) clamped likewise
refill of an empty list       2.6.27, 5.10: batch; 6.0,      2.6.27 :1056; 5.10.7 :3383;
                              6.1: batch, max(batch >> n, 2) 6.1.20 :3755-3756; 6.8
                              for order n only when batch >  :2755-2803
                              1; 6.8: batch << alloc_factor
                              (order 0), capped by high
order above the largest       2.6.27: NULL, silently; 5.10-  2.6.27 include/linux/gfp.h:198,
                              6.8: NULL and a one-time       :214; 5.10.7 :4932-4935; 6.0.1
                              warning (not __GFP_NOWARN)     :5537; 6.1.20 :5534; 6.8 :4545
which pages drain first       2.6.27, 5.10: the list's tail; 2.6.27 :484-494 (free_pages_bulk);
                              6.0-6.8: the freed page's      5.10.7 :1344-1400; 6.1.20
                              list first, whole, from its    :1546-1611 (:1562); 6.8
                              tail, then the next order      :1187-1244 (:1202)
============================  ============================  ==================================

Not modelled in any preset: watermarks (so the kernel's high may be above the floor), the
6.7+ auto-tuning of ``high`` between ``high_min`` and ``high_max`` (the kit holds it at the
floor, as a kernel does when the two are equal), ``vm.percpu_pagelist_high_fraction``, the
THP-order per-CPU list, the cache-size flag ``PCPF_FREE_HIGH_BATCH`` of 6.8 (taken as clear),
migratetypes, NUMA and more than one CPU.  Names: the kit's events and docstrings use the names
of current kernels (``make_alloc_exact``, ``rmqueue_pcplist``, ``free_pcppages_bulk``,
``__free_pages_core``) for every preset; 2.6.27 did the same steps in ``alloc_pages_exact``
itself, ``buffered_rmqueue``, ``free_hot_cold_page`` / ``free_pages_bulk`` and bootmem's
``free_all_bootmem_core``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidArgument

#: The highest order with 4 KiB pages on x86-64 in every kernel the kit models (4 MiB blocks).
DEFAULT_MAX_ORDER = 10

#: The per-CPU arithmetic eras, oldest first: what a free past ``high`` gives back and how an
#: empty list is refilled (see ``Preset.pcp_rules``).
PCP_RULES = ("batch", "free_factor", "free_count")


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
    highest free block first.  ``exact_trim`` is ``"split_page"`` when the exact allocator
    splits the block and frees each tail page like any page (through the per-CPU lists; 2008
    to 6.0), ``"to_tail"`` when it frees them straight to the buddy lists' tails (6.1 on).

    The per-CPU arithmetic: ``pcp_batch_cap`` is the byte cap of ``zone_batchsize`` (512 KiB
    until 4.19, 1 MiB after); ``pcp_high_from_raw_batch`` says ``high`` is ``pcp_high_factor``
    times the batch *before* it is raised to 1 (2.6.27 to 5.13: a zone below 32 MiB gets high
    0), else ``pcp_high_factor`` x batch is the floor the kernel never goes below (5.14 on).
    ``pcp_rules`` names the era of the free and refill rules (one of ``PCP_RULES``):
    ``"batch"`` (a free at ``high`` gives back batch pages; a refill takes batch), ``"free_factor"``
    (5.14 to 6.6: the pages given back double with each such free, refills scale down with the
    order when batch > 1, the freed page's list drains first) or ``"free_count"`` (6.7 on: the
    pages given back follow the frees since the last allocation, refills grow with consecutive
    allocations).  ``warns_above_max_order``: an order above the largest fails with a one-time
    warning in current kernels, silently in 2.6.27.
    """

    name: str
    max_order_symbol: str
    max_order_inclusive: bool
    pcp_max_order: int
    merge_likely_to_tail: bool
    exact_trim: str
    pcp_high_factor: int
    boot_to_tail: bool
    pcp_batch_cap: int = 1 << 20
    pcp_high_from_raw_batch: bool = False
    pcp_rules: str = "free_factor"
    warns_above_max_order: bool = True

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

    def pcp_rule_summary(self) -> str:
        """The per-CPU arithmetic of this version in one clause, to set two versions apart."""
        return _PCP_SUMMARY[self.pcp_rules]

    def describe_pcp(self, batch: int, high: int) -> str:
        """What one CPU's list does with this ``batch`` and ``high``, in this version's words."""
        orders = "order-0 pages," if self.pcp_max_order == 0 else (
            f"blocks of orders 0..{self.pcp_max_order}, one list per order,")
        text = (f"Per-CPU list on ({orders} Linux {self.name} rules): batch = {batch}, "
                f"high = {high}. ")
        if self.pcp_rules == "batch":
            return text + (
                "An empty list is refilled from the buddy lists with batch pages; once it holds "
                "high pages or more, batch pages (all, if fewer), the oldest first, go back.")
        scaled = ("blocks for order n > 0 only when batch > 1: max(batch >> n, 2); "
                  "with batch 1, one block")
        if self.pcp_rules == "free_factor":
            return text + (
                f"An empty list is refilled with batch blocks ({scaled}). Once the lists hold "
                "high pages or more they give back batch << f pages, but at least batch and at "
                "most high - batch (the upper bound wins when they cross; 1 if high < batch), "
                "where f starts at 0, grows by one at each give-back that stays below high - "
                "batch, and is halved by every allocation; a free of an order 1-3 block while "
                "f > 0 gives back everything. The list of the block just freed gives back "
                "first, from its oldest block, then the next order up.")
        return text + (
            "An empty order-0 list is refilled with batch << a pages, at most max(high - "
            "count - batch, batch), where a grows by one at each refill that fits (up to 5) and "
            f"is halved by every free; other orders get batch blocks ({scaled}). Once the lists "
            "hold high pages or more they give back as many pages as were freed since the last "
            "allocation (that count is halved by every allocation), but at least batch and at "
            "most high - batch (the upper bound wins when they cross; 1 if high < batch); a "
            "second order 1-3 free in a row, with batch frees counted, gives back everything "
            "(up to batch << 5 pages). "
            "The list of the block just freed gives back first, from its oldest block, then the "
            "next order up.")

    def raw_batch(self, nr_pages: int, page_size: int = 4096) -> int:
        """``zone_batchsize()`` of this version: 0 for a zone below 32 MiB (4 KiB pages)."""
        batch = min(nr_pages >> 10, self.pcp_batch_cap // page_size) // 4
        batch = max(batch, 1)
        return (1 << ((batch + batch // 2).bit_length() - 1)) - 1

    def pcp_batch_and_high(self, nr_pages: int, page_size: int = 4096) -> tuple[int, int]:
        """(batch, high) this version gives a zone's per-CPU list; high is the kit's value:
        the kernel's own for 2.6.27 and 5.10, the floor ``4 x batch`` from 5.14 on."""
        raw = self.raw_batch(nr_pages, page_size)
        batch = max(raw, 1)
        return batch, self.pcp_high_factor * (raw if self.pcp_high_from_raw_batch else batch)


_PCP_SUMMARY = {
    "batch": "gives back exactly batch pages at high and refills with batch pages",
    "free_factor": "gives back more pages at high with each consecutive give-back "
                   "(batch << free_factor, 5.14 on) and refills with batch blocks",
    "free_count": "gives back as many pages at high as were freed since the last allocation and "
                  "refills with more pages after consecutive allocations (alloc_factor, 6.7 on)",
}

#: The kernel versions the kit models, by name ("2.6.27", "5.10", "6.0", "6.1", "6.8"):
#: ``Zone(preset=)``.
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("2.6.27", "MAX_ORDER", False, 0, False, "split_page", 6, boot_to_tail=False,
               pcp_batch_cap=512 << 10, pcp_high_from_raw_batch=True, pcp_rules="batch",
               warns_above_max_order=False),
        Preset("5.10", "MAX_ORDER", False, 0, True, "split_page", 6, boot_to_tail=True,
               pcp_high_from_raw_batch=True, pcp_rules="batch"),
        Preset("6.0", "MAX_ORDER", False, 3, True, "split_page", 4, boot_to_tail=True),
        Preset("6.1", "MAX_ORDER", False, 3, True, "to_tail", 4, boot_to_tail=True),
        Preset("6.8", "MAX_PAGE_ORDER", True, 3, True, "to_tail", 4, boot_to_tail=True,
               pcp_rules="free_count"),
    )
}


def get_preset(name: str) -> Preset:
    """Look a preset up by kernel version, with an error listing the ones that exist."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        known = ", ".join(PRESETS)
        raise InvalidArgument(f"unknown kernel preset {name!r}; known presets: {known}") from None
