"""Predict, then run: the question a lesson's demo asks before it shows its result.

A demo that shows the answer at once teaches less than one that first makes the reader commit
to a guess.  A ``Prediction`` is that guess's question with the answer *computed by the kit*
from the same scenario the demo plays (never typed into a lesson, so it cannot drift from what
the simulator does), checked with the lenient readers of ``kit.practice``.  The widget that
hides a demo until the reader has answered is ``kit.widgets.Predict``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import events as ev
from .errors import InvalidArgument
from .orders import format_size, get_order, pages_for, parse_size
from .practice import Field, Mark, Misconception, Unreadable, mark, read_value
from .procfs import BuddyInfoReading, BuddyInfoZone, main_zone
from .replay import replay
from .scenarios import Scenario
from .zone import Zone

__all__ = [
    "Prediction",
    "event_count_prediction",
    "exact_free_prediction",
    "most_free_pages_prediction",
    "order_prediction",
    "tail_blocks_prediction",
    "unused_pages_prediction",
]


@dataclass(frozen=True)
class Prediction:
    """A question with one typed answer: ``field`` says how to read it, ``answer`` is the kit's.

    ``misconceptions`` are wrong answers worth naming (the reader who forgot a rule gives them).
    ``accepted`` are other answers just as right (a tie).  ``source`` names what gives the
    answer in the verdict ("the simulator", "your machine"); ``detail`` is said after it (the
    numbers behind an answer read from a real machine).
    """

    question: str
    field: Field
    answer: object
    misconceptions: tuple[Misconception, ...] = ()
    accepted: tuple[object, ...] = ()
    source: str = "the simulator"
    detail: str = ""

    def check(self, raw: object) -> Mark:
        """The verdict on what the reader typed (text or a Python value)."""
        result = mark(self.field, raw, self.answer, self.misconceptions)
        if not result.correct:
            for other in self.accepted:
                tied = mark(self.field, raw, other)
                if tied.correct:
                    return tied
        return result

    def explain(self, raw: object) -> str:
        """The verdict in words, for a readable prediction: right, or wrong with the answer
        and, when the wrong value is a known one, the misconception it suggests."""
        result = self.check(raw)
        detail = f" {self.detail}" if self.detail else ""
        if result.correct:
            return f"Right: {self.source} gives {result.expected} too.{detail}"
        why = (f" Likely misconception, {result.misconception.name}: "
               f"{result.misconception.explanation}." if result.misconception else "")
        return (f"Not quite: you said {result.given}, {self.source} gives {result.expected}."
                f"{why}{detail} The demo below shows why.")

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


def most_free_pages_prediction(buddyinfo: BuddyInfoReading | Sequence[BuddyInfoZone],
                               zone: str | None = None) -> Prediction:
    """In blocks of which order one zone of a buddyinfo reading holds the most free memory.

    The answer counts pages (an order-n block holds 2^n), not blocks: the orders with the most
    blocks are usually small, while most free memory sits in large blocks.  ``zone`` names the
    zone; None asks about the one ``kit.procfs.main_zone`` picks (the first Normal zone, else
    the zone with the most free pages) and says so when it is not Normal.  A reading from
    ``kit.procfs.take_buddyinfo`` makes the question and the verdict say whose machine it is
    and when; a zone missing from the reading, or one without a free page, is an
    InvalidArgument that says so.
    """
    if isinstance(buddyinfo, BuddyInfoReading):
        reading = buddyinfo
    else:
        reading = BuddyInfoReading(tuple(buddyinfo), "")
    zones = reading.zones
    if zone is None:
        chosen = zones[main_zone(zones)]
    else:
        found = [z for z in zones if z.zone == zone]
        if not found:
            names = ", ".join(z.zone for z in zones) or "none"
            raise InvalidArgument(f"no zone {zone!r} in {_owner(reading)} (its zones: {names})")
        chosen = found[0]
    name = f"Node {chosen.node}, zone {chosen.zone}"
    pages = [count << order for order, count in enumerate(chosen.nr_free)]
    if not any(pages):
        raise InvalidArgument(f"{name} of {_owner(reading)} has no free page: no order holds "
                              "the most free memory")
    most = max(pages)
    right = [order for order, count in enumerate(pages) if count == most]
    blocks = max(range(len(pages)), key=lambda order: chosen.nr_free[order])
    top = len(pages) - 1
    candidates = (
        (blocks, "blocks, not memory",
         f"order {blocks} has the most free blocks, but an order-n block holds 2^n pages"),
        (top, "memory as at boot",
         "a machine that has run a while has split many of its largest blocks, and pages "
         "still in use keep their free buddies from merging back"),
        (0, "freed pages stay single",
         "a freed page merges with its buddy whenever the buddy is free too, so free memory "
         "gathers in larger blocks"),
    )
    named: dict[int, Misconception] = {}
    for value, label, why in candidates:
        if value not in right:
            named.setdefault(value, Misconception(value, label, why))
    note = "" if chosen.zone == "Normal" or zone is not None else (
        f" ({_owner(reading, capital=True)} has no Normal zone; this asks about {chosen.zone}, "
        "the zone with the most free pages.)")
    stand_in = (f"{reading.stand_in} So this question is about the kit's sample from an "
                "x86-64 machine with 24 GiB, not about your machine. ") if reading.stand_in else ""
    shown = dict.fromkeys([right[-1], blocks])  # the answer, then the order with most blocks
    counts = "; ".join(f"order {order} holds {_many(chosen.nr_free[order], 'block')} = "
                       f"{_many(pages[order], 'page')}" for order in shown)
    tie = f" (a tie: orders {', '.join(map(str, right))})" if len(right) > 1 else ""
    again = " Run the cell again for a new reading." if reading.own_machine else ""
    return Prediction(
        f"{stand_in}In {name} of {_owner(reading)}, blocks of which order hold the most free "
        f"memory?{note}",
        Field("order", "order", "int", "e.g. 3"), right[-1], tuple(named.values()),
        accepted=tuple(right[:-1]), source=_owner(reading),
        detail=f"{_where(reading)}, {name}: {counts}{tie}.{again}")


def _many(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _owner(reading: BuddyInfoReading, capital: bool = False) -> str:
    """Whose memory a reading shows, as the question and the verdict name it."""
    if reading.own_machine:
        owner = "your machine"
    elif reading.stand_in:
        owner = "the kit's sample"
    else:
        owner = f"the buddyinfo read from {reading.path}" if reading.path else "the buddyinfo given"
    return owner[0].upper() + owner[1:] if capital else owner


def _where(reading: BuddyInfoReading) -> str:
    """Where a reading's numbers come from, as the verdict says it."""
    if reading.own_machine:
        return "Your own machine at the moment the cell read /proc/buddyinfo"
    if reading.stand_in:
        return f"The kit's sample ({Path(reading.path).name})"
    return _owner(reading, capital=True)
