"""A check-your-understanding question with immediate feedback (the logic is ``kit.quiz``)."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

from ..quiz import Question
from .theme import get_theme

__all__ = ["Quiz"]


class Quiz(widgets.VBox):
    """One multiple-choice question: pick an answer and read at once whether and why it is right.

    ``why`` gives an explanation per choice (a dict); choices without one show ``explanation``.
    """

    def __init__(
        self,
        prompt: str,
        choices: Sequence[str],
        answer: str,
        explanation: str,
        *,
        why: dict[str, str] | None = None,
        presenter: bool | None = None,
    ) -> None:
        self.question = Question(
            prompt, tuple(choices), answer, explanation, tuple((why or {}).items())
        )
        self._theme = get_theme(presenter)
        self.choices = widgets.RadioButtons(
            options=list(self.question.choices), value=None, layout={"width": "auto"}
        )
        self.feedback = widgets.HTML()
        self._theme.style_controls([self.choices])
        self.choices.observe(self._on_choice, names="value")
        super().__init__(
            [widgets.HTML(self._theme.html(f"<b>{prompt}</b>")), self.choices, self.feedback]
        )

    def _on_choice(self, change: dict) -> None:
        if change["new"] is None:
            self.feedback.value = ""
            return
        result = self.question.check(change["new"])
        mark = "✔" if result.correct else "✘"
        self.feedback.value = self._theme.text(f"{mark} {result.message}", error=not result.correct)
