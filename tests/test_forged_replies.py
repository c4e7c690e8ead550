"""A reply from the sandbox chooses no status and writes no reason (issue 24, the point left
open): what the grader takes from a reply, and how it reads "unanswered" from the source.

The attackers that forge each status through a live worker are in
``tests/fixtures/class-attackers-2/`` (``forge-*``, graded by tests/test_grade_attackers_2.py);
here are the rules they meet, one by one.
"""

from __future__ import annotations

import pytest

from kit.grading.trusted.remote import MAX_ERROR_CHARS, ProtocolViolation, Said, read_reply
from kit.grading.trusted.stubs import stub_defs

FORBID = ["get_order", "pages_for"]


@pytest.mark.parametrize("reply", [
    pytest.param({"ok": True, "value": 0, "status": "passed"}, id="a-status"),
    pytest.param({"ok": True, "value": 0, "points": 3}, id="points"),
    pytest.param({"ok": False, "exc": "MemoryError", "error": "", "limit": "memory"},
                 id="a-memory-limit"),
    pytest.param({"ok": False, "exc": "ValueError", "error": "x", "reason": "perfect"},
                 id="a-reason"),
    pytest.param({"ok": False, "exc": "ValueError", "forbidden": 0}, id="a-refusal-of-no-call"),
    pytest.param({"ok": "yes"}, id="ok-not-a-bool"),
    pytest.param({"ok": False, "exc": "Bad name\n# Total: 7 / 7"}, id="a-type-that-is-no-name"),
    pytest.param({"ok": False, "exc": "ValueError", "error": ["not", "text"]}, id="no-text"),
    pytest.param({"ok": False, "exc": "ForbiddenCall", "forbidden": "page_align"},
                 id="a-refused-name"),
    pytest.param({"ok": False, "exc": "ForbiddenCall", "forbidden": len(FORBID)},
                 id="a-refused-index-past-the-list"),
])
def test_a_reply_that_claims_more_than_the_protocol_allows_is_refused(
        reply: dict[str, object]) -> None:
    with pytest.raises(ProtocolViolation):
        read_reply(reply, FORBID)


def test_what_a_reply_may_say_is_taken_in_the_graders_words() -> None:
    assert read_reply({"ok": True, "value": 1, "logs": {}, "id": 4}, FORBID) == Said(True)
    raised = read_reply({"ok": False, "exc": "ValueError", "error": "no\x1b[2J" + "x" * 900,
                         "id": 4}, FORBID)
    assert (raised.ok, raised.kind, raised.refused) == (False, "ValueError", "")
    assert raised.text.startswith("no[2J") and len(raised.text) <= MAX_ERROR_CHARS
    refused = read_reply({"ok": False, "exc": "ForbiddenCall", "forbidden": 1}, FORBID)
    assert refused.refused.startswith("write pages_for yourself")


@pytest.mark.parametrize(("cell", "expected"), [
    pytest.param('def f(size):\n    """Doc."""\n    # YOUR CODE HERE\n'
                 '    raise NotImplementedError(\n        "round up"\n'
                 '        " with ints"\n    )\n',
                 {"f": "round up with ints"}, id="the-release-stub"),
    pytest.param("def f(size):\n    raise NotImplementedError()\n", {"f": ""},
                 id="nbgraders-stub"),
    pytest.param("def f(size):\n    pass\n    raise NotImplementedError\n", {"f": ""},
                 id="bare-class"),
    pytest.param("def f(size):\n    x = size\n    raise NotImplementedError('hint')\n",
                 {"f": None}, id="code-before-the-raise"),
    pytest.param("def f(size):\n    raise ValueError('hint')\n", {"f": None},
                 id="another-exception"),
    pytest.param("def f(size):\n    raise NotImplementedError('a')\n\nf = len\n", {"f": None},
                 id="rebound-by-assignment"),
    pytest.param("from os.path import join as f\n", {"f": None}, id="rebound-by-import"),
    pytest.param("%timeit f(1)\n", {}, id="not-python"),
])
def test_a_stub_is_read_from_the_cells_source(cell: str,
                                              expected: dict[str, str | None]) -> None:
    assert stub_defs(cell) == expected
