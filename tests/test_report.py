"""The lesson tables: numbers from the reference, layout as a terminal table."""

from kit import Zone
from kit.teaching import report


def rows(table):
    return [line.split() for line in table.splitlines()[2:]]


def test_order_table_shows_get_order_and_the_block():
    table = report.order_table(["0", 4097, "132K", "5MiB"])
    assert table.splitlines()[0].split() == ["request", "pages", "needed", "get_order",
                                             "alloc_pages", "block"]
    assert rows(table) == [
        ["0", "B", "0", "52", "fails", "(NULL)"],
        ["4,097", "B", "2", "1", "8", "KiB"],
        ["135,168", "B", "33", "6", "256", "KiB"],
        ["5,242,880", "B", "1280", "11", "fails", "(NULL)"],
    ]


def test_wastage_table_has_one_row_per_strategy():
    table = report.wastage_table(["132K"])
    assert rows(table) == [
        ["135,168", "B", "alloc_pages", "262,144", "126,976", "48.4", "%"],
        ["135,168", "B", "alloc_pages_exact", "135,168", "0", "0.0", "%"],
        ["135,168", "B", "kmalloc", "262,144", "126,976", "48.4", "%"],
    ]


def test_presets_table_names_max_order_per_kernel():
    table = report.presets_table()
    assert "MAX_ORDER = 11" in table.splitlines()[2]
    assert "MAX_PAGE_ORDER = 10" in table.splitlines()[-1]


def test_event_log_numbers_each_step():
    zone = Zone(4)
    zone.alloc_pages(0)
    log = report.event_log(zone.trace.operations[-1].events).splitlines()
    assert log[0] == "  1. take the order-2 block at pfn 0 from the head of free_area[2]"
    assert log[-1] == "  6. allocated the order-0 block at pfn 0"


def test_free_area_table_lists_heads_first_and_truncates():
    zone = Zone(1024)
    pages = [zone.alloc_pages(0) for _ in range(16)]
    for page in pages[::2]:
        zone.release(page)
    first = rows(report.free_area_table(zone, limit=3))[0]
    assert first == ["free_area[0]", "8", "14,", "12,", "10,", "..."]


def test_fragmentation_table_of_the_g7_state():
    zone = Zone(1024)
    zone.alloc_pages_exact(33 * 4096)
    last = rows(report.fragmentation_table(zone.nr_free()))[-1]
    assert last == ["10", "1.000", "0.782"]


def test_workload_comparison_is_seeded_and_exact_wastes_less():
    first = report.compare_workloads(1 << 12, seed=3, steps=200)
    assert first == report.compare_workloads(1 << 12, seed=3, steps=200)
    pages, exact = first
    assert (pages.strategy, exact.strategy) == ("alloc_pages", "alloc_pages_exact")
    assert exact.live_wasted < pages.live_wasted
    assert exact.live_wasted < 4096 * 200
    table = report.workload_table(first, orders=(2,))
    assert table.splitlines()[0].split()[-2:] == ["unusable", "o2"]
