"""``printable``: what every gradebook cell and feedback line goes through, with its fast path
(text ``str.isprintable`` passes) giving what the character-by-character rule gives."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from kit.grading.trusted.gradebook import printable


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
