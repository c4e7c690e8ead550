"""Unlimited practice, OSTEP-style: seeded allocator problems to predict first, then check.

The OSTEP homework simulators teach with one loop: a seed makes a problem, the student predicts,
the simulator shows the answer only when asked.  This module makes such problems for the buddy
allocator on small zones, in four kinds (``KINDS``):

* ``sequence``: alloc_pages/free_pages steps; predict each returned pfn, nr_free per order after
  each step and the zone's /proc/buddyinfo line;
* ``order``: get_order and the bytes alloc_pages and alloc_pages_exact waste for a few sizes;
* ``exact``: which tail pages alloc_pages_exact gives back and the free blocks they merge into;
* ``pcp``: the per-CPU list (batch, high, LIFO) and the buddyinfo that lags behind it.

No answer is typed in: every expected value is read off a ``Zone`` running the problem (its
events and its state), and every misconception the checker names is the answer of a wrong model,
computed as well: the same steps under another kernel preset or with the per-CPU lists off,
nr_free counted in pages, the upper half kept by a split, and so on.  A ``(kind, seed, level)``
gives the same problem on every machine (``random.Random`` seeded with a string is stable across
platforms and Python versions).  The zones are sized so that no order has two blocks at boot,
which keeps the answers independent of where boot puts its blocks (tail since 5.10, head before).

Pure Python: the ``Practice`` widget (``kit.widgets.practice``) and ``kit practice`` only present
what is built here.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from kit.core import events as ev
from kit.core.errors import InvalidArgument, KitError
from kit.core.events import Event
from kit.core.orders import _require_int, format_size, page_align, pages_for
from kit.core.presets import PRESETS, get_preset
from kit.core.procfs import format_buddyinfo, parse_buddyinfo
from kit.core.replay import replay
from kit.core.zone import Zone

__all__ = [
    "KINDS",
    "LEVELS",
    "Field",
    "Mark",
    "Misconception",
    "Problem",
    "Unreadable",
    "Verdict",
    "generate",
    "mark",
    "practice_set",
    "version_difference",
]

KINDS = ("sequence", "order", "exact", "pcp")
LEVELS = (1, 2, 3)


class Unreadable(InvalidArgument):
    """A typed prediction that cannot be read as the field's kind of value."""


# ------------------------------------------------------------------------------ the data objects
@dataclass(frozen=True)
class Field:
    """One value the reader predicts: ``type`` is "int", "pfn" (a number or NULL), "ints",
    "buddyinfo" or "blocks"."""

    key: str
    label: str
    type: str
    example: str


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

    def explain(self) -> str:
        """Plain words: what was right, what was wrong and which misconception it suggests."""
        right, asked = self.score
        lines = ["All right!" if self.correct else f"{right} of {asked} right."]
        for mark in self.marks:
            if mark.correct:
                lines.append(f"right: {mark.field.label} = {mark.expected}{_suffix(mark.note)}")
            elif not mark.given:
                lines.append(f"not answered: {mark.field.label} (it is {mark.expected})")
            else:
                why = f" ({mark.misconception.name})" if mark.misconception else ""
                lines.append(f"wrong: {mark.field.label}: you said {mark.given}, the allocator "
                             f"gives {mark.expected}{why}{_suffix(mark.note)}")
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
        return "\n".join(f"{f.label}: {_show(f, self.answer[f.key])}" for f in self.fields)

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
    shown = _show(field, answer)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Mark(field, shown, "", False)
    try:
        given = read_value(field, raw)
    except Unreadable as exc:
        return Mark(field, shown, str(raw).strip(), False, str(exc))
    typed = _show(field, raw) if not isinstance(raw, str) else raw.strip()
    expected = read_value(field, answer)
    if given == expected:
        return Mark(field, shown, typed, True, _format_note(field, raw, answer))
    for wrong in misconceptions:
        if read_value(field, wrong.value) == given:
            return Mark(field, shown, typed, False, misconception=wrong)
    return Mark(field, shown, typed, False, _difference(field, given, expected))


# ------------------------------------------------------------------------ reading predictions
def read_value(field: Field, raw: object) -> object:
    """Turn typed text (or a Python value) into the field's comparable value."""
    if field.type == "int":
        return _read_int(raw)
    if field.type == "pfn":
        return _read_pfn(raw)
    if field.type == "ints":
        return _read_ints(raw)
    if field.type == "buddyinfo":
        if isinstance(raw, str) and raw.strip().startswith("Node"):
            try:
                zones = parse_buddyinfo(raw.strip() + "\n")
            except KitError as exc:
                raise Unreadable(f"not a /proc/buddyinfo line: {exc}") from None
            if len(zones) != 1:
                raise Unreadable("type one /proc/buddyinfo line (one zone)")
            return tuple(zones[0].nr_free)
        return _read_ints(raw)
    return _read_blocks(raw)


