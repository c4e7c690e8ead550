"""``kit release``: build the student notebooks in ``exercises/`` from ``solutions/``.

One source: the instructor only edits ``solutions/``.  Releasing replaces each answer with a
stub that raises ``NotImplementedError`` with the hint, removes the hidden tests, and runs the
result so the stored outputs show what a student first sees ("not yet answered: ...").  The
output is byte-for-byte reproducible (stable JSON, fixed cell ids, no timings), which is what
lets ``tests/test_release.py`` fail whenever ``exercises/`` is stale.
"""

from __future__ import annotations

import ast
import copy
import re
import tempfile
from pathlib import Path
from typing import Any

from kit.grading.trusted import delegation
from kit.grading.trusted import notebooks as nbs
from kit.grading.trusted.notebooks import NotebookError
from kit.grading.trusted.reference import solution_failures


def source_notebooks(source: Path) -> list[Path]:
    """The instructor's notebooks in ``source``, sorted by name."""
    source = Path(source)
    if not source.is_dir():
        raise NotebookError(f"source folder {source} does not exist")
    found = sorted(p for p in source.glob("*.ipynb") if not p.name.startswith("."))
    if not found:
        raise NotebookError(f"source folder {source} holds no .ipynb notebook")
    return found


def validate_source(nb: Any, where: str) -> None:
    """Check an instructor notebook follows the conventions the release and grader rely on."""
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        meta = nbs.nbgrader(cell)
        label = f"{where} cell {index}"
        if not nbs.is_answer(cell) and (nbs.BEGIN_SOLUTION in cell.source
                                        or nbs.END_SOLUTION in cell.source):
            name = f" ({nbs.grade_id(cell)})" if nbs.grade_id(cell) else ""
            raise NotebookError(f"{label}{name}: {nbs.BEGIN_SOLUTION!r} in a cell that is not a "
                                "solution cell, which would publish the answer: mark the cell "
                                "as a solution (nbgrader \"solution\": true) or remove the region")
        if not meta:
            continue
        gid = nbs.grade_id(cell)
        if gid is None:
            raise NotebookError(f"{label}: nbgrader metadata without a grade_id")
        if gid in seen:
            raise NotebookError(f"{label}: grade_id {gid!r} is used twice")
        seen.add(gid)
        if nbs.is_answer(cell) and nbs.BEGIN_SOLUTION not in cell.source:
            raise NotebookError(f"{label} ({gid}): answer cell without {nbs.BEGIN_SOLUTION!r}")
        if nbs.is_answer(cell):
            check_solution_parses(cell.source, f"{label} ({gid})")
        if nbs.is_test(cell) and (nbs.points(cell) <= 0 or not meta.get("locked")):
            raise NotebookError(f"{label} ({gid}): a test cell needs points > 0 and locked")
        if nbs.is_test(cell):
            check_partial_credit(cell, f"{label} ({gid})")
            check_hidden_tests(cell, f"{label} ({gid})")
        if cell.cell_type == "code":
            nbs.strip_hidden(nbs.stub_source(cell.source, label), label)  # markers must pair
    check_points_headings(nb, where)
    check_forbid_lists(nb, where)


def check_solution_parses(source: str, where: str) -> None:
    """A solution is Python: else every later check that reads it (which kit functions it
    uses, against forbid=) finds nothing in it and names another cell for another reason."""
    try:
        ast.parse(source)
    except SyntaxError as exc:
        raise NotebookError(f"{where}: the solution does not parse: {exc.msg} (line "
                            f"{exc.lineno})") from None


#: "(3 points)", "(1 point)", "(2.5 points)" in a task's heading.
POINTS_IN_HEADING = re.compile(r"\((\d+(?:\.\d+)?) points?\)")


