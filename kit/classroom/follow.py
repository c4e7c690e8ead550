"""What "follow the instructor" carries: the lesson's sections, and the presenter's position.

A section starts at each markdown cell that opens with a heading, as in the presenter's slide
mode; its title is the heading's text.  Read from the notebook's JSON with the standard
library, so the client side needs no Jupyter package.  ``section_of_cell`` is how the slide
mode publishes its slide: a slide's cell lies in the section of the last heading at or above it.

``FollowState`` is what the presenter publishes and every follower receives: the lesson, the
section (its index and title) and the calls the presenter's Playground has made since its zone
was last reset, in order, so that a follower's own Playground can replay them on its own zone
(a follower who joins late, or reconnects, replays the whole list and ends where the presenter
is).  ``from_json`` checks what arrives, since it comes over the network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import InvalidArgument

__all__ = ["CALLS", "MAX_CALLS", "SLIDES_LESSON_VARIABLE", "FollowState", "heading_key",
           "lesson_cells", "lesson_sections", "section_of_cell", "section_title"]

#: The Playground calls a follower replays, with the names of their integer arguments.
CALLS: dict[str, tuple[str, ...]] = {
    "alloc_pages": ("order",),
    "alloc_pages_exact": ("size",),
    "free_pages": ("pfn", "order"),
    "free_pages_exact": ("pfn", "size"),
    "run_workload": ("seed", "steps"),
}
#: Calls carried at most (a state stays far below the service's 16 KiB body limit); a longer
#: list is cut and marked incomplete, and followers say so instead of replaying half of it.
MAX_CALLS = 200
#: The lesson notebook a slide-mode kernel shows: ``kit present --slides`` sets it, and with a
#: classroom that kernel publishes each slide's section (``kit.widgets.slidefollow``).
SLIDES_LESSON_VARIABLE = "KIT_SLIDES_LESSON"

Call = tuple[Any, ...]


def lesson_cells(lesson: str | Path) -> list[dict[str, Any]]:
    """The cells of a lesson notebook (``"03-buddy-system"`` or a path), as its JSON has them."""
    path = Path(lesson)
    if path.suffix != ".ipynb":
        path = path.with_name(path.name + ".ipynb")
    try:
        cells = json.loads(path.read_text())["cells"]
        if not isinstance(cells, list) or not all(isinstance(cell, dict) for cell in cells):
            raise TypeError("its cells are not a list of objects")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvalidArgument(f"cannot read the sections of {path}: {error}") from None
    return cells


def section_title(cell: Mapping[str, Any]) -> str | None:
    """The title of the section ``cell`` starts (a markdown cell opening with a heading), or
    None when it starts none."""
    source = cell.get("source", "")
    first = "".join(source).lstrip().split("\n", 1)[0]
    if cell.get("cell_type") == "markdown" and first.startswith("#"):
        return first.lstrip("#").strip()
    return None


def lesson_sections(lesson: str | Path) -> list[str]:
    """The section titles of a lesson notebook (``"03-buddy-system"`` or a path)."""
    return [title for cell in lesson_cells(lesson)
            if (title := section_title(cell)) is not None]


def section_of_cell(cells: Sequence[Mapping[str, Any]], cell_id: str) -> tuple[int, str] | None:
    """The section (index, title) the cell with id ``cell_id`` lies in: that of the last
    heading at or above it.  None for a cell above the first heading or not in ``cells``."""
    section: tuple[int, str] | None = None
    count = 0
    for cell in cells:
        title = section_title(cell)
        if title is not None:
            section = (count, title)
            count += 1
        if cell.get("id") == cell_id:
            return section
    return None


def heading_key(text: str) -> str:
    """A heading as a follower's page can match it: the markdown source ("`struct page`,
    pfns") and the rendered text ("struct page, pfns¶") give the same key."""
    return re.sub(r"[^0-9a-z]+", "", text.lower())


@dataclass(frozen=True)
class FollowState:
    """Where the presenter is: lesson, section index and title, and the Playground's calls."""

    lesson: str = ""
    section: int | None = None
    title: str = ""
    calls: tuple[Call, ...] = ()
    complete: bool = True

    def with_calls(self, calls: list[Call] | tuple[Call, ...]) -> FollowState:
        """This position with the Playground's calls (cut at ``MAX_CALLS``)."""
        for call in calls:
            _check_call(call)
        return FollowState(self.lesson, self.section, self.title, tuple(calls[:MAX_CALLS]),
                           len(calls) <= MAX_CALLS)

    def to_json(self) -> dict[str, Any]:
        return {"lesson": self.lesson, "section": self.section, "title": self.title,
                "calls": [list(call) for call in self.calls], "complete": self.complete}

    @classmethod
    def from_json(cls, data: Any) -> FollowState:
        """A state as published (``{}`` before the presenter starts); ``InvalidArgument``
        names what is wrong with one that is malformed."""
        if not isinstance(data, dict):
            raise InvalidArgument("a follow state is a JSON object")
        lesson, section, title = data.get("lesson", ""), data.get("section"), data.get(
            "title", "")
        if not isinstance(lesson, str) or not isinstance(title, str):
            raise InvalidArgument("a follow state's lesson and title are strings")
        if section is not None and (not isinstance(section, int) or isinstance(section, bool)
                                    or section < 0):
            raise InvalidArgument(f"a follow state's section is an index >= 0, not {section!r}")
        calls = data.get("calls", [])
        if not isinstance(calls, list) or len(calls) > MAX_CALLS:
            raise InvalidArgument(f"a follow state's calls are a list of at most {MAX_CALLS}")
        checked = tuple(_check_call(tuple(call) if isinstance(call, list) else call)
                        for call in calls)
        return cls(lesson, section, title, checked, bool(data.get("complete", True)))


def _check_call(call: Any) -> Call:
    if not isinstance(call, tuple) or not call or call[0] not in CALLS:
        raise InvalidArgument(f"not a Playground call: {call!r} (known: {', '.join(CALLS)})")
    args = call[1:]
    if len(args) != len(CALLS[call[0]]) or not all(
            isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in args):
        raise InvalidArgument(f"{call[0]} takes {', '.join(CALLS[call[0]])} as integers >= 0, "
                              f"not {list(args)!r}")
    return call
