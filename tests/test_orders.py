"""Tests for kit.core.orders: get_order and friends against the reference's literal numbers (G1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit.core.errors import InvalidArgument
from kit.core.orders import format_size, get_order, page_align, page_shift, pages_for, parse_size

KIB = 1024
MIB = 1024 * KIB

# G1 / reference §1.2: (size, order with 4 KiB pages, order with 64 KiB pages).
G1_TABLE = [
    (0, 52, 48),
    (1, 0, 0),
    (100, 0, 0),
    (4095, 0, 0),
    (4096, 0, 0),
    (4097, 1, 0),
    (8192, 1, 0),
    (8193, 2, 0),
    (12288, 2, 0),
    (16385, 3, 0),
    (33792, 4, 0),
    (65536, 4, 0),
    (65537, 5, 1),
    (131072, 5, 1),
    (135168, 6, 2),
    (200100, 6, 2),
    (1 * MIB, 8, 4),
    (2 * MIB, 9, 5),
    (4 * MIB - 1, 10, 6),
    (4 * MIB, 10, 6),
    (4 * MIB + 1, 11, 7),
    (5 * MIB, 11, 7),
    (8 * MIB, 11, 7),
    (32 * MIB, 13, 9),
    (512 * MIB, 17, 13),
    (512 * MIB + 1, 18, 14),
]


@pytest.mark.parametrize(("size", "order_4k", "order_64k"), G1_TABLE)
def test_get_order_g1_table(size: int, order_4k: int, order_64k: int) -> None:
    assert get_order(size) == order_4k
    assert get_order(size, page_size=4096) == order_4k
    assert get_order(size, page_size=65536) == order_64k


def test_get_order_zero_on_32_bit_is_20() -> None:
    # Reference §1.1: BITS_PER_LONG - PAGE_SHIFT is 20 for 32-bit with 4 KiB pages.
    assert get_order(0, bits_per_long=32) == 20


def test_get_order_16k_pages() -> None:
    # 16 KiB pages (PAGE_SHIFT 14): 32 KiB is two pages -> order 1; 0 -> 64 - 14.
    assert get_order(32 * KIB, page_size=16 * KIB) == 1
    assert get_order(32 * KIB + 1, page_size=16 * KIB) == 2
    assert get_order(0, page_size=16 * KIB) == 50


@given(
    size=st.integers(min_value=1, max_value=1 << 48),
    shift=st.sampled_from([12, 14, 16]),
)
def test_get_order_is_the_smallest_fitting_order(size: int, shift: int) -> None:
    page_size = 1 << shift
    n = get_order(size, page_size)
    assert (page_size << n) >= size
    assert n == 0 or (page_size << (n - 1)) < size


@pytest.mark.parametrize(
    ("page_size", "shift"), [(4096, 12), (16384, 14), (65536, 16), (1 << 21, 21)]
)
def test_page_shift(page_size: int, shift: int) -> None:
    assert page_shift(page_size) == shift


@pytest.mark.parametrize("bad", [0, 1, 2048, 3000, 4097, 6144, -4096])
def test_page_shift_rejects_non_page_sizes(bad: int) -> None:
    with pytest.raises(InvalidArgument, match=rf"page_size .*got {bad}$"):
        page_shift(bad)


@pytest.mark.parametrize("bad", [4096.0, "4096", True, None])
def test_page_shift_rejects_non_ints(bad: object) -> None:
    with pytest.raises(InvalidArgument, match="page_size must be an int"):
        page_shift(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (-1, "size must be >= 0, got -1"),
        (4.0, r"got 4\.0 \(float\)"),
        (4.5, r"got 4\.5 \(float\)"),
        (True, r"got True \(bool\)"),
        (False, r"got False \(bool\)"),
        ("4096", r"got '4096' \(str\)"),
        (None, r"got None \(NoneType\)"),
    ],
)
@pytest.mark.parametrize("func", [get_order, page_align, pages_for])
def test_size_functions_reject_bad_sizes(func, bad: object, fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        func(bad)


def test_get_order_rejects_bad_page_size_and_bits() -> None:
    with pytest.raises(InvalidArgument, match="page_size"):
        get_order(100, page_size=1000)
    with pytest.raises(InvalidArgument, match="bits_per_long must be 32 or 64, got 48"):
        get_order(100, bits_per_long=48)


@pytest.mark.parametrize(
    ("size", "page_size", "aligned", "pages"),
    [
        (0, 4096, 0, 0),
        (1, 4096, 4096, 1),
        (4096, 4096, 4096, 1),
        (4097, 4096, 8192, 2),
        (33792, 4096, 36864, 9),  # reference §1.4 and G8
        (135168, 4096, 135168, 33),
        (200100, 4096, 200704, 49),
        (135168, 65536, 196608, 3),  # G16
        (33792, 65536, 65536, 1),
    ],
)
def test_page_align_and_pages_for(size: int, page_size: int, aligned: int, pages: int) -> None:
    assert page_align(size, page_size) == aligned
    assert pages_for(size, page_size) == pages


@given(size=st.integers(min_value=0, max_value=1 << 40), shift=st.sampled_from([12, 14, 16]))
def test_page_align_is_the_next_page_multiple(size: int, shift: int) -> None:
    page_size = 1 << shift
    aligned = page_align(size, page_size)
    assert aligned % page_size == 0
    assert size <= aligned < size + page_size
    assert pages_for(size, page_size) * page_size == aligned


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("132K", 135168),
        ("132k", 135168),
        ("132KiB", 135168),
        ("132kib", 135168),
        ("132 KB", 135168),
        ("132 kb", 135168),
        ("4MiB", 4194304),
        ("4M", 4194304),
        ("4 mb", 4194304),
        ("5000", 5000),
        ("5000 B", 5000),
        ("5000b", 5000),
        ("1G", 1073741824),
        ("1 GiB", 1073741824),
        ("2T", 2199023255552),
        ("1.5K", 1536),
        ("0.5 MiB", 524288),
        ("  33K  ", 33792),
        ("0", 0),
        (4096, 4096),
        (0, 0),
    ],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("abc", "cannot parse size 'abc'"),
        ("", "cannot parse size ''"),
        ("K", "cannot parse size 'K'"),
        ("1.5.2", r"cannot parse size '1\.5\.2'"),
        ("12 parsecs", "cannot parse size '12 parsecs'"),
        ("1e3", "cannot parse size '1e3'"),
        ("4 iB", "cannot parse size '4 iB'"),
        ("-5", "size '-5' is negative"),
        ("-4K", "size '-4K' is negative"),
        ("1.3K", r"size '1\.3K' is not a whole number of bytes"),
        ("0.1", r"size '0\.1' is not a whole number of bytes"),
        (-5, "size must be >= 0, got -5"),
        (4.0, r"got 4\.0 \(float\)"),
        (True, r"got True \(bool\)"),
        (None, r"got None \(NoneType\)"),
    ],
)
def test_parse_size_errors_name_the_problem(text: object, fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        parse_size(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (5000, "5000 B"),
        (135168, "132 KiB"),
        (126976, "124 KiB"),
        (4194304, "4 MiB"),
        (1572864, "1.5 MiB"),
        (1049088, "1024.5 KiB"),
        (1048577, "1048577 B"),
        (3 * MIB, "3 MiB"),
        (1 << 30, "1 GiB"),
        (1 << 41, "2 TiB"),
    ],
)
def test_format_size(nbytes: int, text: str) -> None:
    assert format_size(nbytes) == text


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [(5000, "4.9 KiB"), (1048577, "1.0 MiB"), (1536, "1.5 KiB"), (100, "100 B")],
)
def test_format_size_rounded(nbytes: int, text: str) -> None:
    assert format_size(nbytes, exact=False) == text


@pytest.mark.parametrize("bad", [-1, 1.5, "1K", None, True])
def test_format_size_rejects_bad_values(bad: object) -> None:
    with pytest.raises(InvalidArgument, match="nbytes"):
        format_size(bad)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=1 << 45))
def test_parse_size_reads_back_format_size(nbytes: int) -> None:
    assert parse_size(format_size(nbytes)) == nbytes


@given(
    number=st.integers(min_value=0, max_value=10**6),
    unit=st.sampled_from(["", "b", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib"]),
    space=st.sampled_from(["", " "]),
    upper=st.booleans(),
)
def test_parse_size_units_are_binary(number: int, unit: str, space: str, upper: bool) -> None:
    multiplier = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit[:1]]
    text = f"{number}{space}{unit.upper() if upper else unit}"
    assert parse_size(text) == number * multiplier
