"""The sections a lesson is presented in: what "follow the instructor" points at.

A section starts at each markdown cell that opens with a heading, as in the presenter's slide
mode; its title is the heading's text.  Read from the notebook's JSON with the standard
library, so the client side needs no Jupyter package.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..core.errors import InvalidArgument

__all__ = ["lesson_sections"]


def lesson_sections(lesson: str | Path) -> list[str]:
    """The section titles of a lesson notebook (``"03-buddy-system"`` or a path)."""
    path = Path(lesson)
    if path.suffix != ".ipynb":
        path = path.with_name(path.name + ".ipynb")
    try:
        cells = json.loads(path.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvalidArgument(f"cannot read the sections of {path}: {error}") from None
    titles = []
    for cell in cells:
        source = "".join(cell.get("source", ""))
        first = source.lstrip().split("\n", 1)[0]
        if cell.get("cell_type") == "markdown" and first.startswith("#"):
            titles.append(first.lstrip("#").strip())
    return titles