def _read_int(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\s*\d+\s*", raw):
        return int(raw)
    raise Unreadable(f"expected a whole number such as 12, got {raw!r}")


def _read_pfn(raw: object) -> int | None:
    """A pfn, or None for a failed allocation (typed NULL or None; the value None)."""
    if raw is None or (isinstance(raw, str) and raw.strip().upper() in ("NULL", "NONE")):
        return None
    try:
        return _read_int(raw)
    except Unreadable:
        raise Unreadable(f"expected a pfn such as 12, or NULL, got {raw!r}") from None


def _read_ints(raw: object) -> tuple[int, ...]:
    if isinstance(raw, str):
        tokens = [t for t in re.split(r"[\s,;\[\]()]+", raw) if t]
        if not tokens or not all(t.isdigit() for t in tokens):
            raise Unreadable(f"expected numbers separated by spaces, such as 1 0 2, got {raw!r}")
        return tuple(int(t) for t in tokens)
    if isinstance(raw, (list, tuple)):
        return tuple(_read_int(value) for value in raw)
    raise Unreadable(f"expected numbers separated by spaces, such as 1 0 2, got {raw!r}")


def _read_blocks(raw: object) -> tuple[tuple[int, int], ...]:
    if isinstance(raw, str):
        tokens = [t for t in re.split(r"[\s,;]+", raw) if t]
        pairs = [re.fullmatch(r"(\d+)[/:](\d+)", t) for t in tokens]
        if not tokens or not all(pairs):
            raise Unreadable(
                f"expected blocks as pfn/order separated by spaces, such as 8/3 16/4, got {raw!r}")
        return tuple(sorted((int(m.group(1)), int(m.group(2))) for m in pairs if m))
    if isinstance(raw, (list, tuple)):
        try:
            return tuple(sorted((_read_int(pfn), _read_int(order)) for pfn, order in raw))
        except (TypeError, ValueError):
            raise Unreadable(f"expected (pfn, order) pairs, got {raw!r}") from None
    raise Unreadable(f"expected blocks as pfn/order, such as 8/3 16/4, got {raw!r}")


def _show(field: Field, value: object) -> str:
    """A value as the reader would type it."""
    if isinstance(value, str):
        return value
    if value is None and field.type == "pfn":
        return "NULL"
    if field.type == "blocks":
        return " ".join(f"{pfn}/{order}" for pfn, order in _read_blocks(value)) or "(none)"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


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


# ----------------------------------------------------------------------- running the programs
@dataclass(frozen=True)
class _Call:
    """One step of a problem: ``op`` is alloc, free, exact or drain; ``arg`` an order or size."""

    op: str
    name: str = ""
    arg: int = 0

    def text(self) -> str:
        if self.op == "alloc":
            return f"{self.name} = alloc_pages(order={self.arg})"
        if self.op == "free":
            return f"free_pages({self.name}, order={self.arg})"
        if self.op == "exact":
            return f"{self.name} = alloc_pages_exact({self.arg})   # {format_size(self.arg)}"
        return "drain_pages()   # drain_local_pages: empty the per-CPU list"


@dataclass(frozen=True)
class _Step:
    """What one call did to the zone, and the zone just before it (to name misconceptions)."""

    call: _Call
    events: tuple[Event, ...]
    pfn: int | None
    nr_free: tuple[int, ...]
    pcp: int
    blocks: tuple[tuple[int, int], ...]
    before_nr_free: tuple[int, ...]
    before_blocks: tuple[tuple[int, int], ...]
    before_pcp: Mapping[int, list[int]]


def _run(config: Mapping[str, Any], calls: Sequence[_Call]) -> tuple[Zone, list[_Step]]:
    """Run the calls on a new zone, watching its events; a failed allocation's frees are skipped
    (only the wrong models of another preset can fail where the problem's zone did not)."""
    zone = Zone(**config)
    seen: list[Event] = []
    zone.subscribe(seen.append)
    held: dict[str, int] = {}
    steps = []
    for call in calls:
        before = (tuple(zone.nr_free()), tuple(zone.free_blocks()), zone.pcp_lists())
        seen.clear()
        pfn = None
        if call.op == "alloc":
            page = zone.alloc_pages(call.arg)
            pfn = None if page is None else page.pfn
        elif call.op == "exact":
            addr = zone.alloc_pages_exact(call.arg)
            pfn = None if addr is None else zone.virt_to_pfn(addr)
        elif call.op == "free" and call.name in held:
            zone.free_pages(zone.pfn_to_virt(held.pop(call.name)), call.arg)
        elif call.op == "drain":
            zone.drain_pages()
        if pfn is not None:
            held[call.name] = pfn
        steps.append(_Step(call, tuple(seen), pfn, tuple(zone.nr_free()), zone.pcp_count,
                           tuple(zone.free_blocks()), *before))
    return zone, steps


def _random_calls(rng: random.Random, config: Mapping[str, Any], steps: int,
                  orders: Sequence[int], free_share: float) -> list[_Call]:
    """A random program of allocations (that succeed) and frees of live allocations."""
    zone = Zone(**config, record=False)
    live: dict[str, tuple[int, int]] = {}
    calls: list[_Call] = []
    names = iter("abcdefghijklmnopqrstuvwxyz")
    for _ in range(steps):
        if live and rng.random() < free_share:
            name = rng.choice(sorted(live))
            pfn, order = live.pop(name)
            zone.free_pages(zone.pfn_to_virt(pfn), order)
            calls.append(_Call("free", name, order))
            continue
        for order in sorted(orders, key=lambda _o: rng.random()):
            page = zone.alloc_pages(order)
            if page is not None:
                name = next(names)
                live[name] = (page.pfn, order)
                calls.append(_Call("alloc", name, order))
                break
    return calls


def _search(rng: random.Random, make: Callable[[], tuple[list[_Call], bool]]) -> list[_Call]:
    """Draw programs until one makes an interesting problem (``make`` says so)."""
    for _ in range(200):
        calls, interesting = make()
        if interesting:
            return calls
    raise KitError("no interesting problem found for this seed; try another seed")


# ---------------------------------------------------------------------------- words and lists
def _label(preset: str) -> str:
    return f"Linux {preset}"


def version_difference(preset: str, other: str, *, pcp: bool = False, exact: bool = False
                       ) -> str:
    """What ``other`` does differently from ``preset``, in words: the free-list placement, and
    the per-CPU list orders (``pcp``) and the exact allocator's trimming (``exact``) if asked."""
    a, b = PRESETS[preset], PRESETS[other]
    parts = []
    if a.merge_likely_to_tail != b.merge_likely_to_tail:
        tail, head = (a, b) if a.merge_likely_to_tail else (b, a)
        parts.append(
            f"{_label(tail.name)} puts a freed block at the TAIL of its free list when the block "
            "one order up has a free buddy (a merge looks likely, so the next allocation should "
            f"take another block; since 2.6.35); {_label(head.name)} always puts it at the HEAD")
    if pcp and a.pcp_max_order != b.pcp_max_order:
        parts.append(
            f"{_label(a.name)} keeps orders 0..{a.pcp_max_order} on the per-CPU lists, "
            f"{_label(b.name)} orders 0..{b.pcp_max_order} (orders 1-3 joined in 5.14); a larger "
            "order goes straight to the buddy lists")
    if exact and a.exact_trim != b.exact_trim:
        split, to_tail = (a, b) if a.exact_trim == "split_page" else (b, a)
        parts.append(
            f"{_label(split.name)} splits the block with split_page() and frees each tail page "
            "like any freed page (through the per-CPU list when it is on, else onto its free "
            "list by the usual head-or-tail rule); "
            f"{_label(to_tail.name)} frees each tail page straight to the TAIL of the buddy "
            "lists, so it is handed out last")
    return "; ".join(parts) or f"{_label(a.name)} and {_label(b.name)} agree here"


def _free_lists_text(blocks: Sequence[tuple[int, int]], max_order: int) -> str:
    """The free lists, head first, one per line (only the non-empty ones)."""
    lines = []
    for order in range(max_order + 1):
        pfns = [str(pfn) for pfn, o in blocks if o == order]
        if pfns:
            lines.append(f"  free_area[{order}]: {', '.join(pfns)}")
    return "\n".join(lines) or "  (every free list is empty)"


def _zone_text(config: Mapping[str, Any]) -> str:
    nr_pages, max_order = config["nr_pages"], config["max_order"]
    text = (f"A zone of {nr_pages} pages of 4 KiB (pfns 0..{nr_pages - 1}), orders 0..{max_order}, "
            f"one CPU and one migratetype, following {_label(config['preset'])} (kit preset "
            f"\"{config['preset']}\").")
    if config.get("pcp"):
        text += (f" Per-CPU list on: batch = {config['pcp_batch']}, high = {config['pcp_high']}: "
                 "an empty list is refilled from the buddy lists with batch pages (with "
                 "max(batch >> n, 2) blocks for an order n > 0), and once it holds high pages or "
                 "more, batch pages, the oldest first, go back to them.")
    else:
        text += " Per-CPU lists off."
    return text


def _events_text(step: _Step) -> list[str]:
    lines = [f"    {event.describe()}" for event in step.events if event.kind != ev.ALLOC]
    return lines or ["    (nothing moves on the buddy lists)"]


def _span(first: int, last: int) -> str:
    return f"pfn {first}" if first == last else f"pfns {first}..{last}"


def _pages(count: int) -> str:
    return f"{count} page{'' if count == 1 else 's'}"


def _nr(counts: Sequence[int]) -> str:
    return " ".join(str(c) for c in counts)


# --------------------------------------------------------------------------- misconceptions
_PAGES = ("pages, not blocks",
          "nr_free (and /proc/buddyinfo) counts free BLOCKS of each order, not pages: one free "
          "order-3 block adds 1 to column 3, not 8.")
_REVERSED = ("highest order first",
             "nr_free and /proc/buddyinfo list order 0 first, then 1, 2, ... up to the largest.")


def count_misconceptions(expected: Sequence[int]) -> list[Misconception]:
    """Wrong ways to write down correct counts."""
    found = []
    pages = tuple(c << o for o, c in enumerate(expected))
    if pages != tuple(expected):
        found.append(Misconception(pages, *_PAGES))
    backwards = tuple(reversed(expected))
    if backwards != tuple(expected):
        found.append(Misconception(backwards, *_REVERSED))
    return found


def _model_misconceptions(models: Sequence[tuple[list[_Step], str, str]], index: int,
                          pick: Callable[[_Step], object], expected: object
                          ) -> list[Misconception]:
    """What each wrong model (steps, name, explanation) gives at step ``index``, if different."""
    found = []
    for steps, name, explanation in models:
        value = pick(steps[index])
        if value is not None and value != expected:
            found.append(Misconception(value, name, explanation))
    return found


def _preset_models(preset: str, others: Sequence[str], config: Mapping[str, Any],
                   calls: Sequence[_Call]) -> list[tuple[list[_Step], str, str]]:
    """The same calls under other presets, each with what that version does differently."""
    models = []
    exact = any(call.op == "exact" for call in calls)
    for other in others:
        steps = _run({**config, "preset": other}, calls)[1]
        why = version_difference(preset, other, pcp=bool(config.get("pcp")), exact=exact)
        models.append((steps, f"{_label(other)} rules",
                       f"that is what {_label(other)} gives, not {_label(preset)}: {why}."))
    return models


def split_misconceptions(events: Sequence[Event], order: int, pfn: int | None
                         ) -> list[Misconception]:
    """For an allocation of ``order`` that split a larger block: the caller got the upper half."""
    takes = [e for e in events if e.kind == ev.TAKE]
    if not takes or takes[0].order == order or pfn is None:
        return []
    taken = takes[0]
    upper = taken.pfn + (1 << taken.order) - (1 << order)
    return [Misconception(
        upper, "kept the upper half",
        "when expand() splits a larger block it keeps the LOWER half and puts the upper half on "
        "the free list one order down, so the caller gets the first pages of the block taken.")]


def first_fit_misconceptions(order: int, pfn: int | None,
                             before_blocks: Sequence[tuple[int, int]]) -> list[Misconception]:
    """The lowest free pfn that fits: the answer of an allocator that searches by address."""
    fits = sorted(start for start, o in before_blocks if o >= order)
    if not fits or fits[0] == pfn:
        return []
    return [Misconception(
        fits[0], "lowest address first",
        "the buddy allocator does not search by address: it takes the HEAD of free_area[n] for "
        "order n, or, when that list is empty, of the next non-empty list up, and splits it.")]


def nr_free_misconceptions(op: str, order: int, events: Sequence[Event],
                           before_nr_free: Sequence[int]) -> list[Misconception]:
    """Counts that forget the split remnants of an allocation (``op`` "alloc") or the merges
    of a free (``op`` "free") of an order-``order`` block."""
    found = []
    before = list(before_nr_free)
    takes = [e for e in events if e.kind == ev.TAKE]
    if op == "alloc" and takes and takes[0].order > order:
        no_remnants = before.copy()
        no_remnants[takes[0].order] -= 1
        found.append(Misconception(tuple(no_remnants), "forgot the split halves",
                                   "expand() leaves one free block at every order between the "
                                   "order asked for and the order of the block it took: the "
                                   "halves it did not need."))
    merges = [e for e in events if e.kind == ev.MERGE]
    if op == "free" and merges:
        no_merge = before.copy()
        no_merge[order] += 1
        found.append(Misconception(tuple(no_merge), "forgot the merge",
                                   "a freed block merges with its buddy (pfn XOR 2^order) when "
                                   "that buddy is a free block of the same order, then tries "
                                   "again one order up; only the merged block is counted."))
    return found


# ----------------------------------------------------------------------------- the kinds
@dataclass
class _Draft:
    """What a kind's generator builds before it becomes a Problem."""

    preset: str
    title: str
    text: str
    fields: list[Field]
    answer: dict[str, object]
    solution: list[str]
    misconceptions: dict[str, list[Misconception]]
    trace: str = ""

    def add(self, field: Field, answer: object, wrong: Sequence[Misconception] = ()) -> None:
        self.fields.append(field)
        self.answer[field.key] = answer
        unique: dict[str, Misconception] = {}
        for m in wrong:  # the first model to give a value names it
            unique.setdefault(repr(m.value), m)
        self.misconceptions[field.key] = [m for m in unique.values() if m.value != answer]


_NR_FREE_EXAMPLE = "counts for orders 0..{m}, e.g. {e}"
_BUDDYINFO_EXAMPLE = "Node 0, zone   Normal ...  (or only the counts)"


def _steps_problem(draft: _Draft, config: Mapping[str, Any], calls: list[_Call],
                   models: list[tuple[list[_Step], str, str]],
                   pfn_extra: Callable[[_Step], list[Misconception]],
                   ) -> None:
    """Fields, answers and solution shared by the sequence and pcp kinds."""
    zone, steps = _run(config, calls)
    max_order = config["max_order"]
    example = _NR_FREE_EXAMPLE.format(m=max_order, e=" ".join("0" * (max_order + 1)))
    draft.text += ("\n\nFree lists at the start (head first):\n"
                   + _free_lists_text(steps[0].before_blocks, max_order) + "\n\nSteps:\n"
                   + "\n".join(f"  {i}. {s.call.text()}" for i, s in enumerate(steps, 1))
                   + "\n\nPredict the pfn each alloc_pages returns, nr_free for orders "
                   f"0..{max_order} after every step, "
                   + ("the pages on the per-CPU list at the end, " if config.get("pcp") else "")
                   + "and the zone's /proc/buddyinfo line at the end (node 0, zone Normal).")
    draft.solution.append("Free lists at the start (head first):")
    draft.solution.append(_free_lists_text(steps[0].before_blocks, max_order))
    for i, step in enumerate(steps, 1):
        draft.solution.append(f"Step {i}: {step.call.text()}")
        draft.solution.extend(_events_text(step))
        if step.call.op == "alloc":
            draft.add(Field(f"pfn{i}", f"step {i}: pfn of {step.call.name}", "int", "e.g. 8"),
                      step.pfn,
                      [*pfn_extra(step),
                       *_model_misconceptions(models, i - 1, lambda s: s.pfn, step.pfn)])
            draft.solution.append(f"  -> {step.call.name} is pfn {step.pfn}")
        draft.add(Field(f"nr_free{i}", f"step {i}: nr_free", "ints", example), step.nr_free,
                  [*count_misconceptions(step.nr_free),
                   *_model_misconceptions(models, i - 1, lambda s: s.nr_free, step.nr_free),
                   *nr_free_misconceptions(step.call.op, step.call.arg, step.events,
                                          step.before_nr_free)])
        pcp = f"; {_pages(step.pcp)} on the per-CPU list" if config.get("pcp") else ""
        draft.solution.append(f"  -> nr_free {_nr(step.nr_free)}{pcp}")
    if config.get("pcp"):
        last = len(steps) - 1
        draft.add(Field("pcp", "pages on the per-CPU list at the end", "int", "e.g. 3"),
                  zone.pcp_count,
                  _model_misconceptions(models, last, lambda s: s.pcp, zone.pcp_count))
    line = zone.format_buddyinfo()
    draft.add(Field("buddyinfo", "/proc/buddyinfo line at the end", "buddyinfo",
                    _BUDDYINFO_EXAMPLE), line,
              [Misconception(format_buddyinfo(cast(Sequence[int], m.value)), m.name,
                             m.explanation)
               for m in draft.misconceptions[f"nr_free{len(steps)}"]])
    draft.solution.append(f"At the end /proc/buddyinfo shows (counts of free blocks, order 0 "
                          f"first):\n  {line}")
    draft.trace = zone.trace.to_text() if zone.trace is not None else ""


def _sequence(rng: random.Random, level: int, preset: str | None) -> _Draft:
    max_order = 4 if level < 3 else 5
    nr_pages = (16, rng.randint(17, 31), rng.choice((32, 40, 48, 56)))[level - 1]
    drawn = "6.8" if level < 3 else rng.choice(("2.6.27", "6.8"))
    preset = preset or drawn
    other = "2.6.27" if preset != "2.6.27" else "6.8"
    config = {"nr_pages": nr_pages, "max_order": max_order, "preset": preset}

    def make() -> tuple[list[_Call], bool]:
        if level == 3:
            calls = _merge_likely_calls(rng)
            steps, others = _run(config, calls)[1], _run({**config, "preset": other}, calls)[1]
            return calls, [s.pfn for s in steps] != [s.pfn for s in others]
        calls = _random_calls(rng, config, (3, 5)[level - 1], (0, 1, 2), (0.25, 0.4)[level - 1])
        kinds = {e.kind for s in _run(config, calls)[1] for e in s.events}
        return calls, ev.SPLIT in kinds and (level == 1 or ev.MERGE in kinds)

    calls = _search(rng, make)
    draft = _Draft(preset, f"alloc_pages and free_pages on a {nr_pages}-page zone",
                   _zone_text(config), [], {}, [], {})
    models = _preset_models(preset, [other], config, calls)
    _steps_problem(draft, config, calls, models,
                   lambda step: [*split_misconceptions(step.events, step.call.arg, step.pfn),
                                 *first_fit_misconceptions(step.call.arg, step.pfn,
                                                           step.before_blocks)])
    return draft


def _merge_likely_calls(rng: random.Random) -> list[_Call]:
    """A program whose last allocation depends on where a freed block goes (head or tail).

    Random programs on small zones almost never show it: the freed block must miss its buddy
    (still allocated) while the block one order up has a free buddy, and another block of the
    same order must wait on the list.  This recipe builds that at order n, after an optional
    allocation that moves it elsewhere in the zone; the caller checks it worked.
    """
    n = rng.choice((0, 1))
    recipe = [("alloc", n), ("alloc", n), ("alloc", n + 1), ("alloc", n), ("alloc", n),
              ("free", 0), ("free", 3), ("alloc", n)]
    if rng.random() < 0.5:
        recipe.insert(0, ("alloc", rng.randint(n + 1, 3)))
        recipe = [(op, arg + 1 if op == "free" else arg) for op, arg in recipe]
    calls: list[_Call] = []
    allocs: list[_Call] = []
    for op, arg in recipe:
        if op == "alloc":
            allocs.append(_Call("alloc", "abcdefghij"[len(allocs)], arg))
            calls.append(allocs[-1])
        else:
            calls.append(_Call("free", allocs[arg].name, allocs[arg].arg))
    return calls


def _pcp(rng: random.Random, level: int, preset: str | None) -> _Draft:
    batch = 2 if level == 1 else rng.randint(2, 3)
    drawn = "6.8" if level < 3 else rng.choice(("5.10", "6.8"))
    preset = preset or drawn
    # compare with a version on the other side of 5.14, where the lists began caching orders 1-3
    other = "5.10" if PRESETS[preset].pcp_max_order else "6.8"
    nr_pages = rng.randint(16, 31)
    config = {"nr_pages": nr_pages, "max_order": 4, "preset": preset, "pcp": True,
              "pcp_batch": batch, "pcp_high": (2 * batch, batch + 1, batch + 2)[level - 1]}

    def make() -> tuple[list[_Call], bool]:
        if level == 1:
            calls = _pcp_calls(rng, rng.randint(2, 3), rng.randint(1, 2), (0,))
        elif level == 2:
            calls = _pcp_calls(rng, rng.randint(3, 4), 3, (0,))
        else:
            calls = _pcp_calls(rng, 3, rng.randint(2, 3), (0, 1))
            if rng.random() < 0.5:
                calls.append(_Call("drain"))
        steps = _run(config, calls)[1]
        if any(s.pfn is None and s.call.op == "alloc" for s in steps):
            return calls, False
        wheres = {e.where for e in steps[-1].events if e.kind == ev.PCP_TAKE}
        if level == 1:
            return calls, "alloc" in wheres
        if level == 2:
            return calls, any(e.where == "drain" for s in steps for e in s.events)
        others = _run({**config, "preset": other}, calls)[1]
        return calls, [s.nr_free for s in steps] != [s.nr_free for s in others]

    calls = _search(rng, make)
    draft = _Draft(preset, f"the per-CPU list of a {nr_pages}-page zone", _zone_text(config),
                   [], {}, [], {})
    lag = ("no per-CPU list",
           "with per-CPU lists on, an order-0 allocation comes from the per-CPU list (an empty "
           "list is refilled with a whole batch from the buddy lists, so nr_free drops by more "
           "than one page) and a freed page waits there: /proc/buddyinfo does not count it "
           "until the list reaches high and a batch goes back, or the list is drained.")
    high = ("ignored high",
            "once the per-CPU list holds high pages or more, free_pcppages_bulk() gives batch of "
            "its oldest pages back to the buddy lists, where they merge.")
    no_pcp = _run({**config, "pcp": False}, calls)[1]
    no_high = _run({**config, "pcp_high": 1 << 20}, calls)[1]
    models = [(no_pcp, *lag), (no_high, *high),
              *_preset_models(preset, [other], config, calls)]
    _steps_problem(draft, config, calls, models, _fifo)
    return draft


def _pcp_calls(rng: random.Random, allocs: int, frees: int, orders: Sequence[int]
               ) -> list[_Call]:
    """Allocations, then frees of some of them in random order, with one more allocation after
    the first free: the shape that shows refills, LIFO reuse and (with high low) a batch back."""
    names = "abcdefgh"
    taken = [_Call("alloc", names[i], rng.choice(orders)) for i in range(allocs)]
    later: list[_Call] = [_Call("free", c.name, c.arg) for c in rng.sample(taken, frees)]
    later.insert(rng.randint(1, len(later)), _Call("alloc", names[allocs], rng.choice(orders)))
    return taken + later


def _fifo(step: _Step) -> list[Misconception]:
    """The oldest page of the per-CPU list: the answer of a first-in, first-out list."""
    pages = step.before_pcp.get(step.call.arg, [])
    if len(pages) < 2:
        return []
    return [Misconception(
        pages[-1], "first in, first out",
        "the per-CPU list is LIFO: a freed page goes to its head and the next allocation takes "
        "the head, because the page freed last is the one most likely still in the CPU cache.")]


def _order(rng: random.Random, level: int, preset: str | None) -> _Draft:
    page_size = 4096 if level < 3 else rng.choice((16384, 65536))
    zone = Zone(1024, page_size=page_size)
    seen: list[Event] = []
    zone.subscribe(seen.append)
    sizes = _order_sizes(rng, level, page_size)
    arch = "" if page_size == 4096 else " (an arm64 or ppc64 kernel)"
    draft = _Draft(preset or "6.8", "get_order and the memory each allocator wastes",
                   f"PAGE_SIZE is {format_size(page_size)}{arch}; the largest order is 10.  "
                   "get_order() is the same in every kernel version.\n\nSizes:\n"
                   + "\n".join(f"  {i}. {size} bytes" for i, size in enumerate(sizes, 1))
                   + "\n\nFor each size predict get_order(size) and the bytes alloc_pages("
                   "get_order(size)) wastes"
                   + (", and the bytes alloc_pages_exact(size) wastes." if level > 1 else "."),
                   [], {}, [], {})
    for i, size in enumerate(sizes, 1):
        seen.clear()
        addr = zone.alloc_pages_exact(size)
        block = next(e for e in seen if e.kind == ev.ALLOC)
        given_back = sum(e.kind == ev.TRIM for e in seen)
        zone.free_pages_exact(addr, size)
        order, pages = block.order, pages_for(size, page_size)
        kept = (1 << order) - given_back
        waste, exact_waste = (page_size << order) - size, kept * page_size - size
        draft.add(Field(f"order{i}", f"size {i}: get_order", "int", "e.g. 3"), order,
                  order_misconceptions(size, order, pages, page_size))
        draft.add(Field(f"waste{i}", f"size {i}: bytes alloc_pages wastes", "int", "e.g. 1024"),
                  waste, _waste_misconceptions(size, order, waste, exact_waste, page_size))
        if level > 1:
            draft.add(Field(f"exact{i}", f"size {i}: bytes alloc_pages_exact wastes", "int",
                            "e.g. 100"), exact_waste, [
                Misconception(waste, "no tail given back",
                              "alloc_pages_exact() keeps only the pages the size needs and "
                              "gives the rest of the block back, so it wastes less than a page."),
                Misconception(0, "no rounding at all",
                              "alloc_pages_exact() still hands out whole pages: the unused end "
                              "of the last page is wasted (less than one page)."),
                Misconception(given_back * page_size, "given back is not wasted",
                              "the tail pages alloc_pages_exact() gives back are free again; "
                              "only what the caller holds beyond the size is wasted.")])
        named = "" if format_size(size).endswith(" B") else f" = {format_size(size)}"
        draft.solution.append(
            f"Size {i}: {size} bytes{named} needs {_pages(pages)} of {format_size(page_size)} "
            "(rounded up).\n"
            f"  get_order: the smallest n with 2^n >= {pages} pages is {order} "
            f"({1 << order} pages, {format_size(page_size << order)}).\n"
            f"  alloc_pages({order}) grants {page_size << order} bytes: {waste} wasted "
            f"({waste * 1000 // size / 10} % of the request, rounded down).\n"
            f"  alloc_pages_exact keeps {kept} pages ({page_align(size, page_size)} bytes) and "
            f"gives {given_back} back: {exact_waste} wasted.")
    return draft


def _order_sizes(rng: random.Random, level: int, page_size: int) -> list[int]:
    """A power of two pages, one just above, and random sizes; bytes only from level 2 up."""
    count = 3 if level == 1 else 4
    power = rng.randint(0, 7)
    pages = [1 << power, (1 << rng.randint(1, 7)) + 1]
    pages += [rng.randint(2, 600) for _ in range(count - 2)]
    if level == 1:
        sizes = [p * page_size for p in pages]
    else:
        sizes = [pages[0] * page_size, pages[1] * page_size - page_size + 1]
        sizes += [p * page_size - rng.randint(0, page_size - 1) for p in pages[2:]]
    rng.shuffle(sizes)
    return sizes


def order_misconceptions(size: int, order: int, pages: int, page_size: int
                         ) -> list[Misconception]:
    """The wrong orders a reader gives for ``size`` (``order`` and ``pages`` are the right
    ones), each with the rule they missed; exercise 1's checks name them too."""
    found = []
    if page_size != 4096:
        assumed = ((size - 1) >> 12).bit_length()
        found.append(Misconception(assumed, "assumed 4 KiB pages",
                                   f"this machine's pages are {format_size(page_size)}: get_order "
                                   "counts pages of PAGE_SIZE, whatever their size."))
    if pages == 1 << order:
        found.append(Misconception(order + 1, "a full block does not fit",
                                   f"{pages} pages fill an order-{order} block exactly: get_order "
                                   "gives the smallest n with PAGE_SIZE << n >= size, so an exact "
                                   "power of two pages needs no larger block."))
    elif order:
        found.append(Misconception(order - 1, "rounded down",
                                   f"get_order rounds UP: the block must hold all {pages} pages, "
                                   f"and an order-{order - 1} block has only {1 << (order - 1)}."))
    found.append(Misconception(pages, "pages, not the order",
                               "the order is an exponent: an order-n block has 2^n pages, so "
                               f"{pages} pages need order {order}, not order {pages}."))
    found.append(Misconception((size - 1).bit_length(), "counted bytes",
                               "get_order counts pages, not bytes: the smallest n with 2^n "
                               "pages >= size (log2 of the size minus PAGE_SHIFT, rounded up)."))
    return found


def _waste_misconceptions(size: int, order: int, waste: int, exact_waste: int, page_size: int
                          ) -> list[Misconception]:
    return [
        Misconception(waste // page_size, "pages, not bytes",
                      "the waste is asked in bytes: the block's bytes (PAGE_SIZE << order) "
                      "minus the size."),
        Misconception(exact_waste, "only the last page",
                      "alloc_pages hands out the whole 2^order block; only alloc_pages_exact "
                      "trims it to whole pages."),
        Misconception(page_size << order, "the block, not the waste",
                      "that is the whole block; the waste is what is left after the size."),
    ]


def _exact(rng: random.Random, level: int, preset: str | None) -> _Draft:
    drawn = rng.choice(("6.8",) if level < 3 else tuple(PRESETS))
    preset = preset or drawn
    config = {"nr_pages": 64, "max_order": 6, "preset": preset}

    def make() -> tuple[list[_Call], bool]:
        setup = [] if level == 1 else _random_calls(rng, config, rng.randint(1, 3), (0, 1, 2),
                                                    0.3)
        top = 6 if level == 1 else 4
        order = rng.randint(3, top)
        pages = rng.randint((1 << (order - 1)) + 1, (1 << order) - 1)
        size = pages * 4096 if level == 1 else pages * 4096 - rng.randint(0, 4095)
        calls = [*setup, _Call("exact", "x", size)]
        if level == 3:
            calls.append(_Call("alloc", "y", 0))
        steps = _run(config, calls)[1]
        if steps[len(setup)].pfn is None or steps[-1].pfn is None:
            return calls, False
        if level > 1 and not steps[len(setup)].pfn:  # a setup that changes nothing is dull
            return calls, False
        if level < 3:
            return calls, True
        nexts = {_run({**config, "preset": p}, calls)[1][-1].pfn for p in PRESETS}
        return calls, len(nexts) > 1

    calls = _search(rng, make)
    zone, steps = _run(config, calls)
    index = next(i for i, c in enumerate(calls) if c.op == "exact")
    step = steps[index]
    size = step.call.arg
    text = _zone_text(config)
    if index:
        text += ("\n\nIt has already run:\n"
                 + "\n".join(f"  {s.call.text()}   -> pfn {s.pfn}" if s.pfn is not None
                             else f"  {s.call.text()}" for s in steps[:index]))
    text += ("\n\nFree lists now (head first):\n"
             + _free_lists_text(step.before_blocks, 6) + f"\n\nThen:\n  {step.call.text()}")
    if level == 3:
        text += f"\n  {calls[-1].text()}"
    asks = ["the pfn it returns"] if index else []
    asks += ["how many pages it keeps", "how many tail pages it gives back",
             "the free blocks those tail pages end up in (pfn/order)", "nr_free afterwards"]
    if level == 3:
        asks.append("the pfn the last alloc_pages(order=0) returns")
    text += "\n\nPredict " + ", ".join(asks) + "."
    draft = _Draft(preset, f"what alloc_pages_exact({format_size(size)}) gives back", text,
                   [], {}, [], {})
    _exact_answers(draft, config, calls, steps, index)
    draft.trace = zone.trace.to_text() if zone.trace is not None else ""
    return draft


def _exact_answers(draft: _Draft, config: Mapping[str, Any], calls: list[_Call],
                   steps: list[_Step], index: int) -> None:
    step = steps[index]
    size = step.call.arg
    block = next(e for e in step.events if e.kind == ev.ALLOC)
    tails = [e.pfn for e in step.events if e.kind == ev.TRIM]
    kept = (1 << block.order) - len(tails)
    end = block.pfn + (1 << block.order)
    blocks = tuple(sorted((pfn, o) for pfn, o in step.blocks if tails[0] <= pfn < end))
    if index:
        draft.add(Field("pfn", "pfn alloc_pages_exact returns", "int", "e.g. 16"), block.pfn,
                  first_fit_misconceptions(block.order, block.pfn, step.before_blocks))
    draft.add(Field("kept", "pages it keeps", "int", "e.g. 5"), kept, [
        Misconception(size // 4096, "rounded the pages down",
                      "a partly used page is kept whole: alloc_pages_exact keeps "
                      "DIV_ROUND_UP(size, PAGE_SIZE) pages."),
        Misconception(1 << block.order, "kept the whole block",
                      f"alloc_pages_exact takes an order-{block.order} block but keeps only the "
                      "pages the size needs; the rest goes back.")])
    draft.add(Field("tails", "tail pages it gives back", "int", "e.g. 3"), len(tails), [
        Misconception(len(blocks), "counted blocks, not pages",
                      "the tail is given back one page at a time, each page on its own; they "
                      "merge into fewer blocks afterwards.")])
    singles = tuple((pfn, 0) for pfn in tails)
    draft.add(Field("blocks", "free blocks the tail pages end up in", "blocks",
                    "pfn/order pairs, e.g. 5/0 6/1"), blocks, [
        Misconception(singles, "tail pages never merge",
                      "the tail pages are freed one by one in ascending order, and each merges "
                      "with its buddy when that is free: the tail ends up as a few aligned "
                      "blocks, each twice the size of the one before.")])
    no_trim = list(step.before_nr_free)
    no_trim[next(e.order for e in step.events if e.kind == ev.TAKE)] -= 1
    for order in range(block.order, next(e.order for e in step.events if e.kind == ev.TAKE)):
        no_trim[order] += 1
    unmerged = list(step.nr_free)
    for _pfn, order in blocks:
        unmerged[order] -= 1
    unmerged[0] += len(tails)
    draft.add(Field("nr_free", "nr_free afterwards", "ints",
                    _NR_FREE_EXAMPLE.format(m=6, e="0 0 0 0 0 0 0")), step.nr_free, [
        *count_misconceptions(step.nr_free),
        Misconception(tuple(no_trim), "no tail given back",
                      "that is what alloc_pages would leave; alloc_pages_exact gives the tail "
                      "pages of the block back to the free lists."),
        Misconception(tuple(unmerged), "tail pages never merge",
                      "the tail pages are freed one by one in ascending order, and each merges "
                      "with its buddy when that is free.")])
    mode = ("split_page(), then each tail page freed like any page"
            if PRESETS[draft.preset].exact_trim == "split_page"
            else "each tail page freed straight to the tail of its buddy list")
    draft.solution += [
        f"alloc_pages_exact({size}): get_order({size}) = {block.order}, so it takes an "
        f"order-{block.order} block; {format_size(size)} needs {kept} pages, so it keeps "
        f"{_span(block.pfn, block.pfn + kept - 1)} and gives back {_span(tails[0], tails[-1])} "
        f"in ascending order ({_label(draft.preset)}: {mode}):",
        *_events_text(step),
        f"  -> pfn {block.pfn}; the tail is now the free blocks "
        + " ".join(f"{pfn}/{order}" for pfn, order in blocks)
        + f"; nr_free {_nr(step.nr_free)}"]
    if index + 1 < len(steps):
        follow = steps[index + 1]
        others = [p for p in PRESETS if p != draft.preset]
        models = _preset_models(draft.preset, others, config, calls)
        draft.add(Field("next", "pfn the last alloc_pages(order=0) returns", "int", "e.g. 7"),
                  follow.pfn,
                  [*_model_misconceptions(models, index + 1, lambda s: s.pfn, follow.pfn),
                   *first_fit_misconceptions(0, follow.pfn, follow.before_blocks)])
        draft.solution += [f"Then {follow.call.text()}:", *_events_text(follow),
                           f"  -> pfn {follow.pfn}"]


_GENERATORS: dict[str, Callable[[random.Random, int, str | None], _Draft]] = {
    "sequence": _sequence, "order": _order, "exact": _exact, "pcp": _pcp}


# ------------------------------------------------------------------------------ the public API
def generate(kind: str, seed: int, level: int = 1, preset: str | None = None) -> Problem:
    """The problem of this kind for this seed and difficulty level (1 to 3).

    ``preset`` makes the problem follow that kernel version instead of the one the kind and
    level choose (6.8 below level 3, one drawn from the seed at level 3); the ``order`` kind is
    the same in every version.
    """
    if kind not in _GENERATORS:
        raise InvalidArgument(f"unknown practice kind {kind!r}; choose one of {', '.join(KINDS)}")
    seed = _require_int(seed, "seed")
    level = _require_int(level, "level", 1)
    if level not in LEVELS:
        raise InvalidArgument(f"level must be 1, 2 or 3, got {level}")
    if preset is not None:
        preset = get_preset(preset).name
    draft = _GENERATORS[kind](random.Random(f"pagealloc-kit/{kind}/{level}/{seed}"), level,
                              preset)
    return Problem(
        kind=kind, seed=seed, level=level, preset=draft.preset, title=draft.title,
        text=draft.text, fields=tuple(draft.fields), answer=dict(draft.answer),
        solution="\n".join(draft.solution),
        misconceptions={key: tuple(found) for key, found in draft.misconceptions.items()},
        trace=draft.trace, preset_asked=preset is not None)


def practice_set(seed: int, count: int = 4, kind: str | None = None, level: int = 1,
                 preset: str | None = None) -> list[Problem]:
    """``count`` problems from seed on: of one kind, or (kind None) cycling through ``KINDS``."""
    seed = _require_int(seed, "seed")
    count = _require_int(count, "count", 1)
    return [generate(kind or KINDS[i % len(KINDS)], seed + i, level, preset)
            for i in range(count)]
