"""Predict, then run: the question a lesson's demo asks before it shows its result.

A demo that shows the answer at once teaches less than one that first makes the reader commit
to a guess.  A ``Prediction`` is that guess's question with the answer *computed by the kit*
from the same scenario the demo plays (never typed into a lesson, so it cannot drift from what
the simulator does), checked with the lenient readers of ``kit.teaching.practice``.  The widget that
hides a demo until the reader has answered is ``kit.widgets.Predict``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from kit.core import events as ev
from kit.core.errors import InvalidArgument
from kit.core.metrics import ContigPageInfo
from kit.core.orders import _require_int, format_size, get_order, pages_for, parse_size
from kit.core.procfs import BuddyInfoReading, BuddyInfoZone, main_zone
from kit.core.replay import replay
from kit.core.tracesummary import TraceSummary, migratetype_name
from kit.core.zone import Zone

from .practice.misconceptions import (
    count_misconceptions,
    count_off_misconceptions,
    first_fit_misconceptions,
    kib_misconceptions,
    nr_free_misconceptions,
    order_misconceptions,
    split_misconceptions,
)
from .practice.problems import Mark, Misconception, mark
from .practice.reading import Field, Unreadable, read_value, typed_text
from .scenarios import EventModel, Scenario

__all__ = [
    "ASKS",
    "CALLS",
    "TRIES",
    "Attempts",
    "Prediction",
    "Reply",
    "call_prediction",
    "event_count_prediction",
    "exact_free_prediction",
    "fallback_count_prediction",
    "most_free_pages_prediction",
    "order_prediction",
    "pcp_tail_prediction",
    "refill_size_prediction",
    "suitable_blocks_prediction",
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

    def explain(self, raw: object, then: str = "The demo below shows why.") -> str:
        """The verdict in words, for a readable prediction: right, or wrong with the answer
        and, when the wrong value is a known one, the misconception it suggests; ``then``
        says where to look next."""
        result = self.check(raw)
        detail = f" {self.detail}" if self.detail else ""
        if result.correct:
            return f"Right: {self.source} gives {result.expected} too.{detail}"
        why = (f" Likely misconception, {result.misconception.name}: "
               f"{result.misconception.explanation.rstrip('.')}." if result.misconception
               else "")
        return (f"Not quite: you said {result.given}, {self.source} gives {result.expected}."
                f"{why}{detail} {then}")

    def hint(self, raw: object) -> str:
        """What a wrong first try is told, without the answer: the mistake it suggests when the
        wrong value is a known one, else which way it is off; then to try again."""
        result = self.check(raw)
        if result.misconception is not None:
            why = (f"That is the answer of a known mistake, {result.misconception.name}: "
                   f"{result.misconception.explanation.rstrip('.')}.")
        else:
            where = result.note if self.field.type in ("ints", "buddyinfo", "blocks") else ""
            if self.field.type == "ints" and "per order" not in self.field.label:
                where = _positions(self.field, raw, self.answer)  # counts of something else
            why = _direction(self.field, raw, self.answer) or (
                f"{where[0].upper()}{where[1:]}." if where else "")
        return (f"Not yet: you said {result.given}. {why} Try once more, or press \"show me "
                "the answer\".").replace("  ", " ")

    def readable(self, raw: object) -> bool:
        """Whether ``raw`` reads as an answer at all: a typo, nothing, or counts for the wrong
        number of orders is not a prediction (and must not open the demo that answers it)."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return False
        try:
            given = read_value(self.field, raw)
        except Unreadable:
            return False
        if self.field.type in ("ints", "buddyinfo"):
            expected = read_value(self.field, self.answer)
            return isinstance(given, tuple) and isinstance(expected, tuple) \
                and len(given) == len(expected)
        return True


def _direction(field: Field, raw: object, answer: object) -> str:
    """Whether a wrong number is too high or too low (only for plain numbers: for a pfn or a
    list of counts it would point the wrong way as often as not)."""
    if field.type != "int":
        return ""
    given, expected = read_value(field, raw), read_value(field, answer)
    assert isinstance(given, int) and isinstance(expected, int)
    return "Your number is too high." if given > expected else "Your number is too low."


