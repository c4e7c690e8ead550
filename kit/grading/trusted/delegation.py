"""TRUSTED: which kit code a student's request may not run, and answers that copy the kit.

An exercise's ``Checks(..., forbid=(...))`` names what the student is asked to write.  Three
layers refuse delegation to it:

* **at run time, by code identity** (the sandboxed worker's guard): every request refuses a
  call into the code of the names its test cell's ``forbid=`` lists;
* **in the answer's source** (:func:`reached_names`): an answer whose graded function names
  a forbidden function, itself or through the student's helpers and globals it reads, is told
  so with its line, before it runs; another exercise's answer typed into the same cell is
  not judged here.  A function of the student's own that merely shares the name
  (``def pages_for``) is not;
* **by similarity** (:func:`copied_from_kit`): an answer that pastes the kit's own source of a
  forbidden function, renamed or not, is reported as delegation, wherever it is in the
  student's cells: a paste can be reached in ways no reading of the source follows
  (``globals()[...]``, a table a function fills), and no run-time guard knows pasted code,
  so a student who pastes loses every exercise whose refusals name it.  Only kit functions of some
  length are compared, and only long runs of their tokens count, so a short honest answer
  (``return (size + 4095) // 4096``) can never match.

Every exercise's ``forbid=`` lists the union of the notebook's forbidden names, not only what
it asks for itself: a helper kept from one exercise's cell cannot serve another.  An exercise
keeps what its own reference solution uses (exercise 3 of 01-orders calls ``get_order``, which
exercise 1 forbids), and a class forbidden by another exercise only loses its constructor
(``Zone.__init__``: a zone handed to the student's function stays usable).  The list is written
out in the test cell, so the student's self-check, nbgrader and ``kit grade`` refuse the same
names; :func:`effective_forbids` is what ``kit release`` checks each list against.
"""

from __future__ import annotations

import ast
import builtins
import io
import keyword
import symtable
import sys
import tokenize
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import FunctionType

import kit  # noqa: F401 - the kit's modules are searched in sys.modules
from kit.grading.trusted import harness  # noqa: F401 - its helpers are forbidden too
from kit.grading.trusted import notebooks as nbs
from kit.grading.trusted.memo import class_cache, syntax_nodes, syntax_tree
from kit.grading.trusted.notebooks import NotebookError

#: Tokens in one shingle, the shortest kit function compared, and how much of it must appear.
SHINGLE = 10
MIN_TOKENS = 30
MIN_SHARED = 0.7


def declared_forbid(source: str, where: str) -> frozenset[str]:
    """The ``forbid=(...)`` of a test cell's ``Checks(...)`` call, read without running it."""
    try:
        tree = ast.parse(nbs.keep_hidden(source, where))
    except SyntaxError as exc:
        raise NotebookError(f"{where}: the test cell does not parse: {exc.msg}") from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Checks":
            for keyword in node.keywords:
                if keyword.arg == "forbid":
                    try:
                        value = ast.literal_eval(keyword.value)
                    except ValueError:
                        raise NotebookError(f"{where}: forbid= must be a literal tuple of "
                                           "names") from None
                    names |= set(value)
    return frozenset(names)


def used_names(source: str, own: frozenset[str] = frozenset()) -> dict[str, int]:
    """Every identifier, attribute, used import and string an answer cell uses -> a line.

    A bare name in ``own`` (a function or class the student's cells define) is the
    student's, not the kit's: a helper of theirs called ``pages_for`` is not delegation.
    An import counts only when the cell reads the name it binds (``from kit import get_order
    as g`` and ``g(...)``): an import never used reaches nothing, and the student's self-check,
    which reads the code the checked function runs, does not count it either.
    """
    try:
        nodes = syntax_nodes(source)  # walked once, read twice (and by defined_names)
    except SyntaxError:
        return {}
    return _names_in(nodes, own)


def _names_in(nodes: Sequence[ast.AST], own: frozenset[str]) -> dict[str, int]:
    """:func:`used_names` of some code's nodes (an import counts when they read its name)."""
    read = {node.id for node in nodes
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store)}
    found: dict[str, int] = {}
    for node in nodes:
        names: list[str] = []
        if isinstance(node, ast.Name) and node.id not in own:
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.alias) and (node.asname or node.name.split(".")[0]) in read:
            names = [node.name.rsplit(".", 1)[-1]]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        for name in names:
            found.setdefault(name, getattr(node, "lineno", 0))
    return found


