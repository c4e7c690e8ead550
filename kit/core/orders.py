"""Sizes, pages and orders: the arithmetic every page-allocator request starts with.

The page allocator does not think in bytes.  A request is turned into an *order* n, meaning a
block of 2**n physically contiguous pages, and the size is rounded up to that block.  This module
holds that conversion (``get_order``), the page rounding the exact allocator uses instead
(``page_align`` / ``pages_for``) and the small size parser/formatter the notebooks and the CLI
use, so that every part of the kit rounds in exactly the same way the kernel does.

All functions are pure and validate their arguments: a float, a bool or a negative number of
bytes raises :class:`~kit.core.errors.InvalidArgument` instead of being silently coerced, because a
silently truncated ``4.7`` would teach the wrong lesson.
"""

from __future__ import annotations

import re
from fractions import Fraction

from kit.core.errors import InvalidArgument

__all__ = [
    "format_size",
    "get_order",
    "page_align",
    "page_shift",
    "pages_for",
    "parse_size",
]

_MIN_PAGE_SIZE = 4096

# Binary multipliers, largest first.  The kernel (and this kit) treat K, KB and KiB alike as 1024.
_UNITS: tuple[tuple[str, int], ...] = (
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
)
_MULTIPLIER = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE_RE = re.compile(
    r"^(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[kmgt](?:i?b)?|b)?$",
    re.IGNORECASE,
)


def _require_int(value: object, what: str, minimum: int | None = 0) -> int:
    """Return ``value`` if it is a real ``int`` (not a bool) and at least ``minimum``.

    Shared by the kit's modules so that every bad size, order or count is reported the same
    way, naming the offending value.  ``minimum=None`` skips the lower bound.
    """
    if value.__class__ is int and (minimum is None or value >= minimum):
        return value  # the common case, in one test (every public call checks its arguments)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{what} must be an int, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise InvalidArgument(f"{what} must be >= {minimum}, got {value}")
    return value


def page_shift(page_size: int) -> int:
    """Return log2(page_size), the kernel's PAGE_SHIFT, after checking the page size is real.

    Linux pages are a power of two of at least 4 KiB (4, 16 and 64 KiB are the usual choices on
    x86-64, arm64 and ppc64).  Anything else cannot be a PAGE_SIZE, so it is rejected here once
    instead of producing nonsense orders later.
    """
    _require_int(page_size, "page_size", minimum=None)
    if page_size < _MIN_PAGE_SIZE or page_size & (page_size - 1):
        raise InvalidArgument(
            f"page_size must be a power of two >= {_MIN_PAGE_SIZE} (e.g. 4096, 16384, 65536), "
            f"got {page_size}"
        )
    return page_size.bit_length() - 1


def get_order(size: int, page_size: int = 4096, bits_per_long: int = 64) -> int:
    """Return the order of the smallest block of pages that holds ``size`` bytes.

    This is the kernel's ``get_order()``: the smallest n with ``(page_size << n) >= size``, so a
    size just above a power-of-two number of pages jumps to the next order (132 KiB -> order 6,
    a 256 KiB block).  For ``size == 0`` the kernel documents the result as undefined, but in
    practice ``size - 1`` wraps around to all ones and the result is
    ``bits_per_long - PAGE_SHIFT`` (52 with 4 KiB pages on 64-bit, 48 with 64 KiB pages); that
    order is far beyond any real maximum, which is why allocating 0 bytes of pages fails.  The
    kit reproduces that value rather than inventing its own.
    """
    size = _require_int(size, "size")
    shift = page_shift(page_size)
    _require_int(bits_per_long, "bits_per_long", minimum=None)
    if bits_per_long not in (32, 64):
        raise InvalidArgument(f"bits_per_long must be 32 or 64, got {bits_per_long}")
    if size == 0:
        return bits_per_long - shift
    return ((size - 1) >> shift).bit_length()


