"""Notebook plumbing shared by ``kit release`` and ``kit grade``: cell roles, regions, files.

The exercise notebooks use nbgrader's conventions so a course already on nbgrader can take them
as they are: each cell's ``metadata.nbgrader`` says whether it is an answer (``solution``), a
test (``grade`` with ``points``) or a locked cell (set-up, text), and names it with a
``grade_id``.  Inside an answer cell the instructor's answer sits between ``### BEGIN SOLUTION``
and ``### END SOLUTION``; inside a test cell the tests students never see sit between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.  Lines starting with ``# HINT:`` right
*above* ``### BEGIN SOLUTION`` are the hint: the release stub raises it, and because they sit
outside the solution region nbgrader's own stub (``generate_assignment``) keeps them as comments.

Kit-only metadata lives in ``metadata.kit``: ``{"partial": true}`` on a test cell for partial
credit (see ``kit.grading.boundary.checks``; for nbgrader the cell also says ``Checks(...,
partial=True)`` and ends with ``t.points(N)``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kit.core.errors import KitError
from kit.teaching import progress

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
HINT_PREFIX = "# HINT:"
#: The kernel every exercise notebook names; run from the venv its ``python`` is the venv's.
KERNEL_NAME = "python3"
#: The notebook metadata kept on write (the rest, like language versions, varies by machine).
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": KERNEL_NAME}


class NotebookError(KitError):
    """A notebook file cannot be used: not JSON, not a notebook, or a broken region marker."""


def read_notebook(path: Path) -> Any:
    """Read a notebook (nbformat 4), or raise NotebookError saying in plain words why not."""
    import nbformat

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(f"{path}: cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise NotebookError(f"{path}: is not JSON ({exc})") from None
    if not isinstance(data, dict) or "cells" not in data or "nbformat" not in data:
        raise NotebookError(f"{path}: is JSON but not a Jupyter notebook (no cells/nbformat)")
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NotebookError(f"{path}: is not a valid notebook ({first})") from None
    return nb


#: What the grader reads of a submitted notebook: cells, and characters of one cell's source.
MAX_SUBMITTED_CELLS = 2000
MAX_CELL_CHARS = 1 << 20
#: The cell metadata the grader keeps (nbgrader's, flat): nothing else of a submission is used.
_KEPT_CELL_KEYS = ("cell_type", "id", "source")


def read_submitted_notebook(path: Path, max_bytes: int) -> Any:
    """A student's notebook, read in bounded time and memory, or NotebookError saying why not.

    Only what grading uses is kept -- each cell's type, source and flat ``nbgrader`` metadata;
    outputs, attachments and other metadata are dropped before the notebook is validated, so a
    notebook full of outputs costs one JSON parse, and JSON nested too deep to parse is this
    notebook's problem, not the grader's.
    """
    import nbformat

    try:
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise NotebookError(f"{path}: cannot be read: {exc}") from None
    if len(raw) > max_bytes:
        raise NotebookError(f"{path}: is over the {max_bytes}-byte limit")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{path}: cannot be read: {exc}") from None
    except ValueError as exc:
        raise NotebookError(f"{path}: is not JSON ({str(exc)[:100]})") from None
    except RecursionError:
        raise NotebookError(f"{path}: is not a notebook (JSON nested too deeply)") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list) or \
            "nbformat" not in data:
        raise NotebookError(f"{path}: is JSON but not a Jupyter notebook (no cells/nbformat)")
    if len(data["cells"]) > MAX_SUBMITTED_CELLS:
        raise NotebookError(f"{path}: has {len(data['cells'])} cells, over the grader's "
                            f"{MAX_SUBMITTED_CELLS}")
    cells = [_kept_cell(cell, f"{path} cell {index}") for index, cell in enumerate(data["cells"])]
    kept: dict[str, Any] = {"cells": cells, "metadata": {}, "nbformat": data.get("nbformat"),
                            "nbformat_minor": data.get("nbformat_minor")}
    try:
        nb = nbformat.from_dict(kept)
        nbformat.validate(nb)
    except Exception as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise NotebookError(f"{path}: is not a valid notebook ({first})") from None
    return nb


def _kept_cell(cell: Any, where: str) -> dict[str, Any]:
    if not isinstance(cell, dict):
        raise NotebookError(f"{where}: is not a cell")
    kept: dict[str, Any] = {key: cell[key] for key in _KEPT_CELL_KEYS if key in cell}
    source = kept.get("source", "")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        source = "".join(source)
    if not isinstance(source, str) or len(source) > MAX_CELL_CHARS:
        raise NotebookError(f"{where}: its source is not text of at most {MAX_CELL_CHARS} "
                            "characters")
    kept["source"] = source
    metadata = cell.get("metadata")
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    kept["metadata"] = {"nbgrader": {k: v for k, v in nbgrader.items()
                                     if isinstance(v, (str, int, float, bool))}} \
        if isinstance(nbgrader, dict) else {}
    if kept.get("cell_type") == "code":
        kept.update(outputs=[], execution_count=None)
    return kept


def notebook_text(nb: Any) -> str:
    """The stored form of a notebook: stable key order and ids, no run-to-run metadata."""
    import nbformat

    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    nb.nbformat, nb.nbformat_minor = 4, 5
    used: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell_id = grade_id(cell) or f"cell-{index}"
        if cell_id in used:
            cell_id = f"{cell_id}-{index}"
        used.add(cell_id)
        cell["id"] = cell_id
        if cell.get("outputs"):
            cell.outputs = _coalesce_streams(cell.outputs)
    text: str = nbformat.writes(nb)
    return text + "\n"


def _coalesce_streams(outputs: list[Any]) -> list[Any]:
    """Join consecutive stdout (or stderr) outputs into one.

    A kernel flushes printed text in chunks whose boundaries depend on timing (a busy machine
    splits one cell's lines into two messages); joining them makes the stored notebook the same
    on every run, as nbconvert's ``coalesce_streams`` does.
    """
    joined: list[Any] = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and output.get("output_type") == "stream"
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            previous["text"] = "".join(previous["text"]) + "".join(output["text"])
        else:
            joined.append(output)
    return joined


def atomic_write(path: Path, text: str) -> None:
    """Write a file so a reader sees the old or the new content, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_notebook(nb: Any, path: Path) -> None:
    """Store a notebook in its stable form, atomically."""
    atomic_write(path, notebook_text(nb))


def nbgrader(cell: Any) -> dict[str, Any]:
    """The cell's nbgrader metadata ({} for a cell without)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_id(cell: Any) -> str | None:
    """The cell's nbgrader grade_id, or None."""
    value = nbgrader(cell).get("grade_id")
    return value if isinstance(value, str) and value else None


def is_answer(cell: Any) -> bool:
    """An answer cell: the student writes it (nbgrader ``solution``)."""
    return bool(nbgrader(cell).get("solution"))


def is_test(cell: Any) -> bool:
    """A graded test cell (nbgrader ``grade`` without ``solution``): it carries points."""
    meta = nbgrader(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


def is_locked(cell: Any) -> bool:
    """A cell the student must not change: tests, set-up, instructions."""
    return bool(nbgrader(cell).get("locked")) and not is_answer(cell)


def points(cell: Any) -> float:
    """The points of a test cell (0 for other cells)."""
    value = nbgrader(cell).get("points", 0)
    return float(value) if isinstance(value, (int, float)) else 0.0


def is_partial(cell: Any) -> bool:
    """Whether a test cell gives partial credit (``metadata.kit.partial``)."""
    kit_meta = cell.get("metadata", {}).get("kit", {})
    return isinstance(kit_meta, dict) and bool(kit_meta.get("partial"))


def _replace_regions(
    source: str, begin: str, end: str,
    replace: Callable[[str, list[str], list[str]], list[str]], where: str
) -> str:
    """Replace every ``begin``..``end`` region (markers included) by ``replace(indent, body,
    before)``; ``before`` is the output so far, from whose end ``replace`` may take lines."""
    out: list[str] = []
    body: list[str] | None = None
    indent = ""
    for line in source.splitlines():
        stripped = line.strip()
        if body is None and stripped.startswith(begin):
            body, indent = [], line[: len(line) - len(line.lstrip())]
        elif body is not None and stripped.startswith(end):
            out.extend(replace(indent, body, out))
            body = None
        elif body is not None:
            if stripped.startswith(begin):
                raise NotebookError(f"{where}: {begin!r} inside another {begin!r}")
            body.append(line)
        else:
            if stripped.startswith(end):
                raise NotebookError(f"{where}: {end!r} without {begin!r}")
            out.append(line)
    if body is not None:
        raise NotebookError(f"{where}: {begin!r} without {end!r}")
    return "\n".join(out)


def take_hint_lines(before: list[str]) -> list[str]:
    """Remove the ``# HINT:`` lines at the end of ``before`` (right above a solution region)
    and return them, in order."""
    taken: list[str] = []
    while before and before[-1].strip().startswith(HINT_PREFIX):
        taken.insert(0, before.pop())
    return taken


def solution_hint(lines: list[str]) -> str:
    """The hint of a solution region: its ``# HINT:`` lines joined."""
    hints = [line.strip()[len(HINT_PREFIX):].strip() for line in lines]
    return " ".join(hint for hint in hints if hint) or "write your answer here"


def stub_source(source: str, where: str) -> str:
    """An answer cell for students: each solution region, with the ``# HINT:`` lines right above
    it, becomes a stub raising that hint.

    A hint inside the region is refused: nbgrader's ``generate_assignment`` deletes the whole
    region, so a course on nbgrader would lose it.
    """

    def stub(indent: str, body: list[str], before: list[str]) -> list[str]:
        inside = next((line.strip() for line in body if line.strip().startswith(HINT_PREFIX)),
                      None)
        if inside is not None:
            raise NotebookError(f"{where}: {inside[:60]!r} is inside the solution region, where "
                                "nbgrader's stub deletes it: put the # HINT: lines right above "
                                f"{BEGIN_SOLUTION!r}")
        parts = textwrap.wrap(solution_hint(take_hint_lines(before)), 72,
                              drop_whitespace=False)
        return [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError(",
                *(f"{indent}    {json.dumps(part, ensure_ascii=False)}" for part in parts),
                f"{indent})"]

    return _replace_regions(source, BEGIN_SOLUTION, END_SOLUTION, stub, where)


def strip_hidden(source: str, where: str) -> str:
    """A test cell without its hidden tests."""
    return _replace_regions(source, BEGIN_HIDDEN, END_HIDDEN, lambda indent, body, _: [], where)


def hidden_regions(source: str, where: str) -> list[list[str]]:
    """The lines of each hidden-tests region of a test cell, markers left out."""
    regions: list[list[str]] = []

    def keep(indent: str, body: list[str], before: list[str]) -> list[str]:
        regions.append(list(body))
        return []

    _replace_regions(source, BEGIN_HIDDEN, END_HIDDEN, keep, where)
    return regions


def keep_hidden(source: str, where: str, marker: str = "") -> str:
    """A test cell with its hidden tests in, markers removed (what the grader runs).

    ``marker``, when given, is a line put where the hidden tests begin (the grader's note that
    the checks after it are hidden ones).
    """
    return _replace_regions(source, BEGIN_HIDDEN, END_HIDDEN,
                            lambda indent, body, _: [f"{indent}{marker}"] * bool(marker) + body,
                            where)


@contextlib.contextmanager
def environment(**changes: str | None) -> Iterator[None]:
    """Set (or with None, remove) environment variables for a block; kernels inherit them."""
    saved = {name: os.environ.get(name) for name in changes}
    try:
        _set_environment(changes)
        yield
    finally:
        _set_environment(saved)


def _set_environment(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def kit_pythonpath() -> str:
    """PYTHONPATH for a kernel, with this checkout's ``kit`` first.

    A kernel runs in the notebook's folder, where ``import kit`` relies on the installed
    package; putting the folder that holds this ``kit`` first makes the kernel import the same
    code as the process that starts it, however (or whether) the kit was installed.
    """
    import kit

    root = str(Path(kit.__file__).resolve().parent.parent)
    rest = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join([root, *([rest] if rest else [])])


def execute(nb: Any, cwd: Path, *, timeout: int = 120) -> Any:
    """Run a notebook top to bottom in a fresh ``python3`` kernel, storing its outputs.

    Any cell error is a NotebookError: the instructor's solutions must pass, and a released
    exercise must only print "not yet answered".  Timing metadata is not recorded, so the stored
    notebook does not change from run to run.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    client = NotebookClient(
        nb,
        kernel_name=KERNEL_NAME,
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    # no progress recording: a stored output must not depend on (or change) a student's file
    with environment(PYTHONPATH=kit_pythonpath(), **{progress.SWITCH: "off"}):
        try:
            client.execute()
        except CellExecutionError as exc:
            raise NotebookError(f"a cell failed while executing the notebook:\n{exc}") from None
    return nb
