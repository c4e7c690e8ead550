"""Predict: a demo that asks first and shows after.

The lesson's demo (any widget) stays out of sight behind a question until the reader has typed
a prediction; then the widget says whether the simulator agrees (the answer is a
``kit.teaching.predict.Prediction`` the kit computed from the demo's own scenario) and shows the
demo.
Lessons pass the demo as a function that builds it (``demo=lambda: OrderExplorer(...)``): the
demo is then built only when revealed, so a notebook saved after Run All holds no widget state
from which a reader could read the result before predicting.
A demo that can replay itself (``replay()``: the player and the animator) starts again from
its first step, so the change is watched, not just its end state after Run All.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from kit.core.zone import Zone
from kit.teaching import progress
from kit.teaching.practice import Mark
from kit.teaching.predict import Prediction, order_prediction

from ._base import RunToUse, fitted
from .order_explorer import OrderExplorer
from .theme import get_theme

__all__ = ["Predict"]

DEFAULT_SIZE = "132K"


class Predict(RunToUse, widgets.VBox):
    """Ask ``prediction.question``, hide ``demo`` until answered, then check and reveal.

    Without a demo and a prediction it asks for the order of 132 KiB and reveals the order
    explorer (on the zone's page size, if a zone is given).  ``demo`` is a widget or a function
    that builds one; a function runs only on reveal, and ``demo`` is None until then.
    ``answer(text)`` does what typing and pressing "check" does and returns the verdict;
    ``reveal()`` shows the demo without checking ("show me"); ``revealed`` says whether the
    demo is shown.
    """

    def __init__(self, zone: Zone | None = None, *,
                 demo: widgets.Widget | Callable[[], widgets.Widget] | None = None,
                 prediction: Prediction | None = None, presenter: bool | None = None) -> None:
        self.theme = theme = get_theme(presenter)
        if prediction is None:
            page_size = zone.page_size if zone is not None else 4096
            prediction = order_prediction(DEFAULT_SIZE, page_size)
        if demo is None:
            def demo() -> widgets.Widget:
                return OrderExplorer(zone, size=DEFAULT_SIZE, presenter=presenter)
        self.prediction = prediction
        #: The demo once built; a demo given as a widget is built already.
        self.demo: widgets.Widget | None = demo if isinstance(demo, widgets.Widget) else None
        self._build_demo: Callable[[], widgets.Widget] | None = (
            None if isinstance(demo, widgets.Widget) else demo)
        self.revealed = False
        self.question = widgets.HTML(theme.text(f"Predict first: {prediction.question}"))
        self.input = widgets.Text(placeholder=prediction.field.example,
                                  description=prediction.field.label,
                                  style={"description_width": "initial"},
                                  layout=widgets.Layout(width="auto", min_width="320px"))
        self.check_button = widgets.Button(description="check my prediction",
                                           button_style="primary", layout=fitted())
        self.show_button = widgets.Button(description="show me without predicting",
                                          layout=fitted())
        self.verdict = widgets.HTML()
        self.demo_box = widgets.VBox()
        theme.style_controls([self.input, self.check_button, self.show_button])
        super().__init__([
            self.question,
            widgets.HBox([self.input, self.check_button, self.show_button],
                         layout=widgets.Layout(flex_flow="row wrap")),
            self.verdict, self.demo_box,
        ])
        theme.root(self)
        progress.record_lesson()
        self.check_button.on_click(lambda _b: self.answer(self.input.value))
        self.show_button.on_click(lambda _b: self.reveal())

    def answer(self, text: object) -> Mark:
        """Check a prediction (as typing it and pressing "check" does).  A readable one, right
        or wrong, is marked and reveals the demo; unreadable text only gets the reason (the
        answer stays hidden until a real guess)."""
        if isinstance(text, str) and self.input.value != text:
            self.input.value = text
        mark = self.prediction.check(text)
        if not self.prediction.readable(text):
            self.verdict.value = self.theme.text(
                f"Not read as a prediction: {mark.note or 'type an answer first'}", error=True)
            return mark
        self.verdict.value = self.theme.text(self.prediction.explain(text),
                                             error=not mark.correct)
        progress.record_prediction(self.prediction.question, mark.correct)
        self.reveal()
        return mark

    def reveal(self) -> None:
        """Show the demo; a demo that can replay itself plays from its first step."""
        if self.demo is None and self._build_demo is not None:
            self.demo = self._build_demo()
        if not self.revealed:
            self.revealed = True
            self.demo_box.children = [self.demo]
        replay = getattr(self.demo, "replay", None)
        if callable(replay):
            replay()

    def close(self) -> None:
        """Close the demo too, if built (it may follow a zone)."""
        if self.demo is not None:
            self.demo.close()
        super().close()