def reached_names(cells: Mapping[str, str], graded: Iterable[str], whole: Iterable[str],
                  own: frozenset[str] = frozenset()) -> dict[str, dict[str, int]]:
    """Cell -> what the code an exercise's checks can run uses -> a line (as :func:`used_names`).

    ``cells`` are the student's cells that ran before the test cell, in notebook order (id ->
    source); ``graded`` the functions the test cell calls.  The code reached is the top-level
    definitions and bindings of those names, of every global name that code reads (a helper of
    the student's, a table, an import), and so on; and every top-level statement but a
    definition of the ``whole`` cells (the exercise's own answer cells, which run under its
    refusals).  A function defined beside the graded one, in the same cell, and never called
    by it is not reached: another exercise's answer typed into this cell is judged there.  A
    name reached in ways this reading cannot follow (``globals()[...]``) is still refused at
    run time, by code identity.
    """
    top = [(cell, statement) for cell, source in cells.items()
           for statement in _statements(source)]
    binders: dict[str, list[int]] = {}
    for index, (_, statement) in enumerate(top):
        for name in statement.bound:
            binders.setdefault(name, []).append(index)
    whole = set(whole)
    todo = [i for i, (cell, statement) in enumerate(top)
            if cell in whole and not statement.definition]
    todo += [i for name in set(graded) for i in binders.get(name, ())]
    reached: set[int] = set()
    while todo:
        index = todo.pop()
        if index not in reached:
            reached.add(index)
            todo += [i for name in top[index][1].reads for i in binders.get(name, ())]
    nodes: dict[str, list[ast.AST]] = {}
    for index in sorted(reached):
        cell, statement = top[index]
        nodes.setdefault(cell, []).extend(statement.nodes)
    return {cell: _names_in(nodes[cell], own) for cell in cells if cell in nodes}


@dataclass(frozen=True)
class _Statement:
    """A top-level statement of a cell, as :func:`reached_names` follows it."""

    definition: bool  # a def or class: reached only through its name
    bound: frozenset[str]  # the global names it binds
    reads: frozenset[str]  # the names it reads that can be globals
    nodes: tuple[ast.AST, ...]  # all of it, walked


@class_cache(maxsize=256)
def _statements(source: str) -> tuple[_Statement, ...]:
    """A cell's top-level statements, read once: every exercise of the notebook reaches
    through the same cells again, and a class shares many cells (the release stubs)."""
    try:
        body = syntax_tree(source).body
    except SyntaxError:
        return ()  # read by IPython: what it names is refused at run time
    return tuple(_Statement(isinstance(s, _DEFINITIONS), frozenset(_bound(s)),
                            frozenset(_global_reads(s)), tuple(ast.walk(s))) for s in body)


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _bound(statement: ast.stmt) -> set[str]:
    """The global names a top-level statement binds (a definition: its own name only, not
    the locals of its body)."""
    if isinstance(statement, _DEFINITIONS):
        return {statement.name}
    names: set[str] = set()
    todo: list[ast.AST] = [statement]
    while todo:
        node = todo.pop()
        if isinstance(node, _DEFINITIONS) and node is not statement:
            names.add(node.name)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        todo += ast.iter_child_nodes(node)
    return names


def _global_reads(statement: ast.stmt) -> set[str]:
    """The names a top-level statement reads that resolve to globals, in its own code and in
    every scope nested in it, as Python scopes them (:mod:`symtable`): a function's parameters
    and the names it assigns are its own, but a name assigned only in a function nested in it
    is not, so ``def inner(): helper = 1`` beside ``return helper(size)`` cannot hide the
    global ``helper`` from the reach.  Where the text cannot be read alone (a top-level
    ``await``), every name it reads."""
    try:
        top = symtable.symtable(ast.unparse(statement), "<cell>", "exec")
    except SyntaxError:
        return {node.id for node in ast.walk(statement)
                if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store)}
    reads: set[str] = set()
    tables = [top]
    while tables:
        table = tables.pop()
        tables += table.get_children()
        reads.update(symbol.get_name() for symbol in table.get_symbols()
                     if symbol.is_referenced() and (table is top or symbol.is_global()))
    return reads


def base_name(name: str) -> str:
    """``Zone`` for ``Zone.__init__`` (a class of which only making one is refused)."""
    return name.removesuffix(".__init__")


def effective_forbids(forbids: Mapping[str, frozenset[str]],
                      uses: Mapping[str, set[str]]) -> dict[str, frozenset[str]]:
    """Exercise -> the names its test cell's ``forbid=`` must list: its own, and the rest of
    the notebook's union that its reference solution does not use (a class: its constructor).

    ``forbids`` is each exercise's ``forbid=``; ``uses`` the names its reference solution's
    answer cells use.  A complete ``forbid=`` gives back itself.
    """
    union = {base_name(n) for names in forbids.values() for n in names}
    return {gid: own | _weakened(union - {base_name(n) for n in own} - uses.get(gid, set()))
            for gid, own in forbids.items()}


