"""Tests for kit.core.procfs: buddyinfo/pagetypeinfo rendering, parsing and reading (§6.1, §6.2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit.core import procfs
from kit.core.errors import InvalidArgument, ProcFileUnavailable
from kit.core.procfs import (
    BuddyInfoZone,
    PageBlockCount,
    PageTypeFree,
    format_buddyinfo,
    parse_buddyinfo,
    parse_pagetypeinfo,
    read_buddyinfo,
    read_pagetypeinfo,
)
from kit.core.samples import sample_path

DATA = Path(__file__).parent / "data"
BUDDYINFO_SAMPLE = sample_path("buddyinfo")
PAGETYPEINFO_SAMPLE = sample_path("pagetypeinfo")

G6_LINE = (
    "Node 0, zone   Normal      1      1      1      1      1      0      1      1      1      1"
    "      0 "
)

# ---------------------------------------------------------------------------------------------
# format_buddyinfo


def test_format_buddyinfo_g6_line() -> None:
    assert format_buddyinfo([1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0]) == G6_LINE
    assert format_buddyinfo([1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0], 0, "Normal") == G6_LINE


@pytest.mark.parametrize(
    ("zone", "field"),
    [
        ("DMA", "     DMA"),
        ("DMA32", "   DMA32"),
        ("Normal", "  Normal"),
        ("HighMem", " HighMem"),
        ("Movable", " Movable"),
    ],
)
def test_format_buddyinfo_zone_field(zone: str, field: str) -> None:
    assert format_buddyinfo([3], 2, zone) == f"Node 2, zone {field}      3 "


def test_format_buddyinfo_wide_counts_widen_the_column() -> None:
    assert format_buddyinfo([1234567, 0]) == "Node 0, zone   Normal 1234567      0 "


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"nr_free": [1, -1]}, r"nr_free\[1\] must be >= 0, got -1"),
        ({"nr_free": [1.0]}, r"nr_free\[0\] must be an int"),
        ({"nr_free": "123"}, "nr_free must be a sequence"),
        ({"nr_free": [1], "node": -1}, "node must be >= 0, got -1"),
        ({"nr_free": [1], "zone": ""}, "zone must be a non-empty name"),
        ({"nr_free": [1], "zone": "Nor mal"}, "zone must be a non-empty name"),
    ],
)
def test_format_buddyinfo_validates(kwargs: dict, fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        format_buddyinfo(**kwargs)


# ---------------------------------------------------------------------------------------------
# parse_buddyinfo


def test_parse_buddyinfo_sample() -> None:
    zones = parse_buddyinfo(BUDDYINFO_SAMPLE.read_text())
    assert zones == [
        BuddyInfoZone(0, "DMA", [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 3]),
        BuddyInfoZone(0, "DMA32", [1, 1, 4, 2, 5, 4, 3, 3, 4, 2, 752]),
        BuddyInfoZone(0, "Normal", [88, 247, 165, 181, 336, 189, 108, 55, 42, 23, 50]),
    ]
    # DMA: 1 << 8 + 1 << 9 + 3 << 10 pages
    assert zones[0].free_pages == 256 + 512 + 3072


def test_buddyinfo_sample_round_trips_byte_for_byte() -> None:
    text = BUDDYINFO_SAMPLE.read_text()
    rendered = [format_buddyinfo(z.nr_free, z.node, z.zone) for z in parse_buddyinfo(text)]
    assert "\n".join(rendered) + "\n" == text


def test_parse_buddyinfo_tolerates_blank_lines_and_trailing_spaces() -> None:
    text = "\n" + G6_LINE.rstrip() + "   \n\n  \nNode 1, zone DMA 5 6\n\n"
    zones = parse_buddyinfo(text)
    assert zones == [
        BuddyInfoZone(0, "Normal", [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0]),
        BuddyInfoZone(1, "DMA", [5, 6]),
    ]
    assert format_buddyinfo(zones[0].nr_free, zones[0].node, zones[0].zone) == G6_LINE
    assert parse_buddyinfo("") == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (G6_LINE + "\nNode 0, zone Normal 1 x 3\n", r"line 2 .*'Node 0, zone Normal 1 x 3'"),
        ("hello\n", "line 1 .*'hello'"),
        ("\n\nNode 0, zone Normal\n", "line 3 .*'Node 0, zone Normal'"),
        ("Node 0 zone Normal 1 2\n", "line 1"),
        ("Node 0, zone Normal 1 -2\n", "line 1"),
    ],
)
def test_parse_buddyinfo_reports_the_bad_line(text: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        parse_buddyinfo(text)


def test_parse_buddyinfo_rejects_non_text() -> None:
    with pytest.raises(InvalidArgument, match="must be a str, got bytes"):
        parse_buddyinfo(b"Node 0, zone Normal 1")  # type: ignore[arg-type]


@given(
    nr_free=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=14),
    node=st.integers(min_value=0, max_value=1023),
    zone=st.sampled_from(["DMA", "DMA32", "Normal", "HighMem", "Movable", "Device"]),
)
def test_buddyinfo_round_trip(nr_free: list[int], node: int, zone: str) -> None:
    line = format_buddyinfo(nr_free, node, zone)
    assert line.endswith(" ") and "\n" not in line
    (parsed,) = parse_buddyinfo(line)
    assert parsed == BuddyInfoZone(node, zone, nr_free)
    assert format_buddyinfo(parsed.nr_free, parsed.node, parsed.zone) == line


# ---------------------------------------------------------------------------------------------
# parse_pagetypeinfo


def test_parse_pagetypeinfo_sample() -> None:
    info = parse_pagetypeinfo(PAGETYPEINFO_SAMPLE.read_text())
    assert info.pageblock_order == 9
    assert info.pages_per_block == 512
    assert len(info.free) == 15
    assert info.free[0] == PageTypeFree(
        0, "DMA", "Unmovable", [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], [False] * 11
    )
    assert info.free[12] == PageTypeFree(
        0, "Normal", "Reclaimable", [86, 39, 1, 0, 5, 7, 5, 1, 2, 0, 0], [False] * 11
    )
    assert [row.migratetype for row in info.free[:5]] == [
        "Unmovable",
        "Movable",
        "Reclaimable",
        "HighAtomic",
        "Isolate",
    ]
    assert info.blocks == [
        PageBlockCount(
            0,
            "DMA",
            {"Unmovable": 1, "Movable": 7, "Reclaimable": 0, "HighAtomic": 0, "Isolate": 0},
        ),
        PageBlockCount(
            0,
            "DMA32",
            {"Unmovable": 0, "Movable": 1528, "Reclaimable": 0, "HighAtomic": 0, "Isolate": 0},
        ),
        PageBlockCount(
            0,
            "Normal",
            {"Unmovable": 43, "Movable": 203, "Reclaimable": 10, "HighAtomic": 0, "Isolate": 0},
        ),
    ]
    assert info.mixed_blocks == []


def test_pagetypeinfo_sums_match_buddyinfo_sample() -> None:
    # Both samples come from the same machine at the same moment: summing the free table over
    # migratetypes must give the buddyinfo counts.
    info = parse_pagetypeinfo(PAGETYPEINFO_SAMPLE.read_text())
    zones = parse_buddyinfo(BUDDYINFO_SAMPLE.read_text())
    assert info.nr_free_by_zone() == {(z.node, z.zone): z.nr_free for z in zones}
    normal = [88, 247, 165, 181, 336, 189, 108, 55, 42, 23, 50]
    assert info.nr_free_by_zone()[(0, "Normal")] == normal


# Two nodes, a capped count, a CMA column and the optional "mixed blocks" table.
SYNTHETIC = (DATA / "pagetypeinfo-synthetic-2nodes.txt").read_text()


def test_parse_pagetypeinfo_caps_mixed_table_and_two_nodes() -> None:
    info = parse_pagetypeinfo(SYNTHETIC)
    assert (info.pageblock_order, info.pages_per_block) == (10, 1024)
    assert info.free[0] == PageTypeFree(
        0, "Normal", "Unmovable", [100000, 5, 0], [True, False, False]
    )
    assert info.free[1].capped == [False, True, False]
    assert info.free[2].migratetype == "CMA"
    assert info.blocks == [
        PageBlockCount(0, "Normal", {"Unmovable": 12, "Movable": 300, "CMA": 4}),
        PageBlockCount(1, "Movable", {"Unmovable": 0, "Movable": 64, "CMA": 0}),
    ]
    assert info.mixed_blocks == [
        PageBlockCount(0, "Normal", {"Unmovable": 3, "Movable": 1, "CMA": 0})
    ]
    assert info.nr_free_by_zone() == {
        (0, "Normal"): [100001, 100005, 9],
        (1, "Movable"): [9, 8, 7],
    }


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Free pages count per migrate type at order 0 1\n", "'Page block order:'.*missing"),
        ("", "'Page block order:'"),
        (
            "Page block order: 9\nPages per block:  512\nbogus line\n",
            "line 3 of pagetypeinfo.*'bogus line'",
        ),
        (
            "Page block order: 9\nPages per block:  512\n\n"
            "Free pages count per migrate type at order 0 1\n"
            "Node 0, zone Normal, type Movable 1 x\n",
            "line 5 of pagetypeinfo.*'Node 0, zone Normal, type Movable 1 x'",
        ),
        (
            "Page block order: 9\nPages per block:  512\n\n"
            "Number of blocks type Unmovable Movable\n"
            "Node 0, zone Normal 1 2 3\n",
            "line 5 of pagetypeinfo: expected 2 counts",
        ),
        (
            "Page block order: 9\nPages per block:  512\nPage block order: 10\n",
            "line 3 of pagetypeinfo: expected page block order 9 as before",
        ),
    ],
)
def test_parse_pagetypeinfo_errors(text: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        parse_pagetypeinfo(text)


# ---------------------------------------------------------------------------------------------
# read_buddyinfo / read_pagetypeinfo


def test_read_samples() -> None:
    assert read_buddyinfo(BUDDYINFO_SAMPLE) == parse_buddyinfo(BUDDYINFO_SAMPLE.read_text())
    assert read_buddyinfo(str(BUDDYINFO_SAMPLE))[2].zone == "Normal"
    info = read_pagetypeinfo(PAGETYPEINFO_SAMPLE)
    assert info.pages_per_block == 512


@pytest.mark.parametrize("reader", [read_buddyinfo, read_pagetypeinfo])
def test_read_missing_file(reader, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ProcFileUnavailable, match=r"nope does not exist.*not Linux.*container"):
        reader(missing)


@pytest.mark.parametrize("reader", [read_buddyinfo, read_pagetypeinfo])
def test_read_empty_file(reader, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ProcFileUnavailable, match=r"empty is empty"):
        reader(empty)


def test_read_directory(tmp_path: Path) -> None:
    with pytest.raises(ProcFileUnavailable, match="cannot be read"):
        read_buddyinfo(tmp_path)


def test_read_pagetypeinfo_permission_denied_says_root(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # Tests may run as root, where chmod cannot deny a read: simulate the kernel's 0400 mode.
    monkeypatch.setattr(procfs, "open", denied, raising=False)
    with pytest.raises(
        ProcFileUnavailable,
        match=r"/proc/pagetypeinfo cannot be read: permission denied.*5\.4.*root",
    ):
        read_pagetypeinfo()
    with pytest.raises(ProcFileUnavailable, match="/proc/buddyinfo cannot be read"):
        read_buddyinfo()


def test_read_reports_parse_errors_with_the_path(tmp_path: Path) -> None:
    bad = tmp_path / "buddyinfo"
    bad.write_text("Node 0, zone Normal 1 2\nnot buddyinfo\n")
    with pytest.raises(InvalidArgument, match=r"buddyinfo: line 2 .*'not buddyinfo'"):
        read_buddyinfo(bad)


@pytest.mark.skipif(not Path("/proc/buddyinfo").exists(), reason="needs Linux /proc")
def test_read_real_buddyinfo() -> None:
    zones = read_buddyinfo()
    assert zones, "a Linux machine has at least one populated zone"
    for zone in zones:
        assert zone.nr_free and all(count >= 0 for count in zone.nr_free)


def test_unknown_sample_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="no sample named 'meminfo'"):
        sample_path("meminfo")
