"""Quizzes that teach: answers out of sight, choices shuffled per reader, a misconception named
for every wrong choice, and the lessons' questions all in the kit's question bank."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

import kit
from kit import InvalidArgument
from kit.core.metrics import fragmentation_index, unusable_index
from kit.teaching.quiz import Choice, Question, QuizError, reader_seed
from kit.teaching.quiz_bank import decode, encode, load_bank, question, write_bank

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
PAGE_SIZE = 4096  # the kit's default, x86-64
#: A question cell: ``Quiz("id")``, or ``Poll("id")`` for a lesson's live concept question.
QUIZ_CELL = re.compile(r'(?:Quiz|Poll)\("([0-9a-z-]+)"\)')


def sample():
    return Question(
        "sample",
        "What order does a 132 KiB request get with 4 KiB pages?",
        (
            Choice("5", "order 5 is 32 pages, one short of 33.", "rounding down"),
            Choice("6", "33 pages round up to 64 pages, 2**6."),
            Choice("7", "order 7 is 512 KiB: the book's slip.", "counting one order too many"),
        ),
        answer=1,
    )


def lesson_quiz_ids(path):
    cells = json.loads(path.read_text())["cells"]
    return [m.group(1) for c in cells if c["cell_type"] == "code"
            for m in QUIZ_CELL.finditer("".join(c["source"]))]


# ---------------------------------------------------------------------------- grading a choice
def test_right_choice_is_confirmed_with_the_reason():
    feedback = sample().check("6")
    assert feedback.correct and feedback.misconception == ""
    assert feedback.message == "Right: 33 pages round up to 64 pages, 2**6."


def test_wrong_choice_says_why_and_names_its_misconception():
    feedback = sample().check("7")
    assert not feedback.correct
    assert feedback.message == "Not quite: order 7 is 512 KiB: the book's slip."
    assert feedback.misconception == "counting one order too many"


@pytest.mark.parametrize(
    ("choices", "answer", "message"),
    [
        ((Choice("a", "why"),), 0, "at least two choices"),
        ((Choice("a", "w"), Choice("a", "w", "m")), 0, "same choice twice"),
        ((Choice("a", "w"), Choice("b", "w", "m")), 2, "not a position"),
        ((Choice("a", "w"), Choice("b", "w")), 0, "'b' must name a misconception"),
        ((Choice("a", "w", "m"), Choice("b", "w", "m")), 0, "'a' must not name"),
        ((Choice("a", ""), Choice("b", "w", "m")), 0, "says no why"),
    ],
)
def test_badly_written_questions_are_refused(choices, answer, message):
    with pytest.raises(QuizError, match=message):
        Question("q", "prompt", choices, answer)


def test_unknown_choice_and_unknown_id_are_refused_by_name():
    with pytest.raises(InvalidArgument, match="'8' is not one of the choices"):
        sample().check("8")
    with pytest.raises(QuizError, match="no quiz question 'nope'.*03-head-or-tail"):
        question("nope")


# ------------------------------------------------------------------------- shuffling per reader
def test_the_same_seed_gives_the_same_order_and_seeds_differ():
    item = question("03-head-or-tail")
    assert item.shuffled(7) == item.shuffled(7)
    assert sorted(item.shuffled(7)) == sorted(item.texts)
    orders = {item.shuffled(seed) for seed in range(30)}
    assert len(orders) == 6  # every order of three choices turns up for some reader


def test_shuffled_positions_of_the_answer_are_spread_for_a_reader():
    positions = Counter(q.shuffled(12345).index(q.texts[q.answer]) for q in load_bank().values())
    assert len(positions) == 3 and max(positions.values()) <= 14


def test_reader_seed_is_fixed_by_the_variable_else_per_user_and_host():
    assert reader_seed({"KIT_QUIZ_SEED": "42"}) == 42
    assert reader_seed({}) == reader_seed({})  # stable for one reader
    with pytest.raises(QuizError, match="KIT_QUIZ_SEED must be an integer, not 'x'"):
        reader_seed({"KIT_QUIZ_SEED": "x"})


# --------------------------------------------------------------------------- the question bank
def test_bank_questions_are_well_formed_and_answers_balanced_in_the_authored_order():
    bank = load_bank()
    assert len(bank) >= 20
    positions = Counter(item.answer for item in bank.values())
    sizes = {len(item.choices) for item in bank.values()}
    assert sizes == {3}
    # 25 questions over 3 positions: 8, 8 and 9, not "15 of 19 in the middle"
    assert max(positions.values()) - min(positions.values()) <= 1, positions
    assert set(positions) == {0, 1, 2}


def test_encoding_round_trips_and_hides_the_text(tmp_path):
    data = sample().to_dict()
    blob = encode(data)
    assert decode(blob) == data
    assert "512 KiB" not in blob and "rounding" not in blob
    path = tmp_path / "bank.txt"
    write_bank([sample()], path)
    assert load_bank(path) == {"sample": sample()}
    path.write_text("sample !!!not-base64\n")
    with pytest.raises(QuizError, match="line 1 \\(sample\\) cannot be decoded"):
        load_bank(path)


def secrets():
    """Every explanation, misconception and answer text longer than a word or two."""
    for item in load_bank().values():
        for choice in item.choices:
            yield from (text for text in (choice.why, choice.misconception) if text)
        if len(item.texts[item.answer]) > 12:
            yield item.texts[item.answer]


def test_no_explanation_or_answer_is_readable_in_the_notebooks_or_the_kit_source():
    bank = ROOT / "kit" / "core" / "data" / "quizzes.txt"
    files = [*LESSONS, *(ROOT / "kit").rglob("*.py"), bank]
    text = "\n".join(path.read_text() for path in files)
    leaked = [secret for secret in secrets() if secret in text]
    assert leaked == []
    for path in LESSONS:
        assert "answer=" not in path.read_text()


def test_every_lesson_asks_its_own_questions_from_the_bank_and_none_is_left_over():
    used = [qid for path in LESSONS for qid in lesson_quiz_ids(path)]
    assert sorted(used) == sorted(load_bank())
    for path in LESSONS:
        ids = lesson_quiz_ids(path)
        assert len(ids) >= 2 and all(qid.startswith(path.stem[:3]) for qid in ids), path.stem


def test_stored_quiz_outputs_are_the_id_only():
    for path in LESSONS:
        for cell in json.loads(path.read_text())["cells"]:
            match = QUIZ_CELL.fullmatch("".join(cell["source"]))
            if cell["cell_type"] == "code" and match:
                plain = "".join(cell["outputs"][0]["data"]["text/plain"])
                kind = "".join(cell["source"]).split("(")[0]
                # where a widget cannot be drawn it says how to get it back; a poll names itself
                assert plain == ("Quiz: run this cell to use the widget" if kind == "Quiz"
                                 else f"{kind}('{match.group(1)}')")


def test_each_lesson_ends_with_a_practice_set_and_its_command():
    for path in LESSONS:
        cells = json.loads(path.read_text())["cells"]
        if "".join(cells[-1]["source"]).startswith("## Where next"):
            cells = cells[:-1]  # the links to the exercises and the next lesson come last
        call = re.fullmatch(r'Practice\(kind="(\w+)", seed=(\d+), level=(\d)\)',
                            "".join(cells[-1]["source"]))
        assert call, path.stem
        kind, seed, level = call.groups()
        flag = "" if level == "1" else f" --level {level}"
        assert f"`kit practice {kind} --seed {seed}{flag} -c`" in "".join(cells[-2]["source"])


# ---------------------------------------------------------------------------------- the widget
def test_quiz_widget_shows_the_readers_order_and_gives_feedback_at_once():
    from kit.widgets import Quiz

    quiz = Quiz("02-get-order-by-hand", seed=3)
    item = quiz.question
    assert quiz.choices.options == item.shuffled(3)
    assert repr(quiz) == "Quiz: run this cell to use the widget"  # where it cannot be drawn
    assert quiz.feedback.value == ""
    quiz.choices.value = "5"
    assert "✘ Not quite: 5 is the number of pages needed" in quiz.feedback.value
    assert ("misconception behind this choice:</b> confusing the number of pages with the order"
            in quiz.feedback.value)
    quiz.choices.value = "3"
    assert "✔ Right: 16,385 bytes need 5 pages" in quiz.feedback.value
    assert "misconception" not in quiz.feedback.value


def test_quiz_widget_default_seed_follows_the_variable(monkeypatch):
    from kit.widgets import Quiz

    monkeypatch.setenv("KIT_QUIZ_SEED", "5")
    assert Quiz("01-allocation-unit").choices.options == question("01-allocation-unit").shuffled(5)


# ------------------------------------------------- the answers, recomputed with the simulator
def _head_or_tail(preset):
    zone = kit.Zone(1024, preset=preset)
    pages = [zone.alloc_pages(0) for _ in range(8)]
    for i in (1, 6, 7, 5):
        zone.release(pages[i])
    return zone.alloc_pages(0).pfn


def _per_cpu_lifo():
    zone = kit.Zone(1 << 18, preset="6.8", pcp=True)
    pages = [zone.alloc_pages(0) for _ in range(13)]
    for page in pages[10:13]:
        zone.release(page)
    return f"{zone.alloc_pages(0).pfn}, then {zone.alloc_pages(0).pfn}"


def _split_leaves():
    zone = kit.Zone(1024)
    zone.alloc_pages(3)
    assert zone.nr_free() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0]
    return f"{sum(zone.nr_free())} blocks, one of each order 3 to 9"


def _exact_calls():
    zone = kit.Zone(1024)
    starts = [zone.virt_to_pfn(zone.alloc_pages_exact(20 * 1024)) for _ in range(3)]
    return f"{starts[0]}, {starts[1]} and {starts[2]}"


def _tail_given_back():
    size = 20 * 1024 + 1
    return str((1 << kit.get_order(size)) - kit.pages_for(size))


def _exact_limit():
    size = 3 * 1024 * 1024 + 4096
    zone = kit.Zone(1024)
    assert zone.alloc_pages_exact(size) is not None
    kept = kit.pages_for(size)
    return f"order-{kit.get_order(size)} block (4 MiB), keeps {kept} pages and gives {1024 - kept}"


def _largest_share():
    sizes = {"5 KiB": 5 * 1024, "1 MiB + 1 byte": (1 << 20) + 1, "3 MiB": 3 << 20}
    return max(sizes, key=lambda s: kit.wastage(sizes[s], "alloc_pages").percent_of_granted)


def _unusable_ratio():
    a = unusable_index([0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0], 6)
    b = unusable_index([15, 10, 5, 0, 0, 0, 16, 0, 0, 0, 0], 6)
    assert (a, b) == (0, 50)  # 55 of 1,079 free pages, in thousandths as mm/vmstat.c
    return "B's is higher"


def _exact_needs_a_block():
    zone = kit.Zone(1024)
    blocks = [zone.alloc_pages(4) for _ in range(64)]
    for block in blocks[::2]:
        zone.release(block)
    assert max(order for order, n in enumerate(zone.nr_free()) if n) == 4
    assert zone.alloc_pages_exact(16 * PAGE_SIZE) is not None
    return "NULL" if zone.alloc_pages_exact(17 * PAGE_SIZE) is None else "17 pages"


def _fragmentation():
    zone_a = [0, 2, 0, 0, 0, 0, 0, 7, 0, 0, 0]    # 900 free pages in 9 blocks
    zone_b = [4, 2, 0, 0, 1, 1, 0, 7, 0, 4, 0]    # 3,000 free pages in 19 blocks
    pages = [sum(n << order for order, n in enumerate(z)) for z in (zone_a, zone_b)]
    assert pages == [900, 3000]
    assert [fragmentation_index(z, 10) for z in (zone_a, zone_b)] == [792, 794]  # about 0.79
    return "zone B only" if pages[0] < 1024 <= pages[1] else "both"


ANSWERS = {
    "02-get-order-by-hand": lambda: str(kit.get_order(16385)),
    "02-aligned-start": lambda: next(f"pfn {p}" for p in (40, 20, 48) if p % (1 << 4) == 0),
    "03-find-the-buddy": lambda: f"pfn {12 ^ (1 << 2)}",
    "03-what-a-split-leaves": _split_leaves,
    "03-head-or-tail": lambda: f"pfn {_head_or_tail('6.8')}",
    "03-per-cpu-last-in-first-out": _per_cpu_lifo,
    "04-waste-by-hand": lambda: f"{kit.wastage(18 * 1024, 'alloc_pages').wasted // 1024} KiB",
    "04-largest-share": _largest_share,
    "04-kmalloc-above-the-caches": lambda: f"{kit.kmalloc_size(10000) // 1024} KiB",
    "05-tail-pages-given-back": _tail_given_back,
    "05-three-exact-calls": _exact_calls,
    "05-exact-size-limit": _exact_limit,
    "06-unusable-index-is-a-ratio": _unusable_ratio,
    "06-exact-needs-a-whole-block": _exact_needs_a_block,
    "06-fragmentation-or-lack-of-memory": _fragmentation,
    "07-reading-a-buddyinfo-count": lambda: f"{23 * 512 * PAGE_SIZE >> 20} MiB",
}


@pytest.mark.parametrize("qid", sorted(ANSWERS))
def test_the_right_choice_is_what_the_simulator_computes(qid):
    item = question(qid)
    assert ANSWERS[qid]() in item.texts[item.answer]


def test_head_or_tail_wrong_choice_is_what_2_6_27_does():
    item = question("03-head-or-tail")
    assert item.texts[0] == f"pfn {_head_or_tail('2.6.27')}" and "2.6.27" in item.choices[0].why


def test_every_lesson_asks_a_concept_question_as_a_live_poll():
    """Peer instruction needs at least one question per lesson that the room answers together
    (``Poll``: live in a classroom Hub, the same quiz elsewhere)."""
    for path in LESSONS:
        polls = [c for c in json.loads(path.read_text())["cells"]
                 if c["cell_type"] == "code" and "".join(c["source"]).startswith("Poll(")]
        assert polls, f"{path.stem} has no Poll(...) cell"
