"""Predict, then run: the question a lesson's demo asks before it shows its result.

A demo that shows the answer at once teaches less than one that first makes the reader commit
to a guess.  A ``Prediction`` is that guess's question with the answer *computed by the kit*
from the same scenario the demo plays (never typed into a lesson, so it cannot drift from what
the simulator does), checked with the lenient readers of ``kit.practice``.  The widget that
hides a demo until the reader has answered is ``kit.widgets.Predict``.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import events as ev
from .errors import InvalidArgument
from .orders import format_size, get_order, pages_for, parse_size
from .practice import Field, Mark, Misconception, Unreadable, mark, read_value
from .replay import replay
from .scenarios import Scenario
from .zone import Zone

__all__ = [
    "Prediction",
    "event_count_prediction",
    "exact_free_prediction",
    "order_prediction",
    "tail_blocks_prediction",
    "unused_pages_prediction",
]


@dataclass(frozen=True)
class Prediction:
    """A question with one typed answer: ``field`` says how to read it, ``answer`` is the kit's.

    ``misconceptions`` are wrong answers worth naming (the reader who forgot a rule gives them).
    """

    question: str
    field: Field
    answer: object
    misconceptions: tuple[Misconception, ...] = ()

    def check(self, raw: object) -> Mark:
        """The verdict on what the reader typed (text or a Python value)."""
        return mark(self.field, raw, self.answer, self.misconceptions)

    def explain(self, raw: object) -> str:
        """The verdict in words, for a readable prediction: right, or wrong with the answer
        and, when the wrong value is a known one, the misconception it suggests."""
        result = self.check(raw)
        if result.correct:
            return f"Right: the simulator gives {result.expected} too."
        why = (f" Likely misconception, {result.misconception.name}: "
               f"{result.misconception.explanation}." if result.misconception else "")
        return (f"Not quite: you said {result.given}, the simulator gives {result.expected}."
                f"{why} The demo below shows why.")

    def readable(self, raw: object) -> bool:
        """Whether ``raw`` reads as an answer at all (a typo is not a prediction)."""
        try:
            read_value(self.field, raw)
        except Unreadable:
            return False
        return True


def _size(size: int | str) -> int:
    return parse_size(size) if isinstance(size, str) else size


def order_prediction(size: int | str, page_size: int = 4096) -> Prediction:
    """Which order ``get_order(size)`` gives with pages of ``page_size`` bytes."""
    nbytes = _size(size)
    order = get_order(nbytes, page_size)
    pages = pages_for(nbytes, page_size)
    wrong = tuple(
        Misconception(value, name, why) for value, name, why in (
            (get_order(nbytes), "4 KiB pages",
             f"the order counts pages of {format_size(page_size)}, not of 4 KiB"),
            (pages, "pages, not an order",
             "an order is the exponent: the block has 2^order pages"),
            (order + 1, "one order too many",
             "a size that fills 2^n pages exactly needs order n, not n + 1"),
        ) if value != order
    )
    return Prediction(
        f"With {format_size(page_size)} pages, which order does get_order() give for "
        f"{format_size(nbytes)}?",
        Field("order", "order", "int", "e.g. 3"), order, wrong)


def unused_pages_prediction(size: int | str, page_size: int = 4096) -> Prediction:
    """How many pages of the block ``alloc_pages`` hands out for ``size`` stay wholly unused."""
    nbytes = _size(size)
    block, used = 1 << get_order(nbytes, page_size), pages_for(nbytes, page_size)
    wrong = tuple(Misconception(value, name, why) for value, name, why in (
        (0, "no rounding", "alloc_pages hands out a power of two pages, never just enough"),
        (used, "the used pages", "the question asks for the pages the request leaves unused"),
    ) if value != block - used)
    return Prediction(
        f"alloc_pages() for {nbytes} bytes with {format_size(page_size)} pages: how many pages "
        "of the block it hands out does the request leave entirely unused?",
        Field("unused", "unused pages", "int", "e.g. 12"), block - used, wrong)


def tail_blocks_prediction(size: int | str, page_size: int = 4096) -> Prediction:
    """Into how many free blocks the tail of ``alloc_pages_exact(size)`` merges.

    Computed by running the call on an empty zone exactly one block large (what the animator
    plays): the tail pages come back one by one and merge with their free buddies.
    """
    nbytes = _size(size)
    order = get_order(nbytes, page_size)
    block, keep = 1 << order, pages_for(nbytes, page_size)
    zone = Zone(block, page_size=page_size, max_order=order, record=False)
    zone.alloc_pages_exact(nbytes)
    blocks = sum(zone.nr_free())
    wrong = tuple(Misconception(value, name, why) for value, name, why in (
        (block - keep, "no merging", "a freed page merges with its buddy when the buddy is free"),
        (1, "one block", f"{block - keep} pages are no power of two: no single block holds them"),
    ) if value != blocks)
    return Prediction(
        f"alloc_pages_exact({format_size(nbytes)}) keeps {keep} of the {block} pages and gives "
        f"the {block - keep} tail pages back one by one. Into how many free blocks do they "
        "merge?",
        Field("blocks", "free blocks", "int", "e.g. 7"), blocks, wrong)


def event_count_prediction(question: str, scenario: Scenario, kind: str) -> Prediction:
    """How many events of ``kind`` (``kit.events.SPLIT``, ``MERGE``, ...) ``scenario`` makes.

    The lesson words the question; the answer is counted in the recorded scenario that the
    player then plays, so the two cannot disagree.
    """
    if kind not in ev.KINDS:
        raise InvalidArgument(f"unknown event kind {kind!r}; choose one of {', '.join(ev.KINDS)}")
    count = sum(step.event.kind == kind for step in scenario.steps())
    return Prediction(question, Field(kind, f"{kind}s", "int", "e.g. 3"), count)


def exact_free_prediction(zone: Zone, addr: int, size: int) -> Prediction:
    """The free lists (nr_free per order) after ``zone.free_pages_exact(addr, size)``.

    The answer comes from a copy of ``zone`` rebuilt from its trace (the zone itself is not
    touched), so the demo that frees the real zone afterwards must show the same counts.
    """
    if zone.trace is None:
        raise InvalidArgument("the zone records no trace (Zone(record=False)): nothing to "
                              "rebuild a copy from")
    copy = replay(zone.trace.to_text())
    before = tuple(copy.nr_free())
    copy.free_pages_exact(addr, size)
    after = tuple(copy.nr_free())
    return Prediction(
        f"free_pages_exact() gives the {format_size(size)} back. How many free blocks of each "
        f"order 0..{zone.max_order} will the zone have then?",
        Field("nr_free", "nr_free per order", "ints", "e.g. 1 0 2 ..."), after,
        (Misconception(before, "nothing changes",
                       "freed pages merge with their free buddies, order by order"),))