def unowned_forbids(forbids: Mapping[str, frozenset[str]],
                    uses: Mapping[str, set[str]]) -> frozenset[str]:
    """What a cell of no exercise refuses: the notebook's union but what any solution uses."""
    union = {base_name(n) for names in forbids.values() for n in names}
    return _weakened(union - set().union(*uses.values()) if uses else union)


def _weakened(names: Iterable[str]) -> frozenset[str]:
    """A class forbidden by another exercise: only making one is refused, not using one."""
    return frozenset(f"{name}.__init__" if _is_class(name) else name for name in names)


def _is_class(name: str) -> bool:
    return any(isinstance(value, type) for value in kit_objects(name))


def kit_objects(name: str) -> tuple[object, ...]:
    """The kit's functions, methods and classes called ``name`` (the grader's own kit)."""
    loaded = tuple(sorted(module_name for module_name in list(sys.modules)
                          if module_name == "kit" or module_name.startswith("kit.")))
    return _kit_index(loaded).get(name, ())


@class_cache(maxsize=4)
def _kit_index(loaded: tuple[str, ...]) -> dict[str, tuple[object, ...]]:
    """Name -> the kit's functions, methods and classes of that name in the kit modules
    ``loaded``, found in one walk through them (each name's own walk cost ~1 ms, for ~65
    names in every grading run).  Made again when more of the kit is loaded."""
    found: dict[str, list[object]] = {}

    def add(name: str, value: object) -> None:
        same = found.setdefault(name, [])
        if all(value is not f for f in same):
            same.append(value)

    for module_name in loaded:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for attribute, value in list(vars(module).items()):
            if getattr(value, "__module__", None) != module_name:
                continue
            add(attribute, value)
            if isinstance(value, type):
                for member_name, member in list(vars(value).items()):
                    member = getattr(member, "__func__", getattr(member, "fget", member))
                    if isinstance(member, FunctionType):
                        add(member_name, member)
    return {name: tuple(values) for name, values in found.items()}


def copied_from_kit(sources: Iterable[str], forbid: Iterable[str]) -> str | None:
    """The forbidden name whose kit source the answers copy, or None."""
    answer: set[tuple[str, ...]] = set()
    for source in sources:
        answer |= _source_shingles(source)
    if not answer:
        return None
    for name in sorted(set(forbid)):
        for shingles in _kit_shingles(name):
            shared = len(shingles & answer)
            if shared >= MIN_SHARED * len(shingles):
                return name
    return None


@class_cache(maxsize=256)
def _source_shingles(source: str) -> frozenset[tuple[str, ...]]:
    """The shingles of one answer cell: every exercise of the notebook compares the same cells
    again (its own and the others'), and a class shares many cells (the release stubs).  A few
    notebooks' worth are kept (a long cell's shingles take tens of kilobytes)."""
    return frozenset(_shingles(_tokens(source)))


@class_cache()
def _kit_shingles(name: str) -> tuple[frozenset[tuple[str, ...]], ...]:
    """The shingles of each kit function ``name`` stands for (a class: each of its methods)."""
    import inspect

    functions: list[object] = []
    for value in kit_objects(name):
        if isinstance(value, type):
            functions += [f for f in vars(value).values() if isinstance(f, FunctionType)]
        else:
            functions.append(value)
    found = []
    for function in functions:
        try:
            tokens = _tokens(inspect.getsource(function))  # type: ignore[arg-type]
        except (OSError, TypeError):
            continue  # generated code (a dataclass's __init__): nothing to paste
        if len(tokens) >= MIN_TOKENS:
            found.append(frozenset(_shingles(tokens)))
    return tuple(found)


_KEEP = frozenset(keyword.kwlist) | frozenset(dir(builtins))


def _tokens(source: str) -> list[str]:
    """The code's tokens with local names made alike: comments, strings and layout dropped."""
    import textwrap

    out: list[str] = []
    previous = ""
    try:
        for token in tokenize.generate_tokens(io.StringIO(textwrap.dedent(source)).readline):
            if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                              tokenize.DEDENT, tokenize.STRING, tokenize.ENDMARKER):
                continue
            text = token.string
            if token.type == tokenize.NAME and previous != "." and text not in _KEEP:
                text = "_"  # a renamed variable is the same code
            out.append(text)
            previous = token.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def _shingles(tokens: list[str]) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1)}
