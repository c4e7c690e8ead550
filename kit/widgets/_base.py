"""Helpers every widget shares: coalesced redraws on zone events, error display, figures.

A single ``free_pages`` can emit dozens of events (a merge per order) and a workload thousands;
redrawing on each would flood the browser.  ``Redraw`` marks the widget dirty on every event and
redraws once: at the end of a ``hold()`` block, or, inside a running kernel, once the current
cell or button callback has finished (``loop.call_soon``).  Without an event loop (plain Python,
the tests) it redraws at once, so what you read is always up to date.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import ipywidgets as widgets
from IPython import get_ipython  # ipywidgets depends on IPython

from kit.core.errors import KitError
from kit.core.events import Event
from kit.core.orders import parse_size
from kit.core.zone import Zone

from ._deferred import bq
from .theme import Theme

__all__ = ["FRAME", "RUN_TO_USE", "Redraw", "RunToUse", "ZoneListener", "bar_figure", "beside",
           "fitted", "on_enter", "parse_size_text"]


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where the shell has a ``kernel``), not in plain Python.

    Asked at every zone event a widget follows (twice: when it is told, and when it redraws):
    ``get_ipython`` is imported once with the module (importing it here cost 4 of this
    function's 5.5 microseconds)."""
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The kernel's event loop while a cell or a widget callback runs, else None.

    Only a kernel's loop is used: another library's loop (a test's, Playwright's) would never
    come back to run a deferred redraw on this thread's schedule.
    """
    if not _in_kernel():
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


#: One animation frame of a 60 Hz screen: the shortest time between two redraws of a view
#: that changes on a timer (a running player); more would only queue up in the browser.
FRAME = 1 / 60


class Redraw:
    """Call ``redraw()`` once per batch of ``notify()`` calls (see the module docstring).

    ``min_interval`` (seconds) spaces the deferred redraws inside a kernel: changes arriving
    faster (a player's ticks) are drawn at most once per interval, the latest state each time.
    """

    def __init__(self, redraw: Callable[[], None], min_interval: float = 0.0) -> None:
        self._redraw = redraw
        self._min_interval = min_interval
        self._last = float("-inf")
        self._held = 0
        self._dirty = False
        self._scheduled = False

    def notify(self) -> None:
        """Something changed: redraw now, after the current callback, or when the hold ends."""
        self._dirty = True
        if self._held:
            return
        loop = _running_loop()
        if loop is None:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            wait = self._last + self._min_interval - loop.time()
            if wait > 0:
                loop.call_later(wait, self.flush)
            else:
                loop.call_soon(self.flush)

    def flush(self) -> None:
        """Redraw now if anything changed since the last redraw."""
        self._scheduled = False
        if self._dirty and not self._held:
            self._dirty = False
            loop = _running_loop()
            if loop is not None:
                self._last = loop.time()
            self._redraw()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Batch every change made inside the block into one redraw at its end."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if not self._held:
                self.flush()


#: What a widget's place says where the widget itself cannot be drawn.
RUN_TO_USE = "run this cell to use the widget"


class RunToUse:
    """Mixin for the kit's widgets: their text form says what to do.

    A notebook shows a widget's text form wherever it cannot draw the widget: a stored lesson
    before *Run All*, an untrusted notebook, a saved one opened again (``scripts/lab.sh``
    drops the dead widget reference when it saves, see ``kit.widgets.saved``).  ipywidgets'
    own text is a dump of the widget tree (``Predict(children=(HTML(value='<div ...``).
    """

    def __repr__(self) -> str:
        return f"{type(self).__name__}: {RUN_TO_USE}"


class ZoneListener:
    """Mixin for widgets that follow a zone: subscribe, coalesce redraws, unsubscribe on close.

    Subclasses implement ``refresh()`` (redraw from the zone's public API) and may override
    ``on_event`` to keep their own notes (the memory map remembers trimmed tail pages).
    """

    zone: Zone

    def _listen(self, zone: Zone) -> None:
        self.zone = zone
        self._redraw = Redraw(self.refresh)
        self._unsubscribe: Callable[[], None] | None = zone.subscribe(self._event)

    def _event(self, event: Event) -> None:
        self.on_event(event)
        self._redraw.notify()

    def on_event(self, event: Event) -> None:
        """Hook called for every event before the redraw is scheduled."""

    def refresh(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def hold(self) -> AbstractContextManager[None]:
        """``with widget.hold(): ...`` redraws once at the end of the block."""
        return self._redraw.hold()

    def detach(self) -> None:
        """Stop following the zone (idempotent)."""
        if getattr(self, "_unsubscribe", None) is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def close(self) -> None:
        """Stop following the zone and close the widget."""
        self.detach()
        super().close()  # type: ignore[misc] - the widget class after this mixin


def fitted() -> widgets.Layout:
    """A button's layout: as wide as its label and never squeezed by its row (ipywidgets'
    default width cuts labels such as "alloc_pages_exact(size)")."""
    return widgets.Layout(width="auto", min_width="max-content", flex="0 0 auto")


def on_enter(box: widgets.Text, action: Callable[[], object]) -> None:
    """Run ``action`` when Enter is pressed in ``box`` (a prediction is checked as by its
    button).  ipywidgets 8 deprecates ``on_submit`` for ``continuous_update=False`` and an
    observer, but that also fires when the box loses focus: pressing "show me" would first
    check whatever is typed.  ``on_submit`` is the frontend's Enter, and only that."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        box.on_submit(lambda _box: action())


def beside(view: widgets.Widget) -> widgets.Widget:
    """Let a chart placed in a row next to a map take the rest of the row, or wrap onto a row
    of its own when the page is narrow (never pushed past the right edge)."""
    view.layout.flex = "1 1 360px"
    view.layout.min_width = "320px"
    return view


def parse_size_text(text: str) -> int:
    """Parse a size typed by a student; raises KitError with a readable message."""
    if not text.strip():
        raise KitError("type a size, e.g. 132K, 4MiB or 5000")
    return parse_size(text)


def show_error(target: widgets.HTML, theme: Theme, error: Exception | None) -> None:
    """Show a kit error's message (never a traceback) in ``target``, or clear it."""
    target.value = "" if error is None else theme.text(str(error), error=True)


def bar_figure(
    theme: Theme, title: str, x_label: str, y_label: str, *, colors: list[str] | None = None,
    labels: list[str] | None = None, ordinal: bool = True,
    legend: bool = True,
) -> tuple[bq.Figure, bq.Bars]:
    """An empty bqplot bar chart with styled axes; fill ``bars.x``/``bars.y`` later.

    Several series (a 2-D ``y``) need ``labels``: bqplot's browser side draws nothing without.
    """
    x_scale = bq.OrdinalScale() if ordinal else bq.LinearScale()
    y_scale = bq.LinearScale(min=0)
    bars = bq.Bars(
        x=[], y=[], scales={"x": x_scale, "y": y_scale},
        colors=colors or [theme.strategy_colors[0]],
        type="stacked",  # "grouped" draws 1-D data with zero height in the browser
        labels=labels or [], display_legend=legend and bool(labels),
        stroke=theme.text_color if theme.presenter else None,
    )
    x_axis = bq.Axis(scale=x_scale, label=x_label)
    y_axis = bq.Axis(scale=y_scale, side="left", label=y_label, tick_format="~s")
    figure = bq.Figure(marks=[bars], axes=[x_axis, y_axis], title=title,
                       legend_location="top-left", animation_duration=0)
    return theme.style_figure(figure), bars
