"""kit.teaching.practice and ``kit practice``: seeded problems whose answers a Zone confirms.

The answers are checked here against a second, independent run: the steps are read back from
the problem's text and replayed on a new ``kit.Zone`` (or, for sizes, through ``kit.get_order``
and ``kit.wastage``), so a generator that printed one thing and computed another would fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import kit
from kit.cli import main
from kit.core.presets import PRESETS
from kit.teaching.practice import KINDS, LEVELS, generate, practice_set, version_difference
from kit.teaching.practice.reading import Field, Unreadable, read_value

SEEDS = range(6)
ALL = [(kind, seed, level) for kind in KINDS for level in LEVELS for seed in SEEDS]


def typed(value):
    """An answer as a reader types it in a text box."""
    if isinstance(value, str):
        return value
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return " ".join(f"{pfn}/{order}" for pfn, order in value)
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def right_answers(problem):
    return {key: typed(value) for key, value in problem.answer.items()}


def zone_from_text(problem):
    """A fresh zone with the settings the problem's text states."""
    text = problem.text
    nr_pages = int(re.search(r"A zone of (\d+) pages", text).group(1))
    max_order = int(re.search(r"orders 0\.\.(\d+)", text).group(1))
    settings = {}
    pcp = re.search(r"batch = (\d+), high = (\d+)", text)
    if pcp:
        settings = {"pcp": True, "pcp_batch": int(pcp.group(1)), "pcp_high": int(pcp.group(2))}
    return kit.Zone(nr_pages, max_order=max_order, preset=problem.preset, **settings)


def steps_from_text(problem):
    return re.findall(r"^\s+\d+\. (.*)$", problem.text.split("Steps:")[1], re.MULTILINE)


def run_steps(zone, lines):
    """Run 'a = alloc_pages(order=1)' / 'free_pages(a, order=1)' lines; yield (pfn, zone)."""
    held = {}
    for line in lines:
        alloc = re.match(r"(\w) = alloc_pages\(order=(\d)\)", line)
        free = re.match(r"free_pages\((\w), order=(\d)\)", line)
        if alloc:
            page = zone.alloc_pages(int(alloc.group(2)))
            held[alloc.group(1)] = page
            yield page.pfn
        elif free:
            zone.release(held.pop(free.group(1)))
            yield None
        else:
            assert line.startswith("drain_pages()")
            zone.drain_pages()
            yield None


# ------------------------------------------------------------------------------ determinism
@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_problem(kind):
    first, again = generate(kind, 7, 2), generate(kind, 7, 2)
    assert first == again
    assert generate(kind, 8, 2).text != first.text or generate(kind, 8, 2).answer != first.answer


def test_same_problem_whatever_the_hash_seed():
    """Set and dict order must not leak into a problem: two interpreters, two hash seeds."""
    code = ("from kit.teaching.practice import KINDS, generate\n"
            "print(''.join(generate(k, 11, lv).text + generate(k, 11, lv).solution "
            "for k in KINDS for lv in (1, 2, 3)))")
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        outputs.append(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                      capture_output=True, text=True).stdout)
    assert outputs[0] == outputs[1] and len(outputs[0]) > 1000


def test_seeds_give_varied_problems():
    for kind in KINDS:
        texts = {generate(kind, seed, 2).text for seed in range(10)}
        assert len(texts) >= 5, kind


