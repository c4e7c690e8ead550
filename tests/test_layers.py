"""The layout's import rules (README, "Layout"), read from every kit module's source with ``ast``.

Layers, lowest first: core < teaching < classroom < widgets < grading < cli.  Imports go only
downhill (or within a layer); no module imports itself back through a circle; the core imports
only the standard library and kit.core; the sandboxed and the trusted parts of grading never
import each other, and the sandboxed worker sees only the core and the grading boundary.
Every import counts: top-level, inside functions, relative, under ``if TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parent.parent / "kit"
LAYERS = ("core", "teaching", "classroom", "widgets", "grading", "cli")
#: Layer packages whose __init__ must import nothing: the sandbox imports the boundary, and
#: importing any grading module runs kit.grading's __init__ first.
IMPORT_FREE = ("kit.grading", "kit.grading.boundary")
SANDBOX_MAY_IMPORT = ("kit.core", "kit.grading.boundary", "kit.grading.sandboxed")
BOUNDARY_MAY_IMPORT = ("kit.core", "kit.grading.boundary")
Graph = dict[str, set[str]]


def kit_modules(root: Path = KIT) -> dict[str, Path]:
    """Every module of the kit package by dotted name (a package by its __init__)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(source: str, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules ``module`` imports anywhere in ``source``, as absolute dotted names.

    ``from a import b`` counts as importing ``a.b`` when that is a module in ``known``, else
    as importing ``a``; relative imports are resolved from ``module``'s package.
    """
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level > 1:
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return found


def import_graph(root: Path = KIT) -> Graph:
    modules = kit_modules(root)
    known = set(modules)
    return {name: imports_of(path.read_text(), name, path.name == "__init__.py", known)
            for name, path in modules.items()}


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_of(module: str) -> str | None:
    """The layer a kit module belongs to; ``kit`` itself (the public API) is the core's."""
    if module == "kit":
        return "core"
    if module == "kit.__main__":
        return "cli"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def is_stdlib(module: str) -> bool:
    top = module.partition(".")[0]
    return top in sys.stdlib_module_names or top == "__future__"


def layer_problems(graph: Graph) -> list[str]:
    """Every import that breaks a layer rule, one line each."""
    problems = []
    for module, imported in sorted(graph.items()):
        layer = layer_of(module)
        if layer is None:
            problems.append(f"{module} is in no layer (kit.{'|'.join(LAYERS)})")
            continue
        for target in sorted(imported):
            if not within(target, "kit"):
                if within(module, "kit.core") and not is_stdlib(target):
                    problems.append(f"{module} (core) imports {target}: core is stdlib only")
                continue
            target_layer = layer_of(target)
            if target_layer is None:
                problems.append(f"{module} imports {target}, which is in no layer")
            elif LAYERS.index(target_layer) > LAYERS.index(layer):
                problems.append(f"{module} ({layer}) imports {target} ({target_layer}): uphill")
            elif within(module, "kit.core") and not within(target, "kit.core"):
                problems.append(f"{module} (core) imports {target}: core imports kit.core only")
            for side, other in (("sandboxed", "trusted"), ("trusted", "sandboxed")):
                if within(module, f"kit.grading.{side}") and within(target, f"kit.grading.{other}"):
                    problems.append(f"{module} imports {target}: {side} grading never imports "
                                    f"{other} grading")
            for package, allowed in (("kit.grading.sandboxed", SANDBOX_MAY_IMPORT),
                                     ("kit.grading.boundary", BOUNDARY_MAY_IMPORT)):
                if (within(module, package) and target != "kit"
                        and not any(within(target, a) for a in allowed)):
                    problems.append(f"{module} imports {target}: {package} may import only "
                                    f"{', '.join(allowed)}")
    return problems


def import_circles(graph: Graph) -> list[list[str]]:
    """The import circles among kit modules (strongly connected components, Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


# --------------------------------------------------------------------------- the kit itself


@pytest.fixture(scope="module")
def kit_graph() -> Graph:
    """The kit's import graph, read once for the module's tests (each only reads it)."""
    return import_graph()


def test_the_kit_has_no_uphill_import_and_keeps_the_trust_boundary(kit_graph: Graph) -> None:
    assert layer_problems(kit_graph) == []


def test_the_kit_has_no_import_circle(kit_graph: Graph) -> None:
    assert import_circles(kit_graph) == []


def test_the_command_line_is_imported_by_nothing_below_it(kit_graph: Graph) -> None:
    graph = kit_graph
    importers = {m for m, targets in graph.items() for t in targets if within(t, "kit.cli")}
    assert importers <= {m for m in graph if layer_of(m) == "cli"}


def test_the_grading_package_and_its_boundary_import_nothing(kit_graph: Graph) -> None:
    for package in IMPORT_FREE:
        assert {t for t in kit_graph[package] if t != "__future__"} == set(), package


def test_every_layer_package_says_what_it_may_import() -> None:
    modules = kit_modules()
    packages = [f"kit.{layer}" for layer in LAYERS] + [
        "kit.grading.boundary", "kit.grading.sandboxed", "kit.grading.trusted"]
    present = [p for p in packages if p in modules]  # kit.classroom arrives with issue 23
    assert len(present) >= 7
    for package in present:
        doc = ast.get_docstring(ast.parse(modules[package].read_text()))
        assert doc and "import" in doc.splitlines()[0], f"{package}: first docstring line"


# ------------------------------------------------------------- the checks themselves can fail

KNOWN = {"kit", "kit.core.zone", "kit.core.events", "kit.teaching.practice",
         "kit.widgets.theme", "kit.grading.trusted.harness", "kit.grading.sandboxed.worker",
         "kit.grading.boundary.wire", "kit.cli", "kit.cli.present"}


@pytest.mark.parametrize(("graph", "expected"), [
    ({"kit.core.zone": {"kit.widgets.theme"}}, "uphill"),
    ({"kit.teaching.practice": {"kit.widgets.theme"}}, "uphill"),
    ({"kit.teaching.practice": {"kit.classroom.client"}}, "uphill"),
    ({"kit.widgets.theme": {"kit.grading.boundary.wire"}}, "uphill"),
    ({"kit.grading.trusted.harness": {"kit.cli.present"}}, "uphill"),
    ({"kit.grading.sandboxed.worker": {"kit.grading.trusted.harness"}}, "never imports"),
    ({"kit.grading.trusted.harness": {"kit.grading.sandboxed.worker"}}, "never imports"),
    ({"kit.grading.sandboxed.worker": {"kit.teaching.practice"}}, "may import only"),
    ({"kit.grading.boundary.wire": {"kit.grading.sandboxed.worker"}}, "may import only"),
    ({"kit.core.zone": {"numpy"}}, "stdlib only"),
    ({"kit.core.zone": {"kit"}}, "kit.core only"),
    ({"kit.helpers": {"kit.core.zone"}}, "no layer"),
])
def test_a_broken_rule_is_reported(graph: Graph, expected: str) -> None:
    problems = layer_problems(graph)
    assert any(expected in problem for problem in problems), problems


def test_allowed_imports_are_not_reported() -> None:
    graph = {
        "kit": {"kit.core.zone"},
        "kit.core.zone": {"kit.core.events", "collections.abc", "__future__"},
        "kit.teaching.practice": {"kit.core.zone", "kit"},
        "kit.classroom.service": {"kit.teaching.practice", "asyncio"},  # issue 23's layer
        "kit.widgets.theme": {"kit.classroom.service", "ipywidgets"},
        "kit.grading.sandboxed.worker": {"kit", "kit.grading.boundary.wire", "kit.core.zone"},
        "kit.grading.trusted.harness": {"kit.teaching.practice", "kit.grading.boundary.wire"},
        "kit.cli": {"kit.cli.present", "kit.grading.trusted.harness", "kit.widgets.theme"},
        "kit.__main__": {"kit.cli"},
    }
    assert layer_problems(graph) == []


def test_circles_are_found() -> None:
    graph = {"kit.cli": {"kit.cli.present"}, "kit.cli.present": {"kit.cli"},
             "kit.core.zone": {"kit.core.zone"}, "kit.core.events": set()}
    assert import_circles(graph) == [["kit.cli", "kit.cli.present"], ["kit.core.zone"]]
    assert import_circles({"kit.cli": {"kit.cli.present"}, "kit.cli.present": set()}) == []


def test_every_kind_of_import_is_read() -> None:
    source = (
        "import json\n"
        "from kit.core import zone\n"
        "from . import present\n"
        "from ..core.events import Event\n"
        "def later():\n"
        "    from kit.grading.trusted import harness\n"
        "if False:\n"
        "    import kit.teaching.practice\n"
    )
    assert imports_of(source, "kit.cli", True, KNOWN) == {
        "json", "kit.core.zone", "kit.cli.present", "kit.core.events",
        "kit.grading.trusted.harness", "kit.teaching.practice"}
    assert imports_of("from .zone import Zone\n", "kit.core.events", False, KNOWN) == {
        "kit.core.zone"}
