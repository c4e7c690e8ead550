"""Check-your-understanding questions: the logic behind the notebooks' quiz widgets.

A lesson asks two or three questions and answers at once.  The question, its choices and the
explanations live here, in pure Python, so the grading of a choice is unit-tested and the widget
(``kit.widgets.Quiz``) only draws buttons and shows the returned feedback.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidArgument


@dataclass(frozen=True)
class Feedback:
    """What a student sees after choosing: right or not, and why."""

    correct: bool
    message: str


@dataclass(frozen=True)
class Question:
    """A multiple-choice question with one right answer and a reason for every choice.

    ``why`` maps a choice to the explanation shown when it is picked; a wrong choice without its
    own explanation shows the general ``explanation``, so a student always learns something.
    """

    prompt: str
    choices: tuple[str, ...]
    answer: str
    explanation: str
    why: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if len(self.choices) < 2:
            raise InvalidArgument(f"a question needs at least two choices: {self.prompt!r}")
        if self.answer not in self.choices:
            raise InvalidArgument(f"the answer {self.answer!r} is not one of the choices")
        unknown = [choice for choice, _ in self.why if choice not in self.choices]
        if unknown:
            raise InvalidArgument(f"explanations given for choices that do not exist: {unknown}")

    def check(self, choice: str) -> Feedback:
        """Grade one choice and say why it is right or wrong."""
        if choice not in self.choices:
            raise InvalidArgument(f"{choice!r} is not one of the choices {list(self.choices)}")
        reason = dict(self.why).get(choice, self.explanation)
        if choice == self.answer:
            return Feedback(True, f"Right: {reason}")
        return Feedback(False, f"Not quite: {reason}")