# ---------------------------------------------------------------- answers agree with a zone
@pytest.mark.parametrize("kind", ["sequence", "pcp"])
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", SEEDS)
def test_step_answers_agree_with_a_fresh_zone(kind, level, seed):
    problem = generate(kind, seed, level)
    zone = zone_from_text(problem)
    for number, pfn in enumerate(run_steps(zone, steps_from_text(problem)), start=1):
        if pfn is not None:
            assert problem.answer[f"pfn{number}"] == pfn
        assert problem.answer[f"nr_free{number}"] == tuple(zone.nr_free())
    assert problem.answer["buddyinfo"] == zone.format_buddyinfo()
    if kind == "pcp":
        assert problem.answer["pcp"] == zone.pcp_count
    assert problem.zone().nr_free() == zone.nr_free()


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", SEEDS)
def test_order_answers_agree_with_get_order_and_wastage(level, seed):
    problem = generate("order", seed, level)
    page_size = 4096 if "PAGE_SIZE is 4 KiB" in problem.text else int(
        re.search(r"PAGE_SIZE is (\d+) KiB", problem.text).group(1)) * 1024
    sizes = [int(s) for s in re.findall(r"^\s+\d+\. (\d+) bytes", problem.text, re.MULTILINE)]
    assert len(sizes) == (3 if level == 1 else 4)
    for i, size in enumerate(sizes, start=1):
        assert problem.answer[f"order{i}"] == kit.get_order(size, page_size)
        assert problem.answer[f"waste{i}"] == kit.wastage(size, "alloc_pages", page_size).wasted
        if level > 1:
            exact = kit.wastage(size, "alloc_pages_exact", page_size)
            assert problem.answer[f"exact{i}"] == exact.wasted


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", SEEDS)
def test_exact_answers_agree_with_the_zone(level, seed):
    problem = generate("exact", seed, level)
    size = int(re.search(r"alloc_pages_exact\((\d+)\)", problem.text).group(1))
    kept = kit.pages_for(size)
    assert problem.answer["kept"] == kept
    assert problem.answer["tails"] == (1 << kit.get_order(size)) - kept
    blocks = problem.answer["blocks"]
    covered = sorted(p for pfn, order in blocks for p in range(pfn, pfn + (1 << order)))
    assert len(covered) == problem.answer["tails"]
    assert covered == list(range(covered[0], covered[0] + len(covered)))
    assert all(pfn % (1 << order) == 0 for pfn, order in blocks)
    zone = problem.zone()
    if level < 3:  # nothing runs after the exact allocation
        assert problem.answer["nr_free"] == tuple(zone.nr_free())
        assert set(blocks) <= set(zone.free_blocks())
    else:
        assert problem.answer["next"] == zone.trace.operations[-1].result


# ------------------------------------------------------------------------------- check()
@pytest.mark.parametrize("kind, seed, level", ALL)
def test_check_accepts_the_answer_typed_or_as_values(kind, seed, level):
    problem = generate(kind, seed, level)
    assert problem.check(right_answers(problem)).correct
    verdict = problem.check(dict(problem.answer))
    assert verdict.correct and verdict.score == (len(problem.fields),) * 2
    assert verdict.explain().startswith("All right!")


@pytest.mark.parametrize("kind, seed, level", ALL)
def test_every_named_misconception_is_a_wrong_answer_and_is_named(kind, seed, level):
    problem = generate(kind, seed, level)
    for key, found in problem.misconceptions.items():
        for wrong in found:
            verdict = problem.check({**problem.answer, key: wrong.value})
            assert not verdict.correct
            marks = {mark.field.key: mark for mark in verdict.marks}
            assert marks[key].misconception.name == wrong.name
            assert wrong.explanation in verdict.explain()


def find(kind, level, want, seeds=range(40)):
    """The first problem whose misconceptions for some field include ``want``."""
    for seed in seeds:
        problem = generate(kind, seed, level)
        for key, found in problem.misconceptions.items():
            for wrong in found:
                if wrong.name == want:
                    return problem, key, wrong.value
    raise AssertionError(f"no {kind} problem names {want!r}")


@pytest.mark.parametrize("kind, level, name", [
    ("sequence", 1, "pages, not blocks"),
    ("sequence", 1, "kept the upper half"),
    ("sequence", 1, "forgot the split halves"),
    ("sequence", 2, "forgot the merge"),
    ("sequence", 2, "lowest address first"),
    ("sequence", 2, "highest order first"),
    ("sequence", 3, "Linux 6.8 rules"),
    ("sequence", 3, "Linux 2.6.27 rules"),
    ("order", 1, "a full block does not fit"),
    ("order", 1, "rounded down"),
    ("order", 1, "pages, not the order"),
    ("order", 3, "assumed 4 KiB pages"),
    ("order", 2, "no rounding at all"),
    ("exact", 1, "tail pages never merge"),
    ("exact", 2, "rounded the pages down"),
    ("exact", 1, "counted blocks, not pages"),
    ("exact", 3, "Linux 6.1 rules"),
    ("pcp", 1, "no per-CPU list"),
    ("pcp", 2, "ignored high"),
    ("pcp", 2, "first in, first out"),
    ("pcp", 3, "Linux 5.10 rules"),
    ("sequence", 1, "a bump allocator's pfn"),
    ("sequence", 2, "a bump allocator's pfn"),
    ("exact", 1, "KiB, not pages"),
    ("pcp", 1, "KiB, not pages"),
    ("order", 1, "KiB, not bytes"),
])
def test_each_misconception_shows_up_somewhere(kind, level, name):
    problem, key, value = find(kind, level, name)
    marks = {m.field.key: m for m in problem.check({key: typed(value)}).marks}
    assert marks[key].misconception.name == name and not marks[key].correct


