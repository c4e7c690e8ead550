"""A check-your-understanding question with immediate feedback (logic: ``kit.teaching.quiz``)."""

from __future__ import annotations

import html

import ipywidgets as widgets

from kit.teaching.quiz import reader_seed
from kit.teaching.quiz_bank import question

from ._base import RunToUse
from .theme import get_theme

__all__ = ["Quiz"]


class Quiz(RunToUse, widgets.VBox):
    """One question of the kit's question bank: pick a choice and read at once why it is right
    or wrong, and for a wrong one the misconception it shows; pick again as often as you like.

    ``Quiz("03-head-or-tail")`` shows the question with that id (``kit.teaching.quiz_bank``), so
    the notebook cell holds no answer.  The choices come in the reader's own shuffled order
    (``kit.teaching.quiz.reader_seed``; ``seed=`` fixes it).  The widget's text form, which a
    notebook stores as its output, is just ``Quiz('<id>')``: no choice, no answer, the same for
    every reader.
    """

    def __init__(self, question_id: str, *, seed: int | None = None,
                 presenter: bool | None = None) -> None:
        self.question = question(question_id)
        self.seed = reader_seed() if seed is None else seed
        self._theme = get_theme(presenter)
        self.choices = widgets.RadioButtons(
            options=list(self.question.shuffled(self.seed)), value=None, layout={"width": "auto"}
        )
        self.feedback = widgets.HTML()
        self._theme.style_controls([self.choices])
        self.choices.observe(self._on_choice, names="value")
        heading = widgets.HTML(self._theme.html(f"<b>{html.escape(self.question.prompt)}</b>"))
        super().__init__([heading, self.choices, self.feedback])
        self._theme.root(self)

    def _on_choice(self, change: dict) -> None:
        if change["new"] is None:
            self.feedback.value = ""
            return
        result = self.question.check(change["new"])
        mark = "✔" if result.correct else "✘"
        text = self._theme.text(f"{mark} {result.message}", error=not result.correct)
        if result.misconception:
            text += self._theme.html(f"<b>The misconception behind this choice:</b> "
                                     f"{html.escape(result.misconception)}. Try another choice.")
        self.feedback.value = text
