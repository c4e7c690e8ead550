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

import bqplot as bq
import ipywidgets as widgets

__all__ = ["Theme", "get_theme"]


@dataclass(frozen=True)
class Theme:
    """Font sizes, colours and figure sizes for one look (normal or presenter)."""

    presenter: bool
    font_size: str
    title_size: str
    text_color: str
    background: str
    error_color: str
    stroke_width: float
    figure_height: str
    #: Bar/line colours of the three strategies: alloc_pages, alloc_pages_exact, kmalloc.
    strategy_colors: tuple[str, str, str]
    #: Memory map colours: free blocks run from the light ``free_low`` (order 0) to the dark
    #: ``free_high`` (the largest order).
    free_low: str
    free_high: str
    allocated: str
    exact: str
    trimmed: str
    pcp: str
    outside: str
    highlight: str

    def html(self, body: str, *, pre: bool = False, error: bool = False,
             scroll: str = "") -> str:
        """Wrap trusted HTML in a div with this theme's font and colours.

        ``scroll`` (a CSS height such as "300px") keeps long text, like an event log, in a
        box of that height that scrolls up and down; long lines wrap, even inside a long
        word, so no text is ever cut at the right edge.
        """
        color = self.error_color if error else self.text_color
        tag = "pre" if pre else "div"
        wrap = "white-space:pre-wrap;overflow-wrap:anywhere"
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
        """Apply fonts and sizes to a bqplot figure and its axes."""
        figure.title_style = {"font-size": self.title_size, "fill": self.text_color}
        figure.background_style = {"fill": self.background}
        figure.layout.height = self.figure_height
        figure.layout.min_width = "320px"
        for axis in figure.axes:
            axis.tick_style = {"font-size": self.font_size, "fill": self.text_color}
            axis.label_color = self.text_color
            if self.presenter:
                axis.label_offset = "50px"
        if self.presenter:
            figure.fig_margin = {"top": 70, "bottom": 70, "left": 90, "right": 30}
        return figure

    def style_controls(self, controls: Iterable[widgets.Widget]) -> None:
        """Give controls that support it this theme's font size (ipywidgets 8 styles)."""
        if not self.presenter:
            return
        for control in controls:
            style = getattr(control, "style", None)
            if style is not None and "font_size" in style.keys:
                style.font_size = self.font_size
            if style is not None and "description_width" in style.keys:
                style.description_width = "initial"


NORMAL = Theme(
    presenter=False,
    font_size="13px",
    title_size="15px",
    text_color="#222222",
    background="white",
    error_color="#b00020",
    stroke_width=2.0,
    figure_height="320px",
    strategy_colors=("#1f77b4", "#2ca02c", "#ff7f0e"),
    free_low="#c6e9c0",
    free_high="#1b7a2f",
    allocated="#d62728",
    exact="#9467bd",
    trimmed="#ffd92f",
    pcp="#17becf",
    outside="#eeeeee",
    highlight="#ff00ff",
)

PRESENTER = Theme(
    presenter=True,
    font_size="22px",
    title_size="26px",
    text_color="black",
    background="white",
    error_color="#c00000",
    stroke_width=4.0,
    figure_height="460px",
    strategy_colors=("#0033cc", "#008000", "#e65c00"),
    free_low="#a6f0a6",
    free_high="#004d00",
    allocated="#cc0000",
    exact="#5a00b3",
    trimmed="#ffcc00",
    pcp="#0099cc",
    outside="#dddddd",
    highlight="black",
)


def get_theme(presenter: bool | None) -> Theme:
    """The presenter theme or the normal one.

    ``None`` (every widget's default) follows the ``KIT_PRESENTER`` environment variable, which
    ``kit present`` sets to 1, so a lesson served for a projector needs no code change.
    """
    if presenter is None:
        presenter = os.environ.get("KIT_PRESENTER", "") == "1"
    return PRESENTER if presenter else NORMAL
