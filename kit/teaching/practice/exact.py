"""The ``exact`` kind: which tail pages alloc_pages_exact gives back, and where they end up."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from kit.core import events as ev
from kit.core.orders import format_size
from kit.core.presets import PRESETS

from .drafts import NR_FREE_EXAMPLE, Draft
from .misconceptions import (
    count_misconceptions,
    first_fit_misconceptions,
    kib_misconceptions,
    model_misconceptions,
    preset_models,
)
from .problems import Misconception
from .programs import Call, Step, random_calls, run_calls, search
from .reading import Field
from .words import events_text, free_lists_text, label, nr_text, span_text, zone_text


def exact_problem(rng: random.Random, level: int, preset: str | None) -> Draft:
    drawn = rng.choice(("6.8",) if level < 3 else tuple(PRESETS))
    preset = preset or drawn
    config = {"nr_pages": 64, "max_order": 6, "preset": preset}

    def make() -> tuple[list[Call], bool]:
        setup = [] if level == 1 else random_calls(rng, config, rng.randint(1, 3), (0, 1, 2),
                                                    0.3)
        top = 6 if level == 1 else 4
        order = rng.randint(3, top)
        pages = rng.randint((1 << (order - 1)) + 1, (1 << order) - 1)
        size = pages * 4096 if level == 1 else pages * 4096 - rng.randint(0, 4095)
        calls = [*setup, Call("exact", "x", size)]
        if level == 3:
            calls.append(Call("alloc", "y", 0))
        steps = run_calls(config, calls)[1]
        if steps[len(setup)].pfn is None or steps[-1].pfn is None:
            return calls, False
        if level > 1 and not steps[len(setup)].pfn:  # a setup that changes nothing is dull
            return calls, False
        if level < 3:
            return calls, True
        nexts = {run_calls({**config, "preset": p}, calls)[1][-1].pfn for p in PRESETS}
        return calls, len(nexts) > 1

    calls = search(rng, make)
    zone, steps = run_calls(config, calls)
    index = next(i for i, c in enumerate(calls) if c.op == "exact")
    step = steps[index]
    size = step.call.arg
    text = zone_text(config)
    if index:
        text += ("\n\nIt has already run:\n"
                 + "\n".join(f"  {s.call.text()}   -> pfn {s.pfn}" if s.pfn is not None
                             else f"  {s.call.text()}" for s in steps[:index]))
    text += ("\n\nFree lists now (head first):\n"
             + free_lists_text(step.before_blocks, 6) + f"\n\nThen:\n  {step.call.text()}")
    if level == 3:
        text += f"\n  {calls[-1].text()}"
    asks = ["the pfn it returns"] if index else []
    asks += ["how many pages it keeps", "how many tail pages it gives back",
             "the free blocks those tail pages end up in (pfn/order)", "nr_free afterwards"]
    if level == 3:
        asks.append("the pfn the last alloc_pages(order=0) returns")
    text += "\n\nPredict " + ", ".join(asks) + "."
    draft = Draft(preset, f"what alloc_pages_exact({format_size(size)}) gives back", text,
                   [], {}, [], {})
    _exact_answers(draft, config, calls, steps, index)
    draft.trace = zone.trace.to_text() if zone.trace is not None else ""
    return draft


def _exact_answers(draft: Draft, config: Mapping[str, Any], calls: list[Call],
                   steps: list[Step], index: int) -> None:
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
                      "pages the size needs; the rest goes back."),
        *kib_misconceptions(kept)])
    draft.add(Field("tails", "tail pages it gives back", "int", "e.g. 3"), len(tails), [
        Misconception(len(blocks), "counted blocks, not pages",
                      "the tail is given back one page at a time, each page on its own; they "
                      "merge into fewer blocks afterwards."),
        *kib_misconceptions(len(tails))])
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
                    NR_FREE_EXAMPLE.format(m=6, e="0 0 0 0 0 0 0")), step.nr_free, [
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
        f"{span_text(block.pfn, block.pfn + kept - 1)} and gives back "
        f"{span_text(tails[0], tails[-1])} "
        f"in ascending order ({label(draft.preset)}: {mode}):",
        *events_text(step),
        f"  -> pfn {block.pfn}; the tail is now the free blocks "
        + " ".join(f"{pfn}/{order}" for pfn, order in blocks)
        + f"; nr_free {nr_text(step.nr_free)}"]
    if index + 1 < len(steps):
        follow = steps[index + 1]
        others = [p for p in PRESETS if p != draft.preset]
        models = preset_models(draft.preset, others, config, calls)
        draft.add(Field("next", "pfn the last alloc_pages(order=0) returns", "int", "e.g. 7"),
                  follow.pfn,
                  [*model_misconceptions(models, index + 1, lambda s: s.pfn, follow.pfn),
                   *first_fit_misconceptions(0, follow.pfn, follow.before_blocks)])
        draft.solution += [f"Then {follow.call.text()}:", *events_text(follow),
                           f"  -> pfn {follow.pfn}"]
