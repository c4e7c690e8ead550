"""Parsing /proc/zoneinfo and /proc/vmstat (kit.core.zoneinfo, kit.core.vmstat).

The fixtures are the files of a Linux 6.18 x86-64 machine with 23.5 GiB and 2 CPUs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.core.errors import InvalidArgument, ProcFileUnavailable
from kit.core.vmstat import parse_vmstat, read_vmstat, vmstat_delta
from kit.core.zoneinfo import PageSet, parse_zoneinfo, read_zoneinfo

DATA = Path(__file__).parent / "data" / "kerneltrace"
ZONEINFO = DATA / "zoneinfo-6.18.txt"
VMSTAT = DATA / "vmstat-6.18.txt"


def test_zoneinfo_zones_watermarks_and_spans() -> None:
    zones = read_zoneinfo(ZONEINFO)
    assert [z.zone for z in zones] == ["DMA", "DMA32", "Normal", "Movable", "Device"]
    normal = zones[2]
    assert (normal.free, normal.min, normal.low, normal.high, normal.boost, normal.promo) == (
        731032, 12329, 15411, 18493, 0, 21575,
    )
    assert (normal.spanned, normal.managed, normal.start_pfn) == (5505024, 2097152, 1048576)
    assert normal.end_pfn == 1048576 + 5505024
    assert normal.contains(0x1DF236) and not normal.contains(4096)
    assert zones[1].contains(4096) and zones[0].protection == [0, 3018, 11210, 11210, 11210]
    assert normal.counters["nr_free_pages"] == 731032
    assert zones[0].node_counters["nr_kernel_stack"] > 0 and not normal.node_counters
    assert zones[3].start_pfn is None and zones[3].pagesets == []


def test_zoneinfo_pagesets() -> None:
    normal = read_zoneinfo(ZONEINFO)[2]
    assert [p.cpu for p in normal.pagesets] == [0, 1]
    assert normal.pagesets[1] == PageSet(1, 4641, 12326, 63, 7705, 131072, 32)
    assert normal.pcp_pages == sum(p.count for p in normal.pagesets) > 0


def test_zoneinfo_before_6_7_has_no_high_min() -> None:
    text = "\n".join(
        line for line in ZONEINFO.read_text().splitlines()
        if "high_min" not in line and "high_max" not in line and "promo" not in line
    )
    normal = parse_zoneinfo(text)[2]
    assert normal.pagesets[0].high_min is None and normal.promo is None
    assert normal.pagesets[0].batch == 63


def test_zoneinfo_bad_lines_name_their_number() -> None:
    lines = ZONEINFO.read_text().splitlines()
    lines[150] = "        high watermark is 5"
    with pytest.raises(InvalidArgument, match=r"line 151 of zoneinfo.*high watermark"):
        parse_zoneinfo("\n".join(lines))
    with pytest.raises(InvalidArgument, match="line 1 of zoneinfo comes before"):
        parse_zoneinfo("  pages free 5\n")
    with pytest.raises(InvalidArgument, match="must be a str"):
        parse_zoneinfo(b"Node 0, zone DMA")  # type: ignore[arg-type]


def test_vmstat_parse_and_delta() -> None:
    before = read_vmstat(VMSTAT)
    assert before["pgfree"] == 16018807 and before["nr_free_pages"] == 1507720
    after = dict(before, pgfree=before["pgfree"] + 100, pgalloc_normal=before["pgalloc_normal"]
                 + 90, nr_free_pages=5)
    delta = vmstat_delta(before, after)
    assert delta["pgfree"] == 100 and delta["pgalloc_normal"] == 90
    assert "nr_free_pages" not in delta and delta["compact_stall"] == 0
    assert vmstat_delta(before, after, ("nr_free",))["nr_free_pages"] == 5 - 1507720


def test_vmstat_bad_line_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"line 2 of vmstat: expected 'name value'"):
        parse_vmstat("pgfree 1\npgalloc_normal lots\n")
    with pytest.raises(ProcFileUnavailable, match="does not exist"):
        read_vmstat(tmp_path / "vmstat")


@pytest.mark.skipif(not Path("/proc/zoneinfo").exists(), reason="no /proc/zoneinfo (not Linux)")
def test_this_machines_files_parse() -> None:
    assert any(zone.managed > 0 for zone in read_zoneinfo())
    assert "pgfree" in read_vmstat()


@pytest.mark.parametrize(
    ("free", "boost", "level"),
    [(20000, 0, "above high"), (18493, 0, "above high"), (18492, 0, "low to high"),
     (15411, 0, "low to high"), (15410, 0, "min to low"), (12328, 0, "below min"),
     (20000, 2000, "low to high")],
)
def test_watermark_level(free: int, boost: int, level: str) -> None:
    normal = read_zoneinfo(ZONEINFO)[2]
    normal.free, normal.boost = free, boost
    assert normal.watermark_level == level
    assert read_zoneinfo(ZONEINFO)[4].watermark_level == "unmanaged"