def test_pages_instead_of_blocks_is_recognised_by_arithmetic():
    problem = generate("sequence", 0, 1)
    counts = problem.answer["nr_free1"]
    pages = " ".join(str(c << order) for order, c in enumerate(counts))
    verdict = problem.check({"nr_free1": pages})
    mark = next(m for m in verdict.marks if m.field.key == "nr_free1")
    assert mark.misconception.name == "pages, not blocks"
    assert "BLOCKS" in verdict.explain()


def test_version_answer_names_the_version_difference():
    problem, key, value = find("sequence", 3, "Linux 6.8 rules")
    assert problem.preset == "2.6.27"
    explanation = problem.check({key: value}).misconceptions[0].explanation
    assert "TAIL" in explanation and "2.6.35" in explanation
    assert "split_page" not in explanation  # the exact allocator plays no part here


def test_unreadable_unanswered_and_unknown_fields():
    problem = generate("sequence", 0, 1)
    verdict = problem.check({"pfn1": "banana", "nr_free1": "1, 2 x"})
    marks = {m.field.key: m for m in verdict.marks}
    assert "whole number" in marks["pfn1"].note and not marks["pfn1"].correct
    assert "separated by spaces or commas" in marks["nr_free1"].note
    assert not marks["pfn1"].read and not marks["nr_free1"].read
    assert not marks["pfn2"].correct and marks["pfn2"].given == ""
    assert "not answered: step 2" in verdict.explain()
    # a notation the reader cannot know is read: one line naming the forms, not "wrong" and
    # not the answer
    line = next(x for x in verdict.explain().splitlines() if "banana" in x)
    assert line.startswith("not read: step 1: pfn of a: expected a whole number: 12, 1,024")
    assert "the allocator gives" not in line and "wrong" not in line
    with pytest.raises(kit.InvalidArgument, match="no field pfn9"):
        problem.check({"pfn9": 1})
    with pytest.raises(kit.InvalidArgument, match="maps field keys"):
        problem.check(["0"])


def test_buddyinfo_line_counts_are_graded_and_spacing_explained():
    problem = generate("sequence", 0, 1)
    line = problem.answer["buddyinfo"]
    squeezed = " ".join(line.split())
    verdict = problem.check({"buddyinfo": squeezed})
    mark = next(m for m in verdict.marks if m.field.key == "buddyinfo")
    assert mark.correct and "6 columns" in mark.note
    counts_only = " ".join(line.split()[4:])
    assert next(m for m in problem.check({"buddyinfo": counts_only}).marks
                if m.field.key == "buddyinfo").correct
    wrong = line.split()
    wrong[-1] = str(int(wrong[-1]) + 1)
    assert not next(m for m in problem.check({"buddyinfo": " ".join(wrong)}).marks
                    if m.field.key == "buddyinfo").correct


def test_blocks_that_are_not_aligned_are_explained():
    problem = generate("exact", 0, 1)
    first = problem.answer["blocks"][0][0]
    misaligned = f"{first}/{(first & -first).bit_length()}"  # one order too big to be aligned
    mark = next(m for m in problem.check({"blocks": misaligned}).marks if m.field.key == "blocks")
    assert not mark.correct and "multiple of 2^n" in mark.note


def test_bad_arguments_are_clear_errors():
    with pytest.raises(kit.InvalidArgument, match="unknown practice kind 'merge'"):
        generate("merge", 0)
    with pytest.raises(kit.InvalidArgument, match="seed must be >= 0"):
        generate("order", -1)
    with pytest.raises(kit.InvalidArgument, match="level must be 1, 2 or 3"):
        generate("order", 0, 4)
    with pytest.raises(kit.InvalidArgument, match="seed must be an int"):
        generate("order", True)
    with pytest.raises(kit.InvalidArgument, match="count must be >= 1"):
        practice_set(0, 0)


