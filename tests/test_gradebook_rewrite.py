"""The gradebook rewritten as each student finishes: with each row encoded once (the run's
``encoded`` dict), every rewrite is byte for byte what encoding every row afresh writes, and
the JSON is ``json.dumps(records, indent=1)`` to the byte."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kit.grading.trusted.gradebook import COLUMNS, Encoded, Gradebook, Row, write_gradebook

TEXT = st.text(st.sampled_from("ab ,\"'\n\t=+-@\x1b\u2028é✔\\{}[]:") | st.characters(),
               max_size=12)
ROWS = st.builds(Row, student=TEXT, notebook=TEXT, exercise=TEXT,
                 points=st.floats(0, 20, allow_nan=False) | st.integers(0, 20),
                 max_points=st.integers(0, 20), status=st.sampled_from(["passed", "failed"]),
                 reason=TEXT)


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(ROWS, max_size=4), max_size=5))
def test_each_rewrite_is_what_a_fresh_encoding_writes(tmp_path_factory, students) -> None:
    cached, fresh = tmp_path_factory.mktemp("cached"), tmp_path_factory.mktemp("fresh")
    encoded: Encoded = {}
    done: list[Row] = []
    for rows in [[], *students]:  # the gradebook grows a student at a time
        done += rows
        book = Gradebook(list(done), 1.0)
        write_gradebook(book, cached, encoded)
        write_gradebook(book, fresh)
        assert files(cached) == files(fresh)
        records = json.loads((fresh / "gradebook.json").read_text(encoding="utf-8"))
        assert (fresh / "gradebook.json").read_text(encoding="utf-8") == \
            json.dumps(records, indent=1, ensure_ascii=False) + "\n"
        assert [list(r) for r in records] == [list(COLUMNS)] * len(done)
    assert len(encoded) == len(done)  # each row encoded once, however often it was written
