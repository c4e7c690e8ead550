"""Python-side tests of kit.widgets: drive the inputs as a student would, check numbers and marks.

The browser is not involved here (see tests/browser/ for that): a widget's state on the Python
side is what JupyterLab receives, so the numbers and the bqplot mark data are checked directly.
"""

from __future__ import annotations

import asyncio
import threading

import ipywidgets as widgets
import numpy as np
import pytest

import kit
import kit.core.procfs
import kit.teaching.predict
import kit.teaching.scenarios
import kit.widgets._base
from kit.core.samples import sample_path
from kit.widgets import (
    ExactAllocationAnimator,
    FreeAreaChart,
    LiveBuddyInfo,
    MemoryMap,
    OrderExplorer,
    Playground,
    Practice,
    Predict,
    TracePlayer,
    WastageCurve,
)
from kit.widgets.free_area import nice_ticks
from kit.widgets.memory_map import outline_boxes
from kit.widgets.playground import LOG_STEPS

ALL = [OrderExplorer, WastageCurve, FreeAreaChart, MemoryMap, Playground, TracePlayer,
       ExactAllocationAnimator, LiveBuddyInfo, Predict, Practice]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
@pytest.mark.parametrize("make", [lambda cls: cls(), lambda cls: cls(kit.Zone(512)),
                                  lambda cls: cls(presenter=True)],
                         ids=["default", "zone", "presenter"])
def test_every_widget_builds_and_is_displayable(cls, make):
    widget = make(cls)
    assert isinstance(widget, widgets.Box)
    assert "application/vnd.jupyter.widget-view+json" in widget._repr_mimebundle_()
    widget.close()


def test_presenter_uses_large_fonts():
    normal, big = OrderExplorer(), OrderExplorer(presenter=True)
    assert big.figure.title_style["font-size"] > normal.figure.title_style["font-size"]
    assert "font-size:24px" in big.summary.value
    assert big.text.style.font_size == "24px"


def test_order_explorer_bytes_axis_has_round_ticks_above_the_tallest_bar():
    """bqplot's default ticks stacked their labels in the presenter's large type (lesson 4's
    'Bytes granted' chart at 1280x720): a few round ticks, the last above the tallest bar."""
    explorer = OrderExplorer(presenter=True, compact=True)
    explorer.set_size(132 * 1024)
    ticks = list(explorer.figure.axes[1].tick_values)
    assert ticks == [0, 100_000, 200_000, 300_000]
    assert explorer.bars.scales["y"].max == ticks[-1] >= explorer.bars.y.sum(axis=0).max()


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_presenter_widgets_carry_their_stylesheet(cls):
    """Radio buttons and checkboxes have no font size in ipywidgets: CSS scoped to the
    widget's class makes every control of the presenter theme at least 24 px."""
    big, normal = cls(presenter=True), cls(presenter=False)
    assert "kit-presenter" in big._dom_classes
    assert "kit-presenter" not in normal._dom_classes
    sheets = [c.value for c in big.children if isinstance(c, widgets.HTML) and "<style>" in c.value]
    assert len(sheets) == 1 and "font-size: 24px" in sheets[0]
    assert not any(isinstance(c, widgets.HTML) and "<style>" in c.value for c in normal.children)


def test_presenter_follows_kit_presenter_environment(monkeypatch):
    monkeypatch.setenv("KIT_PRESENTER", "1")
    assert FreeAreaChart().theme.presenter
    assert not FreeAreaChart(presenter=False).theme.presenter


# ------------------------------------------------------------------------------ order explorer
def test_order_explorer_132k():
    explorer = OrderExplorer()
    explorer.text.value = "132K"
    results = explorer.results
    assert explorer.size == 135168 and explorer.slider.value == 135168
    assert results["alloc_pages"].order == 6
    assert (results["alloc_pages"].granted, results["alloc_pages"].wasted) == (262144, 126976)
    assert (results["alloc_pages_exact"].granted, results["alloc_pages_exact"].wasted) == (
        135168, 0)
    assert results["kmalloc"].granted == 262144
    assert list(explorer.bars.x) == ["alloc_pages", "alloc_pages_exact", "kmalloc"]
    np.testing.assert_array_equal(explorer.bars.y, [[135168] * 3, [126976, 0, 126976]])
    assert "get_order = 6" in explorer.summary.value
    assert "132 KiB (135168 bytes) with" in explorer.summary.value


def test_waste_percent_is_one_definition_the_share_of_what_was_granted():
    """The explorer's table and the curve (lessons 1 and 4) give the same figure for 132K:
    124 KiB of a 256 KiB block, 48.4 %, never 93.9 % (of the request) in one of them; and
    5000 B with 64 KiB pages is 92.4 %, not 1210.7 %."""
    explorer = OrderExplorer(size="132K")
    assert "waste, % of granted" in explorer.table.value
    assert "<td>48.4</td>" in explorer.table.value and "93.9" not in explorer.table.value
    curve = WastageCurve(explorer=explorer, percent=True)
    assert curve.marker_values()[0] == pytest.approx(48.4375)
    explorer.page_size_choice.value = 65536
    explorer.text.value = "5000"
    assert "<td>92.4</td>" in explorer.table.value and "1210.7" not in explorer.table.value


def test_order_explorer_summary_reads_well_for_one_page_and_odd_sizes():
    one = OrderExplorer(kit.Zone(64, page_size=64 * 1024), size="33K")
    assert "a block of 1 page (64 KiB)" in one.summary.value
    assert "4097 B with 4 KiB pages" in OrderExplorer(size="4097").summary.value  # once


@pytest.mark.parametrize("text, size", [("4MiB", 4 << 20), ("5000", 5000), (" 132 KiB", 135168)])
def test_order_explorer_parses_sizes(text, size):
    explorer = OrderExplorer()
    explorer.text.value = text
    assert explorer.size == size and explorer.error.value == ""


def test_order_explorer_slider_moves_everything():
    explorer = OrderExplorer()
    explorer.slider.value = 5000
    assert explorer.size == 5000 and explorer.text.value == "5000"
    np.testing.assert_array_equal(explorer.bars.y[1], [3192, 3192, 3192])


def test_order_explorer_bad_input_shows_message_not_traceback():
    explorer = OrderExplorer()
    explorer.text.value = "12 parsecs"
    assert "cannot parse size" in explorer.error.value
    assert explorer.size == 135168  # unchanged
    explorer.text.value = "8K"
    assert explorer.error.value == ""