def _positions(field: Field, raw: object, answer: object) -> str:
    """Which of several counts (not one per order) are wrong, numbered from 1."""
    given, expected = read_value(field, raw), read_value(field, answer)
    assert isinstance(given, tuple) and isinstance(expected, tuple)
    wrong = [str(i) for i, (a, b) in enumerate(zip(given, expected, strict=False), 1) if a != b]
    many = len(wrong) > 1
    return (f"count{'s' if many else ''} {', '.join(wrong)} of {len(expected)} "
            f"differ{'' if many else 's'}")


#: How many readable predictions a reader may make before the answer is shown: a wrong first
#: one gets a hint and another try ("show me" gives up at any time).
TRIES = 2


@dataclass(frozen=True)
class Reply:
    """What one try is told: the verdict ``mark``, the ``text`` to show, and whether the answer
    (and the demo that shows it) may now be shown."""

    mark: Mark
    text: str
    reveal: bool


class Attempts:
    """One reader's tries at a ``Prediction``: a wrong try before the last gets a hint, not the
    answer; a right one, the last wrong one or ``give_up()`` ("show me") end the round.

    A typo (``Prediction.readable`` false) is no try.  ``finished`` says the answer is out;
    ``tries`` counts the readable tries made before that (the ones progress records).
    """

    def __init__(self, prediction: Prediction, allowed: int = TRIES) -> None:
        self.prediction = prediction
        self.allowed = _require_int(allowed, "allowed", 1)
        self.tries = 0
        self.finished = False

    def answer(self, raw: object, then: str = "The demo below shows why.") -> Reply:
        """Mark one typed prediction and say what the reader may see now."""
        prediction = self.prediction
        mark = prediction.check(raw)
        if not prediction.readable(raw):
            return Reply(mark, f"Not read as a prediction: {mark.note or 'type an answer first'}",
                         False)
        if self.finished:  # the answer is out: a check now counts for nothing
            return Reply(mark, prediction.explain(raw, then), True)
        self.tries += 1
        if mark.correct or self.tries >= self.allowed:
            self.finished = True
            return Reply(mark, prediction.explain(raw, then), True)
        return Reply(mark, prediction.hint(raw), False)

    def give_up(self) -> str:
        """End the round (the "show me" button): the answer in words once the reader has
        tried; with no try the demo alone shows it."""
        self.finished = True
        if not self.tries:
            return ""
        return (f"The answer: {self.prediction.source} gives "
                f"{typed_text(self.prediction.field, self.prediction.answer)}."
                f"{' ' + self.prediction.detail if self.prediction.detail else ''}")


def _size(size: int | str) -> int:
    return parse_size(size) if isinstance(size, str) else size


def order_prediction(size: int | str, page_size: int = 4096) -> Prediction:
    """Which order ``get_order(size)`` gives with pages of ``page_size`` bytes."""
    nbytes = _size(size)
    order = get_order(nbytes, page_size)
    wrong = tuple(order_misconceptions(nbytes, order, pages_for(nbytes, page_size), page_size))
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
    ) if value != block - used) + tuple(kib_misconceptions(block - used, page_size))
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
    """How many events of ``kind`` (``kit.core.events.SPLIT``, ``MERGE``, ...) ``scenario`` makes.

    The lesson words the question; the answer is counted in the recorded scenario that the
    player then plays, so the two cannot disagree.
    """
    if kind not in ev.KINDS:
        raise InvalidArgument(f"unknown event kind {kind!r}; choose one of {', '.join(ev.KINDS)}")
    events = [step.event for step in scenario.steps()]
    count = sum(event.kind == kind for event in events)
    wrong: list[Misconception] = []
    if kind in (ev.SPLIT, ev.MERGE):
        takes = [(take.order, alloc.order) for take, alloc in _takes_and_allocs(events)]
        full = sum((1 << (k - n)) - 1 for k, n in takes) if kind == ev.SPLIT else None
        wrong = count_off_misconceptions(kind, count, full)
    return Prediction(question, Field(kind, f"{kind}s", "int", "e.g. 3"), count, tuple(wrong))


def _takes_and_allocs(events: Sequence[ev.Event]) -> list[tuple[ev.Event, ev.Event]]:
    """Each block taken from a free list with the allocation it then served (its order is the
    order the block was split down to)."""
    pairs, taken = [], None
    for event in events:
        if event.kind == ev.TAKE:
            taken = event
        elif event.kind == ev.ALLOC and taken is not None:
            pairs.append((taken, event))
            taken = None
    return pairs


