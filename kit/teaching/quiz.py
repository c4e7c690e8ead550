"""Check-your-understanding questions: the logic behind the notebooks' quiz widgets.

A lesson asks a few questions that make the reader apply what it taught to a new case, and
answers at once: why the choice is right or wrong and, for a wrong choice, the misconception it
shows.  The questions themselves are not written in the notebooks (a reader would see the answer
in the cell above the widget): they live in the kit's question bank
(``kit.teaching.quiz_bank``), by id, and a lesson cell is just ``Quiz("03-head-or-tail")``.

The choices are shown in an order shuffled per reader (``reader_seed``), so that two students
side by side do not compare positions, and so that no position gives the answer away.  The
authored order, the one ``Question.choices`` keeps, puts the right answers evenly across the
positions too (``tests/test_quiz.py`` counts them).
"""

from __future__ import annotations

import getpass
import os
import random
import socket
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kit.core.errors import InvalidArgument

__all__ = ["Choice", "Feedback", "Question", "QuizError", "reader_seed", "SEED_VARIABLE"]

SEED_VARIABLE = "KIT_QUIZ_SEED"


class QuizError(InvalidArgument):
    """A question that is badly written, unknown, or a choice it does not offer."""


@dataclass(frozen=True)
class Choice:
    """One choice: why it is right or wrong, and for a wrong one the misconception it shows."""

    text: str
    why: str
    misconception: str = ""


@dataclass(frozen=True)
class Feedback:
    """What a student sees after choosing: right or not, why, and the misconception if wrong."""

    correct: bool
    message: str
    misconception: str = ""


@dataclass(frozen=True)
class Question:
    """A multiple-choice question with one right answer and a reason for every choice.

    ``choices[answer]`` is right.  Every wrong choice names its misconception (a student who
    picks it learns which belief led there), the right one names none.
    """

    id: str
    prompt: str
    choices: tuple[Choice, ...]
    answer: int

    def __post_init__(self) -> None:
        texts = [choice.text for choice in self.choices]
        if len(texts) < 2:
            raise QuizError(f"question {self.id!r} needs at least two choices")
        if len(set(texts)) != len(texts):
            raise QuizError(f"question {self.id!r} offers the same choice twice: {texts}")
        if not 0 <= self.answer < len(texts):
            raise QuizError(f"question {self.id!r}: answer {self.answer} is not a position in "
                            f"{texts}")
        for position, choice in enumerate(self.choices):
            if not choice.why:
                raise QuizError(f"question {self.id!r}: choice {choice.text!r} says no why")
            if (position == self.answer) == bool(choice.misconception):
                wanted = "must not name" if position == self.answer else "must name"
                raise QuizError(f"question {self.id!r}: choice {choice.text!r} {wanted} a "
                                "misconception")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Question:
        """Build a question from the JSON form the question bank stores."""
        try:
            choices = tuple(Choice(c["text"], c["why"], c.get("misconception", ""))
                            for c in data["choices"])
            return cls(data["id"], data["prompt"], choices, data["answer"])
        except (KeyError, TypeError) as error:
            raise QuizError(f"a question in the bank lacks a field or has a wrong one: {error}"
                            ) from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the question, the inverse of ``from_dict``."""
        return {"id": self.id, "prompt": self.prompt, "answer": self.answer,
                "choices": [{"text": c.text, "why": c.why, "misconception": c.misconception}
                            for c in self.choices]}

    @property
    def texts(self) -> tuple[str, ...]:
        """The choices' texts in the authored order."""
        return tuple(choice.text for choice in self.choices)

    def shuffled(self, seed: int) -> tuple[str, ...]:
        """The choices' texts in the order one reader sees them: the same seed, the same order."""
        order = list(self.texts)
        random.Random(f"{seed}:{self.id}").shuffle(order)
        return tuple(order)

    def check(self, text: str) -> Feedback:
        """Grade one choice (by its text): right or wrong, why, and the misconception it shows."""
        if text not in self.texts:
            raise QuizError(f"{text!r} is not one of the choices {list(self.texts)}")
        position = self.texts.index(text)
        choice = self.choices[position]
        if position == self.answer:
            return Feedback(True, f"Right: {choice.why}")
        return Feedback(False, f"Not quite: {choice.why}", choice.misconception)


def reader_seed(environ: Mapping[str, str] | None = None) -> int:
    """The seed that shuffles the choices for the person reading: the same on every run for them.

    ``KIT_QUIZ_SEED`` (an integer) fixes it, for a class that should all see one order or for a
    test.  Without it the seed is a hash of the user name and host name, so each reader gets
    their own order.  Stored notebook outputs never depend on it: a quiz's stored text is
    ``Quiz('<id>')`` and its choices live only in the widget's live state.
    """
    environ = os.environ if environ is None else environ
    fixed = environ.get(SEED_VARIABLE)
    if fixed is not None:
        try:
            return int(fixed)
        except ValueError:
            raise QuizError(f"{SEED_VARIABLE} must be an integer, not {fixed!r}") from None
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no user name in a bare container: the host still varies
        user = ""
    return zlib.crc32(f"{user}@{socket.gethostname()}".encode())