def test_order_explorer_above_largest_order_fails_like_the_kernel():
    explorer = OrderExplorer()
    explorer.text.value = "5M"
    assert all(w.fails for w in explorer.results.values())
    assert "would all fail" in explorer.summary.value and "NULL" in explorer.summary.value
    np.testing.assert_array_equal(explorer.bars.y, np.zeros((2, 3)))


def test_order_explorer_page_size_choice():
    explorer = OrderExplorer()
    explorer.page_size_choice.value = 65536
    assert explorer.page_size == 65536
    assert explorer.results["alloc_pages"].order == 2  # 132 KiB in 64 KiB pages: 4 pages
    assert explorer.results["alloc_pages_exact"].granted == 196608


def test_order_explorer_page_size_change_keeps_a_large_size():
    explorer = OrderExplorer()
    explorer.page_size_choice.value = 65536
    explorer.text.value = "32M"
    explorer.page_size_choice.value = 4096  # the slider now ends at 8 MiB
    assert explorer.size == 32 << 20 and explorer.results["alloc_pages"].fails


def test_order_explorer_uses_zone_page_size():
    explorer = OrderExplorer(kit.Zone(64, page_size=16384))
    assert explorer.page_size == 16384 and explorer.page_size_choice.value == 16384


# ------------------------------------------------------------------------------ wastage curve
def test_wastage_curve_lines_and_linked_marker():
    explorer = OrderExplorer()
    curve = WastageCurve(explorer=explorer, start="1", stop="64K")
    assert len(curve.curves) == 3
    assert len({(c.line_style, c.stroke_width) for c in curve.curves}) == 3  # told apart
    assert all(name in curve.legend.value for name in kit.core.metrics.STRATEGIES)
    assert not curve.figure.marks[0].display_legend  # the legend is outside the plot
    sizes = curve.curves[0].x
    assert sizes[0] == 1 and sizes[-1] <= 65536
    exact = curve.curves[1].y
    assert exact.max() < 4096  # alloc_pages_exact wastes less than one page
    explorer.text.value = "5000"
    assert list(curve.marker.x) == [5000] * 3
    assert list(curve.marker.y) == [3192, 3192, 3192]
    curve.percent.value = True
    assert curve.marker.y[0] == pytest.approx(3192 * 100 / 8192)  # of the 8 KiB granted
    assert max(c.y.max() for c in curve.curves) < 100  # a share of what was granted
    assert curve.y_axis.label == "waste (% of granted)"


def test_wastage_curve_log_scale_and_bad_range():
    curve = WastageCurve()
    curve.log_scale.value = True
    assert all(c.scales["x"] is curve.x_log for c in curve.curves)
    assert curve.x_axis.scale is curve.x_log
    curve.stop_text.value = "0"
    assert "range must grow" in curve.error.value
    curve.stop_text.value = "2M"
    assert curve.error.value == ""


def test_wastage_curve_stops_where_allocation_fails():
    curve = WastageCurve(start="1M", stop="8M")
    assert curve.curves[0].x.max() <= 4 << 20  # alloc_pages fails above 4 MiB


# ------------------------------------------------------------------------------ free-area chart
def test_free_area_chart_follows_the_zone():
    zone = kit.Zone(1024)
    chart = FreeAreaChart(zone)
    np.testing.assert_array_equal(chart.bars.y, [0] * 10 + [1])
    zone.alloc_pages(0)
    np.testing.assert_array_equal(chart.bars.y, [1] * 10 + [0])
    assert all(f">{count}</td>" in chart.buddyinfo.value for count in zone.nr_free())
    chart.close()
    zone.alloc_pages(0)
    np.testing.assert_array_equal(chart.bars.y, [1] * 10 + [0])  # no longer listening


def test_free_area_chart_redraws_once_per_hold():
    zone = kit.Zone(1024)
    chart = FreeAreaChart(zone)
    draws = []
    chart.bars.observe(lambda change: draws.append(1), "y")
    with chart.hold():
        zone.alloc_pages(0)
        zone.alloc_pages(3)
    assert len(draws) == 1


