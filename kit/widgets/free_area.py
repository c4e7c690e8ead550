"""Free-area chart: ``nr_free`` per order as bars, with the ``/proc/buddyinfo`` line beside it.

This is the kernel's own view of a zone (what ``cat /proc/buddyinfo`` prints), so students learn
to read the real file by watching the bars move as they allocate and free.  After Run All a
chart already shows the end state, so the live chart can replay the changes since it was made
(or since a mark) one operation per frame; the counts per operation are rebuilt from the zone's
trace when asked (``kit.core.replay.nr_free_history``), so following a zone costs nothing extra.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as widgets

from kit.core.procfs import format_buddyinfo
from kit.core.replay import nr_free_history
from kit.core.zone import Zone

from ._base import RunToUse, ZoneListener, bar_figure
from ._deferred import bq, np
from .playcontrols import PlayControls, labelled_button
from .theme import Theme, get_theme

__all__ = ["FreeAreaChart", "FreeAreaView"]


class FreeAreaView(RunToUse, widgets.VBox):
    """Bars of free blocks per order plus a buddyinfo line, drawn from plain counts.

    The live chart (``FreeAreaChart``), the step-through player and the live system view all
    draw with this; it does not know where the counts come from.  On a large zone the one
    order-10 bar dwarfs the others, so two switches change the view: ``unit`` counts free
    pages instead of blocks (a block of order n is 2^n pages), ``log_scale`` makes small
    counts visible next to big ones.  ``values`` is what the bars show; the title says which
    (``title`` for blocks, ``pages_title`` for pages): free pages are not ``nr_free``.
    """

    def __init__(self, theme: Theme, title: str = "free_area[order].nr_free: free blocks",
                 pages_title: str = "free pages per order: nr_free × 2^order") -> None:
        self.theme = theme
        self.titles = {"blocks": title, "pages": pages_title}
        self.figure, self.bars = bar_figure(theme, title, "order", "free blocks",
                                            colors=[theme.free_bar])
        self.y_linear = self.bars.scales["y"]
        self.y_log = bq.LogScale(min=LOG_FLOOR)
        self.unit = widgets.ToggleButtons(options=[("free blocks", "blocks"),
                                                   ("free pages", "pages")],
                                          value="blocks",
                                          tooltips=["free blocks of each order",
                                                    "free pages in blocks of each order"])
        self.log_scale = widgets.Checkbox(value=False, description="log scale")
        theme.style_controls([self.unit, self.log_scale])
        self.unit.style.button_width = "auto"
        self.buddyinfo = widgets.HTML()
        self.values = np.zeros(0)
        self._shown: tuple[list[int], str | None, int | None] = ([], None, None)
        super().__init__([widgets.HBox([self.unit, self.log_scale],
                                       layout=widgets.Layout(flex_flow="row wrap")),
                          self.figure, self.buddyinfo])
        self.unit.observe(lambda _change: self.show(*self._shown), "value")
        self.log_scale.observe(lambda _change: self.show(*self._shown), "value")

    def show(self, nr_free: Sequence[int], line: str | None = None,
             highlight: int | None = None) -> None:
        """Draw the counts; ``line`` defaults to the buddyinfo line they make."""
        nr_free = list(nr_free)
        self._shown = (nr_free, line, highlight)
        orders = np.arange(len(nr_free))
        pages = self.unit.value == "pages"
        values = np.array(nr_free, dtype=float) * (2.0 ** orders if pages else 1.0)
        self.values = values
        colors = [self.theme.free_bar] * len(nr_free)
        if highlight is not None and 0 <= highlight < len(nr_free):
            colors[highlight] = self.theme.highlight
        log = self.log_scale.value
        ticks = log_ticks(values.max(initial=0)) if log else nice_ticks(values.max(initial=0))
        scale = self.y_log if log else self.y_linear
        y_axis = self.figure.axes[1]
        with self.bars.hold_sync():  # one message per widget: bars, scale, axis
            self.bars.x = orders
            # a log scale has no 0: an empty order is drawn at the floor, i.e. with no height
            self.bars.y = np.maximum(values, LOG_FLOOR) if log else values
            self.bars.colors = colors
            self.bars.base = LOG_FLOOR if log else 0.0
            if self.bars.scales["y"] is not scale:
                self.bars.scales = {"x": self.bars.scales["x"], "y": scale}
        scale.max = float(ticks[-1])
        with y_axis.hold_sync():
            y_axis.scale = scale
            y_axis.tick_values = ticks
            y_axis.label = "free pages" if pages else "free blocks"
        self.figure.title = self.titles[self.unit.value]
        text = format_buddyinfo(nr_free) if line is None else line
        self.buddyinfo.value = buddyinfo_html(self.theme, text)


def buddyinfo_html(theme: Theme, line: str) -> str:
    """A ``/proc/buddyinfo`` line with each count under its order, in a column as narrow as
    a chart beside a map: the zone's name on a row of its own, then a table of orders and
    counts (the whole line, wrapped by the browser, put counts under the wrong orders).
    A line that is not one zone's counts is shown as it is."""
    words = line.split()
    label = " ".join(words[:4])
    counts = words[4:]
    if len(words) < 5 or words[0] != "Node" or not all(c.isdigit() for c in counts):
        return theme.text("/proc/buddyinfo:\n" + line, pre=True)
    cell = "padding:0 0.45em;text-align:right;font-family:monospace"
    head = "".join(f'<th style="{cell};font-weight:normal;opacity:.75">{order}</th>'
                   for order in range(len(counts)))
    row = "".join(f'<td style="{cell}">{count}</td>' for count in counts)
    first = 'style="padding-right:0.6em;text-align:left;font-weight:normal"'
    table = (f'<table style="border-collapse:collapse" title="{html.escape(line.strip())}">'
             f"<tr><th {first}>order</th>{head}</tr><tr><th {first}>free blocks</th>{row}</tr>"
             "</table>")
    return theme.html(f"/proc/buddyinfo: <code>{html.escape(label)}</code>{table}")


