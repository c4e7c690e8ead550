"""Live system view: the real ``/proc/buddyinfo`` (and pagetypeinfo) of the kernel's machine.

After the simulator, the real thing: the same bars for the machine the notebook runs on.
The files exist only on Linux (not on macOS or Windows, and not in every container), and
``/proc/pagetypeinfo`` is root-only since Linux 5.4, so each missing piece is explained in
the widget instead of failing.
"""

from __future__ import annotations

import asyncio

import ipywidgets as widgets

from kit.core.errors import KitError
from kit.core.procfs import (
    BuddyInfoReading,
    BuddyInfoZone,
    format_buddyinfo,
    main_zone,
    read_buddyinfo,
    read_pagetypeinfo,
)
from kit.core.zone import Zone

from ._base import RunToUse, _running_loop, fitted
from .free_area import FreeAreaView
from .theme import get_theme

__all__ = ["LiveBuddyInfo"]


class LiveBuddyInfo(RunToUse, widgets.VBox):
    """Bars of a real zone's free blocks per order, refreshed on demand or on a timer.

    ``path``/``pagetypeinfo_path`` default to the /proc files (a saved copy works too).
    ``refresh()`` re-reads them; ``zones`` holds the parsed buddyinfo lines; ``message`` says
    why something is missing.  ``auto`` turns the timer on (``interval`` seconds; it needs a
    running kernel's event loop).  A ``kit.Zone`` given is shown alongside for comparison.
    A ``reading`` (``kit.core.procfs.take_buddyinfo()``) is shown as it was taken, not read again,
    so that a question asked about it and this view show the same numbers; *refresh* then
    reads its file anew.  The zone shown first is ``kit.core.procfs.main_zone``'s choice.
    """

    def __init__(self, zone: Zone | None = None, *, path: str = "/proc/buddyinfo",
                 pagetypeinfo_path: str = "/proc/pagetypeinfo", interval: float = 5.0,
                 reading: BuddyInfoReading | None = None,
                 presenter: bool | None = None) -> None:
        self.theme = theme = get_theme(presenter)
        if reading is not None and reading.path:
            path = reading.path
        self.path, self.pagetypeinfo_path = path, pagetypeinfo_path
        self.simulated = zone
        self.zones: list[BuddyInfoZone] = []
        self.message = ""
        self.zone_choice = widgets.Dropdown(options=[], description="zone")
        self.refresh_button = widgets.Button(description="refresh", layout=fitted())
        self.auto = widgets.Checkbox(value=False, description="refresh on a timer")
        self.interval = widgets.BoundedFloatText(value=interval, min=0.5, max=3600,
                                                 description="seconds")
        self.status = widgets.HTML()
        self.pagetypeinfo = widgets.HTML()
        self.view = FreeAreaView(theme, title=f"{path}: free blocks per order",
                                 pages_title=f"{path}: free pages per order")
        theme.style_controls([self.zone_choice, self.refresh_button, self.auto, self.interval])
        super().__init__([
            widgets.HBox([self.zone_choice, self.refresh_button, self.auto, self.interval],
                         layout=widgets.Layout(flex_flow="row wrap")),
            self.status, self.view, self.pagetypeinfo,
        ])
        self.theme.root(self)
        self._timer: asyncio.TimerHandle | None = None
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.zone_choice.observe(lambda _change: self._redraw(), "value")
        self.auto.observe(self._on_auto, "value")
        if reading is None:
            self.refresh()
        else:
            self.zones = list(reading.zones)
            self.message = (f"{reading.stand_in}\nShown instead: the kit's sample."
                            if reading.stand_in else "")
            self._choose()

    def refresh(self) -> None:
        """Re-read the files and redraw; a missing file becomes a message, not an error."""
        try:
            self.zones = read_buddyinfo(self.path)
            self.message = ""
        except KitError as exc:
            self.zones = []
            self.message = (f"{exc}\nThe live view needs Linux: /proc/buddyinfo does not exist "
                            "on macOS or Windows, nor in containers without /proc. The "
                            "simulated zones in the other widgets work everywhere.")
        self._choose()

    def _choose(self) -> None:
        """Fill the zone menu, keeping the zone shown if it is still there, and redraw."""
        labels = [(f"Node {z.node}, zone {z.zone}", i) for i, z in enumerate(self.zones)]
        previous = self.zone_choice.value
        self.zone_choice.options = labels
        if labels:
            values = [value for _, value in labels]
            self.zone_choice.value = previous if previous in values else main_zone(self.zones)
        self._redraw()

    def _redraw(self) -> None:
        self._draw()
        self.pagetypeinfo.value = self.theme.text(self._pagetypeinfo_text(), pre=True)

    def _pagetypeinfo_text(self) -> str:
        if not self.zones:
            return ""
        try:
            info = read_pagetypeinfo(self.pagetypeinfo_path)
        except KitError as exc:
            return f"pagetypeinfo: {exc}"
        chosen = self.zones[self.zone_choice.value or 0]
        lines = [f"{self.pagetypeinfo_path}: page block order {info.pageblock_order}; "
                 f"free pages by migratetype in Node {chosen.node}, zone {chosen.zone}:"]
        totals: dict[str, int] = {}
        for row in info.free:
            if (row.node, row.zone) != (chosen.node, chosen.zone):
                continue
            pages = sum(count << order for order, count in enumerate(row.counts))
            totals[row.migratetype] = totals.get(row.migratetype, 0) + pages
        lines += [f"  {name:<12} {pages} free pages" for name, pages in totals.items()]
        return "\n".join(lines)

    def _draw(self) -> None:
        if not self.zones:
            self.status.value = self.theme.text(self.message, error=True)
            self.view.show([], line="(not available)")
            return
        chosen = self.zones[self.zone_choice.value or 0]
        text = "\n".join(format_buddyinfo(z.nr_free, z.node, z.zone) for z in self.zones)
        if self.simulated is not None:
            text += "\nsimulated:\n" + self.simulated.format_buddyinfo()
        note = self.theme.text(self.message, error=True) if self.message else ""
        self.status.value = note + self.theme.text(
            f"{self.path}: Node {chosen.node}, zone {chosen.zone}: "
            f"{chosen.free_pages} free pages")
        self.view.show(chosen.nr_free, line=text)

    def _on_auto(self, change: dict) -> None:
        if not change["new"]:
            self._cancel()
            return
        if _running_loop() is None:
            self.auto.value = False
            self.status.value = self.theme.text(
                "the timer needs a running Jupyter kernel; press refresh instead", error=True)
            return
        self._schedule()

    def _schedule(self) -> None:
        loop = _running_loop()
        if loop is not None and self.auto.value:
            self._timer = loop.call_later(self.interval.value, self._tick)

    def _tick(self) -> None:
        self.refresh()
        self._schedule()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        """Stop the timer and close the widget."""
        self._cancel()
        super().close()
