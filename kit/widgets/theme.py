"""Styling shared by every widget, including the presenter option for a projector.

A projector washes out thin lines and small grey text, so ``presenter=True`` switches every
widget to large fonts, thick strokes and black-on-white colours.  Everything is set through
widget ``style``/``layout`` traits, inline HTML styles and bqplot's own style dicts: no external
CSS or fonts, so it looks the same in JupyterLab, Voila and a static export.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ipywidgets as widgets

if TYPE_CHECKING:  # only named in hints: bqplot loads at a widget's first chart (_deferred)
    import bqplot as bq

__all__ = ["Theme", "get_theme", "slide_layout"]


@dataclass(frozen=True)
class Theme:
    """Font sizes, colours and figure sizes for one look (normal or presenter)."""

    presenter: bool
    font_size: str
    title_size: str
    #: Text, figure background and error colours: any CSS colour.  The normal theme's follow
    #: JupyterLab's theme (its CSS variables, with the light theme's value where there are
    #: none, as in a static export), so titles, axes and labels stay legible in the dark
    #: theme; the presenter's are black on white whatever the theme, for a projector.
    text_color: str
    background: str
    error_color: str
    #: Block outlines on the memory map: drawn over the cells' own colours, so fixed.
    outline: str
    stroke_width: float
    figure_height: str
    #: Distance of an axis title from its axis: (bottom axis, left axis), and the figure
    #: margins that leave room for tick labels and titles.
    label_offsets: tuple[str, str]
    axes_margin: tuple[tuple[str, int], ...]
    #: Bar/line colours of the three strategies: alloc_pages, alloc_pages_exact, kmalloc.
    strategy_colors: tuple[str, str, str]
    #: Memory map colours: free blocks run from the light ``free_low`` (order 0) to the dark
    #: ``free_high`` (the largest order), all blue, so that a reader with red-green colour
    #: blindness still tells them from the allocated states (vermillion, brown) and the others
    #: (``tests/browser/test_colour_vision.py`` checks every pair under simulated protanopia
    #: and deuteranopia).
    free_low: str
    free_high: str
    #: The bars of the free-area chart: a blue that stands out on a light and a dark page.
    free_bar: str
    allocated: str
    exact: str
    trimmed: str
    pcp: str
    outside: str
    #: A block taken off the free lists and not yet handed out: only between two steps of
    #: one call, which the step-through player shows.
    taken: str
    #: The thin lines between the map's cells: a light grey, not white, so that a white
    #: (taken) cell still shows as a cell on a white page, as its legend swatch does.
    cell_stroke: str
    highlight: str

    def map_palette(self, max_order: int) -> list[str]:
        """The memory map's colour of each state code: the free orders 0..``max_order`` (an
        even blend from ``free_low`` to ``free_high``), then allocated, exact (kept), trimmed
        tail, per-CPU, outside the zone and taken (see ``MemoryMap.state_names``)."""
        low, high = rgb(self.free_low), rgb(self.free_high)
        steps = max(max_order, 1)
        free = ["#" + "".join(f"{round(a + (b - a) * order / steps):02x}"
                              for a, b in zip(low, high, strict=True))
                for order in range(max_order + 1)]
        return free + [self.allocated, self.exact, self.trimmed, self.pcp, self.outside,
                       self.taken]

    def html(self, body: str, *, pre: bool = False, error: bool = False,
             scroll: str = "") -> str:
        """Wrap trusted HTML in a div with this theme's font and colours.

        ``scroll`` (a CSS height such as "300px") keeps long text, like an event log, in a
        box at most that high that scrolls up and down: text that grows moves the figures
        around it only until it reaches that height (each move makes the browser lay them out
        and redraw them again), and short text leaves no blank gap below it.
        Long lines wrap, even inside a long word, so no text is ever cut at the right edge.
        """
        color = self.error_color if error else self.text_color
        tag = "pre" if pre else "div"
        wrap = "white-space:pre-wrap;word-break:normal;overflow-wrap:break-word"
        if scroll:
            wrap += f";overflow-y:auto;max-height:{scroll}"
        return (
            f'<{tag} style="font-size:{self.font_size};color:{color};'
            f'background:{self.background};margin:2px 0;{wrap}">{body}</{tag}>'
        )

    def text(self, message: str, *, pre: bool = False, error: bool = False,
             scroll: str = "") -> str:
        """Like ``html`` for plain text (escaped)."""
        return self.html(html.escape(message), pre=pre, error=error, scroll=scroll)

    def style_figure(self, figure: bq.Figure) -> bq.Figure:
        """Apply fonts and sizes to a bqplot figure and its axes.

        Axis titles sit beyond the widest tick labels ("1.5M", "100k" in this theme's font)
        and the margins leave room for both, so a title never covers a tick label.
        """
        figure.title_style = {"font-size": self.title_size, "fill": self.text_color}
        figure.background_style = {"fill": self.background}
        figure.layout.height = self.figure_height
        figure.layout.min_width = "320px"
        for axis in figure.axes:
            axis.tick_style = {"font-size": self.font_size, "fill": self.text_color}
            axis.label_color = self.text_color
            axis.label_offset = self.label_offsets[axis.side == "left"]
        if figure.axes:
            figure.fig_margin = dict(self.axes_margin)
        return figure

    def style_controls(self, controls: Iterable[widgets.Widget]) -> None:
        """Give controls this theme's font size (ipywidgets 8 styles, where they have it)
        and a description as wide as its text, so "ms per step" is never cut."""
        for control in controls:
            style = getattr(control, "style", None)
            if style is None:
                continue
            if self.presenter and "font_size" in style.keys:
                style.font_size = self.font_size
            if "description_width" in style.keys:
                style.description_width = "initial"

    def root(self, container: widgets.Box) -> widgets.Box:
        """Mark a widget's outer box with this theme; the presenter's also gets a stylesheet.

        ipywidgets has no font size for radio buttons, checkboxes' labels or slider readouts,
        so the presenter theme sizes them with CSS scoped to its own class (``kit-presenter``),
        shipped inside the widget: nothing outside a presenter widget changes.
        """
        if self.presenter:
            container.add_class("kit-presenter")
            container.children = (*container.children, widgets.HTML(PRESENTER_CSS))
        return container


#: Controls of at least 24 px in the presenter theme (see ``Theme.root``).
PRESENTER_CSS = """<style>
.kit-presenter .widget-label, .kit-presenter .widget-label-basic, .kit-presenter label,
.kit-presenter .widget-readout, .kit-presenter input, .kit-presenter select,
.kit-presenter button, .kit-presenter .widget-toggle-button {
  font-size: 24px !important; line-height: 1.3 !important; }
.kit-presenter .widget-inline-hbox, .kit-presenter .widget-text, .kit-presenter .widget-dropdown,
.kit-presenter .widget-button, .kit-presenter .widget-toggle-button, .kit-presenter input,
.kit-presenter select, .kit-presenter .widget-radio-box label,
.kit-presenter .widget-label, .kit-presenter .widget-readout {
  height: auto !important; min-height: 36px; }
.kit-presenter input[type=radio], .kit-presenter input[type=checkbox] {
  width: 24px !important; height: 24px !important; min-height: 24px; }
.kit-presenter .widget-radio-box label { display: flex; align-items: center; gap: 8px; }
.kit-presenter .widget-radio-box input { order: -1; margin: 0; }
.kit-presenter .bqplot .axislabel, .kit-presenter .bqplot .legendtext {
  font-size: 24px !important; }
</style>"""

#: The memory map's colours, one palette for every theme (tests/browser/test_colour_vision.py
#: checks it under simulated protanopia and deuteranopia).
MAP_COLOURS = {
    "free_low": "#a6c8e4",
    "free_high": "#08306b",
    "allocated": "#d55e00",
    "exact": "#8c3b00",
    "trimmed": "#f0e442",
    "pcp": "#44aa88",
    "outside": "#bdbdbd",
    "taken": "#ffffff",
    "cell_stroke": "#c8c8c8",
}

NORMAL = Theme(
    presenter=False,
    font_size="13px",
    title_size="15px",
    text_color="var(--jp-content-font-color1, #222222)",
    background="var(--jp-layout-color0, white)",
    error_color="var(--jp-error-color1, #b00020)",
    outline="#222222",
    stroke_width=2.0,
    figure_height="320px",
    label_offsets=("38px", "54px"),
    axes_margin=(("top", 50), ("bottom", 60), ("left", 80), ("right", 20)),
    # Okabe and Ito's colour-blind-safe blue, bluish green and vermillion
    strategy_colors=("#0072b2", "#009e73", "#d55e00"),
    free_bar="#2b7bba",
    **MAP_COLOURS,
    highlight="#ff00ff",
)

PRESENTER = Theme(
    presenter=True,
    font_size="24px",
    title_size="26px",
    text_color="black",
    background="white",
    error_color="#c00000",
    outline="black",
    stroke_width=4.0,
    figure_height="460px",
    label_offsets=("62px", "92px"),
    axes_margin=(("top", 70), ("bottom", 100), ("left", 130), ("right", 30)),
    strategy_colors=("#0060a0", "#008060", "#c04000"),
    free_bar="#08306b",
    **MAP_COLOURS,
    highlight="black",
)


def rgb(color: str) -> tuple[int, int, int]:
    """'#d55e00' -> (213, 94, 0)."""
    color = color.lstrip("#")
    red, green, blue = (int(color[i:i + 2], 16) for i in (0, 2, 4))
    return red, green, blue


def slide_layout(compact: bool | None = None) -> bool:
    """Whether a widget should take its compact layout, made to fit one 1280x720 slide.

    ``None`` follows the ``KIT_SLIDES`` environment variable, which ``kit present --slides``
    sets to 1: the presenter's slide mode chooses the layout, never the lesson's code, so the
    same cell is the full widget in a student's notebook and the compact one on a slide.
    """
    if compact is None:
        compact = os.environ.get("KIT_SLIDES", "") == "1"
    return compact


def get_theme(presenter: bool | None) -> Theme:
    """The presenter theme or the normal one.

    ``None`` (every widget's default) follows the ``KIT_PRESENTER`` environment variable, which
    ``kit present`` sets to 1, so a lesson served for a projector needs no code change.
    """
    if presenter is None:
        presenter = os.environ.get("KIT_PRESENTER", "") == "1"
    return PRESENTER if presenter else NORMAL
