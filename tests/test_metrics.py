"""Tests for kit.core.metrics: wastage (§5, G15, G16) and the debugfs extfrag indexes (§6.3, G7)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit.core.errors import InvalidArgument
from kit.core.metrics import (
    KMALLOC_SIZE_CLASSES,
    STRATEGIES,
    ContigPageInfo,
    Wastage,
    compare_wastage,
    format_extfrag_line,
    format_index,
    fragmentation_index,
    fragmentation_indexes,
    kmalloc_size,
    kmalloc_size_classes,
    unusable_index,
    unusable_indexes,
    wastage,
    wastage_curve,
)

KIB = 1024
MIB = 1024 * KIB

# ---------------------------------------------------------------------------------------------
# kmalloc


def test_kmalloc_size_classes_4k() -> None:
    expected = (8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192)
    assert KMALLOC_SIZE_CLASSES == expected
    assert kmalloc_size_classes(4096) == expected


def test_kmalloc_size_classes_64k_go_up_to_128k() -> None:
    assert kmalloc_size_classes(65536) == (
        8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536,
        131072,
    )  # fmt: skip


# G15 plus the §7 boundaries: (size, ksize) with 4 KiB pages and max order 10.
G15 = [
    (0, 0),  # ZERO_SIZE_PTR: nothing granted
    (1, 8),
    (8, 8),
    (9, 16),
    (64, 64),
    (65, 96),
    (96, 96),
    (97, 128),
    (100, 128),
    (128, 128),
    (129, 192),
    (150, 192),
    (192, 192),
    (193, 256),
    (1360, 2048),  # LKP slab1's struct myctx -> kmalloc-2k
    (4097, 8192),
    (8192, 8192),
    (8193, 16384),
    (20100, 32768),
    (60100, 65536),
    (140100, 262144),
    (200100, 262144),
    (260100, 262144),
    (4 * MIB, 4 * MIB),
    (4 * MIB + 1, None),
    (4200100, None),
]


@pytest.mark.parametrize(("size", "granted"), G15)
def test_kmalloc_size_g15(size: int, granted: int | None) -> None:
    assert kmalloc_size(size) == granted


@pytest.mark.parametrize(
    ("size", "waste", "percent"),
    [
        (100, 28, 28),
        (20100, 12668, 63),
        (60100, 5436, 9),
        (140100, 122044, 87),
        (200100, 62044, 31),
    ],
)
def test_kmalloc_waste_matches_lkp_data(size: int, waste: int, percent: int) -> None:
    # The LKP book's slab4 module prints (actual - requested) * 100 / requested, truncated.
    result = wastage(size, "kmalloc")
    assert result.wasted == waste
    assert int(result.percent_of_request) == percent
    assert not result.fails


def test_kmalloc_64k_pages() -> None:
    assert kmalloc_size(33792, page_size=65536) == 65536
    assert kmalloc_size(131072, page_size=65536) == 131072
    assert kmalloc_size(131073, page_size=65536) == 262144  # page allocator, order 2
    assert kmalloc_size(100, page_size=65536) == 128


def test_kmalloc_max_order_limits_large_requests() -> None:
    assert kmalloc_size(5 * MIB) is None
    assert kmalloc_size(5 * MIB, max_order=11) == 8 * MIB


@pytest.mark.parametrize(("bad", "fragment"), [(-1, "size must be >= 0"), (1.0, "float")])
def test_kmalloc_size_rejects_bad_sizes(bad: object, fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        kmalloc_size(bad)  # type: ignore[arg-type]


def test_kmalloc_size_rejects_bad_max_order() -> None:
    with pytest.raises(InvalidArgument, match="max_order must be >= 0, got -1"):
        kmalloc_size(100, max_order=-1)


# ---------------------------------------------------------------------------------------------
# Wastage: reference §5 table, literal numbers.
# (request, max_order, order, block, W_pa, % of request, % of block, PAGE_ALIGN, W_ex, returned)
SECTION5_FIELDS = "size,max_order,order,block,w_pa,pct_req,pct_block,aligned,w_ex,ret"
SECTION5 = [
    (4097, 10, 1, 8192, 4095, 99.95, 49.99, 8192, 4095, 0),
    (33792, 10, 4, 65536, 31744, 93.94, 48.44, 36864, 3072, 7),
    (135168, 10, 6, 262144, 126976, 93.94, 48.44, 135168, 0, 31),
    (200100, 10, 6, 262144, 62044, 31.01, 23.67, 200704, 604, 15),
    (263168, 10, 7, 524288, 261120, 99.22, 49.80, 266240, 3072, 63),
    (MIB + 1, 10, 9, 2 * MIB, 1048575, 100.00, 50.00, 1052672, 4095, 255),
    (2 * MIB + 4 * KIB, 10, 10, 4 * MIB, 2093056, 99.61, 49.90, 2101248, 0, 511),
    (5 * MIB, 11, 11, 8 * MIB, 3 * MIB, 60.00, 37.50, 5 * MIB, 0, 768),
]


@pytest.mark.parametrize(SECTION5_FIELDS, SECTION5)
def test_section5_alloc_pages(
    size, max_order, order, block, w_pa, pct_req, pct_block, aligned, w_ex, ret
) -> None:
    result = wastage(size, "alloc_pages", max_order=max_order)
    assert result == Wastage(
        strategy="alloc_pages",
        requested=size,
        granted=block,
        order=order,
        pages_granted=block // 4096,
        wasted=w_pa,
        percent_of_request=pytest.approx(pct_req, abs=0.005),
        percent_of_granted=pytest.approx(pct_block, abs=0.005),
        fails=False,
        pages_returned=0,
    )


@pytest.mark.parametrize(SECTION5_FIELDS, SECTION5)
def test_section5_alloc_pages_exact(
    size, max_order, order, block, w_pa, pct_req, pct_block, aligned, w_ex, ret
) -> None:
    result = wastage(size, "alloc_pages_exact", max_order=max_order)
    assert result.order == order
    assert result.granted == aligned
    assert result.pages_granted == aligned // 4096
    assert result.wasted == w_ex
    assert result.pages_returned == ret
    assert result.pages_granted + result.pages_returned == block // 4096
    assert not result.fails
    assert result.percent_of_request == pytest.approx(w_ex * 100 / size)


def test_section5_5mib_fails_with_default_max_order() -> None:
    # G10: on x86-64 (max order 10) Tabi's 5 MiB buffer cannot be allocated at all.
    for name in ("alloc_pages", "alloc_pages_exact", "kmalloc"):
        result = wastage(5 * MIB, name)
        assert result.fails
        assert result.order == 11
        assert (result.granted, result.pages_granted, result.wasted) == (0, 0, 0)
        assert result.pages_returned == 0
        assert result.percent_of_granted == 0.0


def test_g11_exactly_4mib_and_one_byte_more() -> None:
    assert wastage(4 * MIB, "alloc_pages_exact").pages_returned == 0
    assert wastage(4 * MIB, "alloc_pages_exact").granted == 4 * MIB
    assert wastage(4 * MIB + 1, "alloc_pages_exact").fails


def test_g8_page_exact_loop_waste() -> None:
    # 33 KiB: regular APIs waste 31744 bytes, the exact API 3072 (G8).
    assert wastage(33792, "alloc_pages").wasted == 31744
    assert wastage(33792, "alloc_pages_exact").wasted == 3072


def test_size_zero() -> None:
    # G9: get_order(0) is 52, so both page allocators fail; kmalloc(0) returns ZERO_SIZE_PTR.
    for name in ("alloc_pages", "alloc_pages_exact"):
        result = wastage(0, name)
        assert result.fails
        assert result.order == 52
        assert result.granted == 0
        assert result.percent_of_request == 0.0
    k = wastage(0, "kmalloc")
    assert not k.fails
    assert (k.granted, k.order, k.pages_granted, k.wasted) == (0, None, 0, 0)


def test_g16_64k_pages() -> None:
    regular = wastage(33792, "alloc_pages", page_size=65536)
    exact = wastage(33792, "alloc_pages_exact", page_size=65536)
    assert (regular.order, regular.granted, regular.wasted) == (0, 65536, 31744)
    assert (exact.order, exact.granted, exact.wasted, exact.pages_returned) == (0, 65536, 31744, 0)

    regular = wastage(135168, "alloc_pages", page_size=65536)
    exact = wastage(135168, "alloc_pages_exact", page_size=65536)
    assert (regular.order, regular.granted, regular.wasted, regular.pages_granted) == (
        2,
        262144,
        126976,
        4,
    )
    assert (exact.granted, exact.pages_granted, exact.pages_returned, exact.wasted) == (
        196608,
        3,
        1,
        61440,
    )


def test_kmalloc_wastage_slab_vs_page_allocator() -> None:
    slab = wastage(100, "kmalloc")
    assert (slab.granted, slab.order, slab.pages_granted, slab.wasted) == (128, None, 0, 28)
    assert slab.percent_of_granted == pytest.approx(21.875)
    large = wastage(8193, "kmalloc")
    assert (large.granted, large.order, large.pages_granted, large.wasted) == (16384, 2, 4, 8191)
    edge = wastage(8192, "kmalloc")
    assert (edge.granted, edge.order, edge.pages_granted) == (8192, None, 0)


def test_compare_wastage_has_every_strategy() -> None:
    result = compare_wastage(135168)
    assert list(result) == ["alloc_pages", "alloc_pages_exact", "kmalloc"]
    assert list(result) == list(STRATEGIES)
    assert result["alloc_pages"].wasted == 126976
    assert result["alloc_pages_exact"].wasted == 0
    assert result["kmalloc"].wasted == 126976
    with_big = compare_wastage(5 * MIB, 4096, 11)
    assert with_big["alloc_pages"].wasted == 3 * MIB


def test_wastage_rejects_unknown_strategy() -> None:
    with pytest.raises(InvalidArgument, match="unknown strategy 'vmalloc'.*alloc_pages_exact"):
        wastage(4096, "vmalloc")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"size": -4}, "size must be >= 0, got -4"),
        ({"size": 4.0}, "float"),
        ({"size": 4096, "page_size": 1000}, "page_size"),
        ({"size": 4096, "max_order": "10"}, "max_order must be an int"),
    ],
)
def test_wastage_validates_arguments(kwargs: dict, fragment: str) -> None:
    args = {"strategy": "alloc_pages", **kwargs}
    with pytest.raises(InvalidArgument, match=fragment):
        wastage(**args)


@given(
    size=st.integers(min_value=1, max_value=4 * MIB),
    name=st.sampled_from(["alloc_pages", "alloc_pages_exact"]),
)
def test_page_allocator_waste_bounds(size: int, name: str) -> None:
    result = wastage(size, name)
    assert not result.fails
    assert result.granted - result.requested == result.wasted >= 0
    if name == "alloc_pages_exact":
        assert result.wasted < 4096
    elif size > 4096:
        # Above one page, the buddy allocator never wastes half of the block or more (§5).
        assert result.wasted * 2 < result.granted


# ---------------------------------------------------------------------------------------------
# wastage_curve


def test_wastage_curve_literal_points() -> None:
    assert wastage_curve(4095, 4099, 1, "alloc_pages") == [
        (4095, 1),
        (4096, 0),
        (4097, 4095),
        (4098, 4094),
    ]
    assert wastage_curve(4095, 4099, 1, "alloc_pages_exact") == [
        (4095, 1),
        (4096, 0),
        (4097, 4095),
        (4098, 4094),
    ]
    assert wastage_curve(33792, 135169, 101376, "alloc_pages") == [(33792, 31744), (135168, 126976)]
    assert wastage_curve(33792, 135169, 101376, "alloc_pages_exact") == [(33792, 3072), (135168, 0)]
    assert wastage_curve(96, 101, 4, "kmalloc") == [(96, 0), (100, 28)]


def test_wastage_curve_omits_failures() -> None:
    # Size 0 fails for the page allocators, so the curve has no point there...
    assert wastage_curve(0, 3 * 4096, 4096, "alloc_pages") == [(4096, 0), (8192, 0)]
    # ...but kmalloc(0) succeeds (ZERO_SIZE_PTR) with nothing wasted.
    assert wastage_curve(0, 9, 8, "kmalloc") == [(0, 0), (8, 0)]
    # Past 4 MiB every allocation fails: the curve stops there.
    start = 4 * MIB - 4096
    assert wastage_curve(start, 4 * MIB + 3 * 4096, 4096, "alloc_pages") == [
        (start, 4096),
        (4 * MIB, 0),
    ]
    assert wastage_curve(4200100, 4400100, 20000, "kmalloc") == []


def test_wastage_curve_empty_and_errors() -> None:
    assert wastage_curve(100, 100, 1, "alloc_pages") == []
    with pytest.raises(InvalidArgument, match="step must be >= 1, got 0"):
        wastage_curve(0, 10, 0, "alloc_pages")
    with pytest.raises(InvalidArgument, match="unknown strategy 'slab'"):
        wastage_curve(0, 10, 1, "slab")
    with pytest.raises(InvalidArgument, match="start must be >= 0, got -1"):
        wastage_curve(-1, 10, 1, "kmalloc")


@given(
    start=st.integers(min_value=0, max_value=5 * MIB),
    step=st.integers(min_value=1, max_value=300_000),
    name=st.sampled_from(list(STRATEGIES)),
    shift=st.sampled_from([12, 16]),
)
def test_wastage_curve_agrees_with_wastage(start: int, step: int, name: str, shift: int) -> None:
    page_size = 1 << shift
    stop = start + 20 * step
    curve = dict(wastage_curve(start, stop, step, name, page_size))
    for size in range(start, stop, step):
        result = wastage(size, name, page_size)
        if result.fails:
            assert size not in curve
        else:
            assert curve[size] == result.wasted


def test_wastage_curve_is_fast_for_10k_points() -> None:
    for name in STRATEGIES:
        began = time.perf_counter()
        points = wastage_curve(1, 4 * MIB, 420, name)
        elapsed = time.perf_counter() - began
        assert len(points) == 9987
        assert elapsed < 0.5, f"{name}: {elapsed:.3f} s for 10k points"


# ---------------------------------------------------------------------------------------------
# Fragmentation indexes: G7 and §6.3


G6_STATE = [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0]
FRESH = [0] * 10 + [1]
ISOLATED_512 = [512] + [0] * 10
EMPTY = [0] * 11


def test_contig_page_info_g6_state() -> None:
    assert ContigPageInfo.from_nr_free(G6_STATE, 10) == ContigPageInfo(991, 9, 0)
    assert ContigPageInfo.from_nr_free(G6_STATE, 0) == ContigPageInfo(991, 9, 991)
    # order 4: one o4 block, no o5, and 4+8+16+32 chunks from the o6..o9 blocks.
    assert ContigPageInfo.from_nr_free(G6_STATE, 4) == ContigPageInfo(991, 9, 1 + 4 + 8 + 16 + 32)


@pytest.mark.parametrize(
    ("nr_free", "unusable", "extfrag"),
    [
        (
            G6_STATE,
            "0.000 0.001 0.003 0.007 0.015 0.031 0.031 0.095 0.225 0.483 1.000",
            "-1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 -1.000 0.782",
        ),
        (FRESH, " ".join(["0.000"] * 11), " ".join(["-1.000"] * 11)),
        (
            ISOLATED_512,
            "0.000 " + " ".join(["1.000"] * 10),
            "-1.000 0.499 0.749 0.874 0.936 0.967 0.983 0.991 0.995 0.997 0.998",
        ),
        (EMPTY, " ".join(["1.000"] * 11), " ".join(["0.000"] * 11)),
    ],
    ids=["g6-state", "fresh-zone", "512-isolated-pages", "empty-zone"],
)
def test_g7_indexes(nr_free: list[int], unusable: str, extfrag: str) -> None:
    assert [format_index(v) for v in unusable_indexes(nr_free)] == unusable.split()
    assert [format_index(v) for v in fragmentation_indexes(nr_free)] == extfrag.split()
    for order in range(11):
        assert format_index(unusable_index(nr_free, order)) == unusable.split()[order]
        assert format_index(fragmentation_index(nr_free, order)) == extfrag.split()[order]


def test_g7_order10_value_is_782() -> None:
    # 1000 - (1000 + 991000 // 1024) // 9 = 1000 - 218
    assert fragmentation_index(G6_STATE, 10) == 782


def test_single_small_block_gives_the_kernels_negative_index() -> None:
    # One free order-1 block, order-2 request: 1000 - (1000 + 2000 // 4) // 1 = -500.
    assert fragmentation_index([0, 1, 0], 2) == -500
    assert format_index(-500) == "0.-500"


@pytest.mark.parametrize(
    ("value", "text", "padded"),
    [
        (-1000, "-1.000", "-1.000"),
        (782, "0.782", " 0.782"),
        (1000, "1.000", " 1.000"),
        (0, "0.000", " 0.000"),
        (1, "0.001", " 0.001"),
        (999, "0.999", " 0.999"),
        (-5, "0.-05", " 0.-05"),
        (12345, "12.345", "12.345"),
    ],
)
def test_format_index_uses_c_division(value: int, text: str, padded: str) -> None:
    assert format_index(value) == text
    assert format_index(value, 2) == padded


def test_format_index_rejects_non_ints() -> None:
    with pytest.raises(InvalidArgument, match=r"index must be an int, got 0\.5"):
        format_index(0.5)  # type: ignore[arg-type]


def test_format_extfrag_line_unusable() -> None:
    line = format_extfrag_line(unusable_indexes(G6_STATE))
    assert line == (
        "Node 0, zone   Normal 0.000 0.001 0.003 0.007 0.015 0.031 0.031 0.095 0.225 0.483 1.000 "
    )


def test_format_extfrag_line_extfrag_layout_matches_kernel_example() -> None:
    # Example output of extfrag_index after the late-2021 alignment change (commit message of
    # "mm: vmstat.c: make extfrag_index show more pretty", 2021); each value ends with a space.
    values = [-1000] * 4 + [931, 966, 983, 992, 996, 998, 999]
    expected = (
        "Node 0, zone   Normal -1.000 -1.000 -1.000 -1.000  0.931  0.966  0.983  0.992  0.996 "
        " 0.998  0.999 "
    )
    assert format_extfrag_line(values, 0, "Normal", index="extfrag") == expected
    old = format_extfrag_line(values, 0, "Normal")
    assert old == (
        "Node 0, zone   Normal -1.000 -1.000 -1.000 -1.000 0.931 0.966 0.983 0.992 0.996 0.998 "
        "0.999 "
    )


def test_format_extfrag_line_zone_names_and_errors() -> None:
    assert format_extfrag_line([1000], 1, "DMA32") == "Node 1, zone    DMA32 1.000 "
    with pytest.raises(InvalidArgument, match="index must be 'unusable' or 'extfrag'"):
        format_extfrag_line([0], index="frag")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="zone must be a non-empty str"):
        format_extfrag_line([0], zone="")
    with pytest.raises(InvalidArgument, match="node must be >= 0"):
        format_extfrag_line([0], node=-1)


@pytest.mark.parametrize(
    ("nr_free", "order", "fragment"),
    [
        ([1, 2], 2, "order 2 is out of range: nr_free has counts for orders 0..1"),
        ([1, 2], -1, "order must be >= 0, got -1"),
        ([1, -2], 0, r"nr_free\[1\] must be >= 0, got -2"),
        ([1, 2.0], 0, r"nr_free\[1\] must be an int"),
        ("12", 0, "nr_free must be a sequence"),
    ],
)
def test_index_functions_validate(nr_free, order, fragment: str) -> None:
    for func in (unusable_index, fragmentation_index):
        with pytest.raises(InvalidArgument, match=fragment):
            func(nr_free, order)


@given(st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=12))
def test_index_ranges(nr_free: list[int]) -> None:
    for order, (u, f) in enumerate(
        zip(unusable_indexes(nr_free), fragmentation_indexes(nr_free), strict=True)
    ):
        assert 0 <= u <= 1000
        info = ContigPageInfo.from_nr_free(nr_free, order)
        if info.free_blocks_suitable:
            assert f == -1000
        elif sum(nr_free) >= 2:
            assert 0 <= f <= 1000
        else:
            assert -500 <= f <= 1000