def test_free_area_chart_replays_the_changes_since_it_was_made():
    zone = kit.Zone(64)
    zone.alloc_pages(5)  # before the chart: not replayed
    chart = FreeAreaChart(zone)
    page = zone.alloc_pages(0)
    addr = zone.alloc_pages_exact(3 * 4096)
    zone.release(page)
    live = list(chart.bars.y)
    chart.replay()
    assert [what for what, _ in chart.frames] == ["start"] + [
        op.to_text() for op in zone.trace.operations[1:]]
    assert chart.player.playing and chart.player.max == 3 and chart.player.value == 0
    np.testing.assert_array_equal(chart.bars.y, [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    assert "before the 3 operations" in chart.caption.value
    chart.player.value = 1  # the browser's timer ticks: one operation per frame
    np.testing.assert_array_equal(chart.bars.y, [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    assert "after 1/3: mm_page_alloc: pfn=0x20 order=0" in chart.caption.value
    chart.player.value = 3
    np.testing.assert_array_equal(chart.bars.y, live)  # it ends on the live counts
    chart.mark()  # from now on
    zone.free_pages_exact(addr, 3 * 4096)
    assert not chart.player.playing and chart.caption.value == ""  # live again
    chart.replay_button.click()
    assert len(chart.frames) == 2 and chart.frames[1][1] == tuple(zone.nr_free())
    chart.mark()
    chart.replay()
    assert not chart.player.playing and "nothing to replay yet" in chart.caption.value
    chart.close()


def test_free_area_chart_replays_from_a_given_operation_and_without_a_trace():
    zone = kit.Zone(64)
    zone.alloc_pages_exact(33 * 4096)
    chart = FreeAreaChart(zone, since=0)  # made after the call, replays it all the same
    chart.replay()
    assert chart.frames[0][1] == (0,) * 6 + (1,) + (0,) * 4
    assert chart.frames[-1][1] == tuple(zone.nr_free())
    quiet = FreeAreaChart(kit.Zone(64, record=False))
    quiet.replay()  # Predict calls replay() on reveal: a message, not an error
    assert "keeps no trace" in quiet.caption.value and quiet.frames == []
    np.testing.assert_array_equal(quiet.bars.y, kit.Zone(64).nr_free())


def test_free_area_chart_pages_view_and_log_scale():
    zone = kit.Zone(1 << 16)
    chart = FreeAreaChart(zone)
    zone.alloc_pages(0)  # one free block of each order 0..9, 63 of order 10
    np.testing.assert_array_equal(chart.values, [1] * 10 + [63])
    chart.unit.value = "pages"
    np.testing.assert_array_equal(chart.values, [2 ** o for o in range(10)] + [63 * 1024])
    assert chart.figure.axes[1].label == "free pages"
    assert "nr_free:" not in chart.figure.title and "free pages" in chart.figure.title
    chart.log_scale.value = True
    assert chart.bars.scales["y"] is chart.y_log and chart.figure.axes[1].scale is chart.y_log
    np.testing.assert_array_equal(chart.figure.axes[1].tick_values, 10.0 ** np.arange(6))
    zone.alloc_pages(0)  # still drawn in pages, on the log scale
    assert chart.values[0] == 0 and chart.bars.y[0] > 0  # an empty order sits on the floor
    chart.log_scale.value = False
    assert chart.bars.scales["y"] is chart.y_linear


@pytest.mark.parametrize(("top", "ticks"), [
    (1017, [0, 500, 1000, 1500]), (339 * 3, [0, 500, 1000, 1500]), (7, [0, 2, 4, 6, 8]),
    (1, [0, 1]), (0, [0, 1]), (64512, [0, 20000, 40000, 60000, 80000])])
def test_free_area_ticks_are_round_numbers(top, ticks):
    np.testing.assert_array_equal(nice_ticks(top), ticks)


def test_a_log_axis_has_more_than_one_tick():
    chart = FreeAreaChart(kit.Zone(64))  # one free block: the largest count is 1
    assert chart.figure.title.startswith("free_area[order].nr_free")
    chart.log_scale.value = True
    np.testing.assert_array_equal(chart.figure.axes[1].tick_values, [1, 10])


# ---------------------------------------------------------------------------------- memory map
def test_memory_map_page_states():
    zone = kit.Zone(64)
    memory = MemoryMap(zone)
    assert (memory.rows, memory.columns, memory.pages_per_cell) == (8, 8, 1)
    assert (memory.states == 6).all()  # one free order-6 block
    addr = zone.alloc_pages_exact(33 * 4096)
    flat = memory.states.reshape(-1)
    assert (flat[:33] == memory.EXACT).all()
    assert (flat[33:] == memory.TRIMMED).all()
    assert "owner: the exact allocation at pfn 0" in memory.describe_cell(0, 5)
    assert memory.describe_cell(4, 1).startswith("pfn 33: tail given back")
    zone.free_pages_exact(addr, 33 * 4096)
    assert (memory.states == 6).all()
    page = zone.alloc_pages(2)
    assert (memory.states.reshape(-1)[:4] == memory.ALLOCATED).all()
    assert memory.states.reshape(-1)[4] == 2  # the free order-2 buddy
    zone.release(page)


def test_memory_map_outlines_every_block():
    zone = kit.Zone(64)
    memory = MemoryMap(zone)
    zone.alloc_pages(0)
    blocks = len(list(zone.free_blocks())) + len(list(zone.allocations()))
    xs, ys = outline_boxes(memory.outlines)
    assert xs.shape == (blocks, 5)
    # the allocated page at pfn 0 is outlined by the unit square at the top left
    boxes = {tuple(x) + tuple(y) for x, y in zip(xs, ys, strict=True)}
    assert (0, 1, 1, 0, 0, 0, 0, 1, 1, 0) in boxes


def test_memory_map_click_describes_the_cell():
    zone = kit.Zone(64)
    memory = MemoryMap(zone)
    memory.grid.selected = np.array([[0, 3]])
    assert "pfn 3: free, order 6; free order-6 block at pfn 0" in memory.info.value


def test_memory_map_tooltip_on_hover():
    zone = kit.Zone(128)
    memory = MemoryMap(zone)
    zone.alloc_pages_exact(33 * 4096)
    # what bqplot sends when the pointer enters the (invisible) square over cell 5
    memory.hover._handle_custom_msgs(None, {"event": "hover", "data": {"index": 5}})
    assert "pfn 5: allocated (exact, kept)" in memory.cell_tooltip.value
    assert "owner: the exact allocation at pfn 0" in memory.cell_tooltip.value
    memory.hover._handle_custom_msgs(None, {"event": "element_click", "data": {"index": 40}})
    assert "pfn 40: tail given back" in memory.info.value


def test_redraws_are_coalesced_inside_a_running_kernel_loop(monkeypatch):
    """In a kernel (an asyncio loop runs), a whole cell of calls is drawn once, afterwards."""
    monkeypatch.setattr(kit.widgets._base, "_in_kernel", lambda: True)
    zone = kit.Zone(1024)
    chart = FreeAreaChart(zone)
    draws, during_cell = [], []
    chart.bars.observe(lambda change: draws.append(1), "y")

    async def cell():
        for _ in range(5):
            zone.alloc_pages(0)
        during_cell.append(len(draws))  # nothing yet: the cell is still running
        await asyncio.sleep(0)

    # a thread of its own, so that no other event loop of the test session is in the way
    thread = threading.Thread(target=asyncio.run, args=(cell(),))
    thread.start()
    thread.join()
    assert during_cell == [0] and len(draws) == 1
    np.testing.assert_array_equal(chart.bars.y, [1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0])


def test_a_playing_player_draws_at_most_once_per_frame(monkeypatch):
    """Ticks faster than a frame (a slow kernel catching up) are drawn once, the latest."""
    monkeypatch.setattr(kit.widgets._base, "_in_kernel", lambda: True)
    player = TracePlayer()
    drawn: list[int] = []
    player.caption_html.observe(lambda change: drawn.append(player.step), "value")

    async def ticks():
        for step in range(1, 11):  # ten ticks arriving at once
            player.show(step)
            await asyncio.sleep(0)
        await asyncio.sleep(3 * kit.widgets._base.FRAME)

    thread = threading.Thread(target=asyncio.run, args=(ticks(),))
    thread.start()
    thread.join()
    assert drawn[-1] == 10 and player.step == 10
    assert len(drawn) <= 3, drawn  # the load's first draw, then at most one per frame


def test_a_replay_longer_than_ten_seconds_starts_paused_and_says_how_long():
    """Lesson 3's 22-step trace plays on reveal; lesson 5's exact allocation (90 steps, 36 s at
    the default speed) and lesson 6's workload (390 steps) wait for "play"."""
    short = TracePlayer(scenario=kit.teaching.scenarios.record_scenario(
        "one page: split down, merge back up"))
    short.replay()
    assert short.play.playing and short.seconds <= 10
    animator = ExactAllocationAnimator(size=132 * 1024)
    animator.player.show(5)
    animator.replay()
    player = animator.player
    assert not player.play.playing and player.play.value == 0 and player.slider.value == 0
    assert "about 36 s at 400 ms per step; press play" in player.caption
    assert player.speed.description == "ms per step" and "speed" in player.speed.tooltip
    player.speed.value = 100  # 9 s: short enough to play by itself
    animator.replay()
    assert player.play.playing
    long = TracePlayer(scenario=kit.teaching.scenarios.workload_scenario(
        512, seed=5, steps=30, sizes="mixed", lifetimes="long", exact=True))
    long.replay()
    assert not long.play.playing and long.seconds > 150


def test_memory_map_aggregates_large_zones():
    zone = kit.Zone(1 << 20, record=False)
    memory = MemoryMap(zone)
    assert memory.pages_per_cell == 256 and memory.rows * memory.columns == 4096
    with memory.hold():
        kit.run_workload(zone, seed=1, steps=300)
    free = sum(1 << order for _, order in zone.free_blocks())
    assert memory.free_fraction.sum() * 256 == pytest.approx(free)
    assert "free" in memory.describe_cell(0, 0)
    assert memory.grid.color.size == 4096


def test_memory_map_legend_names_every_colour():
    memory = MemoryMap(kit.Zone(1024))
    for color in memory.palette:
        assert f"background:{color}" in memory.legend.value, color
    for name in memory.state_names[memory.max_order + 1:]:
        assert name in memory.legend.value


def test_memory_map_unaligned_zone_and_padding():
    zone = kit.Zone(100, start_pfn=3)
    memory = MemoryMap(zone)
    flat = memory.states.reshape(-1)
    assert (memory.rows, memory.columns) == (7, 16)  # 100 cells, padded to 112
    assert (flat[100:] == memory.OUTSIDE).all()
    assert memory.describe_cell(0, 0).startswith("pfn 3: free, order 0")


# ---------------------------------------------------------------------------------- playground
def test_playground_buttons():
    zone = kit.Zone(1024)
    play = Playground(zone)
    play.order.value = 3
    play.alloc_button.click()
    assert play.history[0].title == "alloc_pages(3) -> pfn 0"
    assert any("expand: halve" in line for line in play.history[0].step_lines())
    np.testing.assert_array_equal(play.chart.bars.y, [0, 0, 0] + [1] * 7 + [0])
    play.size.value = "132K"
    play.exact_button.click()
    labels = [label for label, _ in play.allocation.options]
    assert labels == ["alloc_pages order 3 at pfn 0",
                      "alloc_pages_exact 33 pages (132 KiB) at pfn 64"]
    assert play.allocation.value == ("exact", 64, 33)
    play.free_button.click()
    assert play.history[0].title == "free_pages_exact(pfn 64, 135168)"
    assert play.history[0].events[-1].describe().startswith("put the order-6 block at pfn 64")
    # newest call first, unfolded; the earlier ones folded under their call
    assert [entry.title for entry in play.history[1:]] == [
        "alloc_pages_exact(135168) -> pfn 64", "alloc_pages(3) -> pfn 0"]
    shown = play.event_log.value
    assert shown.index("free_pages_exact(pfn 64") < shown.index("alloc_pages_exact(135168)")
    assert shown.count("<details open") == 1
    play.free_button.click()
    assert play.allocation.options == ()
    np.testing.assert_array_equal(play.chart.bars.y, [0] * 10 + [1])
    assert (play.map.states == 10).all()


def test_playground_map_has_at_most_1024_cells_for_quick_clicks():
    play = Playground(kit.Zone(1 << 16))
    assert play.map.cells == 1024 and play.map.pages_per_cell == 64
    assert Playground(kit.Zone(1024)).map.pages_per_cell == 1  # small zones: a cell per page
    assert MemoryMap(kit.Zone(1 << 16)).cells == 4096  # a map of its own keeps more detail


def test_playground_follows_calls_made_elsewhere():
    zone = kit.Zone(256)
    play = Playground(zone)
    page = zone.alloc_pages(2)  # from another cell
    assert play.allocation.value == ("pages", page.pfn, 2)
    np.testing.assert_array_equal(play.chart.bars.y, [0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0])
    play.close()
    zone.alloc_pages(0)
    assert len(play.allocation.options) == 1  # closed: no longer listening


def test_playground_errors_are_messages():
    play = Playground()
    play.size.value = "lots"
    play.exact_button.click()
    assert "cannot parse size" in play.error.value
    play.free_button.click()
    assert "nothing to free" in play.error.value
    play.order.value = 0
    play.alloc_button.click()
    assert play.error.value == ""


def test_playground_seeded_workload_and_reset_are_deterministic():
    first, second = Playground(), Playground()
    for play in (first, second):
        play.seed.value = 7
        play.steps.value = 80
        play.random_button.click()
    assert first.zone.nr_free() == second.zone.nr_free()
    assert first.history == second.history
    first.reset_button.click()
    assert first.zone.nr_free() == kit.Zone(1024).nr_free()
    np.testing.assert_array_equal(first.chart.bars.y, [0] * 10 + [1])
    assert (first.map.states == 10).all()


def test_playground_alloc_fails_with_null():
    play = Playground(kit.Zone(16, max_order=4))
    play.order.value = 4
    play.alloc_button.click()
    play.alloc_button.click()
    assert play.history[0].title == "alloc_pages(4) -> NULL (no free block big enough)"
    assert play.history[0].events == ()


def test_playground_log_lists_a_long_operation_in_part():
    play = Playground(kit.Zone(1 << 12))
    play.alloc_exact(2 * 1024 * 1024 + 4096)
    entry = play.history[0]
    assert entry.title == "alloc_pages_exact(2101248) -> pfn 0"
    assert len(entry.events) > LOG_STEPS
    lines = entry.step_lines()
    assert len(lines) == LOG_STEPS + 1
    assert lines[-1].startswith(f"... and {len(entry.events) - LOG_STEPS} more steps")
    assert "alloc_pages_exact(2101248) -&gt; pfn 0" in play.event_log.value
    assert "white-space:pre;" not in play.event_log.value  # lines wrap, never cut


def test_playground_one_redraw_per_action(monkeypatch):
    play = Playground(kit.Zone(1 << 12))
    sent: list[tuple[str, int]] = []

    def record(widget, msg, buffers=None):  # noqa: ANN001
        sent.append((type(widget).__name__, id(widget)))

    monkeypatch.setattr(widgets.Widget, "_send", record)
    play.alloc_exact(2 * 1024 * 1024 + 4096)
    # thousands of events, yet every widget that changed sends one message
    names = [name for name, _ in sent]
    assert len(sent) == len(set(sent)), sorted(names)
    assert {"GridHeatMap", "Bars", "Dropdown", "HTML"} <= set(names), names


def test_playground_predict_first_asks_then_runs():
    zone = kit.Zone(64)
    play = Playground(zone, predict_first=True)
    assert play.predict_first.value and play.asking.layout.display == "none"
    play.order.value = 2
    play.alloc_button.click()
    assert play.pending is not None and play.asking.layout.display == "flex"
    assert "alloc_pages(2): which pfn will it return" in play.question.value
    assert zone.nr_free()[6] == 1 and play.history == []  # nothing ran yet
    play.guess.value = "0"
    play.check_button.click()
    assert play.error.value == "" and play.pending is None
    assert play.asking.layout.display == "none"
    assert "Right: the simulator gives 0 too" in play.verdict.value
    assert play.history[0].title == "alloc_pages(2) -> pfn 0"
    np.testing.assert_array_equal(play.chart.bars.y, zone.nr_free())
    # a first wrong prediction gets a hint naming the mistake, not the answer, and the call
    # waits; the second wrong one is answered and the call runs
    play.order.value = 1
    play.alloc_button.click()
    mark = play.check_prediction("6")  # the upper half of the order-2 block at 4
    assert not mark.correct and mark.misconception.name == "kept the upper half"
    assert "kept the upper half" in play.verdict.value and "4" not in play.verdict.value
    assert play.pending is not None and play.history[0].title == "alloc_pages(2) -> pfn 0"
    assert play.skip_button.description == "show me the answer"
    mark = play.check_prediction("6")
    assert "Likely misconception, kept the upper half" in play.verdict.value
    assert "the simulator gives 4" in play.verdict.value
    assert play.history[0].title == "alloc_pages(1) -> pfn 4"
    assert play.pending is None


def test_playground_show_me_after_a_wrong_try_gives_the_answer_and_runs_the_call():
    play = Playground(kit.Zone(64), predict_first=True)
    play.press("alloc_pages", 1)
    play.check_prediction("32")  # the upper half of the first split
    assert play.pending is not None and play.history == []
    play.skip_button.click()
    assert "The answer:" in play.verdict.value and "0" in play.verdict.value
    assert play.history[0].title == "alloc_pages(1) -> pfn 0"
    play.press("alloc_pages", 1)  # a new question starts with no tries
    assert play.skip_button.description == "just do it"


def test_playground_predict_first_unreadable_waits():
    play = Playground(kit.Zone(64), predict_first=True)
    play.press("alloc_pages", 0)
    mark = play.check_prediction("the first one")
    assert not mark.correct and "Not read as a prediction" in play.verdict.value
    assert play.pending is not None and play.history == []  # still waiting, nothing ran
    play.check_button.click()  # an empty input: the same
    assert play.pending is not None and "type an answer first" in play.verdict.value
    null = play.check_prediction("NULL")  # readable, wrong: marked, a hint, and it waits
    assert null.misconception.name == "only its own list"
    assert play.pending is not None and play.history == []
    play.check_prediction("NULL")  # the second wrong try: answered, and the call runs
    assert play.history[0].title == "alloc_pages(0) -> pfn 0"


def test_playground_predict_first_other_questions_and_just_do_it():
    play = Playground(kit.Zone(64), predict_first=True)
    play.ask.value = "splits"
    question = play.press("alloc_pages", 0)
    assert question.answer == 6 and "how many blocks will it split" in play.question.value
    play.ask.value = "merges"  # another question about the same waiting call
    assert play.pending.answer == 0 and "merge" in play.question.value
    play.skip_button.click()  # just do it
    assert play.pending is None and play.verdict.value == ""
    assert play.history[0].title == "alloc_pages(0) -> pfn 0"
    play.ask.value = "pfn"
    play.free_button.click()  # a free returns no pfn: it is asked for nr_free
    assert play.pending.field.key == "nr_free"
    assert play.check_prediction("0 0 0 0 0 0 1 0 0 0 0").correct
    assert play.zone.nr_free()[6] == 1
    play.size.value = "20K"
    play.exact_button.click()
    assert play.pending.question.startswith("alloc_pages_exact(20 KiB: 5 pages)")
    play.predict_first.value = False  # switching it off drops the question
    assert play.pending is None and play.asking.layout.display == "none"
    play.exact_button.click()  # and the buttons run at once again
    assert play.history[0].title == "alloc_pages_exact(20480) -> pfn 0"


def test_playground_predict_first_errors_are_messages():
    play = Playground(kit.Zone(64), predict_first=True)
    play.check_button.click()
    assert "nothing to predict" in play.error.value
    play.skip_button.click()
    assert "no call is waiting" in play.error.value
    play.free_button.click()
    assert "nothing to free" in play.error.value and play.pending is None
    with pytest.raises(kit.KitError, match="no button does"):
        play.press("kmalloc", 8)


def test_playground_predict_first_question_dropped_when_the_zone_changes():
    zone = kit.Zone(64)
    play = Playground(zone, predict_first=True)
    play.press("alloc_pages", 3)
    zone.alloc_pages(0)  # another cell changes the zone: the answer would no longer hold
    assert play.pending is None and "The zone changed before you checked" in play.verdict.value
    play.press("alloc_pages", 3)
    play.reset_button.click()
    assert play.pending is None and play.asking.layout.display == "none"


def test_playground_predict_first_one_message_per_widget(monkeypatch):
    play = Playground(kit.Zone(1 << 12), predict_first=True)
    play.ask.value = "nr_free"
    prediction = play.press("alloc_pages_exact", 2 * 1024 * 1024 + 4096)
    sent: list[tuple[str, int]] = []

    def record(widget, msg, buffers=None):  # noqa: ANN001
        sent.append((type(widget).__name__, id(widget)))

    monkeypatch.setattr(widgets.Widget, "_send", record)
    play.check_prediction(" ".join(map(str, prediction.answer)))
    names = [name for name, _ in sent]
    assert len(sent) == len(set(sent)), sorted(names)
    assert {"GridHeatMap", "Bars", "Dropdown", "HTML", "Layout"} <= set(names), names


# ------------------------------------------------------------------------------ trace player
def test_trace_player_steps_forward_and_back():
    player = TracePlayer()
    assert player.choice.value == "33 pages: alloc_pages vs alloc_pages_exact"
    assert player.step == 0 and player.slider.max == len(player.steps)
    np.testing.assert_array_equal(player.free_area.bars.y, [0] * 8 + [1, 0, 0])
    player.forward_button.click()
    assert "take the order-8 block at pfn 0" in player.caption
    player.forward_button.click()
    assert "expand: halve the order-8 block" in player.caption
    # both halves of the split are outlined
    assert outline_boxes(player.map.highlights)[0].shape[0] >= 2
    player.back_button.click()
    assert player.step == 1
    player.slider.value = len(player.steps)
    np.testing.assert_array_equal(player.free_area.bars.y, [0] * 8 + [1, 0, 0])


def test_trace_player_states_match_the_zone():
    """The event replay ends where the real zone ended, for every scenario."""
    player = TracePlayer()
    for name in kit.teaching.scenarios.SCENARIOS:
        player.choice.value = name
        scenario = player.scenario
        model = player.model_at(len(player.steps))
        replayed = _replay(scenario)
        assert sorted(model.free_blocks()) == sorted(replayed.free_blocks())
        assert sorted(model.allocations()) == sorted(replayed.allocations())
        # stepping back through a checkpoint boundary gives the same state as forward
        middle = len(player.steps) // 2 + 1
        player.slider.value = middle
        forward = sorted(player.model.free_blocks())
        player.slider.value = len(player.steps)
        player.slider.value = middle
        assert sorted(player.model.free_blocks()) == forward


def _replay(scenario):
    """Re-run a scenario's operations on a fresh zone."""
    zone = kit.Zone(**scenario.config)
    for op in scenario.operations:
        if op.name == "alloc_pages":
            zone.alloc_pages(op.args[0])
        elif op.name == "free_pages":
            zone.free_pages(zone.pfn_to_virt(op.args[0]), op.args[1])
        elif op.name == "alloc_pages_exact":
            zone.alloc_pages_exact(op.args[0])
        elif op.name == "free_pages_exact":
            zone.free_pages_exact(zone.pfn_to_virt(op.args[0]), op.args[1])
    return zone


def test_trace_player_plays_a_zone_trace():
    zone = kit.Zone(64)
    zone.alloc_pages(1)
    player = TracePlayer(zone)
    assert player.choice.value == "this zone's trace"
    assert len(player.steps) == len(zone.trace.events())
    player.play.value = len(player.steps)  # what the Play widget does when it reaches the end
    assert player.step == len(player.steps)


def test_trace_player_scenarios_are_deterministic():
    one = kit.teaching.scenarios.record_scenario("fragmentation after a random workload")
    two = kit.teaching.scenarios.record_scenario("fragmentation after a random workload")
    assert one.operations == two.operations


# ---------------------------------------------------------------------------------- animator
def test_exact_allocation_animator():
    animator = ExactAllocationAnimator()
    assert "order-6 block of 64 pages" in animator.summary
    assert "the 31 tail pages" in animator.summary
    player = animator.player
    trims = [step for step in player.steps if step.event.kind == "trim"]
    assert [step.event.pfn for step in trims] == list(range(33, 64))
    player.slider.value = len(player.steps)
    flat = player.map.states.reshape(-1)
    assert (flat[:33] == player.map.EXACT).all() and (flat[33:] == player.map.TRIMMED).all()
    animator.text.value = "20000"
    assert "order-3 block of 8 pages" in animator.summary
    animator.text.value = "0"
    assert "needs an order-52 block" in animator.error.value
    animator.text.value = "5M"
    assert "above the largest order 10: it returns NULL" in animator.error.value
    assert "order-3 block of 8 pages" in animator.summary  # the last good size stays


def test_trace_player_replay_plays_again_from_the_first_step():
    player = TracePlayer(scenario="one page: split down, merge back up")
    player.slider.value = len(player.steps)  # where a finished demo stands
    player.replay()
    assert player.step == 0 and player.play.value == 0 and player.play.playing


def test_animator_replays_through_its_player():
    animator = ExactAllocationAnimator(size="12K")  # a few steps: it plays by itself
    animator.player.slider.value = len(animator.player.steps)
    animator.replay()
    assert animator.player.step == 0 and animator.player.play.playing


# --------------------------------------------------------------------------- predict, then run
def test_predict_hides_the_demo_until_a_prediction():
    widget = Predict()
    assert widget.demo_box.children == () and not widget.revealed
    assert "order" in widget.question.value and "132 KiB" in widget.question.value
    widget.answer("")
    widget.answer("six")
    assert not widget.revealed and "whole number" in widget.verdict.value
    assert "6" not in widget.verdict.value  # a typo does not give the answer away
    mark = widget.answer("5")  # a wrong first try: a hint, another try, no demo
    assert not mark.correct and not widget.revealed and widget.demo is None
    assert "Not yet: you said 5" in widget.verdict.value and "rounded down" in widget.verdict.value
    assert "6" not in widget.verdict.value
    assert widget.show_button.description == "show me the answer"
    assert widget.input.value == "5"
    mark = widget.answer("4")
    assert not mark.correct and widget.revealed and widget.demo_box.children == (widget.demo,)
    assert "you said 4, the simulator gives 6" in widget.verdict.value


def test_predict_show_me_after_a_wrong_try_gives_the_answer():
    widget = Predict()
    widget.answer("9")
    assert "too high" in widget.verdict.value and not widget.revealed
    widget.show_button.click()
    assert widget.revealed and "The answer: the simulator gives 6." in widget.verdict.value


def test_enter_in_the_box_checks_the_prediction():
    """The frontend sends {"event": "submit"} when Enter is pressed in a Text box."""
    widget = Predict()
    typed = {"method": "update", "state": {"value": "6"}}
    enter = {"method": "custom", "content": {"event": "submit"}}
    for data in (typed, enter):  # as the comm delivers them from the browser
        widget.input._handle_msg({"content": {"data": data}, "buffers": []})
    assert widget.revealed and "Right: the simulator gives 6" in widget.verdict.value


def test_predict_builds_a_demo_function_only_on_reveal():
    built = []

    def build():
        built.append(OrderExplorer(size="33K"))
        return built[-1]

    widget = Predict(demo=build, prediction=kit.teaching.predict.order_prediction("33K", 4096))
    assert built == [] and widget.demo is None  # nothing to read in the saved widget state
    widget.reveal()
    widget.reveal()
    assert len(built) == 1 and widget.demo_box.children == (built[0],) == (widget.demo,)


def test_predict_right_answer_and_the_buttons():
    widget = Predict(kit.Zone(64, page_size=64 * 1024))
    assert "64 KiB pages" in widget.question.value
    widget.input.value = "2"  # 132 KiB is 3 pages of 64 KiB: order 2
    widget.check_button.click()
    assert widget.revealed and "Right: the simulator gives 2" in widget.verdict.value
    other = Predict()
    other.show_button.click()
    assert other.revealed and other.verdict.value == ""


def test_lesson1_unused_pages_are_what_the_explorer_then_shows():
    widget = Predict(demo=lambda: OrderExplorer(size="132K"),
                     prediction=kit.teaching.predict.unused_pages_prediction("132K"))
    assert widget.answer("31").correct
    wasted = widget.demo.results["alloc_pages"].wasted
    assert wasted // widget.demo.page_size == widget.prediction.answer == 31


def test_predict_replays_a_demo_that_can():
    animator = ExactAllocationAnimator(size=132 * 1024)
    animator.player.slider.value = len(animator.player.steps)
    prediction = kit.teaching.predict.tail_blocks_prediction(132 * 1024)
    widget = Predict(demo=animator, prediction=prediction)
    assert widget.answer("5").correct
    # rewound to its first step; 36 s of steps wait, paused, for "play" (at 100 ms they play)
    assert animator.player.step == 0 and not animator.player.play.playing
    animator.player.speed.value = 100
    widget.reveal()
    assert animator.player.play.playing


def test_predict_free_answer_matches_the_zone_after_the_free():
    zone = kit.Zone(1024)
    zone.alloc_pages_exact(33 * 4096)
    chart = FreeAreaChart(zone)
    widget = Predict(demo=chart, prediction=kit.teaching.predict.exact_free_prediction(
        zone, kit.PAGE_OFFSET, 33 * 4096))
    before = list(zone.nr_free())
    widget.answer("3")  # one count for eleven orders: not a prediction, the chart stays hidden
    assert not widget.revealed and "give 11 counts" in widget.verdict.value
    assert widget.answer(" ".join(map(str, before))).correct is False  # "nothing changes"
    assert "nothing changes" in widget.verdict.value and not widget.revealed
    zone.free_pages_exact(kit.PAGE_OFFSET, 33 * 4096)
    assert widget.prediction.check([int(v) for v in chart.values]).correct


def test_predict_replays_the_chart_after_run_all():
    """Lesson 6 after Run All: the free ran before the reader predicted; the chart, built on
    reveal, replays it from the mark taken before the free."""
    zone = kit.Zone(1024)
    zone.alloc_pages_exact(33 * 4096)
    before_free, counts_before = len(zone.trace.operations), tuple(zone.nr_free())
    widget = Predict(demo=lambda: FreeAreaChart(zone, since=before_free),
                     prediction=kit.teaching.predict.exact_free_prediction(zone, kit.PAGE_OFFSET,
                                                                  33 * 4096))
    zone.free_pages_exact(kit.PAGE_OFFSET, 33 * 4096)  # the next cell, run by Run All
    widget.answer(" ".join(map(str, widget.prediction.answer)))
    chart = widget.demo
    assert chart.player.playing and chart.frames[0][1] == counts_before
    np.testing.assert_array_equal(chart.bars.y, counts_before)  # the change can be watched
    assert chart.frames[-1][1] == tuple(zone.nr_free()) == widget.prediction.answer


# ---------------------------------------------------------------------------------- live view
def test_live_buddyinfo_from_a_saved_file():
    live = LiveBuddyInfo(path=str(sample_path("buddyinfo")),
                         pagetypeinfo_path=str(sample_path("pagetypeinfo")))
    assert [z.zone for z in live.zones] == ["DMA", "DMA32", "Normal"]
    chosen = live.zones[live.zone_choice.value]
    assert chosen.zone == "Normal"
    np.testing.assert_array_equal(live.view.bars.y, chosen.nr_free)
    assert "free pages" in live.status.value
    assert "page block order" in live.pagetypeinfo.value
    live.zone_choice.value = 0
    np.testing.assert_array_equal(live.view.bars.y, live.zones[0].nr_free)


def test_live_buddyinfo_missing_file_says_why(tmp_path):
    live = LiveBuddyInfo(path=str(tmp_path / "buddyinfo"))
    assert live.zones == []
    assert "does not exist" in live.status.value and "needs Linux" in live.status.value
    assert live.view.bars.y.size == 0


def test_live_buddyinfo_asks_first_about_the_reading_it_then_shows(tmp_path):
    """The question and the view share one reading: a later change of the file shows only
    after *refresh*."""
    path = tmp_path / "buddyinfo"
    path.write_text("Node 0, zone DMA32 1 1 1 1\nNode 0, zone Normal 40 30 2 1\n")
    reading = kit.core.procfs.take_buddyinfo(path)
    widget = Predict(demo=lambda: LiveBuddyInfo(reading=reading),
                     prediction=kit.teaching.predict.most_free_pages_prediction(reading))
    path.write_text("Node 0, zone DMA32 1 1 1 1\nNode 0, zone Normal 0 0 0 9\n")
    assert "zone Normal" in widget.question.value and widget.demo is None
    mark = widget.answer("0")  # 40 blocks, the most, but order 1 holds 60 pages
    assert not mark.correct and "blocks, not memory" in widget.verdict.value
    widget.reveal()  # "show me the answer"
    live = widget.demo
    assert live.zones[live.zone_choice.value].zone == "Normal"
    np.testing.assert_array_equal(live.view.bars.y, [40, 30, 2, 1])
    live.refresh_button.click()
    np.testing.assert_array_equal(live.view.bars.y, [0, 0, 0, 9])


def test_live_buddyinfo_shows_the_sample_standing_in_and_why(tmp_path):
    reading = kit.core.procfs.take_buddyinfo(tmp_path / "buddyinfo")
    live = LiveBuddyInfo(reading=reading)
    assert "does not exist" in live.status.value and "the kit&#x27;s sample" in live.status.value
    assert [z.zone for z in live.zones] == ["DMA", "DMA32", "Normal"]
    assert live.path == str(sample_path("buddyinfo"))


def test_live_buddyinfo_without_a_normal_zone_shows_the_largest(tmp_path):
    path = tmp_path / "buddyinfo"
    path.write_text("Node 0, zone DMA 0 0 0 1\nNode 0, zone DMA32 5 0 3 0\n"
                    "Node 0, zone HighMem 9 0 0 0\n")
    live = LiveBuddyInfo(path=str(path))
    assert live.zones[live.zone_choice.value].zone == "DMA32"


def test_live_buddyinfo_timer_needs_a_kernel(tmp_path):
    live = LiveBuddyInfo(path=str(sample_path("buddyinfo")))
    live.auto.value = True
    assert live.auto.value is False
    assert "running Jupyter kernel" in live.status.value


@pytest.mark.parametrize("preset", ["2.6.27", "5.10", "6.8"])
@pytest.mark.parametrize("pcp", [False, True])
def test_event_replay_matches_the_zone_for_every_preset(preset, pcp):
    """The player's event model ends in the zone's state, per-CPU lists and exact trims too."""
    zone = kit.Zone(512, preset=preset, pcp=pcp)
    kit.run_workload(zone, seed=3, steps=120, sizes="mixed", exact=True)
    kit.run_workload(zone, seed=4, steps=60, sizes="pages")
    player = TracePlayer(zone)
    model = player.model_at(len(player.steps))
    assert sorted(model.free_blocks()) == sorted(zone.free_blocks())
    assert sorted(model.allocations()) == sorted(zone.allocations())
    assert {o: sorted(p) for o, p in model.pcp_lists().items() if p} == {
        o: sorted(p) for o, p in zone.pcp_lists().items() if p}


def test_buddyinfo_counts_stand_under_their_orders():
    """A narrow chart column wrapped the whole line, putting counts under the wrong orders:
    the line is a table, order headers over counts, the zone named above it."""
    import re

    from kit.widgets.free_area import buddyinfo_html
    from kit.widgets.theme import get_theme

    zone = kit.Zone(1 << 12)
    zone.alloc_pages(0)
    text = buddyinfo_html(get_theme(False), zone.format_buddyinfo())
    headers = re.findall(r"<th [^>]*>(\d+)</th>", text)
    counts = re.findall(r"<td [^>]*>(\d+)</td>", text)
    assert headers == [str(order) for order in range(11)]
    assert counts == [str(count) for count in zone.nr_free()]
    assert "<code>Node 0, zone Normal</code>" in text
    assert "not a buddyinfo line" in buddyinfo_html(get_theme(False), "not a buddyinfo line")


def _descendants(widget) -> list:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += _descendants(child)
    return found


def test_playground_takes_its_slide_layout_when_the_slide_mode_asks(monkeypatch):
    monkeypatch.delenv("KIT_SLIDES", raising=False)
    assert not Playground(kit.Zone(64)).compact  # a student's notebook: the full layout
    monkeypatch.setenv("KIT_SLIDES", "1")  # kit present --slides
    slide = Playground(kit.Zone(64), presenter=True)
    assert slide.compact and "kit-compact" in slide._dom_classes
    shown = _descendants(slide)
    # the calls beside the map and the chart in one row, the map's key below them all
    row = slide.children[0]
    assert slide.map in row.children and slide.chart in row.children
    # spaced apart by a CSS rule the slide carries (ipywidgets' Layout has no `gap`)
    assert "kit-compact-row" in row._dom_classes
    assert any(".kit-compact-row { gap: 12px; }" in getattr(child, "value", "")
               for child in slide.children)
    assert slide.map.legend in slide.children and slide.map.legend not in slide.map.children
    assert slide.seed not in shown and slide.random_button not in shown
    assert {id(slide.alloc_button), id(slide.free_button), id(slide.reset_button)} <= {
        id(widget) for widget in shown}
    assert slide.map.figure.layout.height == slide.map.figure.layout.width == "320px"
    slide.alloc(3)
    assert "max-height:150px" in slide.event_log.value  # the call list kept short
    # the same call from the lesson's code, with the slide mode's switch overridden
    assert not Playground(kit.Zone(64), compact=False).compact


def test_the_slide_mode_switch_reaches_practice_and_the_order_explorer(monkeypatch):
    monkeypatch.setenv("KIT_SLIDES", "1")
    practice = Practice(kind="sequence", seed=3, level=2)
    assert practice.question in practice.children and practice.form not in practice.children
    assert "kit-slide-question" in practice.question._dom_classes
    practice.reveal()  # the presenter shows the solution
    assert "Solution" in practice.solution.value
    assert "font-size: 20px" in practice.question.value
    explorer = OrderExplorer(size="132K")
    assert explorer.compact and explorer.figure.layout.height == "300px"
    monkeypatch.delenv("KIT_SLIDES")
    plain = Practice(kind="sequence", seed=3, level=2)
    assert not plain.compact and plain.form in plain.children
    assert "font-size: 20px" not in plain.question.value
    assert OrderExplorer(size="132K").figure.layout.height != "300px"


#: Lesson 1's widgets, as its cells make them (a Predict keeps its demo unbuilt until answered),
#: then the demo revealed; prints what was loaded before and after the reveal.
NO_CHART_YET = """
import sys
from kit.widgets import OrderExplorer, Poll, Practice, Predict, Quiz
predict = Predict(demo=lambda: OrderExplorer(size="132K"))
made = [Quiz("01-allocation-unit"), Poll("01-what-the-default-zone-leaves-out"),
        Practice(kind="order", seed=1, level=1)]
def loaded():
    return sorted(n for n in sys.modules if n.split(".")[0] in ("bqplot", "pandas", "numpy"))
print(loaded())
predict.reveal()
print(type(predict.demo.figure).__module__, "bqplot.figure" in loaded(), "pandas" in loaded())
"""


def test_widgets_load_bqplot_at_their_first_chart_not_at_import(tmp_path):
    """bqplot (with pandas and numpy, ~0.35 CPU-s) loads when a widget first draws a chart, not
    when kit.widgets is imported: five lessons draw none when run.  In a fresh interpreter, as
    a lesson's kernel is: none of them is in sys.modules before the reveal, not even as a
    placeholder (IPython's display hook loads numpy when it finds it there), and bqplot's
    figure is made by bqplot after it (fails when any widget module imports them at its top
    again)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "KIT_PROGRESS": "off"}
    run = subprocess.run([sys.executable, "-c", NO_CHART_YET], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    before, after = run.stdout.splitlines()
    assert before == "[]"
    assert after == "bqplot.figure True True"
