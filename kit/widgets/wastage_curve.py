"""Wastage curve: wasted bytes (or percent) against request size for the three allocators.

Where the order explorer shows one size, the curve shows the pattern: ``alloc_pages`` waste is a
saw whose teeth double in size with each order, ``alloc_pages_exact`` waste never reaches one
page, and ``kmalloc`` follows its slab size classes and then the page allocator's saw.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import traitlets

from kit.core.errors import KitError
from kit.core.metrics import STRATEGIES, wastage, wastage_curve
from kit.core.orders import format_size
from kit.core.zone import Zone

from ._base import RunToUse, parse_size_text, show_error
from ._deferred import bq, np
from .order_explorer import OrderExplorer
from .theme import get_theme

__all__ = ["WastageCurve"]

#: At most this many points per line: plenty for a plot, cheap to recompute on every change.
MAX_POINTS = 2048
#: (bqplot line style, width as a multiple of the theme's stroke) of each strategy's curve.
LINE_STYLES = (("solid", 2.5), ("dotted", 1.5), ("dashed", 1.0))


class WastageCurve(RunToUse, widgets.VBox):
    """Lines of waste against request size over a chosen range, with a linked size marker.

    ``size`` (the marker) and ``page_size`` are traitlets; pass ``explorer=`` (or call
    ``link(explorer)``) to have them follow an ``OrderExplorer``.
    """

    size = traitlets.Int(132 * 1024)
    page_size = traitlets.Int(4096)

    def __init__(self, zone: Zone | None = None, *, explorer: OrderExplorer | None = None,
                 start: int | str = "1", stop: int | str = "1M", log: bool = False,
                 percent: bool = False, presenter: bool | None = None) -> None:
        theme = self.theme = get_theme(presenter)
        self.max_order = zone.max_order if zone is not None else 10
        self.page_size = zone.page_size if zone is not None else 4096
        self.start_text = widgets.Text(value=str(start), description="from",
                                       continuous_update=False)
        self.stop_text = widgets.Text(value=str(stop), description="to",
                                      continuous_update=False)
        self.log_scale = widgets.Checkbox(value=log, description="log scale (size)")
        self.percent = widgets.Checkbox(value=percent, description="waste in % of granted")
        self.error = widgets.HTML()
        self.x_linear, self.x_log = bq.LinearScale(), bq.LogScale()
        self.y_scale = bq.LinearScale(min=0)
        scales = {"x": self.x_log if log else self.x_linear, "y": self.y_scale}
        # One mark per strategy, each with its own dash and width: kmalloc hands large sizes
        # to the page allocator, so its curve lies exactly on alloc_pages' there, and only a
        # wide solid line under a narrow dashed one keeps both visible.
        self.curves = [
            bq.Lines(x=[], y=[], scales=scales, colors=[color], labels=[name],
                     line_style=style, stroke_width=theme.stroke_width * width)
            for name, color, (style, width) in zip(STRATEGIES, theme.strategy_colors,
                                                   LINE_STYLES, strict=True)
        ]
        self.marker = bq.Scatter(x=[], y=[], scales=scales, colors=list(theme.strategy_colors),
                                 default_size=120 if presenter else 64, stroke=theme.text_color)
        self.legend = widgets.HTML(self._legend_html())
        self.x_axis = bq.Axis(scale=scales["x"], label="request size (bytes)", tick_format="~s")
        self.y_axis = bq.Axis(scale=self.y_scale, side="left", label="wasted bytes",
                              tick_format="~s")
        self.figure = theme.style_figure(bq.Figure(
            marks=[*self.curves, self.marker], axes=[self.x_axis, self.y_axis],
            title="Waste against request size", animation_duration=0,
        ))
        self.figure.layout.width = "auto"  # the width of the cell; "100%" plus a margin overflows
        self.caption = widgets.HTML()
        theme.style_controls([self.start_text, self.stop_text, self.log_scale, self.percent])
        super().__init__([
            widgets.HBox([self.start_text, self.stop_text]),
            widgets.HBox([self.log_scale, self.percent]), self.error, self.legend, self.figure,
            self.caption,
        ])
        theme.root(self)
        for control in (self.start_text, self.stop_text, self.percent):
            control.observe(lambda _change: self.refresh(), "value")
        self.log_scale.observe(self._on_log, "value")
        self.observe(lambda _change: self.refresh(), ["page_size"])
        self.observe(lambda _change: self._draw_marker(), ["size"])
        self._links: list[traitlets.dlink] = []
        if explorer is not None:
            self.link(explorer)
        self.refresh()

    def link(self, explorer: OrderExplorer) -> None:
        """Follow an order explorer: its size moves the marker, its page size the curves."""
        self._links += [traitlets.dlink((explorer, "size"), (self, "size")),
                        traitlets.dlink((explorer, "page_size"), (self, "page_size"))]

    def _on_log(self, change: dict) -> None:
        scale = self.x_log if change["new"] else self.x_linear
        for mark in (*self.curves, self.marker):
            mark.scales = {"x": scale, "y": self.y_scale}
        self.x_axis.scale = scale
        self.refresh()

    def _legend_html(self) -> str:
        """The legend above the plot (never over the curves): a sample of each line."""
        items = []
        for name, color, (style, width) in zip(STRATEGIES, self.theme.strategy_colors,
                                               LINE_STYLES, strict=True):
            dash = {"solid": "", "dashed": ' stroke-dasharray="8 4"',
                    "dotted": ' stroke-dasharray="2 3"'}[style]
            stroke = self.theme.stroke_width * width
            items.append(
                f'<span style="display:inline-flex;align-items:center;margin-right:1.2em">'
                f'<svg width="40" height="14" style="margin-right:6px"><line x1="0" y1="7" '
                f'x2="40" y2="7" stroke="{color}" stroke-width="{stroke}"{dash}/></svg>'
                f"{name}</span>")
        return self.theme.html("".join(items))

    def size_range(self) -> tuple[int, int]:
        """The (start, stop) sizes the curves cover; raises KitError on a bad range."""
        start = max(parse_size_text(self.start_text.value), 1)
        stop = parse_size_text(self.stop_text.value)
        if stop <= start:
            raise KitError(f"the range must grow: 'to' ({stop}) is not above 'from' ({start})")
        return start, stop

    def _sizes(self, start: int, stop: int) -> tuple[int, int]:
        """Start and step: the step keeps each line under MAX_POINTS points."""
        return start, max(1, math.ceil((stop - start) / MAX_POINTS))

    def refresh(self) -> None:
        """Recompute the three lines for the range and redraw (errors go to the message)."""
        try:
            start, stop = self.size_range()
        except KitError as exc:
            show_error(self.error, self.theme, exc)
            return
        show_error(self.error, self.theme, None)
        start, step = self._sizes(start, stop)
        self.y_axis.label = "waste (% of granted)" if self.percent.value else "wasted bytes"
        for name, curve in zip(STRATEGIES, self.curves, strict=True):
            points = wastage_curve(start, stop + 1, step, name, self.page_size, self.max_order)
            x = np.array([p[0] for p in points], dtype=float)
            y = np.array([p[1] for p in points], dtype=float)
            with curve.hold_sync():
                curve.x = x
                # the share of what was granted (request + waste), as the explorer shows it
                curve.y = y * 100 / (x + y) if self.percent.value and len(x) else y
        self.caption.value = self.theme.text(
            f"{format_size(start, exact=False)} to {format_size(stop, exact=False)}, "
            f"every {step} bytes, {format_size(self.page_size)} pages; sizes whose allocation "
            "fails are left out."
        )
        self._draw_marker()

    def marker_values(self) -> list[float]:
        """Waste of each strategy at the marker's size (bytes or percent, as plotted)."""
        values = []
        for name in STRATEGIES:
            w = wastage(self.size, name, self.page_size, self.max_order)
            values.append(w.percent_of_granted if self.percent.value else float(w.wasted))
        return values

    def _draw_marker(self) -> None:
        try:
            values = self.marker_values()
        except KitError as exc:
            show_error(self.error, self.theme, exc)
            return
        with self.marker.hold_sync():
            self.marker.x = np.full(3, float(max(self.size, 1)))
            self.marker.y = np.array(values, dtype=float)