def test_practice_set_cycles_through_the_kinds():
    problems = practice_set(5, 6)
    assert [p.kind for p in problems] == [*KINDS, *KINDS[:2]]
    assert [p.seed for p in problems] == list(range(5, 11))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("level", LEVELS)
def test_a_preset_asked_for_is_followed(kind, level):
    for preset in PRESETS:
        problem = generate(kind, 3, level, preset)
        assert problem.preset == preset and problem.command.endswith(f"--preset {preset}")
        assert problem.check(problem.answer).correct
        if problem.trace:  # the zone the solution's memory map replays runs that version
            assert problem.zone().preset.name == preset
    assert "--preset" not in generate(kind, 3, level).command  # none asked
    with pytest.raises(kit.KitError, match="unknown kernel preset '4.4'"):
        generate(kind, 3, level, "4.4")


def test_version_difference_words():
    assert "agree" in version_difference("6.1", "5.10")
    assert "orders 0..3" in version_difference("6.8", "5.10", pcp=True)
    assert "split_page" in version_difference("6.0", "6.1", exact=True)
    assert "agree" in version_difference("6.1", "6.8", exact=True)  # both FPI_TO_TAIL


# ----------------------------------------------------------------------------------- CLI
def test_cli_prints_problems_without_solutions(capsys):
    assert main(["practice", "exact", "--seed", "4", "--level", "2"]) == 0
    out = capsys.readouterr().out
    problem = generate("exact", 4, 2)
    assert problem.text in out and "Solution:" not in out
    assert f"{problem.fields[0].label}: ____" in out
    assert "kit practice exact --seed 4 --level 2 -c" in out


def test_cli_with_solutions_for_an_exam_sheet(capsys):
    assert main(["practice", "order", "--seed", "2", "--count", "3", "-c"]) == 0
    out = capsys.readouterr().out
    for seed, number in ((2, 1), (3, 2), (4, 3)):
        problem = generate("order", seed, 1)
        assert f"Problem {number}: " in out and problem.solution in out
        assert problem.answer_text().splitlines()[0] in out


def test_cli_follows_a_preset(capsys):
    assert main(["practice", "exact", "--seed", "5", "--preset", "2.6.27", "-c"]) == 0
    out = capsys.readouterr().out
    assert generate("exact", 5, 1, "2.6.27").solution in out
    assert "Linux 2.6.27)" in out and "kit practice exact --seed 5 --level 1 --preset 2.6.27" in out


def test_cli_without_kind_cycles_kinds(capsys):
    assert main(["practice", "--seed", "0", "--count", "4"]) == 0
    out = capsys.readouterr().out
    for seed, kind in enumerate(KINDS):
        assert f"({kind}, level 1, seed {seed}," in out


def test_practice_without_a_seed_draws_one_and_prints_it(capsys):
    assert main(["practice", "order"]) == 0
    out = capsys.readouterr().out
    match = re.match(r"No --seed given: drew seed (\d+) \(--seed \1 gives these problems again\)",
                     out)
    assert match, out[:200]
    assert main(["practice", "order", "--seed", match.group(1)]) == 0
    again = capsys.readouterr().out
    assert out.split("\n\n", 1)[1] == again  # the printed seed gives the same problems