def _nr_free_field(max_order: int) -> Field:
    """A count per order; the example shows how many counts to type."""
    return Field("nr_free", "nr_free per order", "ints",
                 "e.g. " + " ".join("0" * (max_order + 1)))


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
        _nr_free_field(zone.max_order), after,
        (Misconception(before, "nothing changes",
                       "freed pages merge with their free buddies, order by order"),))



# ------------------------------------------------------------------ a call the reader makes
#: The calls ``call_prediction`` can ask about, with the arguments each takes.
CALLS = {"alloc_pages": "(order,)", "alloc_pages_exact": "(size,)",
         "free_pages": "(pfn, order)", "free_pages_exact": "(pfn, size)"}
#: What a reader can predict about one call: the pfn an allocation returns (or NULL), the free
#: blocks per order after it, the splits it makes (``expand``) or the merges (buddies joined).
ASKS = ("pfn", "nr_free", "splits", "merges")


@dataclass(frozen=True)
class _DryRun:
    """One call run on a copy of a zone: the pfn it returned and the steps it took."""

    pfn: int | None
    events: tuple[ev.Event, ...]
    before_nr_free: tuple[int, ...]
    nr_free: tuple[int, ...]
    before_blocks: tuple[tuple[int, int], ...]  # the free blocks the call could have taken


def _dry_run(zone: Zone, call: str, args: tuple[int, ...], order: int) -> _DryRun:
    """Run the call on a copy of ``zone`` (its snapshot restored into a zone that records
    nothing), so the zone itself and every view following it stay as they were; ``order`` is
    the call's, and the free blocks of that order and above are kept as they were before."""
    copy = Zone(**cast(dict[str, Any], zone.config()), record=False)
    copy.restore(zone.snapshot())
    before = tuple(copy.nr_free())
    blocks = tuple((pfn, area.order) for area in copy.free_area[min(order, zone.max_order):]
                   for pfn in area)
    events: list[ev.Event] = []
    copy.subscribe(events.append)
    pfn: int | None = None
    if call == "alloc_pages":
        page = copy.alloc_pages(args[0])
        pfn = None if page is None else page.pfn
    elif call == "alloc_pages_exact":
        addr = copy.alloc_pages_exact(args[0])
        pfn = None if addr is None else copy.virt_to_pfn(addr)
    elif call == "free_pages":
        copy.free_pages(copy.pfn_to_virt(args[0]), args[1])
    else:
        copy.free_pages_exact(copy.pfn_to_virt(args[0]), args[1])
    return _DryRun(pfn, tuple(events), before, tuple(copy.nr_free()), blocks)


def _call_text(call: str, args: tuple[int, ...], page_size: int) -> str:
    """The call as a question names it: sizes in KiB with their pages, pfns in decimal."""
    if call == "alloc_pages":
        return f"alloc_pages({args[0]})"
    if call == "free_pages":
        return f"free_pages(pfn {args[0]}, order {args[1]})"
    where = f"pfn {args[0]}, " if call == "free_pages_exact" else ""
    return f"{call}({where}{format_size(args[-1])}: {pages_for(args[-1], page_size)} pages)"


