"""``printable``: what every gradebook cell and feedback line goes through, with its fast path
(text ``str.isprintable`` passes) giving what the character-by-character rule gives."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from kit.grading.trusted.gradebook import Row, feedback, fenced, printable


def by_character(text: str, limit: int) -> str:
    """The rule itself: control characters (category C) out, newlines and tabs as spaces."""
    kept = "".join(" " if ch in "\n\t" else ch for ch in text
                   if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return kept if len(kept) <= limit else kept[: limit - 3] + "..."


#: Characters where the fast path and the rule could part: controls, format characters,
#: surrogates, private use, unassigned, and separators (not printable, yet kept).
EDGES = "\x00\x07\t\n\r\x1b\x7f\x85\xa0\xad\u200b\u2028\u2029\u3000\ufeff\ue000\U000f0000" \
        "\U0010ffff\ud800\u0378 aé✔"


@settings(max_examples=400, deadline=None)
@given(st.text(st.sampled_from(EDGES) | st.characters(), max_size=30),
       st.integers(min_value=4, max_value=40))
def test_printable_is_the_character_rule(text: str, limit: int) -> None:
    assert printable(text, limit) == by_character(text, limit)


def test_printable_drops_controls_and_keeps_separators() -> None:
    assert printable("a\tb\nc\x1b[31md\u200be\u3000f\u2028") == "a b c[31mde\u3000f\u2028"
    assert printable("x" * 10, 8) == "xxxxx..."


def test_feedback_markdown_shows_operators_as_written_and_starts_no_tag() -> None:
    """A fence shows its text as it is (CommonMark), so the hints' ``<<`` and ``>=`` must be
    written as such, not as ``&lt;&lt;`` a student then reads; only what could start an HTML
    tag (for a renderer that knows no fences) is escaped."""
    hint = "PAGE_SIZE << n >= size; 1 << o pages; a & b; x<3 and y > 2"
    row = Row("s", "01-orders.ipynb", "orders-get-order-tests", 0, 3, "failed", f"hint: {hint}",
              details=["✔ my_parse(a file with >100000 counts)",
                       "received: <script>alert(1)</script> <img src=x onerror=alert(1)>"])
    text = feedback("s", [row], (0, 3))
    assert hint in text and "a file with >100000 counts" in text
    assert "<script" not in text and "<img" not in text and "</script" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("<>&/!?ab =;#x\n`") | st.characters(), max_size=40))
def test_no_fenced_line_can_start_a_tag(text: str) -> None:
    for line in fenced([text]):
        assert not re.search(r"<[A-Za-z/!?]", line), line