@pytest.mark.parametrize("argv, message", [
    (["--seed", "1", "--count", "0"], "--count must be between 1 and 100"),
    (["--seed", "-3"], "--seed must be >= 0"),
])
def test_cli_bad_values(capsys, argv, message):
    assert main(["practice", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["merge", "--seed", "1"], "invalid choice: 'merge'"),
    (["--seed", "1", "--level", "4"], "invalid choice: 4"),
    (["--seed", "x"], "invalid int value"),
])
def test_cli_bad_arguments(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["practice", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_order_solutions_give_waste_as_a_share_of_what_was_granted():
    """One definition of "waste %" across the course (issue 20.2): the explorer's, lesson 4's."""
    text = "\n".join(p.solution for p in practice_set(4, 5, "order", 2, None))
    assert "% of what was granted" in text and "of the request" not in text


def test_a_bump_allocators_pfn_is_named():
    """A freed block is reused by the buddy allocator; a bump allocator hands out the next pfn
    after the last allocation instead."""
    problem, key, value = find("sequence", 2, "a bump allocator's pfn")
    step = int(key.removeprefix("pfn"))
    allocs = [line for line in problem.text.splitlines() if "alloc_pages(order=" in line]
    assert len(allocs) >= 2 and value != problem.answer[key]
    verdict = problem.check({key: str(value)})
    assert "a bump allocator's pfn" in verdict.explain() and "address order" in verdict.explain()
    assert step > 1  # the first allocation of a fresh zone is pfn 0 for both


def test_kib_for_pages_in_an_exact_problem():
    problem = generate("exact", 0, 1)
    kept = problem.answer["kept"]
    mark = next(m for m in problem.check({"kept": str(kept * 4)}).marks if m.field.key == "kept")
    assert mark.misconception.name == "KiB, not pages" and "pages of 4 KiB" in \
        mark.misconception.explanation


# ------------------------------------------------- the notations the prompts suggest or show
def notations(field, value) -> list[str]:
    """Every way a prompt of ``kit practice`` writes or suggests a value of this field: the
    plain numbers of the examples, 1,024 and 0x.. as the solutions and sizes print numbers,
    "order 3" / "pfn 8" / "5 pages" as the questions word them, sizes (132K, 132 KiB, 5000 B)
    as the order problems list them, counts with or without brackets, blocks as pfn/order
    (the question's own form), pfn:order and pfn ranges (the zone's "pfns 0..63")."""
    if field.type in ("int", "bytes"):
        forms = [str(value), hex(value), f"{value:,}"]
        label = field.label
        if "get_order" in label:
            forms.append(f"order {value}")
        if "pfn" in label:
            forms.append(f"pfn {value}")
        if "pages" in label:
            forms.append(f"{value} pages")
        if field.type == "bytes":
            forms += [f"{value} B", f"{value} bytes", kit.format_size(value)]
            if value and value % 1024 == 0:
                forms += [f"{value // 1024}K", f"{value // 1024} KiB", f"{value // 1024}KiB"]
        return forms
    if field.type in ("ints", "buddyinfo"):
        counts = value if isinstance(value, tuple) else tuple(map(int, value.split()[4:]))
        forms = [" ".join(map(str, counts)), f"[{', '.join(map(str, counts))}]",
                 ",".join(map(str, counts)), f"({' '.join(map(str, counts))})"]
        return [value, *forms] if field.type == "buddyinfo" else forms
    ranges = [(pfn, pfn + (1 << order) - 1) for pfn, order in value]
    return [" ".join(f"{p}/{o}" for p, o in value), ", ".join(f"{p}:{o}" for p, o in value),
            " ".join(f"({p}, {o})" for p, o in value), " ".join(f"{a}-{b}" for a, b in ranges),
            ", ".join(f"{a}..{b}" for a, b in ranges),
            "[" + ", ".join(f"{p}/{o}" for p, o in value) + "]"]


#: A few hundred problems: every kind and level, many seeds.
MANY = [(kind, seed, level) for kind in KINDS for level in LEVELS for seed in range(20)]


@pytest.mark.parametrize("kind, level", [(k, lv) for k in KINDS for lv in LEVELS])
def test_practice_reads_every_notation_its_prompts_suggest(kind, level):
    for seed in range(20):
        problem = generate(kind, seed, level)
        for field in problem.fields:
            example = field.example.split("e.g. ")[-1]
            if "..." not in example:  # the example a prompt shows is read (not an ellipsis)
                read_value(field, example)
            for form in notations(field, problem.answer[field.key]):
                mark = problem.check({field.key: form}).marks
                got = next(m for m in mark if m.field.key == field.key)
                assert got.correct, (problem.command, field.label, form, got.note)


@pytest.mark.parametrize("field_type, typed", [
    ("int", "three"), ("int", "3.5"), ("bytes", "1.3K"), ("ints", "1 two 3"),
    ("blocks", "8/3 9-11"), ("blocks", "eight"), ("buddyinfo", "Node zero"),
])
def test_an_unknown_notation_names_the_accepted_forms(field_type, typed):
    field = Field("x", "x", field_type, "")
    with pytest.raises(Unreadable) as error:
        read_value(field, typed)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("expected") or "not a block" in message or "buddyinfo" in message


def test_a_pfn_range_is_the_block_it_covers():
    field = Field("b", "blocks", "blocks", "")
    assert read_value(field, "8-15 33..33, 34-35") == ((8, 3), (33, 0), (34, 1))
    with pytest.raises(Unreadable, match="9-11 is 3 pages, not a block"):
        read_value(field, "9-11")