def check_points_headings(nb: Any, where: str) -> None:
    """A task heading's "(N points)" must be the points of the test cell that grades it (the
    next one below): students read the heading, the grader the metadata."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        headings = [line for line in cell.source.splitlines() if line.lstrip().startswith("#")]
        said = [float(m.group(1)) for line in headings for m in POINTS_IN_HEADING.finditer(line)]
        if not said:
            continue
        test = next(((i, c) for i, c in enumerate(nb.cells) if i > index and nbs.is_test(c)),
                    None)
        if test is None:
            raise NotebookError(f"{where} cell {index}: a heading gives {said[0]:g} points, but "
                                "no test cell follows it")
        points = nbs.points(test[1])
        if said[0] != points:
            raise NotebookError(
                f"{where} cell {index}: the heading says {said[0]:g} points, but the test cell "
                f"that grades it (cell {test[0]}, {nbs.grade_id(test[1])}) has {points:g} in its "
                "nbgrader metadata: make them agree")


def check_forbid_lists(nb: Any, where: str) -> None:
    """Each test cell's ``forbid=`` lists every name its requests refuse (the notebook's union
    but what its own solution uses, :func:`delegation.effective_forbids`): the student's
    self-check and nbgrader know only that list, so a name missing from it would pass there
    and score 0 in ``kit grade``."""
    tests: dict[str, tuple[int, frozenset[str]]] = {}
    uses: dict[str, set[str]] = {}
    used: set[str] = set()
    for index, cell in enumerate(nb.cells):
        gid = nbs.grade_id(cell)
        if gid and nbs.is_answer(cell):
            used |= set(delegation.used_names(cell.source))
        elif gid and nbs.is_test(cell):
            tests[gid] = (index, delegation.declared_forbid(cell.source, f"{where} cell {index}"))
            uses[gid], used = used, set()
    effective = delegation.effective_forbids({g: f for g, (_, f) in tests.items()}, uses)
    for gid, (index, declared) in tests.items():
        missing = sorted(effective[gid] - declared)
        if missing:
            raise NotebookError(
                f"{where} cell {index} ({gid}): forbid= lacks {', '.join(map(repr, missing))}, "
                "which the notebook forbids and this exercise's solution does not use: list "
                "them, so the student's self-check refuses what kit grade refuses")


#: The first line of a hidden-tests region: ``t.hidden()`` on the cell's Checks block.
HIDDEN_CALL = re.compile(r"^\w+\.hidden\(\)$")


def check_hidden_tests(cell: Any, label: str) -> None:
    """A test cell grades mostly with hidden cases: it has a hidden-tests region, and the
    region starts with ``t.hidden()``, so that nbgrader (which knows no markers) weighs its
    checks as ``kit grade`` does (``kit.grading.boundary.checks.VISIBLE_SHARE``)."""
    regions = nbs.hidden_regions(cell.source, label)
    if not regions:
        raise NotebookError(f"{label}: a test cell needs hidden tests ({nbs.BEGIN_HIDDEN!r}): "
                            "most of its points come from them, the visible checks only guide")
    for body in regions:
        first = next((line.strip() for line in body
                      if line.strip() and not line.strip().startswith("#")), "")
        if not HIDDEN_CALL.match(first):
            raise NotebookError(f"{label}: the hidden tests must start with t.hidden() (on "
                                f"the cell's Checks block), not {first[:60]!r}")


def check_partial_credit(cell: Any, label: str) -> None:
    """A partial-credit test cell says so three ways that must agree, or nbgrader grades it
    differently from ``kit grade``: ``metadata.kit.partial`` (read by kit grade), ``Checks(...,
    partial=True)`` (so the block does not raise under nbgrader) and a last line
    ``t.points(N)`` with N the cell's points (the number nbgrader scores)."""
    try:
        tree = ast.parse(nbs.keep_hidden(cell.source, label))
    except SyntaxError as exc:
        raise NotebookError(f"{label}: the test cell does not parse: {exc.msg}") from None
    declared = [kw.value for node in ast.walk(tree) if isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "Checks"
                for kw in node.keywords if kw.arg == "partial"]
    is_partial = any(isinstance(v, ast.Constant) and v.value is True for v in declared)
    last = tree.body[-1] if tree.body else None
    scored = (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
              and isinstance(last.value.func, ast.Attribute)
              and last.value.func.attr == "points" and len(last.value.args) == 1
              and isinstance(last.value.args[0], ast.Constant)
              and last.value.args[0].value == nbs.points(cell))
    if nbs.is_partial(cell) and not (is_partial and scored):
        raise NotebookError(
            f"{label}: metadata kit.partial needs Checks(..., partial=True) and a last line "
            f"t.points({nbs.points(cell):g}) (nbgrader's partial credit)")
    if is_partial and not nbs.is_partial(cell):
        raise NotebookError(f"{label}: Checks(..., partial=True) needs \"kit\": {{\"partial\": "
                            "true}} in the cell's metadata (kit grade's partial credit)")


