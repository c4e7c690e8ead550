"""The second attacker class (issue 24, items 1 and 2) graded to its exact expected gradebook.

``tests/fixtures/class-attackers-2`` (built by ``tests/fixtures/build_attackers_2.py``) holds one
student per way round the delegation check and per way to stall the grader's reading, beside
honest students.  Every delegating student scored points against the name-based refusal this
replaces; here each loses exactly the exercise it delegated, and every honest student keeps
every point.  Short limits keep the stalls quick: the two ``stall-*`` students who spin after
their forged reply burn their sandbox's whole ``--timeout`` of CPU time (8 s each at first;
3 s since 2026-12-06, 10 CPU-s less for the suite).  Honest answers are far from it: on CPU
time the README's clock figures (the solutions of every notebook, 2 cores) time out none of
224 honest exercises at ``--timeout 4`` and 1 at ``--timeout 1``, under a load of 15-18.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kit.cli import main
from kit.grading.boundary.checks import delegation_message
from kit.grading.trusted.remote import PROTOCOL_ERROR

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CLASS = FIXTURES / "class-attackers-2"
EXPECTED = FIXTURES / "expected_attackers_2.csv"
#: Seconds of CPU time per exercise: what each stall that spins costs (see above).
TIMEOUT = 3
#: Each student's points out of 17 (01-orders: 7, 04-exact: 10): what the rows must add up to.
TOTALS = {
    "honest-perfect": 17, "honest-own-helpers": 17, "honest-wrong-free": 14,
    # the delegated exercise scores 0, the rest in full
    "delegate-harness": 14, "delegate-closure": 14, "delegate-exec-compile": 14,
    "delegate-stash": 12, "delegate-reexec-source": 14, "delegate-reload": 14,
    # the paste of kit's get_order also costs exercise 2, whose forbid= lists get_order; the
    # stash of kit.pages_for in the get_order cell costs exercise 1, whose forbid= lists it
    "delegate-scratch-zone": 7, "delegate-paste": 12, "delegate-child-process": 14,
    # a hostile reply costs its own exercise; an unreadable notebook only itself
    "stall-colliding-set": 14, "stall-huge-errors": 14, "stall-forged-status": 14,
    "stall-deep-notebook": 10, "stall-many-cells": 10,
    # a forged reply costs the exercise it was sent in, whatever status it claimed: the
    # grader's fixed protocol text, or its own delegation verdict for an index it validated;
    # a forged NotImplementedError ends the checks (0, as in nbgrader) but is no "unanswered"
    "forge-memory-limit": 14, "forge-unanswered": 14, "forge-delegated-by-name": 14,
    "forge-delegated-by-index": 14, "forge-status-fields": 14, "forge-cell-reply": 14,
}
#: What each forged reply's exercise gets: (status, reason) as the grader words them.
FORGED = {
    "forge-memory-limit": ("failed", PROTOCOL_ERROR),
    "forge-delegated-by-name": ("failed", PROTOCOL_ERROR),
    "forge-status-fields": ("failed", PROTOCOL_ERROR),
    "forge-cell-reply": ("failed", PROTOCOL_ERROR),
    "forge-delegated-by-index": ("delegated", delegation_message(["get_order"])),
    # its source is no release stub: what the code raised, quoted after the grader's words
    "forge-unanswered": ("failed", "your code raised NotImplementedError: not yet answered: "
                                   "44/44"),
}


#: bubblewrap's isolation is what these tests grade with (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("sandbox_available")


def test_the_second_attacker_class_gets_its_exact_expected_gradebook(tmp_path: Path) -> None:
    out = tmp_path / "out"
    status = main(["grade", str(CLASS), "--source", str(ROOT / "solutions"), "--out", str(out),
                   "--notebook", "01-orders.ipynb", "--notebook", "04-exact.ipynb",
                   "--timeout", str(TIMEOUT), "--jobs", "2"])
    assert status == 1  # two notebooks cannot be read: the instructor is told
    assert (out / "gradebook.csv").read_text(encoding="utf-8") == \
        EXPECTED.read_text(encoding="utf-8")
    with open(EXPECTED, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    totals: dict[str, float] = {}
    for row in rows:
        totals[row["student"]] = totals.get(row["student"], 0.0) + float(row["points"])
    assert totals == TOTALS
    assert sorted(p.name for p in CLASS.iterdir()) == sorted(TOTALS)
    statuses = {row["status"] for row in rows if row["student"].startswith("stall-")}
    assert "grader-error" not in statuses  # a hostile notebook is its own problem, not ours
    forged = {row["student"]: (row["status"], row["reason"]) for row in rows
              if row["student"].startswith("forge-")
              and row["exercise"] == "orders-get-order-tests"}
    assert {s: forged[s] for s in FORGED} == FORGED
