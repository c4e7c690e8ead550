"""Predict: a demo that asks first and shows after.

The lesson's demo (any widget) stays out of sight behind a question until the reader has typed
a prediction; then the widget says whether the simulator agrees (the answer is a
``kit.teaching.predict.Prediction`` the kit computed from the demo's own scenario) and shows the
demo.  A wrong first prediction gets a hint and another try, not the answer
(``kit.teaching.predict.Attempts``); "show me" gives up at any time.  Enter in the answer box
checks, as the button does.
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
from kit.teaching.predict import Attempts, Prediction, order_prediction

from ._base import RunToUse, fitted, on_enter
from .order_explorer import OrderExplorer
from .theme import get_theme

__all__ = ["Predict"]

DEFAULT_SIZE = "132K"

#: The "show me" button before any try, and once a wrong try has had its hint.
SHOW_UNTRIED, SHOW_AFTER_TRY = "show me without predicting", "show me the answer"


class Predict(RunToUse, widgets.VBox):
    """Ask ``prediction.question``, hide ``demo`` until answered, then check and reveal.

    Without a demo and a prediction it asks for the order of 132 KiB and reveals the order
    explorer (on the zone's page size, if a zone is given).  ``demo`` is a widget, a function
    that builds one (it runs only on reveal, and ``demo`` is None until then), or text: what a
    cell would print, shown only once the reader has answered, so the stored notebook does not
    print an answer under its question.
    ``answer(text)`` does what typing and pressing "check" (or Enter) does and returns the
    verdict: a wrong first try gets a hint and the demo stays hidden; ``reveal()`` shows the
    demo, and the answer once the reader has tried ("show me"); ``revealed`` says whether the
    demo is shown.  ``attempts`` counts the tries.
    """

    def __init__(self, zone: Zone | None = None, *,
                 demo: widgets.Widget | str | Callable[[], widgets.Widget] | None = None,
                 prediction: Prediction | None = None, presenter: bool | None = None) -> None:
        self.theme = theme = get_theme(presenter)
        if prediction is None:
            page_size = zone.page_size if zone is not None else 4096
            prediction = order_prediction(DEFAULT_SIZE, page_size)
        if demo is None:
            def demo() -> widgets.Widget:
                return OrderExplorer(zone, size=DEFAULT_SIZE, presenter=presenter)
        if isinstance(demo, str):  # printed output, shown only once answered
            shown = demo

            def demo() -> widgets.Widget:
                return widgets.HTML(theme.text(shown, pre=True))
        self.prediction = prediction
        self.attempts = Attempts(prediction)
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
        self.show_button = widgets.Button(description=SHOW_UNTRIED, layout=fitted())
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
        on_enter(self.input, lambda: self.answer(self.input.value))

    def answer(self, text: object) -> Mark:
        """Check a prediction (as typing it and pressing "check" or Enter does).  A right one,
        or a wrong one on the last try, is marked and reveals the demo; a wrong first try gets
        a hint and another try; unreadable text only gets the reason.  Until a real guess has
        been answered, the answer stays hidden."""
        if isinstance(text, str) and self.input.value != text:
            self.input.value = text
        tries = self.attempts.tries
        reply = self.attempts.answer(text)
        if self.attempts.tries > tries:  # a try before the answer was out
            progress.record_prediction(self.prediction.question, reply.mark.correct)
        self.verdict.value = self.theme.text(reply.text, error=not reply.mark.correct)
        if reply.reveal:
            self.reveal()
        elif self.attempts.tries:
            self.show_button.description = SHOW_AFTER_TRY
        return reply.mark

    def reveal(self) -> None:
        """Show the demo ("show me"), with the answer in words once the reader has tried; a
        demo that can replay itself plays from its first step."""
        if not self.attempts.finished:
            words = self.attempts.give_up()
            if words:
                self.verdict.value = self.theme.text(words)
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