def call_prediction(zone: Zone, call: str, args: tuple[int, ...], ask: str,
                    context: str = "") -> Prediction:
    """What ``call`` (one of ``CALLS``) with ``args`` will do to ``zone``: ``ask`` (one of
    ``ASKS``) picks the pfn it returns, nr_free per order after it, or its splits or merges.
    ``context`` says what the zone holds, before the call in the question ("With the buffer
    held").

    The answer comes from running the call on a copy of the zone (the zone is not touched), so
    the Playground that then runs it on the zone shows the same.  A call the zone refuses (a
    free of pages that are not allocated) raises the zone's own error before anything is asked.
    """
    if call not in CALLS:
        raise InvalidArgument(f"unknown call {call!r}; choose one of {', '.join(CALLS)}")
    if ask not in ASKS:
        raise InvalidArgument(f"cannot ask for {ask!r}; choose one of {', '.join(ASKS)}")
    arity = 1 if call.startswith("alloc") else 2
    if not isinstance(args, tuple) or len(args) != arity:
        raise InvalidArgument(f"{call} takes the arguments {CALLS[call]}, got {args!r}")
    allocates = call.startswith("alloc")
    if ask == "pfn" and not allocates:
        raise InvalidArgument(f"{call} returns nothing: ask for nr_free, splits or merges")
    order = (args[0] if call == "alloc_pages" else get_order(args[0], zone.page_size)
             if allocates else args[1] if call == "free_pages" else 0)
    run = _dry_run(zone, call, args, order)
    text = _call_text(call, args, zone.page_size)
    text = f"{context}, {text}" if context else text
    if ask == "pfn":
        return Prediction(f"{text}: which pfn will it return (NULL if it fails)?",
                          Field("pfn", "pfn", "pfn", "e.g. 8, or NULL"), run.pfn,
                          tuple(_pfn_misconceptions(run, order)))
    if ask == "nr_free":
        return Prediction(
            f"{text}: how many free blocks of each order 0..{zone.max_order} will the zone "
            "have after it?", _nr_free_field(zone.max_order),
            run.nr_free, tuple(_after_misconceptions(run, call, order)))
    kind = ev.SPLIT if ask == "splits" else ev.MERGE
    count = sum(event.kind == kind for event in run.events)
    what = "blocks will it split" if kind == ev.SPLIT else "times will buddies merge"
    return Prediction(f"{text}: how many {what}?", Field(ask, ask, "int", "e.g. 2"), count,
                      tuple(_event_misconceptions(zone, run, call, kind, count, order)))


def _pfn_misconceptions(run: _DryRun, order: int) -> list[Misconception]:
    if run.pfn is None:
        return []
    before = dict.fromkeys(range(order, len(run.before_nr_free)), 0)
    for _pfn, block_order in run.before_blocks:
        before[block_order] += 1
    own_list_empty = [] if before.get(order) else [Misconception(
        None, "only its own list",
        f"free_area[{order}] is empty, but alloc_pages then takes a larger free block and "
        "splits it")]
    return [*split_misconceptions(run.events, order, run.pfn),
            *first_fit_misconceptions(order, run.pfn, run.before_blocks), *own_list_empty]


def _after_misconceptions(run: _DryRun, call: str, order: int) -> list[Misconception]:
    found = [*count_misconceptions(run.nr_free)]
    if run.nr_free != run.before_nr_free:
        found.append(Misconception(run.before_nr_free, "nothing changes",
                                   "a call takes blocks from the free lists or puts blocks on "
                                   "them, and those are the counts /proc/buddyinfo shows"))
    op = "alloc" if call == "alloc_pages" else "free" if call == "free_pages" else ""
    found += nr_free_misconceptions(op, order, run.events, run.before_nr_free)
    if op == "free" and any(event.kind == ev.PCP_PUT for event in run.events):
        counted = list(run.before_nr_free)
        counted[order] += 1
        found.append(Misconception(tuple(counted), "no per-CPU list", _PARKED))
    if call == "alloc_pages_exact" and run.pfn is not None:
        until_alloc = next(i for i, event in enumerate(run.events) if event.kind == ev.ALLOC)
        whole = tuple(ev.apply_to_nr_free(list(run.before_nr_free), run.events[:until_alloc]))
        found.append(Misconception(whole, "the whole block stays allocated",
                                   "alloc_pages_exact keeps only the pages it needs and gives "
                                   "the tail back at once, where it merges into free blocks"))
    return [m for m in found if m.value != run.nr_free]


_PARKED = ("with per-CPU lists on, a freed page waits on the freeing CPU's list: nr_free "
           "and /proc/buddyinfo count it only when the list reaches high and gives pages back, "
           "or when it is drained")


