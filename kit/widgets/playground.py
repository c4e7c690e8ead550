"""Playground: call the allocator with buttons and watch the free lists and the map change.

Every button is one kernel call (``alloc_pages``, ``alloc_pages_exact``, ``free_pages`` /
``free_pages_exact``), logged with the steps it took (take, split, merge, put), next to the
free-area chart and the memory map of the same zone.  A seeded random workload fills the zone
the same way on every machine; reset brings the zone back to how it started.

With "predict first" on (as in the lessons), a button does not run its call at once: it asks
what the call will do (the pfn it returns, nr_free after it, its splits or merges; the reader
picks which), the kit computing the answer on a copy of the zone (``kit.teaching.predict``).
Checking the typed prediction marks it; a first wrong one gets a hint naming the likely
misconception and another try, and the call runs once the prediction is right or a second try
was wrong, so the map and the log show what the reader just predicted.  "just do it" runs it
unasked.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import ipywidgets as widgets

from kit.core.errors import KitError
from kit.core.events import Event
from kit.core.orders import format_size
from kit.core.workload import run_workload
from kit.core.zone import Zone
from kit.teaching.practice import Mark
from kit.teaching.predict import Attempts, Prediction, call_prediction

from ._base import RunToUse, ZoneListener, beside, fitted, parse_size_text, show_error
from .free_area import FreeAreaChart
from .memory_map import MemoryMap
from .theme import get_theme, slide_layout

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
#: What "predict first" asks about a call (``kit.teaching.predict.ASKS``), as the selector words it.
ASK_CHOICES = (("the pfn returned", "pfn"), ("nr_free after it", "nr_free"),
               ("its splits", "splits"), ("its merges", "merges"))
#: The slide layout's map side, chart height and event log height, in pixels: with the calls
#: beside them and the map's key below, the whole Playground fits 1280x720 at scale 1.
COMPACT_FIGURE = 320
COMPACT_CHART = 300
COMPACT_LOG = 150
#: The slide layout's stylesheet: an empty message line takes no room (the presenter theme
#: gives every line 36 px), and the map's colour key, one long line along the bottom, is in
#: 18 px type (the projector's text elsewhere is 24 px).
COMPACT_CSS = """<style>
.kit-compact .widget-html:has(> .widget-html-content:empty),
.kit-compact .widget-html:has(> .widget-html-content > style:only-child) {
  display: none !important; }
