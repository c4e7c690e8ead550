"""Your own kernel, seen: charts of a real page-allocator trace and of /proc/zoneinfo.

Four tabs over one recording (kit.core.recording): allocations by order and GFP flags, the
per-CPU lists against the buddy lists over time (with refills and drains), the fallbacks to
another migratetype, and each zone's free pages against its watermarks.  The recording is the
reader's own when one was made (``KernelTraceView.record()`` as root on Linux), else the kit's
shipped one; the status line always says which.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from kit.core.errors import InvalidArgument
from kit.core.kerneltrace import TraceReport
from kit.core.recording import Recording, shipped_recording
from kit.core.tracefs import record_or_shipped
from kit.core.tracesummary import (
    Timeline,
    TraceSummary,
    migratetype_name,
    summarise_and_bin_trace_file,
)

from ._base import RunToUse, bar_figure
from ._deferred import bq
from .theme import get_theme

__all__ = ["KernelTraceView"]

#: GFP flag strings shown as their own series; the rest are summed as "other".
TOP_GFP = 4
TIME_BINS = 60
#: The charts, by name, with their tab titles.
CHARTS = {"orders": "orders x GFP", "timeline": "per-CPU vs buddy", "fallbacks": "fallbacks",
          "watermarks": "watermarks"}
#: Colours after the theme's three, for the series it has no colour for.
MORE_COLORS = ("#9467bd", "#8c564b", "#7f7f7f")


def _legend(labels: list[str], colors: list[str]) -> widgets.HTML:
    """A legend above a chart (bqplot's own sits inside the plot, over the data)."""
    return widgets.HTML(" &nbsp; ".join(
        f'<span style="white-space:nowrap"><span style="color:{color}">&#9632;</span> '
        f'{html.escape(label)}</span>'
        for label, color in zip(labels, colors, strict=False)))


class KernelTraceView(RunToUse, widgets.VBox):
    """Tabs of charts for a recording (default: the kit's shipped one), with a line saying
    whose machine it comes from.  ``record_seconds`` records this machine first (root, Linux),
    falling back to the shipped recording with the reason.  ``summary`` and ``timeline`` hold
    the numbers drawn; ``own`` says whether they are this machine's."""

    def __init__(self, recording: Recording | None = None, *,
                 record_seconds: float | None = None, presenter: bool | None = None) -> None:
        self.theme = theme = get_theme(presenter)
        why_shipped = "recording here was not asked for"
        if recording is None and record_seconds is not None:
            recording, why_shipped = record_or_shipped(record_seconds)
        self.own = recording is not None and not why_shipped
        self.recording = recording if recording is not None else shipped_recording()
        report = TraceReport()
        self.summary: TraceSummary
        self.timeline: Timeline
        self.summary, self.timeline = summarise_and_bin_trace_file(
            self.recording.trace, self.recording.zoneinfo(), report, TIME_BINS)
        header = self.recording.header
        whose = ("recorded on this machine just now" if self.own
                 else f"the kit's shipped recording ({html.escape(why_shipped)})")
        self.status = widgets.HTML(
            f"<b>{whose}</b>: " + html.escape(
                f"{header.get('kernel', '?')}, {header.get('machine', '?')}; workload: "
                f"{header.get('workload', '?')}; {report.summary()}"))
        tabs = widgets.Tab(children=[self.chart(name) for name in CHARTS])
        for i, title in enumerate(CHARTS.values()):
            tabs.set_title(i, title)
        super().__init__([self.status, tabs])
        theme.root(self)

    def chart(self, name: str) -> widgets.Widget:
        """A new copy of one tab's chart, to show on its own: "orders", "timeline",
        "fallbacks" or "watermarks"."""
        build = {"orders": self._orders, "timeline": self._timeline,
                 "fallbacks": self._fallbacks, "watermarks": self._watermarks}.get(name)
        if build is None:
            raise InvalidArgument(f"no chart {name!r}; charts: {', '.join(CHARTS)}")
        return build()

    def _orders(self) -> widgets.Widget:
        s = self.summary
        top = [gfp for gfp, _ in s.gfp.most_common(TOP_GFP)]
        orders = sorted(s.allocations)
        rows = [[s.order_gfp[o, g] for o in orders] for g in top]
        rows.append([s.allocations[o] - sum(s.order_gfp[o, g] for g in top) for o in orders])
        labels = [*top, "other"]
        colors = [*self.theme.strategy_colors, *MORE_COLORS][: len(labels)]
        figure, bars = bar_figure(self.theme, "allocations by order and GFP flags",
                                  "order (allocations)", "allocations", colors=colors,
                                  labels=labels, legend=False)
        bars.x, bars.y = [f"{o} ({s.allocations[o]})" for o in orders], rows
        figure.layout = widgets.Layout(width="97%", height="400px")
        return widgets.VBox([_legend(labels, colors), figure])

    def _timeline(self) -> widgets.Widget:
        t = self.timeline
        x, y = bq.LinearScale(), bq.LinearScale(min=0)
        labels = ["allocations (mostly served by the per-CPU lists)",
                  "blocks taken from the buddy lists (refills)",
                  "pages drained back to the buddy lists"]
        colors = list(self.theme.strategy_colors[:3])
        lines = bq.Lines(
            x=t.starts, y=[t.allocations, t.buddy_blocks, t.drained_pages],
            scales={"x": x, "y": y}, colors=colors, labels=labels, stroke_width=2,
        )
        axes = [bq.Axis(scale=x, label="seconds from the first event"),
                bq.Axis(scale=y, side="left", label="per bin", tick_format="~s")]
        figure = bq.Figure(marks=[lines], axes=axes,
                           title=f"per-CPU vs buddy: {self.summary.refill_runs} refills, "
                           f"{sum(self.summary.drains.values())} drains",
                           animation_duration=0)
        figure.layout = widgets.Layout(width="97%", height="400px")
        return widgets.VBox([_legend(labels, colors), self.theme.style_figure(figure)])

    def _fallbacks(self) -> widgets.Widget:
        s = self.summary
        pairs = s.fallbacks.most_common()
        figure, bars = bar_figure(self.theme, f"fallbacks: {sum(s.fallbacks.values())}, "
                                  f"{s.ownership_changes} took the pageblock", "wanted <- from",
                                  "events")
        bars.x = [f"{migratetype_name(a)} <- {migratetype_name(b)}" for (a, b), _ in pairs]
        bars.y = [n for _, n in pairs]
        figure.layout = widgets.Layout(width="97%", height="420px")
        return figure

    def _watermarks(self) -> widgets.HTML:
        """A table: a zone's free pages span orders of magnitude against its marks."""
        cells = "".join(
            f"<tr><td>{zone}</td><td>{free_before}</td><td>{free}</td><td>{low_min}</td>"
            f"<td>{low}</td><td>{high}</td><td>{boost}</td><td>{level}</td></tr>"
            for (zone, free_before, *_), (_, free, low_min, low, high, boost, level)
            in zip(self.recording.watermarks("before"), self.recording.watermarks("after"),
                   strict=True)
        )
        head = "".join(f"<th>{h}</th>" for h in (
            "zone", "free before", "free after", "min", "low", "high", "boost",
            "free after stands"))
        return widgets.HTML(
            "<p>Pages, from /proc/zoneinfo before and after the trace. Below low an "
            "allocation wakes kswapd, which reclaims up to high; below min only allocations "
            "allowed into the reserve succeed, the others reclaim directly.</p>"
            f'<table style="border-spacing:12px 2px"><tr>{head}</tr>{cells}</table>')