def clear_outputs(nb: Any) -> Any:
    """Remove every output and execution count."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def student_version(nb: Any, where: str) -> Any:
    """The released form of an instructor notebook: stubs, no hidden tests, no outputs."""
    out = clear_outputs(copy.deepcopy(nb))
    for index, cell in enumerate(out.cells):
        label = f"{where} cell {index}"
        if cell.cell_type != "code":
            continue
        if nbs.is_answer(cell):
            cell.source = nbs.stub_source(cell.source, label)
        else:
            cell.source = nbs.strip_hidden(cell.source, label)
    return out


def check_solutions(sources: list[Path]) -> None:
    """Refuse a source whose own solution fails (or raises in) one of its visible or hidden
    checks, naming the cell: released, such a test would fail every right answer."""
    problems: list[str] = []
    for path in sources:
        nb = nbs.read_notebook(path)
        validate_source(nb, str(path))
        problems += solution_failures(nb, str(path), lambda gid, base: base).values()
    if problems:
        raise NotebookError("the solutions do not pass their own tests:\n  "
                            + "\n  ".join(problems))


def release(source: Path, out: Path, *, execute: bool = True,
            check: bool = True) -> list[Path]:
    """Write the student version of every notebook of ``source`` into ``out``; return them.

    First (``check``) every solution runs against its visible and hidden checks; a failure
    stops the release.  Notebooks in ``out`` with no source are removed, so ``out`` is exactly
    the release.
    """
    out = Path(out)
    written = []
    sources = source_notebooks(source)
    if check:
        check_solutions(sources)
    for path in sources:
        nb = nbs.read_notebook(path)
        validate_source(nb, str(path))
        student = student_version(nb, str(path))
        out.mkdir(parents=True, exist_ok=True)
        if execute:
            nbs.execute(student, out)
        target = out / path.name
        nbs.write_notebook(student, target)
        written.append(target)
    names = {p.name for p in sources}
    for stale in out.glob("*.ipynb"):
        if stale.name not in names:
            stale.unlink()
    return written


def execute_in_place(paths: list[Path], *, validate: bool = False) -> list[Path]:
    """Re-run notebooks top to bottom in fresh kernels and store their outputs in place.

    This is how every stored notebook of the course (lessons, solutions) is refreshed after an
    edit, so that what nbval compares is what a clean run prints.
    """
    from kit.widgets.saved import drop_widget_views  # the widgets layer, only when executing

    done = []
    for path in paths:
        nb = nbs.read_notebook(path)
        if validate:
            validate_source(nb, str(path))
        nbs.execute(clear_outputs(nb), path.parent)
        drop_widget_views(nb)  # stored, a widget is only its "run this cell" line
        nbs.write_notebook(nb, path)
        done.append(path)
    return done


def execute_solutions(source: Path) -> list[Path]:
    """Re-run the instructor's notebooks in place so their stored outputs are what nbval sees."""
    return execute_in_place(source_notebooks(source), validate=True)


def _first_difference(stored: Path, fresh: Path) -> str:
    """The first line that differs, so a stale or unstable release is easy to diagnose."""
    old = stored.read_text(encoding="utf-8").splitlines()
    new = fresh.read_text(encoding="utf-8").splitlines()
    for number, (a, b) in enumerate(zip(old, new, strict=False), start=1):
        if a != b:
            return f"line {number}: stored {a.strip()[:120]!r}, fresh {b.strip()[:120]!r}"
    return f"stored has {len(old)} lines, fresh has {len(new)}"


def release_differences(source: Path, exercises: Path, *, check: bool = True) -> list[str]:
    """What differs between ``exercises`` and a fresh release of ``source`` ([] = up to date).

    ``check`` first runs the solutions against their checks, as a release does."""
    exercises = Path(exercises)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = release(source, Path(tmp), check=check)
        problems = []
        expected_names = {p.name for p in fresh}
        for path in fresh:
            stored = exercises / path.name
            if not stored.exists():
                problems.append(f"{stored} is missing")
            elif stored.read_text(encoding="utf-8") != path.read_text(encoding="utf-8"):
                problems.append(
                    f"{stored} differs from what kit release writes "
                    f"({_first_difference(stored, path)})"
                )
        if exercises.is_dir():
            for extra in sorted(exercises.glob("*.ipynb")):
                if extra.name not in expected_names:
                    problems.append(f"{extra} has no source notebook")
    return problems
