"""TRUSTED: which of the student's functions are still the release stub, read from the source.

"unanswered" is a status the grader gives from the answer's *source*, never from what the
sandboxed worker replies (a reply chooses no status): the function a test calls is unanswered
when the student left it as ``kit release`` gave it, a ``def`` whose body only raises
``NotImplementedError``, and the call failed.  The row's reason is then the source's own hint
(the ``# HINT:`` lines of the solution cell), not the text of what the student's code raised.
Code that is no stub and raises ``NotImplementedError`` ends the exercise's checks with 0
points, as the self-check and nbgrader score it, and the row says ``failed``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from typing import Any

from kit.grading.trusted import notebooks as nbs
from kit.grading.trusted.memo import syntax_tree


def stub_hints(source: Any, name: str) -> dict[str, str]:
    """Each function the source notebook's answer cells release as a stub -> its hint.  The
    same for every student: the grader reads it once per notebook (:func:`left_as_stubs`)."""
    hints: dict[str, str] = {}
    for index, cell in enumerate(source.cells):
        if nbs.is_answer(cell):
            stubbed = nbs.stub_source(cell.source, f"{name} cell {index}")
            hints.update({n: hint for n, hint in stub_defs(stubbed).items() if hint is not None})
    return hints


def left_as_stubs(hints: Mapping[str, str], answers: Iterable[str],
                  functions: Iterable[str]) -> dict[str, str]:
    """The source notebook's ``functions`` that the student's ``answers`` (the cells the worker
    runs, in notebook order) leave as release stubs -> the hint of the source's stub
    (``hints``: :func:`stub_hints`).

    A name counts by its last top-level binding in those cells: a stub ``def`` redefined in a
    later cell, or rebound by an assignment or an import, is no stub.
    """
    left: dict[str, str | None] = {}
    for answer in answers:
        left.update(stub_defs(answer))
    wanted = set(functions)
    return {n: hints.get(n, "") for n, hint in left.items() if hint is not None and n in wanted}


def stub_defs(cell: str) -> dict[str, str | None]:
    """Each name a cell binds at its top level -> the hint of a release stub (a ``def`` that
    only raises NotImplementedError: its message, "" without one), or None for anything else.
    A cell that does not parse as Python binds nothing the grader can tell."""
    try:
        tree = syntax_tree(cell)
    except SyntaxError:
        return {}
    bound: dict[str, str | None] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            bound[node.name] = _stub_hint(node.body)
            continue
        names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name)
                 and isinstance(n.ctx, ast.Store)]
        names += [(a.asname or a.name).split(".")[0] for n in ast.walk(node)
                  if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names]
        if isinstance(node, ast.ClassDef):
            names.append(node.name)
        bound.update(dict.fromkeys(names))
    return bound


def _stub_hint(body: list[ast.stmt]) -> str | None:
    """The message of a body that only raises NotImplementedError ("" for none), else None."""
    rest = [s for s in body if not isinstance(s, ast.Pass) and not (
        isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
        and isinstance(s.value.value, str))]
    if len(rest) != 1 or not isinstance(rest[0], ast.Raise) or rest[0].exc is None:
        return None
    raised = rest[0].exc
    call = raised if isinstance(raised, ast.Call) else None
    if getattr(call.func if call else raised, "id", None) != "NotImplementedError":
        return None
    if call and call.args and isinstance(call.args[0], ast.Constant) and \
            isinstance(call.args[0].value, str):
        return call.args[0].value
    return ""