def pcp_tail_prediction(size: int | str, presets: Sequence[str], nr_pages: int = 1 << 18
                        ) -> Prediction:
    """How many of the tail pages ``alloc_pages_exact(size)`` gives back ``/proc/buddyinfo``
    counts at once, with per-CPU lists on, under each of ``presets``: a version that frees
    them as ordinary order-0 pages parks them on the per-CPU list (6.0 and before), one that
    frees them straight to the buddy lists does not (6.1 on).  Counted on a zone of
    ``nr_pages`` per preset, the zone the lesson's demo prints."""
    nbytes = _size(size)
    counted, tails = [], 0
    for preset in presets:
        zone = Zone(nr_pages, preset=preset, pcp=True, record=False)
        before = zone.pcp_count
        zone.alloc_pages_exact(nbytes)
        tails = (1 << get_order(nbytes, zone.page_size)) - pages_for(nbytes, zone.page_size)
        counted.append(tails - (zone.pcp_count - before))
    answer = tuple(counted)
    names = " and ".join(presets)
    wrong = tuple(m for m in (
        Misconception((tails,) * len(presets), "every free reaches the buddy lists",
                      f"{_PARKED}, and a version that frees the tail as ordinary order-0 "
                      "pages puts them there"),
        Misconception((0,) * len(presets), "every tail page waits on the per-CPU list",
                      "since 6.1 alloc_pages_exact frees its tail with __free_pages_ok(page, "
                      "0, FPI_TO_TAIL), straight to the buddy lists, past the per-CPU list"),
        Misconception(tuple(reversed(answer)), "the versions swapped",
                      "6.0 and before free each tail page with free_page(), an ordinary "
                      "order-0 free that goes to the per-CPU list; 6.1 frees the tail straight "
                      "to the buddy lists"),
    ) if m.value != answer)
    return Prediction(
        f"alloc_pages_exact({format_size(nbytes)}) with per-CPU lists on gives {tails} tail "
        f"pages back. How many of them does /proc/buddyinfo count right after the call, with "
        f"{names}?",
        Field("counted", f"tail pages counted ({', '.join(presets)})", "ints",
              "e.g. " + " ".join(["5"] * len(presets))), answer, wrong)


def _event_misconceptions(zone: Zone, run: _DryRun, call: str, kind: str, count: int,
                          order: int) -> list[Misconception]:
    """Splits of an allocation or merges of a free (or of an exact allocation's tail) that a
    reader who got one rule wrong would count."""
    top = min(zone.max_order, zone.nr_pages.bit_length() - 1)  # the zone's largest block
    wrong = []
    if kind == ev.SPLIT and call.startswith("alloc"):
        wrong = [(0, "no split", "when free_area[n] is empty, expand() halves a larger block "
                  "once per order down to n"),
                 (top - order, "split from the largest order",
                  "expand() starts from the smallest free block that is large enough, not "
                  "from the largest order")]
    elif kind == ev.MERGE and call != "alloc_pages":
        wrong = [(0, "no merging", "a freed block merges with its buddy whenever the buddy is "
                  "a free block of the same order"),
                 (top - order, "merges all the way up",
                  "merging stops at the first buddy that is not a free block of the same "
                  "order (allocated, or split into smaller blocks)")]
    named = [Misconception(value, name, why) for value, name, why in wrong]
    if wrong:  # the splits of an allocation, the merges of a free: also a count off by one
        taken = next((e.order for e in run.events if e.kind == ev.TAKE), order)
        full = (1 << (taken - order)) - 1 if kind == ev.SPLIT else None
        named += count_off_misconceptions(kind, count, full)
    return [m for m in named if m.value != count]


# ----------------------------------------------------------------- the end of a workload
def suitable_blocks_prediction(scenario: Scenario, order: int) -> Prediction:
    """How many order-``order`` blocks the free lists could hand out at the end of
    ``scenario`` (``kit.core.metrics.free_blocks_suitable``), given how many pages are free.

    The count of free pages alone does not say it: pages in blocks smaller than the order
    cannot serve the request, which is why lesson 6 counts blocks rather than reading the
    unusable index.  The answer is computed from the very events the player plays.
    """
    model = EventModel(scenario.config)
    for step in scenario.steps():
        model.apply(step.event, step.operation)
    nr_free = model.nr_free()
    order = _require_int(order, "order", 0)
    if order > model.max_order:
        raise InvalidArgument(f"order {order} is above the zone's largest, {model.max_order}")
    info = ContigPageInfo.from_nr_free(nr_free, order)
    free_pages, answer = info.free_pages, info.free_blocks_suitable
    wrong = tuple(Misconception(value, name, why) for value, name, why in (
        (free_pages >> order, "free pages, not blocks",
         f"only free blocks of order {order} or more can serve the request; free pages in "
         "smaller blocks cannot, however many there are"),
        (nr_free[order], f"only free_area[{order}]",
         f"a larger free block splits into several order-{order} blocks (2^(k-{order}) from "
         "an order-k block)"),
    ) if value != answer)
    return Prediction(
        f"At the end of \"{scenario.name}\", {free_pages} of the zone's {model.nr_pages} pages "
        f"are free. How many order-{order} blocks ({format_size(model.page_size << order)}) "
        "could the free lists hand out then?",
        Field("blocks", f"order-{order} blocks", "int", "e.g. 5"), answer, wrong)