.kit-compact .kit-key div { font-size: 18px !important; }
.kit-compact-row { gap: 12px; }
</style>"""
#: Where the verdict sends the reader once the call has run.
AFTER_CHECK = "The memory map, the chart and the event log now show what it did."


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


class Playground(RunToUse, ZoneListener, widgets.VBox):
    """Buttons and inputs for the allocator's calls, an event log, the chart and the map.

    ``alloc(order)``, ``alloc_exact(size)``, ``free_selected()``, ``reset()`` and
    ``run_random(seed, steps)`` run the calls at once; ``history`` is the event log (a
    ``LogEntry`` per call, newest first; the newest is shown unfolded);
    ``live()`` lists the allocations that can be freed, as the selector shows them.
    ``cell_budget`` caps the memory map's cells (``PLAYGROUND_CELLS``, for quick clicks).

    ``predict_first`` (the "predict first" checkbox) makes the call buttons ask first:
    ``press(call, arg)`` does what a button does and returns the question (``pending``, a
    ``kit.teaching.predict.Prediction``) or None when the call ran at once;
    ``check_prediction(text)`` marks a prediction and runs the call once it is right or a
    second try was wrong (a first wrong try gets a hint), ``just_do_it()`` runs
    it unchecked.
    """

    def __init__(self, zone: Zone | None = None, *, presenter: bool | None = None,
                 cell_budget: int = PLAYGROUND_CELLS, predict_first: bool = False,
                 compact: bool | None = None) -> None:
        self.zone = zone if zone is not None else Zone(1024)
        self.theme = theme = get_theme(presenter)
        self.compact = slide_layout(compact)
        self._initial = self.zone.snapshot()
        self.pending: Prediction | None = None
        self.attempts: Attempts | None = None  # the reader's tries at the pending question
        #: The call waiting for a prediction: the button's (call, arg) and the run itself.
        self._waiting: tuple[str, int | None, Callable[[], object]] | None = None
        self.predict_first = widgets.Checkbox(value=predict_first, description="predict first",
                                              indent=False, layout=fitted())
        self.predict_first.layout.margin = "2px 16px 2px 0"  # apart from "asking for"
        self.ask = widgets.Dropdown(options=ASK_CHOICES, value="pfn", description="asking for",
                                    layout=widgets.Layout(width="auto"))
        self.question = widgets.HTML()
        self.guess = widgets.Text(description="your prediction",
                                  layout=widgets.Layout(width="auto", min_width="300px"))
        self.check_button = widgets.Button(description="check, then run",
                                           button_style="primary", layout=fitted())
        self.skip_button = widgets.Button(description="just do it", layout=fitted())
        self.verdict = widgets.HTML()
        self.asking = widgets.VBox([self.question,
                                    _row([self.guess, self.check_button, self.skip_button])],
                                   layout=widgets.Layout(display="none", padding="2px 6px",
                                                         border="1px solid #8c8c8c"))
        self.order = widgets.BoundedIntText(value=0, min=0, max=self.zone.max_order,
                                            description="order")
        self.alloc_button = widgets.Button(description="alloc_pages(order)", layout=fitted())
        self.size = widgets.Text(value="132K", description="size")
        self.exact_button = widgets.Button(description="alloc_pages_exact(size)", layout=fitted())
        self.allocation = widgets.Dropdown(options=[], description="allocation",
                                           layout=widgets.Layout(width="auto", min_width="300px"))
        self.free_button = widgets.Button(description="free selected", layout=fitted())
        self.seed = widgets.IntText(value=0, description="seed")
        self.steps = widgets.BoundedIntText(value=100, min=1, max=100_000, description="steps")
        self.random_button = widgets.Button(description="random workload", layout=fitted())
        self.reset_button = widgets.Button(description="reset zone", layout=fitted())
        self.error = widgets.HTML()
        self.event_log = widgets.HTML()
        self.history: list[LogEntry] = []
        #: The calls made since the zone was last reset, replayable by a follower
        #: (``kit.classroom.follow.CALLS`` names them); ``on_call`` hears each change.
        self.calls: list[tuple[int | str, ...]] = []
        self._call_listeners: list[Callable[[list[tuple[int | str, ...]]], None]] = []
        self.chart = FreeAreaChart(self.zone, presenter=presenter)
        self.map = MemoryMap(self.zone, presenter=presenter, cell_budget=cell_budget)
        controls = [self.predict_first, self.ask, self.order, self.alloc_button, self.size,
                    self.exact_button, self.allocation, self.free_button, self.guess,
                    self.check_button, self.skip_button, self.seed, self.steps,
                    self.random_button, self.reset_button]
        theme.style_controls(controls)
        if self.compact:
            super().__init__(self._compact_children())
        else:
            left = widgets.VBox([
                _row([self.predict_first, self.ask]),
                _row([self.order, self.alloc_button]),
                _row([self.size, self.exact_button]),
                _row([self.allocation, self.free_button]),
                self.asking, self.verdict,
                _row([self.seed, self.steps]),
                _row([self.random_button, self.reset_button]),
                self.error, self.event_log,
            ], layout=widgets.Layout(flex="0 1 540px", min_width="420px"))
            super().__init__([widgets.HBox([left, beside(self.chart)],
                                           layout=widgets.Layout(flex_flow="row wrap")),
                              self.map])
        self.theme.root(self)
        self.alloc_button.on_click(
            lambda _b: self._guard(lambda: self.press("alloc_pages", self.order.value)))
        self.exact_button.on_click(lambda _b: self._guard(
            lambda: self.press("alloc_pages_exact", parse_size_text(self.size.value))))
        self.free_button.on_click(lambda _b: self._guard(lambda: self.press("free")))
        self.check_button.on_click(
            lambda _b: self._guard(lambda: self.check_prediction(self.guess.value)))
        # Enter in the prediction box checks it, as the button does (the frontend's Enter only;
        # ipywidgets 8 deprecates on_submit but has no other way to tell Enter from a blur)
        self.guess.on_submit(
            lambda _box: self._guard(lambda: self.check_prediction(self.guess.value)))
        self.skip_button.on_click(lambda _b: self._guard(self.just_do_it))
        self.predict_first.observe(lambda _c: self._cancel(""), "value")
        self.ask.observe(lambda _c: self._guard(self._ask_again), "value")
        self.random_button.on_click(
            lambda _b: self._guard(lambda: self.run_random(self.seed.value, self.steps.value)))
        self.reset_button.on_click(lambda _b: self._guard(self.reset))
        self._listen(self.zone)  # calls made from other cells update the selector too
        self._update_allocations()
        self._show_log()

    def _compact_children(self) -> list[widgets.Widget]:
        """The slide layout (``compact``): the calls in a narrow column beside a smaller map
        and chart, the seeded workload left out, only the newest call's steps unfolded in a
        short log, the map's colour key along the bottom.  Made to fit a 1280x720 slide
        unscaled in the presenter's large type (tests/browser/test_slides.py)."""
        for control, width in ((self.order, "150px"), (self.size, "130px"),
                               (self.allocation, "100%"), (self.guess, "100%")):
            control.layout.width = width
            control.layout.min_width = ""
        side = f"{COMPACT_FIGURE}px"
        self.map.figure.layout.height = self.map.figure.layout.width = side
        self.map.children = (self.map.figure, self.map.info)  # the key goes below everything
        self.map.info.layout.max_width = side
        self.map.legend.layout = widgets.Layout()  # its own: the map's info keeps the map's width
        self.map.legend.add_class("kit-key")
        chart = self.chart.figure
        chart.layout.height = f"{COMPACT_CHART}px"
        # room for the bars of every order: a shorter title line, narrower margins
        chart.title_style = {**chart.title_style, "font-size": "20px"}
        chart.fig_margin = {"top": 50, "bottom": 80, "left": 100, "right": 20}
        chart.axes[1].label_offset = "60px"  # the count's title inside the narrower margin
        self.chart.buddyinfo.layout.display = "none"  # the bars say it; lesson 3 reads it later
        self.chart.layout.flex = "1 1 300px"
        self.chart.layout.min_width = "300px"
        calls = widgets.VBox([
            _row([self.order, self.alloc_button]),
            _row([self.size, self.exact_button]),
            self.allocation,
            _row([self.free_button, self.reset_button]),
            _row([self.predict_first, self.ask]),
            self.asking, self.verdict, self.error, self.event_log,
        ], layout=widgets.Layout(flex="0 0 420px", width="420px"))
        self.add_class("kit-compact")
        row = widgets.HBox([calls, self.map, self.chart],
                           layout=widgets.Layout(align_items="flex-start"))
        row.add_class("kit-compact-row")  # ipywidgets' Layout has no flex `gap`: CSS gives it
        return [row, self.map.legend, widgets.HTML(COMPACT_CSS)]

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
        result = self._call(
            lambda page: f"alloc_pages({order}) -> "
            + ("NULL (no free block big enough)" if page is None else f"pfn {page.pfn}"),
            lambda: self.zone.alloc_pages(order))
        self._record(("alloc_pages", order))
        return result

    def alloc_exact(self, size: int) -> object:
        """``alloc_pages_exact(size)``; returns the address or None."""
        result = self._call(
            lambda addr: f"alloc_pages_exact({size}) -> "
            + ("NULL" if addr is None else f"pfn {self.zone.virt_to_pfn(addr)}"),
            lambda: self.zone.alloc_pages_exact(size))
        self._record(("alloc_pages_exact", size))
        return result

    def free(self, call: str, pfn: int, amount: int) -> None:
        """``free_pages`` of the order-``amount`` block at ``pfn``, or ``free_pages_exact``
        of ``amount`` bytes from ``pfn`` (what "free selected" does with its choice)."""
        addr = self.zone.pfn_to_virt(pfn)
        if call == "free_pages":
            self._call(f"free_pages(pfn {pfn}, order {amount})",
                       lambda: self.zone.free_pages(addr, amount))
        else:
            self._call(f"free_pages_exact(pfn {pfn}, {amount})",
                       lambda: self.zone.free_pages_exact(addr, amount))
        self._record((call, pfn, amount))

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
        self._action("free")[2]()

    def _action(self, call: str, arg: int | None = None
                ) -> tuple[str, tuple[int, ...], Callable[[], object]]:
        """A button's call as ``kit.teaching.predict`` names it, its arguments, and the run."""
        if call == "alloc_pages" and arg is not None:
            return call, (arg,), lambda: self.alloc(arg)
        if call == "alloc_pages_exact" and arg is not None:
            return call, (arg,), lambda: self.alloc_exact(arg)
        if call != "free":
            raise KitError(f"no button does {call!r} (with {arg!r}); the buttons do "
                           "alloc_pages(order), alloc_pages_exact(size) and free")
        choice = self.allocation.value
        if choice is None:
            raise KitError("nothing to free: allocate something first")
        kind, pfn, amount = choice
        if kind == "pages":
            return "free_pages", (pfn, amount), lambda: self.free("free_pages", pfn, amount)
        size = amount * self.zone.page_size
        return "free_pages_exact", (pfn, size), lambda: self.free("free_pages_exact", pfn, size)

    # ------------------------------------------------------------------- predict first
    def press(self, call: str, arg: int | None = None) -> Prediction | None:
        """What a call button does: ``call`` is "alloc_pages" (``arg`` the order),
        "alloc_pages_exact" (``arg`` the size in bytes) or "free" (the selected allocation).

        With "predict first" off the call runs at once (None is returned).  With it on, the
        call waits: the question is shown and returned, ``check_prediction`` or
        ``just_do_it`` runs it.  A free cannot return a pfn, so it is asked for nr_free then.
        """
        name, args, run = self._action(call, arg)
        if not self.predict_first.value:
            self._cancel("")
            run()
            return None
        ask = self.ask.value if self.ask.value != "pfn" or name.startswith("alloc") else "nr_free"
        prediction = call_prediction(self.zone, name, args, ask)
        self.pending, self._waiting = prediction, (call, arg, run)
        self.attempts = Attempts(prediction)
        self.skip_button.description = "just do it"
        self.question.value = self.theme.text(f"Predict first: {prediction.question}")
        with self.guess.hold_sync():
            self.guess.value = ""
            self.guess.placeholder = prediction.field.example
        self.verdict.value = ""
        self.asking.layout.display = "flex"
        return prediction

    def check_prediction(self, text: object) -> Mark:
        """Mark a prediction of the waiting call.  A right one, or a second wrong one, is
        answered and the call runs; a first wrong one gets a hint and another try (the call
        keeps waiting; "just do it", then called "show me the answer", gives up); unreadable
        text only gets the reason."""
        if self.pending is None or self._waiting is None or self.attempts is None:
            raise KitError("nothing to predict: press alloc_pages, alloc_pages_exact or free "
                           "with \"predict first\" on")
        run = self._waiting[2]
        reply = self.attempts.answer(text, then=AFTER_CHECK)
        if not reply.reveal:  # unreadable, or a first wrong try: the call keeps waiting
            self.verdict.value = self.theme.text(reply.text, error=True)
            if self.attempts.tries:
                self.skip_button.description = "show me the answer"
            return reply.mark
        self._cancel(self.theme.text(reply.text, error=not reply.mark.correct))
        run()
        return reply.mark

    def just_do_it(self) -> None:
        """Run the waiting call without a prediction."""
        if self._waiting is None:
            raise KitError("no call is waiting: press a call button first")
        run = self._waiting[2]
        gave_up = self.attempts.give_up() if self.attempts is not None else ""
        self._cancel(self.theme.text(gave_up) if gave_up else "")
        run()

    def _ask_again(self) -> None:
        """The reader chose another thing to predict: ask it about the waiting call."""
        if self._waiting is not None:
            self.press(*self._waiting[:2])

    def _cancel(self, verdict: str) -> None:
        """No call waits any more; ``verdict`` (HTML) replaces the last verdict."""
        self.pending = self._waiting = self.attempts = None
        self.asking.layout.display = "none"
        self.verdict.value = verdict

    def on_event(self, event: Event) -> None:
        """A call made elsewhere (another cell) changes the zone the question was about."""
        if self._waiting is not None:
            self._cancel(self.theme.text(
                "The zone changed before you checked (a call from another cell): the question "
                "no longer holds; press the button again.", error=True))

    def run_random(self, seed: int, steps: int) -> None:
        """A seeded random workload (``kit.run_workload``), summarised in one log line."""
        self._cancel("")
        result = self._quiet(lambda: run_workload(self.zone, seed=seed, steps=steps))
        self._log(LogEntry(f"random workload, seed {seed}, {steps} steps: "
                           f"{result.allocations} allocations, {result.failures} failed, "
                           f"{result.frees} freed, {len(result.live)} still allocated"))
        self._record(("run_workload", seed, steps))

    def reset(self) -> None:
        """Bring the zone back to its state when the playground was built."""
        self._cancel("")
        self.zone.restore(self._initial)
        self.map.reset()
        self.chart.refresh()
        self._update_allocations()
        self._log(LogEntry("reset: the zone is back to its initial state"))
        self.calls = []
        self._tell_listeners()

    # ------------------------------------------------------------- follow the instructor
    def on_call(self, listener: Callable[[list[tuple[int | str, ...]]], None]) -> None:
        """Call ``listener(calls)`` after every call and reset (a presenter's ``Follow``
        publishes the list)."""
        self._call_listeners.append(listener)

    def _record(self, call: tuple[int | str, ...]) -> None:
        self.calls.append(call)
        self._tell_listeners()

    def _tell_listeners(self) -> None:
        for listener in self._call_listeners:
            listener(list(self.calls))

    def follow_calls(self, calls: list[tuple[int | str, ...]]) -> None:
        """Make this Playground's zone what ``calls`` make of the initial zone: only the new
        calls when they continue this one's list, else a reset and the whole list (a
        follower who joins late or after a reconnect)."""
        calls = [tuple(call) for call in calls]
        if calls[:len(self.calls)] != self.calls:
            self.reset()
        for call in calls[len(self.calls):]:
            name, *args = call
            if name == "alloc_pages":
                self.alloc(int(args[0]))
            elif name == "alloc_pages_exact":
                self.alloc_exact(int(args[0]))
            elif name in ("free_pages", "free_pages_exact"):
                self.free(str(name), int(args[0]), int(args[1]))
            elif name == "run_workload":
                self.run_random(int(args[0]), int(args[1]))
            else:
                raise KitError(f"a Playground cannot replay {name!r}")

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
            scroll=f"{COMPACT_LOG}px" if self.compact else "320px")

    def close(self) -> None:
        """Close the playground and stop its views following the zone."""
        for view in (getattr(self, "chart", None), getattr(self, "map", None)):
            if view is not None:
                view.close()
        super().close()