#: Where the log scale starts: below one block, so a count of 1 still has a visible bar.
LOG_FLOOR = 0.5


def nice_ticks(top: float, count: int = 5) -> np.ndarray:
    """About ``count`` whole-number ticks from 0 past ``top`` in steps of 1, 2 or 5 x 10^k.

    Counts of blocks or pages have no fractions, and 0, 200, 400 reads better than 0, 339,
    678.
    """
    top = max(float(top), 1.0)
    raw = top / count
    power = 10 ** max(int(np.floor(np.log10(raw))), 0)
    step = next((m * power for m in (1, 2, 5, 10) if m * power >= raw), 10 * power)
    return np.arange(0, top + step, step, dtype=float)[: int(np.ceil(top / step)) + 1]


def log_ticks(top: float) -> np.ndarray:
    """Powers of ten from 1 to the first one at or above ``top``: 1, 10, 100, 1k...; at least
    1 and 10, since a log axis with one tick cannot be read."""
    top = max(float(top), 10.0)
    return 10.0 ** np.arange(0, int(np.ceil(np.log10(top))) + 1)


#: Milliseconds per operation when the chart replays (slow enough to see each bar move).
REPLAY_INTERVAL = 700


class FreeAreaChart(ZoneListener, FreeAreaView):
    """Live ``nr_free`` per order of a zone, redrawn after each operation on it.

    Construct with a ``kit.Zone`` (default: a fresh 1024-page zone); ``refresh()`` redraws;
    ``close()`` also stops listening to the zone.  ``replay()`` (the replay button) plays the
    counts again from the ``since``-th operation of the zone's trace (default: the chart's
    creation; ``mark()`` moves it to now), one frame per operation, ending on the live counts;
    ``show_frame(i)`` shows one frame and ``frames`` holds them (caption, counts).
    """

    def __init__(self, zone: Zone | None = None, *, presenter: bool | None = None,
                 since: int | None = None) -> None:
        FreeAreaView.__init__(self, get_theme(presenter))
        zone = zone if zone is not None else Zone(1024)
        self.frames: list[tuple[str, tuple[int, ...]]] = []
        self.player = widgets.Play(value=0, min=0, max=0, interval=REPLAY_INTERVAL,
                                   description="replay", show_repeat=False)
        self.replay_button = labelled_button("replay the changes", "repeat",
                                             "play the counts again, one call per frame")
        self.controls = PlayControls(self.player, "the changes")
        self.caption = widgets.HTML()
        self.theme.style_controls([self.replay_button, self.controls.toggle, self.controls.stop])
        self.children = (widgets.HBox([self.replay_button, self.controls, self.caption],
                                      layout=widgets.Layout(flex_flow="row wrap",
                                                            align_items="center")),
                         *self.children)
        self._listen(zone)
        self.since = 0
        if since is None:
            self.mark()
        else:
            self.since = since
        self.replay_button.on_click(lambda _b: self.replay())
        self.player.observe(lambda change: self.show_frame(change["new"]), "value")
        self.theme.root(self)
        self.refresh()

    def refresh(self) -> None:
        """Redraw from the zone's counts (``zone.nr_free()``); a replay under way stops."""
        self.player.playing = False
        self.caption.value = ""
        self.show(self.zone.nr_free(), self.zone.format_buddyinfo())

    def mark(self) -> None:
        """Replay from now on: the changes made after this call."""
        self.since = len(self.zone.trace.operations) if self.zone.trace is not None else 0

    def replay(self) -> None:
        """Play the counts again, one operation per frame, from the mark to the live state."""
        if self.zone.trace is None:
            self.frames = []
            self.caption.value = self.theme.text(
                "nothing to replay: this zone keeps no trace (Zone(record=False))")
            return
        self.frames = nr_free_history(self.zone, min(self.since, len(self.zone.trace.operations)))
        self.player.playing = False
        with self.player.hold_sync():
            self.player.max = len(self.frames) - 1
            self.player.value = 0
        self.show_frame(0)
        self.player.playing = len(self.frames) > 1

    def show_frame(self, index: int) -> None:
        """Draw the counts after the ``index``-th replayed operation (0: before the first)."""
        if not self.frames:
            return
        index = min(max(int(index), 0), len(self.frames) - 1)
        what, counts = self.frames[index]
        if len(self.frames) == 1:
            text = "nothing to replay yet: no call since the mark; the chart follows the zone"
        elif index == 0:
            text = (f"before the {len(self.frames) - 1} operation"
                    f"{'' if len(self.frames) == 2 else 's'} to replay")
        else:
            text = f"after {index}/{len(self.frames) - 1}: {what}"
        self.caption.value = self.theme.text(text)
        self.show(counts)