def most_free_pages_prediction(buddyinfo: BuddyInfoReading | Sequence[BuddyInfoZone],
                               zone: str | None = None) -> Prediction:
    """In blocks of which order one zone of a buddyinfo reading holds the most free memory.

    The answer counts pages (an order-n block holds 2^n), not blocks: the orders with the most
    blocks are usually small, while most free memory sits in large blocks.  ``zone`` names the
    zone; None asks about the one ``kit.core.procfs.main_zone`` picks (the first Normal zone, else
    the zone with the most free pages) and says so when it is not Normal.  A reading from
    ``kit.core.procfs.take_buddyinfo`` makes the question and the verdict say whose machine it is
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
                "x86-64 machine with about 3.5 GiB, not about your machine. "
                ) if reading.stand_in else ""
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


def refill_size_prediction(summary: TraceSummary, batch: int, source: str) -> Prediction:
    """In how many of a real trace's order-0 per-CPU refills the kernel took more than
    ``batch`` pages (zoneinfo's ``batch``), counted from ``summary``.

    Since Linux 6.7 a refill takes ``batch << alloc_factor`` pages (capped by ``high``), and
    ``alloc_factor`` grows while a CPU keeps allocating: a reader who knows only ``batch`` says
    none.  ``source`` names the trace in the verdict ("the shipped trace", "your trace").
    """
    sizes = summary.refill_sizes(0)
    total = sum(sizes.values())
    if not total:
        raise InvalidArgument("the trace has no order-0 refill to ask about")
    larger = sum(count for size, count in sizes.items() if size > batch)
    usual = ", ".join(f"{size} pages x{count}" for size, count in sizes.most_common(4))
    return Prediction(
        f"In {source} the CPUs refilled their order-0 per-CPU lists {total} times; zoneinfo "
        f"gives the zone batch = {batch}. In how many refills did the kernel take more than "
        f"{batch} pages from the buddy lists?",
        Field("refills", "refills", "int", "e.g. 10"), larger,
        tuple(m for m in (
            Misconception(0, "batch is fixed",
                          "since Linux 6.7 a refill takes batch << alloc_factor pages, and "
                          "alloc_factor grows while a CPU keeps allocating"),
            Misconception(total, "every refill is scaled",
                          "alloc_factor starts at 0 and falls back when the list is not "
                          "emptied again soon, so many refills still take batch"),
        ) if m.value != larger),
        source=source, detail=f"The most common refill sizes: {usual}.",
    )


def fallback_count_prediction(summary: TraceSummary, free_mib: int, workload: str,
                              source: str) -> Prediction:
    """How many allocations of a real trace fell back to another migratetype's pageblocks
    (``mm_page_alloc_extfrag`` events), with ``free_mib`` MiB free in the machine.

    Plenty of free memory does not mean plenty of free pageblocks of the wanted migratetype:
    the free lists are per migratetype, so a reader who answers 0 is told that."""
    count = sum(summary.fallbacks.values())
    pairs = "; ".join(
        f"{n} {migratetype_name(a)} from {migratetype_name(b)}"
        for (a, b), n in summary.fallbacks.items())
    return Prediction(
        f"During {source} ({workload}) the machine had about {free_mib:,} MiB free. How many "
        "allocations fell back to a pageblock of another migratetype?",
        Field("fallbacks", "fallbacks", "int", "e.g. 0"), count,
        (Misconception(0, "free memory is one pool",
                       "the free lists are kept per migratetype; when the Unmovable lists run "
                       "dry the allocation steals from Movable pageblocks even with gigabytes "
                       "free"),) if count else (),
        source=source,
        detail=f"{pairs or 'none'}; {summary.ownership_changes} took the whole pageblock "
               f"over, {summary.fragmenting} left it mixed.",
    )

