"""No stored output of a lesson prints the answer of a question near it (issue 20.4).

A lesson is stored executed, so its printed outputs are on screen before the reader has run or
answered anything.  Lesson 6 printed where a small page lands right under "Before you read the
output: where does the small page land?".  These tests run each lesson's code in-process with
``Predict`` replaced by a recorder, so every question a lesson asks is known with the answer
the kit computed, and then look for that answer in the stored outputs a reader sees before
answering: every output above the question, and those below it in its own section.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path

import pytest

import kit.widgets
from kit.teaching.practice.reading import typed_text
from kit.teaching.predict import Prediction
from kit.teaching.quiz_bank import question

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSONS = sorted(p.stem for p in NOTEBOOKS.glob("0*.ipynb"))


def _cells(name: str) -> list[dict]:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _printed(cell: dict) -> str:
    """What a stored code cell shows: its text outputs."""
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        parts.append("".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@functools.cache
def asked(name: str) -> tuple[tuple[int, Prediction], ...]:
    """Every Predict of a lesson: (its cell's index, its prediction), found by running the
    lesson's code cells in order, up to its last question, with Predict recording instead of
    drawing (lesson 8's trace takes a good ten seconds: once per test session)."""
    found: list[tuple[int, Prediction]] = []
    index = -1

    def record(*_args: object, prediction: Prediction, **_kwargs: object) -> None:
        found.append((index, prediction))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kit.widgets, "Predict", record)
        patch.setenv("KIT_PROGRESS", os.devnull)
        patch.chdir(NOTEBOOKS)
        namespace: dict[str, object] = {}
        cells = _cells(name)
        last = max((i for i, c in enumerate(cells) if "Predict(" in _source(c)), default=-1)
        for index, cell in enumerate(cells[:last + 1]):  # record() reads index
            if cell["cell_type"] == "code":
                exec(compile(_source(cell), f"{name}:{index}", "exec"), namespace)
    return tuple(found)


def in_sight(cells: list[dict], at: int) -> list[tuple[int, str]]:
    """The stored outputs a reader sees before answering the question of cell ``at``: every
    code cell above it, the cell itself, and the code cells after it up to the next heading."""
    seen = [(i, _printed(c)) for i, c in enumerate(cells[:at + 1]) if c["cell_type"] == "code"]
    for i in range(at + 1, len(cells)):
        if cells[i]["cell_type"] == "markdown" and _source(cells[i]).lstrip().startswith("#"):
            break
        if cells[i]["cell_type"] == "code":
            seen.append((i, _printed(cells[i])))
    return seen


def answer_forms(prediction: Prediction, near: bool) -> list[re.Pattern[str]]:
    """How an output would print the answer: as typed (``0 0 1``), as a Python list or tuple,
    or as a number.  A bare number is in many outputs, so further off than the question's own
    section (``near`` false) a number counts only beside the noun the question asks about
    ("pfn 33", "fallbacks: 19"), not "alloc_pages_exact(33 pages)" above a pfn question."""
    answer = prediction.answer
    if isinstance(answer, tuple) and len(answer) > 1:
        inner = ", ".join(map(str, answer))
        texts = [typed_text(prediction.field, answer), f"[{inner}]", f"({inner})"]
        return [re.compile(re.escape(text)) for text in texts]
    if isinstance(answer, str):
        return [re.compile(re.escape(answer.strip()))]
    number = rf"(?<![\w.\-/\[]){re.escape(str(answer))}(?![\w.\]/])"
    if near:
        return [re.compile(number)]
    noun = re.escape(prediction.field.label.split()[-1])
    return [re.compile(rf"\b{noun}\W{{1,3}}{number}"), re.compile(rf"{number}\W{{1,3}}{noun}\b")]


@pytest.mark.parametrize("name", LESSONS)
def test_no_stored_output_prints_a_questions_answer(name):
    cells = _cells(name)
    questions = asked(name)
    for at, prediction in questions:
        assert _printed(cells[at]).strip() == "Predict: run this cell to use the widget", (
            f"{name} cell {at} stores more than the widget's placeholder")
        for cell, text in in_sight(cells, at):
            for form in answer_forms(prediction, near=cell >= at):
                hit = form.search(text)
                assert hit is None, (
                    f"{name}: the stored output of cell {cell} shows {hit.group(0)!r}, the "
                    f"answer to the question of cell {at}: {prediction.question!r}")


def test_every_lesson_asks_before_its_demos():
    """The recorder finds the questions (a test that found none would pass on anything)."""
    counts = {name: len(asked(name)) for name in LESSONS}
    assert counts == {"01-start-here": 1, "02-pages-and-orders": 1, "03-buddy-system": 2,
                      "04-wastage": 1, "05-tabi-2008-patch": 2, "06-exact-in-practice": 3,
                      "07-your-machine": 2, "08-watch-your-kernel": 2}


@pytest.mark.parametrize("name", LESSONS)
def test_no_stored_output_prints_a_quizs_right_choice(name):
    """The right choice's text, whole, in an output a reader sees before choosing (a short
    one such as "2" only in the quiz's own section)."""
    cells = _cells(name)
    for at, cell in enumerate(cells):
        for qid in re.findall(r'(?:Quiz|Poll)\("([0-9a-z-]+)"\)', _source(cell)):
            item = question(qid)
            right = re.escape(item.choices[item.answer].text)
            form = re.compile(rf"(?<![\w.\-/\[]){right}(?![\w.\]/])")
            for i, text in in_sight(cells, at):
                if i >= at or len(item.choices[item.answer].text) > 12:
                    assert not form.search(text), (
                        f"{name}: the stored output of cell {i} shows the answer to {qid}")


@pytest.mark.parametrize("name", LESSONS)
def test_no_lesson_asks_to_work_out_what_the_next_output_prints(name):
    """The lesson-6 shape: a question in the prose ("before you read the output ...") answered
    by the stored output right under it.  A question goes into a Predict instead."""
    cells = _cells(name)
    for i, cell in enumerate(cells[:-1]):
        text = re.sub(r"\s+", " ", _source(cell))
        if cell["cell_type"] != "markdown" or not re.search(
                r"before you (read|look at|run)|work (it )?out .*before", text, re.IGNORECASE):
            continue
        after = cells[i + 1]
        assert "Predict(" in _source(after) or not _printed(after).strip(), (
            f"{name} cell {i} asks the reader to work something out, and cell {i + 1} prints "
            "the answer under it")


def test_the_check_finds_an_answer_printed_under_its_question():
    """The search itself: lesson 6 as it was (the answer printed in the question's section)
    fails it."""
    prediction = Prediction("where does it land?", kit.teaching.practice.Field(
        "pfn", "pfn", "pfn", "e.g. 8"), 33)
    cells = [{"cell_type": "code", "source": ["Predict(...)"], "outputs": []},
             {"cell_type": "code", "source": ["print(...)"], "outputs": [
                 {"output_type": "stream", "text": ["small page at pfn 33; free blocks ...\n"]}]}]
    texts = [text for cell, text in in_sight(cells, 0)]
    assert any(form.search(text) for form in answer_forms(prediction, True) for text in texts)
    assert not answer_forms(prediction, True)[0].search("pfn 133, order-33 block at pfn 330")
    above = answer_forms(prediction, near=False)  # further off: only beside its noun
    assert any(form.search("small page at pfn 33") for form in above)
    assert not any(form.search("alloc_pages_exact(33 pages) -> None") for form in above)
