"""The problems and their verdicts: what is asked, the answer, and how a prediction is marked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kit.core.errors import InvalidArgument
from kit.core.replay import replay
from kit.core.zone import Zone

from .reading import Field, Unreadable, read_value, typed_text

KINDS = ("sequence", "order", "exact", "pcp")


LEVELS = (1, 2, 3)


@dataclass(frozen=True)
class Misconception:
    """A wrong answer a student plausibly gives, and the mistake in the model that gives it."""

    value: object
    name: str
    explanation: str


@dataclass(frozen=True)
class Mark:
    """The verdict on one field: what was expected and given, and why a wrong value is wrong."""

    field: Field
    expected: str
    given: str
    correct: bool
    note: str = ""
    misconception: Misconception | None = None
    #: False when the typed text is in no notation the field reads (``note`` names them).
    read: bool = True


@dataclass(frozen=True)
class Verdict:
    """The verdict on a whole prediction, field by field."""

    marks: tuple[Mark, ...]

    @property
    def correct(self) -> bool:
        return all(mark.correct for mark in self.marks)

    @property
    def score(self) -> tuple[int, int]:
        """(fields right, fields asked)."""
        return sum(mark.correct for mark in self.marks), len(self.marks)

    @property
    def misconceptions(self) -> tuple[Misconception, ...]:
        """The distinct misconceptions the wrong fields show, in the order they first appear."""
        found: dict[str, Misconception] = {}
        for mark in self.marks:
            if mark.misconception is not None:
                found.setdefault(mark.misconception.name, mark.misconception)
        return tuple(found.values())

    def explain(self, answers: bool = True) -> str:
        """Plain words: what was right, what was wrong and which misconception it suggests;
        ``answers`` False keeps the right values of the wrong fields back (a first try)."""
        right, asked = self.score
        lines = ["All right!" if self.correct else f"{right} of {asked} right."]
        for mark in self.marks:
            if mark.correct:
                lines.append(f"right: {mark.field.label} = {mark.expected}{_suffix(mark.note)}")
            elif not mark.given:
                lines.append(f"not answered: {mark.field.label}"
                             + (f" (it is {mark.expected})" if answers else ""))
            elif not mark.read:
                lines.append(f"not read: {mark.field.label}: {mark.note}")
            else:
                why = f" ({mark.misconception.name})" if mark.misconception else ""
                gives = f", the allocator gives {mark.expected}" if answers else ""
                note = _suffix(mark.note) if answers or mark.field.type != "int" else ""
                lines.append(f"wrong: {mark.field.label}: you said {mark.given}{gives}{why}"
                             f"{note}")
        for found in self.misconceptions:
            lines.append(f"Likely misconception, {found.name}: {found.explanation}")
        return "\n".join(lines)


def _suffix(note: str) -> str:
    return f"; {note}" if note else ""


@dataclass(frozen=True)
class Problem:
    """One generated problem: the question, the fields to predict, the answer and its solution.

    ``answer`` maps each field's key to the value the zone computed; ``misconceptions`` maps a
    key to wrong values worth naming.  ``trace`` is the zone's trace after the problem's steps
    (empty for the ``order`` kind, which needs no lasting zone); ``zone()`` replays it.
    ``preset_asked`` says the preset was asked for (``generate(..., preset=...)``), so
    ``command`` names it.
    """

    kind: str
    seed: int
    level: int
    preset: str
    title: str
    text: str
    fields: tuple[Field, ...]
    answer: Mapping[str, Any]
    solution: str
    misconceptions: Mapping[str, tuple[Misconception, ...]]
    trace: str = ""
    preset_asked: bool = False

    @property
    def command(self) -> str:
        """The command line that prints this problem again."""
        asked = f" --preset {self.preset}" if self.preset_asked else ""
        return f"kit practice {self.kind} --seed {self.seed} --level {self.level}{asked}"

    def zone(self) -> Zone | None:
        """The zone as the problem leaves it (for a memory map), or None for the order kind."""
        return replay(self.trace) if self.trace else None

    def answer_text(self) -> str:
        """Every field with its answer, one per line."""
        return "\n".join(f"{f.label}: {typed_text(f, self.answer[f.key])}" for f in self.fields)

    def check(self, prediction: Mapping[str, Any]) -> Verdict:
        """Grade a prediction (field key -> typed text or value); missing keys are unanswered."""
        if not isinstance(prediction, Mapping):
            raise InvalidArgument(
                f"a prediction maps field keys to values, got {type(prediction).__name__}")
        keys = [f.key for f in self.fields]
        unknown = sorted(str(key) for key in prediction if key not in keys)
        if unknown:
            raise InvalidArgument(
                f"this problem has no field {', '.join(unknown)}; its fields are "
                f"{', '.join(keys)}")
        return Verdict(tuple(self._mark(f, prediction.get(f.key)) for f in self.fields))

    def _mark(self, field: Field, raw: object) -> Mark:
        return mark(field, raw, self.answer[field.key], self.misconceptions.get(field.key, ()))


def mark(field: Field, raw: object, answer: object,
         misconceptions: Sequence[Misconception] = ()) -> Mark:
    """Compare one typed prediction with the allocator's answer, leniently (see ``read_value``).

    Shared by the practice problems and the demos that ask before they show
    (``kit.teaching.predict``).
    """
    shown = typed_text(field, answer)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Mark(field, shown, "", False)
    try:
        given = read_value(field, raw)
    except Unreadable as exc:
        return Mark(field, shown, str(raw).strip(), False, str(exc), read=False)
    typed = typed_text(field, raw) if not isinstance(raw, str) else raw.strip()
    expected = read_value(field, answer)
    if given == expected:
        return Mark(field, shown, typed, True, _format_note(field, raw, answer))
    for wrong in misconceptions:
        if read_value(field, wrong.value) == given:
            return Mark(field, shown, typed, False, misconception=wrong)
    return Mark(field, shown, typed, False, _difference(field, given, expected))


def _format_note(field: Field, raw: object, answer: object) -> str:
    """For a right buddyinfo line typed with other spacing, show the kernel's exact line."""
    if field.type != "buddyinfo" or not isinstance(raw, str) or not isinstance(answer, str):
        return ""
    if raw.strip().startswith("Node") and raw.rstrip() != answer.rstrip():
        return (f"the counts are right; the kernel prints the line as '{answer}' (zone name in "
                "8 columns, each count in 6 columns and a space)")
    return ""