def page_align(size: int, page_size: int = 4096) -> int:
    """Round ``size`` up to a whole number of pages (the kernel's ``PAGE_ALIGN``).

    This is how much memory ``alloc_pages_exact()`` really keeps, so the difference from
    ``size`` is its only waste (always less than one page).
    """
    size = _require_int(size, "size")
    mask = (1 << page_shift(page_size)) - 1
    return (size + mask) & ~mask


def pages_for(size: int, page_size: int = 4096) -> int:
    """Return how many pages ``size`` bytes need, rounded up (``DIV_ROUND_UP(size, PAGE_SIZE)``).

    ``alloc_pages_exact()`` keeps exactly this many pages of the 2**order block it allocated and
    gives the rest back to the buddy allocator.
    """
    size = _require_int(size, "size")
    shift = page_shift(page_size)
    return (size + (1 << shift) - 1) >> shift


def parse_size(text: str | int) -> int:
    """Parse a human size such as ``"132K"``, ``"132 KiB"``, ``"4MiB"`` or ``"5000"`` to bytes.

    Units are case-insensitive and binary, following the kernel's own convention (``memparse``
    and the ``K``/``M``/``G`` suffixes on the kernel command line): ``K``, ``KB`` and ``KiB`` all
    mean 1024 bytes, ``M``/``MB``/``MiB`` 1024**2, and so on up to ``T``.  A plain number (or a
    trailing ``B``) is bytes.  Decimals are accepted only when they give a whole number of bytes
    (``"1.5K"`` is 1536, ``"1.3K"`` is rejected), because a page allocator cannot be asked for a
    fraction of a byte.  An ``int`` is accepted as is, after the same validation as everywhere.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise InvalidArgument(
            f"size must be a str such as '132K' or an int, got {text!r} ({type(text).__name__})"
        )
    if isinstance(text, int):
        return _require_int(text, "size")
    stripped = text.strip()
    if stripped.startswith("-"):
        raise InvalidArgument(f"size {text!r} is negative; a size must be >= 0")
    match = _SIZE_RE.match(stripped)
    if match is None:
        raise InvalidArgument(
            f"cannot parse size {text!r}: expected a number with an optional unit "
            "(B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB), e.g. '132K' or '4 MiB'"
        )
    unit = (match.group("unit") or "").lower()[:1]
    value = Fraction(match.group("num")) * _MULTIPLIER[unit]
    if value.denominator != 1:
        raise InvalidArgument(
            f"size {text!r} is not a whole number of bytes ({float(value)} bytes)"
        )
    return int(value)


def format_size(nbytes: int, *, exact: bool = True) -> str:
    """Render a byte count the way the kit's tables show sizes: ``"132 KiB"``, ``"1.5 KiB"``.

    The largest binary unit in which the value is a whole number, or a number with one decimal,
    is used (``4 MiB``, ``1.5 KiB``); otherwise the exact byte count is shown (``5000 B``,
    ``1048577 B``), because a teaching kit about rounding must not hide the odd byte that makes
    a request jump an order.  With ``exact=False`` (axis labels and summaries, where compactness
    wins) the value is rounded to one decimal in the largest unit it reaches (``"4.9 KiB"`` for
    5000, ``"69.1 MiB"`` for 72450048).
    """
    nbytes = _require_int(nbytes, "nbytes")
    if not exact:
        for name, unit in _UNITS:
            if nbytes >= unit:
                value = nbytes // unit if nbytes % unit == 0 else f"{nbytes / unit:.1f}"
                return f"{value} {name}"
        return f"{nbytes} B"
    for name, unit in _UNITS:
        if nbytes < unit:
            continue
        if nbytes % unit == 0:
            return f"{nbytes // unit} {name}"
        tenths, rest = divmod(nbytes * 10, unit)
        if rest == 0:
            return f"{tenths // 10}.{tenths % 10} {name}"
    return f"{nbytes} B"
