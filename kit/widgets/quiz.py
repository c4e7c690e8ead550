"""A check-your-understanding question with immediate feedback (the logic is ``kit.quiz``)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as widgets

from ..errors import InvalidArgument
from ..quiz import Question
from .theme import get_theme

__all__ = ["Quiz"]


class Quiz(widgets.VBox):
    """One multiple-choice question: pick an answer and read at once whether and why it is right.

    ``answer`` is the right choice, or its position in ``choices`` (from 0), which keeps a
    notebook's quiz cell short.  ``why`` gives an explanation per choice (a dict); choices
    without one show ``explanation``.
    """

    def __init__(
        self,
        prompt: str,
        choices: Sequence[str],
        answer: str | int,
        explanation: str,
        *,
        why: dict[str, str] | None = None,
        presenter: bool | None = None,
    ) -> None:
        choices = tuple(choices)
        if isinstance(answer, int) and not isinstance(answer, bool):
            if not 0 <= answer < len(choices):
                raise InvalidArgument(f"answer {answer} is not a position in {list(choices)}")
            answer = choices[answer]
        self.question = Question(prompt, choices, answer, explanation, tuple((why or {}).items()))
        self._theme = get_theme(presenter)
        self.choices = widgets.RadioButtons(
            options=list(self.question.choices), value=None, layout={"width": "auto"}
        )
        self.feedback = widgets.HTML()
        self._theme.style_controls([self.choices])
        self.choices.observe(self._on_choice, names="value")
        heading = widgets.HTML(self._theme.html(f"<b>{html.escape(prompt)}</b>"))
        super().__init__([heading, self.choices, self.feedback])
        self._theme.root(self)

    def _on_choice(self, change: dict) -> None:
        if change["new"] is None:
            self.feedback.value = ""
            return
        result = self.question.check(change["new"])
        mark = "✔" if result.correct else "✘"
        self.feedback.value = self._theme.text(f"{mark} {result.message}", error=not result.correct)
