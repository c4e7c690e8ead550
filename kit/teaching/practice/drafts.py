"""A problem as its kind's generator builds it, and what the sequence and pcp kinds share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from kit.core.procfs import format_buddyinfo

from .misconceptions import (
    bump_misconceptions,
    bump_pfns,
    count_misconceptions,
    kib_misconceptions,
    model_misconceptions,
    nr_free_misconceptions,
)
from .problems import Misconception
from .programs import Call, Step, run_calls
from .reading import Field
from .words import events_text, free_lists_text, nr_text, pages_text


@dataclass
class Draft:
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


NR_FREE_EXAMPLE = "counts for orders 0..{m}, e.g. {e}"


BUDDYINFO_EXAMPLE = "Node 0, zone   Normal ...  (or only the counts)"


def steps_problem(draft: Draft, config: Mapping[str, Any], calls: list[Call],
                   models: list[tuple[list[Step], str, str]],
                   pfn_extra: Callable[[Step], list[Misconception]],
                   ) -> None:
    """Fields, answers and solution shared by the sequence and pcp kinds."""
    zone, steps = run_calls(config, calls)
    max_order = config["max_order"]
    example = NR_FREE_EXAMPLE.format(m=max_order, e=" ".join("0" * (max_order + 1)))
    draft.text += ("\n\nFree lists at the start (head first):\n"
                   + free_lists_text(steps[0].before_blocks, max_order) + "\n\nSteps:\n"
                   + "\n".join(f"  {i}. {s.call.text()}" for i, s in enumerate(steps, 1))
                   + "\n\nPredict the pfn each alloc_pages returns, nr_free for orders "
                   f"0..{max_order} after every step, "
                   + ("the pages on the per-CPU list at the end, " if config.get("pcp") else "")
                   + "and the zone's /proc/buddyinfo line at the end (node 0, zone Normal).")
    bump = bump_pfns(steps)
    draft.solution.append("Free lists at the start (head first):")
    draft.solution.append(free_lists_text(steps[0].before_blocks, max_order))
    for i, step in enumerate(steps, 1):
        draft.solution.append(f"Step {i}: {step.call.text()}")
        draft.solution.extend(events_text(step))
        if step.call.op == "alloc":
            draft.add(Field(f"pfn{i}", f"step {i}: pfn of {step.call.name}", "int", "e.g. 8"),
                      step.pfn,
                      [*pfn_extra(step),
                       *model_misconceptions(models, i - 1, lambda s: s.pfn, step.pfn),
                       *bump_misconceptions(bump[i - 1])])
            draft.solution.append(f"  -> {step.call.name} is pfn {step.pfn}")
        draft.add(Field(f"nr_free{i}", f"step {i}: nr_free", "ints", example), step.nr_free,
                  [*count_misconceptions(step.nr_free),
                   *model_misconceptions(models, i - 1, lambda s: s.nr_free, step.nr_free),
                   *nr_free_misconceptions(step.call.op, step.call.arg, step.events,
                                          step.before_nr_free)])
        pcp = f"; {pages_text(step.pcp)} on the per-CPU list" if config.get("pcp") else ""
        draft.solution.append(f"  -> nr_free {nr_text(step.nr_free)}{pcp}")
    if config.get("pcp"):
        last = len(steps) - 1
        draft.add(Field("pcp", "pages on the per-CPU list at the end", "int", "e.g. 3"),
                  zone.pcp_count,
                  [*model_misconceptions(models, last, lambda s: s.pcp, zone.pcp_count),
                   *kib_misconceptions(zone.pcp_count)])
    line = zone.format_buddyinfo()
    draft.add(Field("buddyinfo", "/proc/buddyinfo line at the end", "buddyinfo",
                    BUDDYINFO_EXAMPLE), line,
              [Misconception(format_buddyinfo(cast(Sequence[int], m.value)), m.name,
                             m.explanation)
               for m in draft.misconceptions[f"nr_free{len(steps)}"]])
    draft.solution.append(f"At the end /proc/buddyinfo shows (counts of free blocks, order 0 "
                          f"first):\n  {line}")
    draft.trace = zone.trace.to_text() if zone.trace is not None else ""
