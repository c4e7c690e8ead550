"""The course's quiz questions, by id, stored so that a casual look gives no answer away.

Every lesson's check-your-understanding questions live in ``kit/core/data/quizzes.txt``: one line
per question, its id and the question (prompt, choices, answer, explanations, misconceptions)
as JSON XORed with a fixed key and base64-encoded.  This keeps the answers out of sight of a
student who skims a notebook, its stored outputs or the kit's files.  It is **not** a security
boundary: anyone who reads this module can decode every answer (and instructors are meant to).

To edit the questions, export them as readable JSON, edit, and import them back::

    .venv/bin/python -m kit.teaching.quiz_bank export > /tmp/quizzes.json
    .venv/bin/python -m kit.teaching.quiz_bank import /tmp/quizzes.json

(keep the exported file out of the repository; ``tests/test_quiz.py`` checks that no answer is
readable in the notebooks or the kit's source).
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import cycle
from pathlib import Path
from typing import Any

from kit.core.samples import DATA

from .quiz import Question, QuizError

__all__ = ["BANK", "decode", "encode", "load_bank", "question", "write_bank"]

BANK = DATA / "quizzes.txt"
_KEY = b"pagealloc-kit: against casual peeking only"
_HEADER = ("# Quiz questions of the pagealloc-kit lessons, encoded (kit/teaching/quiz_bank.py).\n"
           "# Edit with: python -m kit.teaching.quiz_bank export / import\n")


def _xor(data: bytes) -> bytes:
    return bytes(byte ^ key for byte, key in zip(data, cycle(_KEY)))


def encode(data: Any) -> str:
    """JSON, XORed with the fixed key, base64: one line of text."""
    return base64.b64encode(_xor(json.dumps(data, ensure_ascii=False).encode())).decode()


def decode(text: str) -> Any:
    """The inverse of ``encode``."""
    return json.loads(_xor(base64.b64decode(text)).decode())


def load_bank(path: Path = BANK) -> dict[str, Question]:
    """Every question of the bank file, by id, in the file's order."""
    questions: dict[str, Question] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        qid, _, blob = line.partition(" ")
        try:
            item = Question.from_dict(decode(blob))
        except (ValueError, UnicodeDecodeError) as error:
            raise QuizError(f"{path.name} line {number} ({qid}) cannot be decoded: {error}"
                            ) from None
        if item.id != qid:
            raise QuizError(f"{path.name} line {number}: id {qid!r} holds question {item.id!r}")
        questions[qid] = item
    return questions


@lru_cache(maxsize=1)
def _bank() -> dict[str, Question]:
    return load_bank()


def question(qid: str) -> Question:
    """The question with this id, e.g. ``question("03-head-or-tail")``."""
    bank = _bank()
    if qid not in bank:
        raise QuizError(f"no quiz question {qid!r}; the lessons' ids are: {', '.join(bank)}")
    return bank[qid]


def write_bank(questions: Iterable[Question], path: Path = BANK) -> None:
    """Write the bank file: one encoded line per question, in the order given."""
    items = list(questions)
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise QuizError(f"question ids must be unique: {ids}")
    lines = [f"{item.id} {encode(item.to_dict())}" for item in items]
    path.write_text(_HEADER + "\n".join(lines) + "\n")
    _bank.cache_clear()


def main(argv: Sequence[str] | None = None) -> int:
    """``export`` prints the bank as readable JSON; ``import FILE`` writes FILE into the bank."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["export"]:
        print(json.dumps([item.to_dict() for item in load_bank().values()], indent=1,
                         ensure_ascii=False))
        return 0
    if len(args) == 2 and args[0] == "import":
        write_bank(Question.from_dict(data) for data in json.loads(Path(args[1]).read_text()))
        return 0
    print("usage: python -m kit.teaching.quiz_bank export | import FILE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
