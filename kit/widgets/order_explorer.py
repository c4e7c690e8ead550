"""Order explorer: one request size, three allocators, what each grants and wastes.

The lesson is the jump: 128 KiB fits an order-5 block exactly, 132 KiB needs order 6 and
``alloc_pages`` hands out twice the memory, while ``alloc_pages_exact`` keeps only the pages it
needs.  A slider and a text box (``"132K"``, ``"4MiB"``, ``"5000"``) set the size; the numbers
and a stacked bar chart (used bytes + wasted bytes per strategy) follow.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import traitlets

from kit.core.errors import KitError
from kit.core.metrics import STRATEGIES, Wastage, compare_wastage
from kit.core.orders import format_size
from kit.core.zone import Zone

from ._base import RunToUse, bar_figure, parse_size_text, show_error
from ._deferred import np
from .free_area import nice_ticks
from .theme import get_theme, slide_layout

__all__ = ["OrderExplorer"]

PAGE_SIZES = (("4 KiB", 4096), ("16 KiB", 16384), ("64 KiB", 65536))
DEFAULT_SIZE = "132K"


class OrderExplorer(RunToUse, widgets.VBox):
    """Pick a request size and a page size; see order, grant and waste of each allocator.

    ``size`` and ``page_size`` are traitlets (Python side), so other widgets can follow them
    (``WastageCurve(explorer=...)`` moves its marker).  ``results`` holds the ``Wastage`` of each
    strategy for the current inputs.
    """

    size = traitlets.Int(132 * 1024)
    page_size = traitlets.Int(4096)

    def __init__(self, zone: Zone | None = None, *, size: int | str = DEFAULT_SIZE,
                 presenter: bool | None = None, compact: bool | None = None) -> None:
        theme = self.theme = get_theme(presenter)
        #: The slide layout (``kit present --slides``): a lower chart, so that the explorer
        #: fits a 1280x720 slide unscaled in large type.
        self.compact = slide_layout(compact)
        self.max_order = zone.max_order if zone is not None else 10
        page_size = zone.page_size if zone is not None else 4096
        options = list(PAGE_SIZES)
        if page_size not in dict(PAGE_SIZES).values():
            options.append((format_size(page_size), page_size))
        self.page_size_choice = widgets.Dropdown(options=options, value=page_size,
                                                 description="page size")
        self.slider = widgets.IntSlider(
            min=1, max=self._slider_max(page_size), value=132 * 1024, step=1,
            description="size (bytes)", continuous_update=True,
            layout=widgets.Layout(width="95%"),
        )
        self.text = widgets.Text(value=DEFAULT_SIZE, description="size",
                                 placeholder="132K, 4MiB or 5000", continuous_update=False)
        self.error = widgets.HTML()
        self.summary = widgets.HTML()
        self.table = widgets.HTML()
        self.figure, self.bars = bar_figure(
            theme, "Bytes granted: used (green) + wasted (grey)", "strategy", "bytes",
            colors=[theme.strategy_colors[1], "#555555" if theme.presenter else "#bbbbbb"],
            labels=["used", "wasted"], legend=False,
        )
        self.figure.layout.width = "780px" if theme.presenter else "460px"
        if self.compact:
            self.figure.layout.height = "300px"
        self.results: dict[str, Wastage] = {}
        self._syncing = False
        theme.style_controls([self.page_size_choice, self.slider, self.text])
        super().__init__([
            widgets.HBox([self.text, self.page_size_choice]), self.slider, self.error,
            # large type does not fit side by side: the presenter gets the table above the chart
            self.summary, (widgets.VBox if theme.presenter else widgets.HBox)(
                [self.table, self.figure]),
        ])
        self.theme.root(self)
        self.slider.observe(self._on_slider, "value")
        self.text.observe(self._on_text, "value")
        self.page_size_choice.observe(self._on_page_size, "value")
        self.page_size = page_size
        self.set_size(size)

    def _slider_max(self, page_size: int) -> int:
        """Twice the largest block, so the failing sizes are on the slider too."""
        return 2 * (page_size << self.max_order)

    # ------------------------------------------------------------------------------- inputs
    def set_size(self, size: int | str) -> None:
        """Set the request size as a student would type it (``"132K"``) or in bytes."""
        text = size if isinstance(size, str) else str(size)
        if self.text.value == text:
            self._on_text({"new": text})  # no change event for the same text: apply it here
        else:
            self.text.value = text

    def _on_text(self, change: dict) -> None:
        if self._syncing:
            return
        try:
            size = parse_size_text(change["new"])
        except KitError as exc:
            show_error(self.error, self.theme, exc)
            return
        self._apply(size)

    def _on_slider(self, change: dict) -> None:
        if self._syncing:
            return
        self._apply(int(change["new"]))

    def _on_page_size(self, change: dict) -> None:
        self.page_size = int(change["new"])
        self._syncing = True  # a smaller slider range must not silently change the size
        try:
            self.slider.max = self._slider_max(self.page_size)
        finally:
            self._syncing = False
        self._apply(self.size, force=True)

    def _apply(self, size: int, force: bool = False) -> None:
        """Validate, sync the slider and the text box, and redraw."""
        show_error(self.error, self.theme, None)
        self._syncing = True
        try:
            if self.slider.min <= size <= self.slider.max:
                self.slider.value = size
            if self.text.value.strip() != str(size) and parse_or_none(self.text.value) != size:
                self.text.value = str(size)
        finally:
            self._syncing = False
        if size != self.size or force or not self.results:
            self.size = size
            self.refresh()

    # ------------------------------------------------------------------------------- output
    def refresh(self) -> None:
        """Recompute the three strategies for the current size and page size; redraw."""
        try:
            self.results = compare_wastage(self.size, self.page_size, self.max_order)
        except KitError as exc:
            show_error(self.error, self.theme, exc)
            return
        first = self.results["alloc_pages"]
        if first.fails:
            summary = (
                f"{format_size(self.size)} needs order {first.order}, above the largest order "
                f"{self.max_order}: alloc_pages, alloc_pages_exact and kmalloc would all fail "
                "(return NULL), as the kernel would."
            )
        else:
            size = format_size(self.size)
            exact = "" if size.endswith(" B") else f" ({self.size} bytes)"  # "4097 B" says it
            pages = 1 << first.order
            summary = (
                f"{size}{exact} with {format_size(self.page_size)} pages: get_order = "
                f"{first.order}, a block of {pages} page{'s' if pages > 1 else ''} "
                f"({format_size(self.page_size << first.order)})."
            )
        self.summary.value = self.theme.text(summary, error=first.fails)
        self.table.value = self._table_html()
        used = [0 if w.fails else w.granted - w.wasted for w in self.results.values()]
        wasted = [w.wasted for w in self.results.values()]
        # round ticks, about five: bqplot's default of ten-odd stacked its labels on each
        # other in the presenter's large type on a compact slide (lesson 4 at 1280x720)
        ticks = nice_ticks(max((u + w for u, w in zip(used, wasted, strict=True)), default=0))
        with self.bars.hold_sync():
            self.bars.x = np.array(list(STRATEGIES))
            self.bars.y = np.array([used, wasted], dtype=float)
        self.bars.scales["y"].max = float(ticks[-1])
        self.figure.axes[1].tick_values = ticks

    def _table_html(self) -> str:
        rows = ["<tr><th>strategy</th><th>order</th><th>pages</th><th>bytes granted</th>"
                "<th>wasted</th><th>waste, % of granted</th></tr>"]
        for name, w in self.results.items():
            if w.fails:
                cells = [name, str(w.order), "-", "fails (NULL)", "-", "-"]
            else:
                cells = [name, "slab" if w.order is None else str(w.order),
                         str(w.pages_granted), f"{w.granted}", f"{w.wasted}",
                         f"{w.percent_of_granted:.1f}"]
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        return self.theme.html(f'<table style="border-spacing:8px 2px">{"".join(rows)}</table>')


def parse_or_none(text: str) -> int | None:
    """The size a text box holds, or None when it does not parse."""
    try:
        return parse_size_text(text)
    except KitError:
        return None
