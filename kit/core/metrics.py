"""How much memory a request really costs, and how fragmented a zone's free memory is.

Two families of numbers live here, both computed from plain integers so that notebooks, widgets
and tests can use them without building a zone:

* **Wastage** (internal fragmentation): what ``alloc_pages()``, ``alloc_pages_exact()`` and
  ``kmalloc()`` actually hand out for a request of ``size`` bytes, and how much of it is unused.
* **Fragmentation indexes** (external fragmentation): the two per-order measures the kernel
  exports in debugfs (``extfrag/unusable_index`` and ``extfrag/extfrag_index``), computed from a
  zone's ``nr_free`` counts exactly as the kernel computes them, integer divisions included, so a
  value printed by the kit can be compared digit for digit with a real machine.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from kit.core.errors import InvalidArgument
from kit.core.orders import _require_int, get_order, page_align, page_shift, pages_for

__all__ = [
    "KMALLOC_SIZE_CLASSES",
    "STRATEGIES",
    "EXTFRAG_THRESHOLD",
    "ContigPageInfo",
    "Strategy",
    "Wastage",
    "compare_wastage",
    "format_extfrag_line",
    "format_index",
    "fragmentation_index",
    "fragmentation_indexes",
    "free_blocks_suitable",
    "kmalloc_size",
    "kmalloc_size_classes",
    "unusable_index",
    "unusable_indexes",
    "wastage",
    "wastage_curve",
]

Strategy = Literal["alloc_pages", "alloc_pages_exact", "kmalloc"]
STRATEGIES: tuple[str, ...] = ("alloc_pages", "alloc_pages_exact", "kmalloc")


# --------------------------------------------------------------------------------------------
# kmalloc size classes
# --------------------------------------------------------------------------------------------


def kmalloc_size_classes(page_size: int = 4096) -> tuple[int, ...]:
    """Return the object sizes of the generic ``kmalloc-*`` slab caches for ``page_size``.

    SLUB keeps one cache per power of two from 8 bytes up to ``KMALLOC_MAX_CACHE_SIZE``, which is
    two pages (8 KiB with 4 KiB pages, 128 KiB with 64 KiB pages), plus the two odd caches 96 and
    192, so that common 65..96 and 129..192 byte objects need not pay for the next power of two.
    (Architectures with a large minimum kmalloc alignment drop the smallest caches and 96/192;
    the kit models the common x86-64 / generic layout.)
    """
    return _size_classes(page_shift(page_size))


@cache
def _size_classes(shift: int) -> tuple[int, ...]:
    limit = 2 << shift
    sizes = {1 << bit for bit in range(3, limit.bit_length())} | {96, 192}
    return tuple(sorted(sizes))


KMALLOC_SIZE_CLASSES: tuple[int, ...] = kmalloc_size_classes(4096)


def _require_max_order(max_order: int) -> int:
    return _require_int(max_order, "max_order")


def kmalloc_size(size: int, page_size: int = 4096, max_order: int = 10) -> int | None:
    """Return the bytes ``kmalloc(size)`` really grants (what ``ksize()`` reports), or None.

    * ``size == 0`` gives 0: kmalloc returns the special ``ZERO_SIZE_PTR``, a non-NULL pointer
      that must not be dereferenced, so the call "succeeds" but no memory is granted.
    * Up to two pages the request is served by the smallest slab size class that fits
      (``kmalloc(100)`` -> 128, ``kmalloc(150)`` -> 192).
    * Above that, kmalloc goes straight to the page allocator, so the grant is a whole
      ``page_size << get_order(size)`` block and the waste becomes the buddy system's.
    * None means the request fails (NULL): its order is above ``max_order``.
    """
    size = _require_int(size, "size")
    classes = kmalloc_size_classes(page_size)
    max_order = _require_max_order(max_order)
    if size == 0:
        return 0
    if size <= classes[-1]:
        return classes[bisect_left(classes, size)]
    order = get_order(size, page_size)
    if order > max_order:
        return None
    return page_size << order


# --------------------------------------------------------------------------------------------
# Wastage
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wastage:
    """What one allocation strategy does with a request of ``requested`` bytes.

    Attributes:
        strategy: one of :data:`STRATEGIES`.
        requested: the request in bytes.
        granted: bytes the caller actually holds (0 when the allocation fails, and 0 for
            ``kmalloc(0)``, which returns ZERO_SIZE_PTR).
        order: the ``get_order(requested)`` used to ask the page allocator, also when that order
            is too large and the request fails; None when kmalloc serves the request from a slab
            cache (or for ``kmalloc(0)``) and no order is involved.
        pages_granted: pages the caller holds afterwards: ``2**order`` for ``alloc_pages`` and
            for large kmalloc, only ``pages_for(requested)`` for ``alloc_pages_exact``, and 0
            for slab-served kmalloc, whose object lives inside slab pages that the cache owns
            and shares with other objects.
        wasted: ``granted - requested``; 0 when the allocation fails, since nothing is held.
        percent_of_request: ``wasted`` as a percentage of the request (the LKP book's "waste
            %"); 0.0 when nothing was requested.
        percent_of_granted: ``wasted`` as a percentage of what was granted; 0.0 if nothing was.
        fails: True when the allocation returns NULL: the order is above ``max_order``, which
            includes size 0 for the page allocators (``get_order(0)`` is 52 on 64-bit).
        pages_returned: for ``alloc_pages_exact`` only, the ``2**order - pages_for(requested)``
            tail pages given back to the buddy allocator; 0 otherwise.
    """

    strategy: str
    requested: int
    granted: int
    order: int | None
    pages_granted: int
    wasted: int
    percent_of_request: float
    percent_of_granted: float
    fails: bool
    pages_returned: int


def _make_wastage(
    strategy: str,
    requested: int,
    granted: int,
    order: int | None,
    pages_granted: int,
    fails: bool,
    pages_returned: int = 0,
) -> Wastage:
    wasted = 0 if fails else granted - requested
    return Wastage(
        strategy=strategy,
        requested=requested,
        granted=0 if fails else granted,
        order=order,
        pages_granted=0 if fails else pages_granted,
        wasted=wasted,
        percent_of_request=wasted * 100 / requested if requested else 0.0,
        percent_of_granted=wasted * 100 / granted if granted and not fails else 0.0,
        fails=fails,
        pages_returned=0 if fails else pages_returned,
    )


def _require_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise InvalidArgument(
            f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}"
        )
    return strategy


def wastage(
    size: int, strategy: Strategy | str, page_size: int = 4096, max_order: int = 10
) -> Wastage:
    """Work out what ``strategy`` grants for ``size`` bytes and how much of it is wasted.

    ``alloc_pages`` rounds up to a whole ``2**order`` block, so a size just above a power of two
    pages wastes almost half the block.  ``alloc_pages_exact`` allocates the same block but keeps
    only ``pages_for(size)`` pages, so its waste is under one page.  ``kmalloc`` uses slab size
    classes for small sizes and whole page blocks for large ones (see :func:`kmalloc_size`).
    """
    size = _require_int(size, "size")
    _require_strategy(strategy)
    max_order = _require_max_order(max_order)
    shift = page_shift(page_size)

    if strategy == "kmalloc":
        granted = kmalloc_size(size, page_size, max_order)
        if size == 0 or (granted is not None and size <= 2 << shift):
            return _make_wastage(strategy, size, granted or 0, None, 0, fails=False)
        order = get_order(size, page_size)
        return _make_wastage(strategy, size, granted or 0, order, 1 << order, fails=granted is None)

    order = get_order(size, page_size)
    fails = order > max_order
    if fails:
        return _make_wastage(strategy, size, 0, order, 0, fails=True)
    if strategy == "alloc_pages":
        return _make_wastage(strategy, size, page_size << order, order, 1 << order, fails=False)
    kept = pages_for(size, page_size)
    return _make_wastage(
        strategy,
        size,
        page_align(size, page_size),
        order,
        kept,
        fails=False,
        pages_returned=(1 << order) - kept,
    )


def compare_wastage(size: int, page_size: int = 4096, max_order: int = 10) -> dict[str, Wastage]:
    """Return :func:`wastage` for every strategy, keyed by name in :data:`STRATEGIES` order.

    This is the side-by-side view the notebooks show: same request, three allocators.
    """
    return {name: wastage(size, name, page_size, max_order) for name in STRATEGIES}


def wastage_curve(
    start: int,
    stop: int,
    step: int,
    strategy: Strategy | str,
    page_size: int = 4096,
    max_order: int = 10,
) -> list[tuple[int, int]]:
    """Return ``(size, wasted_bytes)`` for sizes ``range(start, stop, step)`` (stop excluded).

    Sizes whose allocation fails are **omitted**, so a plot simply ends (or has a gap at size 0
    for the page allocators) where the allocator returns NULL, like the LKP book's slab3_maxsize
    loop that stops at the first failure.  The loop inlines the arithmetic of
    :func:`wastage` (arguments are validated once) so ~10k points take milliseconds, fast enough
    to recompute on every slider move.
    """
    start = _require_int(start, "start")
    stop = _require_int(stop, "stop")
    step = _require_int(step, "step", minimum=1)
    _require_strategy(strategy)
    max_order = _require_max_order(max_order)
    shift = page_shift(page_size)
    mask = (1 << shift) - 1
    classes = kmalloc_size_classes(page_size)
    slab_max = classes[-1]

    points: list[tuple[int, int]] = []
    append = points.append
    for size in range(start, stop, step):
        if strategy == "kmalloc":
            if size == 0:
                append((0, 0))
                continue
            if size <= slab_max:
                append((size, classes[bisect_left(classes, size)] - size))
                continue
        elif size == 0:
            continue  # get_order(0) is far above any max order: the page allocators fail
        order = ((size - 1) >> shift).bit_length()
        if order > max_order:
            break  # sizes only grow from here on, so every later one fails too
        if strategy == "alloc_pages_exact":
            append((size, ((size + mask) & ~mask) - size))
        else:
            append((size, (page_size << order) - size))
    return points


# --------------------------------------------------------------------------------------------
# Fragmentation indexes (debugfs extfrag/)
# --------------------------------------------------------------------------------------------


def _require_nr_free(nr_free: Sequence[int]) -> list[int]:
    if isinstance(nr_free, (str, bytes)) or not isinstance(nr_free, Sequence):
        raise InvalidArgument(
            f"nr_free must be a sequence of free-block counts per order, got {nr_free!r}"
        )
    return [_require_int(count, f"nr_free[{order}]") for order, count in enumerate(nr_free)]


def _require_order_in(nr_free: list[int], order: int) -> int:
    order = _require_int(order, "order")
    if order >= len(nr_free):
        raise InvalidArgument(
            f"order {order} is out of range: nr_free has counts for orders 0..{len(nr_free) - 1}"
        )
    return order


@dataclass(frozen=True)
class ContigPageInfo:
    """The three totals the kernel derives from ``nr_free`` before computing either index.

    Attributes:
        free_pages: free base pages in the zone, ``sum(nr_free[o] << o)``.
        free_blocks_total: free blocks of any order, ``sum(nr_free)``.
        free_blocks_suitable: how many order-``order`` chunks the free blocks could provide,
            ``sum(nr_free[o] << (o - order) for o >= order)``; 0 means an order-``order``
            allocation would fail.
    """

    free_pages: int
    free_blocks_total: int
    free_blocks_suitable: int

    @classmethod
    def from_nr_free(cls, nr_free: Sequence[int], order: int) -> ContigPageInfo:
        """Compute the totals for a request of ``order`` from a zone's per-order counts."""
        counts = _require_nr_free(nr_free)
        order = _require_order_in(counts, order)
        return cls(
            free_pages=sum(count << o for o, count in enumerate(counts)),
            free_blocks_total=sum(counts),
            free_blocks_suitable=sum(
                count << (o - order) for o, count in enumerate(counts) if o >= order
            ),
        )


#: Default of ``/proc/sys/vm/extfrag_threshold``: for a costly order (above 3) compaction only
#: runs when the fragmentation index is above it, i.e. when a failure looks like fragmentation
#: rather than lack of memory (``compaction_suitable()``, mm/compaction.c).
EXTFRAG_THRESHOLD = 500


def free_blocks_suitable(nr_free: Sequence[int], order: int) -> int:
    """How many order-``order`` blocks the free lists could hand out right now.

    Every free block of order ``order`` or above counts for the order-``order`` pieces it can be
    split into (``free_blocks_suitable`` of the kernel's ``contig_page_info``).  This is what
    large allocations actually need; the unusable index is a ratio to all free pages, so it can
    rise while this count stays the same (more small free blocks, same large ones).
    """
    return ContigPageInfo.from_nr_free(nr_free, order).free_blocks_suitable


def unusable_index(nr_free: Sequence[int], order: int) -> int:
    """Return the unusable free space index for ``order`` in thousandths (0..1000).

    It is the share of free memory that sits in blocks too small for an order-``order``
    request: 0 means every free page could serve it, 1000 means none could.  A zone with no
    free memory at all counts as 1000 (nothing is usable), as in the kernel.
    """
    info = ContigPageInfo.from_nr_free(nr_free, order)
    if info.free_pages == 0:
        return 1000
    usable = info.free_blocks_suitable << order
    return (info.free_pages - usable) * 1000 // info.free_pages


def fragmentation_index(nr_free: Sequence[int], order: int) -> int:
    """Return the kernel's fragmentation index for ``order`` in thousandths.

    The index only means something when an order-``order`` allocation would fail; it then says
    why: towards 0 the zone simply lacks memory (reclaim helps), towards 1000 there is enough
    free memory but it is split into small blocks (compaction helps).  The special values are
    -1000 when the allocation would succeed and 0 for a zone with no free block at all.

    The kernel's formula, reproduced with its integer divisions, can dip below 0 in one corner
    case: a single free block smaller than the request (``nr_free = [0, 1, 0]``, order 2 gives
    -500).  The kit returns the same value the kernel would print rather than clamping it.
    """
    info = ContigPageInfo.from_nr_free(nr_free, order)
    if info.free_blocks_total == 0:
        return 0
    if info.free_blocks_suitable:
        return -1000
    per_request = info.free_pages * 1000 // (1 << order)
    return 1000 - (1000 + per_request) // info.free_blocks_total


def unusable_indexes(nr_free: Sequence[int]) -> list[int]:
    """Return :func:`unusable_index` for every order the zone has, as one debugfs line would."""
    counts = _require_nr_free(nr_free)
    return [unusable_index(counts, order) for order in range(len(counts))]


def fragmentation_indexes(nr_free: Sequence[int]) -> list[int]:
    """Return :func:`fragmentation_index` for every order the zone has."""
    counts = _require_nr_free(nr_free)
    return [fragmentation_index(counts, order) for order in range(len(counts))]


def _c_divmod(value: int, divisor: int) -> tuple[int, int]:
    """Divide like C: the quotient truncates toward zero and the remainder keeps the sign."""
    quotient = abs(value) // divisor
    if value < 0:
        quotient = -quotient
    return quotient, value - quotient * divisor


def format_index(v: int, int_width: int = 1) -> str:
    """Format an index in thousandths the way the kernel prints it: ``782`` -> ``"0.782"``.

    The kernel prints the integer quotient and the remainder by 1000 with C semantics
    (``"%d.%03d"``), so -1000 prints as ``"-1.000"``, 1000 as ``"1.000"`` and the odd negative
    value -500 as ``"0.-500"``, exactly as a real system shows it.  ``int_width`` is the minimum
    width of the integer part: ``extfrag_index`` pads it to 2 (``"%2d.%03d"``, since a late-2021
    patch, around Linux 5.16) so that positive values line up with ``-1.000`` (``" 0.782"``);
    ``unusable_index`` does not pad.
    """
    v = _require_int(v, "index", minimum=None)
    int_width = _require_int(int_width, "int_width", minimum=1)
    quotient, remainder = _c_divmod(v, 1000)
    return f"{quotient:{int_width}d}.{remainder:03d}"


def format_extfrag_line(
    values: Sequence[int],
    node: int = 0,
    zone: str = "Normal",
    *,
    index: Literal["unusable", "extfrag"] = "unusable",
) -> str:
    """Render one zone's line of a debugfs ``extfrag/`` file, without the newline.

    The layout matches the kernel byte for byte: the buddyinfo-style prefix
    ``"Node 0, zone   Normal "`` and then every value formatted by :func:`format_index`
    followed by one space.  ``index="extfrag"`` selects the ``extfrag_index`` layout (integer
    part padded to two columns, as kernels since about 5.16 print it); the default
    ``"unusable"`` is the ``unusable_index`` layout, which is also how older kernels printed
    ``extfrag_index``.
    """
    if index not in ("unusable", "extfrag"):
        raise InvalidArgument(f"index must be 'unusable' or 'extfrag', got {index!r}")
    node = _require_int(node, "node")
    if not isinstance(zone, str) or not zone:
        raise InvalidArgument(f"zone must be a non-empty str, got {zone!r}")
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise InvalidArgument(f"values must be a sequence of ints, got {values!r}")
    width = 2 if index == "extfrag" else 1
    body = "".join(format_index(v, width) + " " for v in values)
    return f"Node {node}, zone {zone:>8} {body}"