def _difference(field: Field, given: object, expected: object) -> str:
    """Where a wrong value differs when no named misconception explains it."""
    if field.type in ("ints", "buddyinfo"):
        assert isinstance(given, tuple) and isinstance(expected, tuple)
        if len(given) != len(expected):
            return f"give {len(expected)} counts, one per order from 0 up"
        orders = [str(o) for o, (a, b) in enumerate(zip(given, expected, strict=True)) if a != b]
        return f"order{'s' if len(orders) > 1 else ''} {', '.join(orders)} differ"
    if field.type == "blocks":
        assert isinstance(given, tuple) and isinstance(expected, tuple)
        misaligned = [f"{pfn}/{order}" for pfn, order in given if pfn % (1 << order)]
        if misaligned:
            return (f"{' '.join(misaligned)} cannot be a block: an order-n block starts at a "
                    "multiple of 2^n pages")
        pages = sorted(p for pfn, order in expected for p in range(pfn, pfn + (1 << order)))
        covered = sorted(p for pfn, order in given for p in range(pfn, pfn + (1 << order)))
        if covered != pages:
            return f"the blocks should cover pages {pages[0]}..{pages[-1]} exactly once"
        return "the right pages, cut into other blocks: replay the merges in the solution"
    return "the solution shows the steps"
