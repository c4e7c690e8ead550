"""The ``sequence`` kind: alloc_pages/free_pages steps; predict pfns, nr_free and buddyinfo."""

from __future__ import annotations

import random

from kit.core import events as ev

from .drafts import Draft, steps_problem
from .misconceptions import first_fit_misconceptions, preset_models, split_misconceptions
from .programs import Call, random_calls, run_calls, search
from .words import zone_text


def sequence_problem(rng: random.Random, level: int, preset: str | None) -> Draft:
    max_order = 4 if level < 3 else 5
    nr_pages = (16, rng.randint(17, 31), rng.choice((32, 40, 48, 56)))[level - 1]
    drawn = "6.8" if level < 3 else rng.choice(("2.6.27", "6.8"))
    preset = preset or drawn
    other = "2.6.27" if preset != "2.6.27" else "6.8"
    config = {"nr_pages": nr_pages, "max_order": max_order, "preset": preset}

    def make() -> tuple[list[Call], bool]:
        if level == 3:
            calls = _merge_likely_calls(rng)
            steps = run_calls(config, calls)[1]
            others = run_calls({**config, "preset": other}, calls)[1]
            return calls, [s.pfn for s in steps] != [s.pfn for s in others]
        calls = random_calls(rng, config, (3, 5)[level - 1], (0, 1, 2), (0.25, 0.4)[level - 1])
        kinds = {e.kind for s in run_calls(config, calls)[1] for e in s.events}
        return calls, ev.SPLIT in kinds and (level == 1 or ev.MERGE in kinds)

    calls = search(rng, make)
    draft = Draft(preset, f"alloc_pages and free_pages on a {nr_pages}-page zone",
                   zone_text(config), [], {}, [], {})
    models = preset_models(preset, [other], config, calls)
    steps_problem(draft, config, calls, models,
                   lambda step: [*split_misconceptions(step.events, step.call.arg, step.pfn),
                                 *first_fit_misconceptions(step.call.arg, step.pfn,
                                                           step.before_blocks)])
    return draft


def _merge_likely_calls(rng: random.Random) -> list[Call]:
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
    calls: list[Call] = []
    allocs: list[Call] = []
    for op, arg in recipe:
        if op == "alloc":
            allocs.append(Call("alloc", "abcdefghij"[len(allocs)], arg))
            calls.append(allocs[-1])
        else:
            calls.append(Call("free", allocs[arg].name, allocs[arg].arg))
    return calls
