"""The ``pcp`` kind: the per-CPU list (batch, high, LIFO) and the buddyinfo that lags behind it."""

from __future__ import annotations

import random
from collections.abc import Sequence

from kit.core import events as ev
from kit.core.presets import PRESETS

from .drafts import Draft, steps_problem
from .misconceptions import preset_models
from .problems import Misconception
from .programs import Call, Step, run_calls, search
from .words import zone_text


def pcp_problem(rng: random.Random, level: int, preset: str | None) -> Draft:
    batch = 2 if level == 1 else rng.randint(2, 3)
    drawn = "6.8" if level < 3 else rng.choice(("5.10", "6.8"))
    preset = preset or drawn
    # compare with a version on the other side of 5.14, where the lists began caching orders 1-3
    other = "5.10" if PRESETS[preset].pcp_max_order else "6.8"
    nr_pages = rng.randint(16, 31)
    config = {"nr_pages": nr_pages, "max_order": 4, "preset": preset, "pcp": True,
              "pcp_batch": batch, "pcp_high": (2 * batch, batch + 1, batch + 2)[level - 1]}

    def make() -> tuple[list[Call], bool]:
        if level == 1:
            calls = _pcp_calls(rng, rng.randint(2, 3), rng.randint(1, 2), (0,))
        elif level == 2:
            calls = _pcp_calls(rng, rng.randint(3, 4), 3, (0,))
        else:
            calls = _pcp_calls(rng, 3, rng.randint(2, 3), (0, 1))
            if rng.random() < 0.5:
                calls.append(Call("drain"))
        steps = run_calls(config, calls)[1]
        if any(s.pfn is None and s.call.op == "alloc" for s in steps):
            return calls, False
        wheres = {e.where for e in steps[-1].events if e.kind == ev.PCP_TAKE}
        if level == 1:
            return calls, "alloc" in wheres
        if level == 2:
            return calls, any(e.where == "drain" for s in steps for e in s.events)
        others = run_calls({**config, "preset": other}, calls)[1]
        return calls, [s.nr_free for s in steps] != [s.nr_free for s in others]

    calls = search(rng, make)
    draft = Draft(preset, f"the per-CPU list of a {nr_pages}-page zone", zone_text(config),
                   [], {}, [], {})
    lag = ("no per-CPU list",
           "with per-CPU lists on, an order-0 allocation comes from the per-CPU list (an empty "
           "list is refilled with a batch or more from the buddy lists, so nr_free can drop by "
           "more than one page) and a freed page waits there: /proc/buddyinfo does not count it "
           "until the list reaches high and pages go back, or the list is drained.")
    high = ("ignored high",
            "once the per-CPU lists hold high pages or more, free_pcppages_bulk() gives their "
            "oldest pages back to the buddy lists, where they merge (the list "
            f"{PRESETS[preset].pcp_rule_summary()}).")
    no_pcp = run_calls({**config, "pcp": False}, calls)[1]
    no_high = run_calls({**config, "pcp_high": 1 << 20}, calls)[1]
    models = [(no_pcp, *lag), (no_high, *high),
              *preset_models(preset, [other], config, calls)]
    steps_problem(draft, config, calls, models, _fifo)
    return draft


def _pcp_calls(rng: random.Random, allocs: int, frees: int, orders: Sequence[int]
               ) -> list[Call]:
    """Allocations, then frees of some of them in random order, with one more allocation after
    the first free: the shape that shows refills, LIFO reuse and (with high low) a batch back."""
    names = "abcdefgh"
    taken = [Call("alloc", names[i], rng.choice(orders)) for i in range(allocs)]
    later: list[Call] = [Call("free", c.name, c.arg) for c in rng.sample(taken, frees)]
    later.insert(rng.randint(1, len(later)), Call("alloc", names[allocs], rng.choice(orders)))
    return taken + later


def _fifo(step: Step) -> list[Misconception]:
    """The oldest page of the per-CPU list: the answer of a first-in, first-out list."""
    pages = step.before_pcp.get(step.call.arg, [])
    if len(pages) < 2:
        return []
    return [Misconception(
        pages[-1], "first in, first out",
        "the per-CPU list is LIFO: a freed page goes to its head and the next allocation takes "
        "the head, because the page freed last is the one most likely still in the CPU cache.")]
