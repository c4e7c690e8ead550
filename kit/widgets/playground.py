"""Playground: call the allocator with buttons and watch the free lists and the map change.

Every button is one kernel call (``alloc_pages``, ``alloc_pages_exact``, ``free_pages`` /
``free_pages_exact``), logged with the steps it took (take, split, merge, put), next to the
free-area chart and the memory map of the same zone.  A seeded random workload fills the zone
the same way on every machine; reset brings the zone back to how it started.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cached_property

import ipywidgets as widgets

from ..errors import KitError
from ..events import Event
from ..orders import format_size
from ..workload import run_workload
from ..zone import Zone
from ._base import ZoneListener, beside, fitted, parse_size_text, show_error
from .free_area import FreeAreaChart
from .memory_map import MemoryMap
from .theme import get_theme

__all__ = ["LogEntry", "Playground"]


#: Cells of the playground's memory map (a standalone ``MemoryMap`` draws up to 4096).  The
#: browser redraws every cell of a bqplot grid on any change: with 4096 cells a click on a
#: 2^20-page zone took about 200 ms to settle in Chromium, with 1024 about 100 ms
#: (bench/bench_browser.py).  Zones of up to 1024 pages still get a cell per page; on 2^20
#: pages a cell is one order-10 block.
PLAYGROUND_CELLS = 1024
#: Operations kept in the event log (the oldest are dropped).
LOG_OPERATIONS = 20
#: Steps listed under the newest operation in the log, and under each older one: an exact
#: allocation of megabytes takes thousands, which ``zone.trace`` keeps in full, and the whole
#: log is sent to the browser again after every call.
LOG_STEPS = 64
FOLDED_STEPS = 16


@dataclass(frozen=True)
class LogEntry:
    """One line of the event log: a call with its result, and the steps it took."""

    title: str
    events: tuple[Event, ...] = ()

    def step_lines(self, limit: int = LOG_STEPS) -> list[str]:
        """The steps as text, the first ``limit`` of them and a count of the rest."""
        lines = [event.describe() for event in self.events[:limit]]
        if len(self.events) > limit:
            lines.append(f"... and {len(self.events) - limit} more steps "
                         "(zone.trace.operations[-1].events has them all)")
        return lines

    @cached_property
    def _steps_html(self) -> dict[int, str]:
        return {}  # limit -> the steps as list items (a call's steps never change)

    def to_html(self, open_: bool) -> str:
        """A ``<details>`` element: the call as its summary, the steps folded inside."""
        title = html.escape(self.title)
        if not self.events:
            return f'<div style="margin:2px 0 2px 1.1em">{title}</div>'
        limit = LOG_STEPS if open_ else FOLDED_STEPS
        steps = self._steps_html.get(limit)
        if steps is None:
            steps = self._steps_html[limit] = "".join(
                f"<li>{html.escape(line)}</li>" for line in self.step_lines(limit))
        count = len(self.events)
        return (f'<details{" open" if open_ else ""} style="margin:2px 0">'
                f'<summary style="cursor:pointer">{title} '
                f'<span style="opacity:.7">({count} step{"s" if count != 1 else ""})</span>'
                f'</summary><ol style="margin:2px 0;padding-left:3em">{steps}</ol></details>')


def _row(children: list[widgets.Widget]) -> widgets.HBox:
    """Controls side by side, wrapping onto a second line rather than cutting a label."""
    return widgets.HBox(children, layout=widgets.Layout(flex_flow="row wrap",
                                                        align_items="center"))


class Playground(ZoneListener, widgets.VBox):
    """Buttons and inputs for the allocator's calls, an event log, the chart and the map.

    ``alloc(order)``, ``alloc_exact(size)``, ``free_selected()``, ``reset()`` and
    ``run_random(seed, steps)`` do what the buttons do; ``history`` is the event log (a
    ``LogEntry`` per call, newest first; the newest is shown unfolded);
    ``live()`` lists the allocations that can be freed, as the selector shows them.
    ``cell_budget`` caps the memory map's cells (``PLAYGROUND_CELLS``, for quick clicks).
    """

    def __init__(self, zone: Zone | None = None, *, presenter: bool | None = None,
                 cell_budget: int = PLAYGROUND_CELLS) -> None:
        self.zone = zone if zone is not None else Zone(1024)
        self.theme = theme = get_theme(presenter)
        self._initial = self.zone.snapshot()
        self.order = widgets.BoundedIntText(value=0, min=0, max=self.zone.max_order,
                                            description="order")
        self.alloc_button = widgets.Button(description="alloc_pages(order)", layout=fitted())
        self.size = widgets.Text(value="132K", description="size")
        self.exact_button = widgets.Button(description="alloc_pages_exact(size)", layout=fitted())
        self.allocation = widgets.Dropdown(options=[], description="allocation")
        self.free_button = widgets.Button(description="free selected", layout=fitted())
        self.seed = widgets.IntText(value=0, description="seed")
        self.steps = widgets.BoundedIntText(value=100, min=1, max=100_000, description="steps")
        self.random_button = widgets.Button(description="random workload", layout=fitted())
        self.reset_button = widgets.Button(description="reset zone", layout=fitted())
        self.error = widgets.HTML()
        self.event_log = widgets.HTML()
        self.history: list[LogEntry] = []
        self.chart = FreeAreaChart(self.zone, presenter=presenter)
        self.map = MemoryMap(self.zone, presenter=presenter, cell_budget=cell_budget)
        controls = [self.order, self.alloc_button, self.size, self.exact_button,
                    self.allocation, self.free_button, self.seed, self.steps,
                    self.random_button, self.reset_button]
        theme.style_controls(controls)
        left = widgets.VBox([
            _row([self.order, self.alloc_button]),
            _row([self.size, self.exact_button]),
            _row([self.allocation, self.free_button]),
            _row([self.seed, self.steps]),
            _row([self.random_button, self.reset_button]),
            self.error, self.event_log,
        ], layout=widgets.Layout(flex="0 1 540px", min_width="420px"))
        super().__init__([widgets.HBox([left, beside(self.chart)],
                                       layout=widgets.Layout(flex_flow="row wrap")), self.map])
        self.theme.root(self)
        self.alloc_button.on_click(lambda _b: self._guard(lambda: self.alloc(self.order.value)))
        self.exact_button.on_click(
            lambda _b: self._guard(lambda: self.alloc_exact(parse_size_text(self.size.value))))
        self.free_button.on_click(lambda _b: self._guard(self.free_selected))
        self.random_button.on_click(
            lambda _b: self._guard(lambda: self.run_random(self.seed.value, self.steps.value)))
        self.reset_button.on_click(lambda _b: self._guard(self.reset))
        self._listen(self.zone)  # calls made from other cells update the selector too
        self._update_allocations()
        self._show_log()

    def refresh(self) -> None:
        """Re-list the allocations from the zone (after calls made outside the playground)."""
        self._update_allocations()

    # ------------------------------------------------------------------------------ actions
    def _guard(self, action) -> None:  # noqa: ANN001 - a zero-argument callable
        """Run a button's action; a kit error becomes a message, never a traceback."""
        show_error(self.error, self.theme, None)
        try:
            action()
        except KitError as exc:
            show_error(self.error, self.theme, exc)

    def _call(self, title: str, call) -> object:  # noqa: ANN001
        """Run one zone call with its events logged and one redraw of each view."""
        events: list[Event] = []
        unsubscribe = self.zone.subscribe(events.append)
        try:
            with self.hold(), self.chart.hold(), self.map.hold():
                result = call()
        finally:
            unsubscribe()
        self._log(LogEntry(title(result) if callable(title) else title, tuple(events)))
        return result

    def alloc(self, order: int) -> object:
        """``alloc_pages(order)``; returns the Page or None."""
        return self._call(
            lambda page: f"alloc_pages({order}) -> "
            + ("NULL (no free block big enough)" if page is None else f"pfn {page.pfn}"),
            lambda: self.zone.alloc_pages(order))

    def alloc_exact(self, size: int) -> object:
        """``alloc_pages_exact(size)``; returns the address or None."""
        return self._call(
            lambda addr: f"alloc_pages_exact({size}) -> "
            + ("NULL" if addr is None else f"pfn {self.zone.virt_to_pfn(addr)}"),
            lambda: self.zone.alloc_pages_exact(size))

    def live(self) -> list[tuple[str, tuple[str, int, int]]]:
        """The allocations that can be freed: (label, (kind, pfn, order or pages)), by pfn."""
        plain, exact = [], {}
        for pfn, order, owner in self.zone.allocations():
            if owner is None:
                plain.append((pfn, order))
            else:
                exact[owner] = exact.get(owner, 0) + 1
        items = [(pfn, ("pages", pfn, order)) for pfn, order in plain]
        items += [(pfn, ("exact", pfn, pages)) for pfn, pages in exact.items()]
        options = []
        for pfn, value in sorted(items):
            if value[0] == "pages":
                label = f"alloc_pages order {value[2]} at pfn {pfn}"
            else:
                label = (f"alloc_pages_exact {value[2]} pages "
                         f"({format_size(value[2] * self.zone.page_size)}) at pfn {pfn}")
            options.append((label, value))
        return options

    def free_selected(self) -> None:
        """Free the allocation chosen in the selector."""
        choice = self.allocation.value
        if choice is None:
            raise KitError("nothing to free: allocate something first")
        kind, pfn, amount = choice
        addr = self.zone.pfn_to_virt(pfn)
        if kind == "pages":
            self._call(f"free_pages(pfn {pfn}, order {amount})",
                       lambda: self.zone.free_pages(addr, amount))
        else:
            size = amount * self.zone.page_size
            self._call(f"free_pages_exact(pfn {pfn}, {size})",
                       lambda: self.zone.free_pages_exact(addr, size))

    def run_random(self, seed: int, steps: int) -> None:
        """A seeded random workload (``kit.run_workload``), summarised in one log line."""
        result = self._quiet(lambda: run_workload(self.zone, seed=seed, steps=steps))
        self._log(LogEntry(f"random workload, seed {seed}, {steps} steps: "
                           f"{result.allocations} allocations, {result.failures} failed, "
                           f"{result.frees} freed, {len(result.live)} still allocated"))

    def reset(self) -> None:
        """Bring the zone back to its state when the playground was built."""
        self.zone.restore(self._initial)
        self.map.reset()
        self.chart.refresh()
        self._update_allocations()
        self._log(LogEntry("reset: the zone is back to its initial state"))

    def _quiet(self, call):  # noqa: ANN001, ANN202
        with self.hold(), self.chart.hold(), self.map.hold():
            return call()

    # ------------------------------------------------------------------------------ display
    def _update_allocations(self) -> None:
        options = self.live()
        with self.allocation.hold_sync():  # options and choice reach the browser together
            self.allocation.options = options
            self.allocation.value = options[-1][1] if options else None

    def _log(self, entry: LogEntry) -> None:
        self.history = [entry, *self.history[:LOG_OPERATIONS - 1]]
        self._show_log()

    def _show_log(self) -> None:
        if not self.history:
            body = html.escape("(the event log is empty: press a button)")
        else:
            body = "".join(entry.to_html(open_=index == 0)
                           for index, entry in enumerate(self.history))
        self.event_log.value = self.theme.html(
            "<b>event log</b> (newest first; click a call to show or hide its steps)<br>" + body,
            scroll="320px")

    def close(self) -> None:
        """Close the playground and stop its views following the zone."""
        for view in (getattr(self, "chart", None), getattr(self, "map", None)):
            if view is not None:
                view.close()
        super().close()
