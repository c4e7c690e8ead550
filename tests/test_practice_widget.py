"""The Practice widget, driven from Python as a reader would: type, check, reveal, move on."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

import kit
from kit.teaching.practice import generate
from kit.widgets import MemoryMap, Practice
from kit.widgets.theme import PRESENTER


def type_answers(widget, answers):
    for key, box in widget.inputs.items():
        value = answers[key]
        if isinstance(value, tuple) and value and isinstance(value[0], tuple):
            box.value = " ".join(f"{pfn}/{order}" for pfn, order in value)
        elif isinstance(value, tuple):
            box.value = " ".join(str(v) for v in value)
        else:
            box.value = str(value)


def test_builds_displayable_and_hides_the_answer():
    widget = Practice(kind="exact", seed=2, level=2, presenter=True)
    problem = generate("exact", 2, 2)
    assert "application/vnd.jupyter.widget-view+json" in widget._repr_mimebundle_()
    assert widget.problem == problem
    assert list(widget.inputs) == [f.key for f in problem.fields]
    assert all(box.value == "" for box in widget.inputs.values())
    assert f"font-size:{PRESENTER.font_size}" in widget.question.value
    shown = widget.question.value + widget.verdict.value + widget.solution.value
    assert problem.solution.splitlines()[0][:40] not in shown
    assert not any(line in shown for line in problem.answer_text().splitlines())
    assert widget.map is None and widget.map_box.children == ()
    widget.close()


def test_right_prediction_is_accepted():
    widget = Practice(kind="sequence", seed=3, level=2)
    type_answers(widget, widget.problem.answer)
    verdict = widget.check()
    assert verdict.correct and "All right!" in widget.verdict.value


def test_wrong_prediction_names_the_misconception():
    widget = Practice(kind="pcp", seed=1, level=1)
    answers = dict(widget.problem.answer)
    wrong = next(m for m in widget.problem.misconceptions["nr_free1"]
                 if m.name == "pages, not blocks")
    answers["nr_free1"] = wrong.value
    type_answers(widget, answers)
    verdict = widget.check()
    assert not verdict.correct
    assert "pages, not blocks" in widget.verdict.value and "BLOCKS" in widget.verdict.value
    # a first wrong try keeps the right counts back; the second try (or the solution) gives them
    right = " ".join(map(str, widget.problem.answer["nr_free1"]))
    assert "the allocator gives" not in widget.verdict.value and "Try again" in widget.verdict.value
    widget.check()
    assert f"the allocator gives {right}" in widget.verdict.value
    assert "Try again" not in widget.verdict.value


def test_an_empty_check_is_no_try_and_the_solution_opens_the_answers():
    widget = Practice(kind="order", seed=2)
    widget.check()  # nothing typed: not a try
    assert widget.tries == 0 and "(it is" not in widget.verdict.value
    key = widget.problem.fields[0].key
    widget.inputs[key].value = str(widget.problem.answer[key] + 1)
    widget.check()
    assert widget.tries == 1 and "the allocator gives" not in widget.verdict.value
    widget.reveal()
    widget.check()
    assert "the allocator gives" in widget.verdict.value


def test_reveal_shows_solution_and_the_zone_after_the_steps():
    widget = Practice(kind="sequence", seed=0, level=1)
    widget.reveal()
    assert "Step 1:" in widget.solution.value and "Answers" in widget.solution.value
    assert isinstance(widget.map, MemoryMap) and widget.map in widget.map_box.children
    zone = widget.problem.zone()
    allocated = widget.map.ALLOCATED
    pages_allocated = zone.nr_pages - zone.free_pages_count
    assert int(np.count_nonzero(widget.map.states == allocated)) == pages_allocated > 0


def test_new_problem_moves_to_the_next_seed_and_clears_everything():
    widget = Practice(kind="sequence", seed=4, level=1)
    type_answers(widget, widget.problem.answer)
    widget.check()
    widget.reveal()
    old_map = widget.map
    widget.new_button.click()
    assert widget.seed.value == 5 and widget.problem == generate("sequence", 5, 1)
    assert widget.verdict.value == widget.solution.value == ""
    assert widget.map is None and old_map.comm is None  # the old map was closed
    assert all(box.value == "" for box in widget.inputs.values())


def test_order_problems_have_no_memory_map_and_kind_switches():
    widget = Practice()
    widget.kind.value = "order"
    assert widget.problem.kind == "order"
    widget.solution_button.click()
    assert widget.map is None and "get_order" in widget.solution.value


def test_buttons_are_wired():
    widget = Practice(kind="exact", seed=1)
    type_answers(widget, widget.problem.answer)
    widget.check_button.click()
    assert "All right!" in widget.verdict.value
    assert isinstance(widget.children[0], widgets.HBox)


def test_a_zone_sets_the_kernel_version_the_problems_follow():
    zone = kit.Zone(64, preset="2.6.27")
    before = zone.format_buddyinfo()
    widget = Practice(zone, kind="sequence", seed=1, level=1)
    assert widget.problem == generate("sequence", 1, 1, "2.6.27")
    assert widget.problem.preset == "2.6.27" != Practice(kind="sequence", seed=1).problem.preset
    assert "--preset 2.6.27" in widget.question.value
    widget.new_button.click()
    assert widget.problem.preset == "2.6.27"
    assert zone.format_buddyinfo() == before  # practised on a zone of its own


def test_enter_in_an_answer_box_checks_the_prediction():
    """The frontend sends {"event": "submit"} when Enter is pressed in a Text box."""
    widget = Practice(kind="exact", seed=1)
    type_answers(widget, widget.problem.answer)
    last = list(widget.inputs.values())[-1]
    last._handle_msg({"content": {"data": {"method": "custom", "content": {"event": "submit"}}},
                      "buffers": []})
    assert "All right!" in widget.verdict.value
