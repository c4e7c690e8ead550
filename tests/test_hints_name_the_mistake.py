"""The hints of exercises 8, 11 and 21 name the mistake the student made (issue 20.5).

Each wrong answer below is one a student writes; the released check cell (exercises/, as the
student runs it) or the harness must answer it with the slip it shows, never with the hint of
another mistake (a merge slip for a wrong buddy_of, "count pages" for a parser that crashes,
"free lowest first" for a block never split).
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import kit
from kit.grading.boundary.checks import Checks, Raised
from kit.grading.trusted import harness

EXERCISES = Path(__file__).resolve().parents[1] / "exercises"


def check_cell(notebook: str, grade_id: str) -> str:
    cells = json.loads((EXERCISES / notebook).read_text())["cells"]
    return next("".join(c["source"]) for c in cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def run_check(notebook: str, grade_id: str, answers: dict) -> str:
    """Run a released check cell on the given answers, as the student's kernel would."""
    setup = next("".join(c["source"]) for c in json.loads((EXERCISES / notebook).read_text())[
        "cells"] if c["cell_type"] == "code")
    namespace: dict = {}
    out = io.StringIO()
    with redirect_stdout(out):
        exec(setup, namespace)  # noqa: S102 - the course's own released cells
        namespace.update(answers)
        exec(check_cell(notebook, grade_id), namespace)  # noqa: S102
    return out.getvalue()


# ---------------------------------------------------------------------------- exercise 8
def test_a_wrong_buddy_of_is_named_in_merged_start_not_a_merge_slip():
    def buddy_of(pfn, order):  # the usual slip: adding 2^order
        return pfn + (1 << order)

    def merged_start(pfn, order):  # right, given a right buddy_of
        return min(pfn, buddy_of(pfn, order))

    out = run_check("03-buddy.ipynb", "buddy-find-tests",
                    {"buddy_of": buddy_of, "merged_start": merged_start})
    assert "✘ merged_start(12, 2)" in out
    block = out.split("✘ merged_start(12, 2)")[1].split("✘")[0]
    assert "fix buddy_of first" in block
    assert "kept the freed block" not in block and "higher buddy" not in block


def test_starting_at_the_higher_buddy_is_not_called_keeping_the_own_start():
    def buddy_of(pfn, order):
        return pfn ^ (1 << order)

    def merged_start(pfn, order):  # the higher of the two buddies
        return max(pfn, buddy_of(pfn, order))

    out = run_check("03-buddy.ipynb", "buddy-find-tests",
                    {"buddy_of": buddy_of, "merged_start": merged_start})
    block = out.split("✘ merged_start(12, 2)")[1].split("✘")[0]
    assert "likely mistake: started at the higher buddy, here the freed block itself" in block
    assert "kept the freed block's own start" not in out


# --------------------------------------------------------------------------- exercise 11
def kit_make(zone, addr, order, size):
    return zone.make_alloc_exact(addr, order, size)


def make_hints(answer) -> list[str]:
    """The hints the exercise 11 checks give ``answer`` on its visible cases."""
    hints = []
    for case in harness.exact_cases(11, 3):
        block = Checks("make_alloc_exact", hint="free the tail pages one by one, lowest first")
        with redirect_stdout(io.StringIO()) as out:
            block.expect("case", harness.after_make_alloc_exact, (case, answer),
                         harness.after_make_alloc_exact(case, kit_make),
                         misconceptions=harness.exact_misconceptions(case, "make"))
        hints += [line.split("hint:", 1)[1].strip() for line in out.getvalue().splitlines()
                  if "hint:" in line]
    return hints


def test_a_block_never_split_is_named_not_the_freeing_order():
    def never_split(zone, addr, order, size):
        for index in range(kit.pages_for(size), 1 << order):
            zone.free_pages(addr + index * zone.page_size, 0)
        return addr

    hints = make_hints(never_split)
    assert hints and all(h.startswith("likely mistake: freed a page inside the block: "
                                      "split_page") for h in hints), hints


def test_pfns_given_for_addresses_are_named():
    def with_pfns(zone, addr, order, size):
        pfn = zone.virt_to_pfn(addr)
        zone.split_page(kit.Page(pfn, order))
        for index in range(kit.pages_for(size), 1 << order):
            zone.free_pages(pfn + index, 0)
        return addr

    hints = make_hints(with_pfns)
    assert hints and all("passed a pfn where the zone wants an address" in h for h in hints)


def test_forgetting_to_return_addr_is_named():
    def no_return(zone, addr, order, size):
        zone.split_page(kit.Page(zone.virt_to_pfn(addr), order))
        for index in range(kit.pages_for(size), 1 << order):
            zone.free_pages(addr + index * zone.page_size, 0)

    hints = make_hints(no_return)
    assert hints and all("returned nothing" in h for h in hints), hints


def test_a_raised_misconception_matches_only_its_exception():
    error = kit.KernelBUG("address 0x3c is not in the direct map (below PAGE_OFFSET)")
    assert Raised("KernelBUG", "not in the direct map").matches(error)
    assert not Raised("KernelBUG", "inside the order-").matches(error)
    assert not Raised("BadPageState", "not in the direct map").matches(error)


# --------------------------------------------------------------------------- exercise 21
def test_a_parser_that_crashes_on_the_comma_is_told_so_not_to_count_pages():
    def my_parse_buddyinfo(text):  # splits on spaces: "0," stays a word
        return [(int(w[1]), w[3], [int(x) for x in w[4:]])
                for w in (line.split() for line in text.splitlines()) if w]

    def zone_free_pages(text):  # right, given a right parser
        return {(node, zone): sum(c << o for o, c in enumerate(counts))
                for node, zone, counts in my_parse_buddyinfo(text)}

    out = run_check("07-reading-the-kernel.ipynb", "kernel-buddyinfo-tests",
                    {"my_parse_buddyinfo": my_parse_buddyinfo,
                     "zone_free_pages": zone_free_pages})
    assert out.count("likely mistake: a comma sticks to the word before it") == 2, out
    assert "count pages, not blocks" not in out and "skip blank lines" not in out
    assert "zone_free_pages builds on my_parse_buddyinfo" in out


def test_counting_blocks_still_gets_count_pages():
    def my_parse_buddyinfo(text):
        return [(int(w[1]), w[3], [int(x) for x in w[4:]])
                for w in (line.replace(",", " ").split() for line in text.splitlines()) if w]

    def zone_free_pages(text):
        return {(node, zone): sum(counts) for node, zone, counts in my_parse_buddyinfo(text)}

    out = run_check("07-reading-the-kernel.ipynb", "kernel-buddyinfo-tests",
                    {"my_parse_buddyinfo": my_parse_buddyinfo,
                     "zone_free_pages": zone_free_pages})
    assert "✔ my_parse_buddyinfo(the sample)" in out
    assert "hint:     count pages, not blocks" in out


def test_the_full_block_hint_counts_one_page_in_the_singular():
    """Exercise 1's hint for 4096 bytes given order 1 is read by a student: "1 page fills",
    not "1 pages fill"; the plural stays for more pages."""
    def hint(size: int) -> str:
        return next(text for wrong, text in harness.get_order_misconceptions(size)
                    if "a full block does not fit" in text)

    assert "1 page fills an order-0 block exactly" in hint(4096)
    assert "2 pages fill an order-1 block exactly" in hint(8192)
