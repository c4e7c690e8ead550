"""Free-area chart: ``nr_free`` per order as bars, with the ``/proc/buddyinfo`` line beside it.

This is the kernel's own view of a zone (what ``cat /proc/buddyinfo`` prints), so students learn
to read the real file by watching the bars move as they allocate and free.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np

from ..procfs import format_buddyinfo
from ..zone import Zone
from ._base import ZoneListener, bar_figure
from .theme import Theme, get_theme

__all__ = ["FreeAreaChart", "FreeAreaView"]


class FreeAreaView(widgets.VBox):
    """Bars of free blocks per order plus a buddyinfo line, drawn from plain counts.

    The live chart (``FreeAreaChart``), the step-through player and the live system view all
    draw with this; it does not know where the counts come from.
    """

    def __init__(self, theme: Theme, title: str = "free_area[order].nr_free") -> None:
        self.theme = theme
        self.figure, self.bars = bar_figure(theme, title, "order", "free blocks",
                                            colors=[theme.free_high])
        self.buddyinfo = widgets.HTML()
        super().__init__([self.figure, self.buddyinfo])

    def show(self, nr_free: Sequence[int], line: str | None = None,
             highlight: int | None = None) -> None:
        """Draw the counts; ``line`` defaults to the buddyinfo line they make."""
        orders = np.arange(len(nr_free))
        colors = [self.theme.free_high] * len(nr_free)
        if highlight is not None and 0 <= highlight < len(nr_free):
            colors[highlight] = self.theme.highlight
        top = max(max(nr_free, default=0), 1)
        step = -(-top // 5)  # whole-number ticks: a count of blocks has no fractions
        ticks = np.arange(0, top + step, step, dtype=float)
        y_axis = self.figure.axes[1]
        with self.bars.hold_sync():  # one message per widget: bars, scale, axis
            self.bars.x = orders
            self.bars.y = np.array(nr_free, dtype=float)
            self.bars.colors = colors
        self.bars.scales["y"].max = float(ticks[-1])
        y_axis.tick_values = ticks
        text = format_buddyinfo(list(nr_free)) if line is None else line
        self.buddyinfo.value = self.theme.text("/proc/buddyinfo:\n" + text, pre=True)


class FreeAreaChart(ZoneListener, FreeAreaView):
    """Live ``nr_free`` per order of a zone, redrawn after each operation on it.

    Construct with a ``kit.Zone`` (default: a fresh 1024-page zone); ``refresh()`` redraws;
    ``close()`` also stops listening to the zone.
    """

    def __init__(self, zone: Zone | None = None, *, presenter: bool | None = None) -> None:
        FreeAreaView.__init__(self, get_theme(presenter))
        self._listen(zone if zone is not None else Zone(1024))
        self.refresh()

    def refresh(self) -> None:
        """Redraw from the zone's counts (``zone.nr_free()``)."""
        self.show(self.zone.nr_free(), self.zone.format_buddyinfo())
