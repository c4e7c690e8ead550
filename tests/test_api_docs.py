"""README.md's Public API section is checked against the code, so the two cannot drift.

- The reference list between the ``api-reference`` markers is generated from ``kit.__all__``:
  each name's signature (with its type hints) and the first paragraph of its docstring (``#:``
  comments for constants).  Refresh it with ``.venv/bin/python tests/test_api_docs.py --write``.
- The example is a doctest: it runs, and its outputs are compared.
- Every ``kit.…`` name and every ``zone.…`` member the prose mentions must exist.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import kit

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- api-reference: generated from the docstrings by tests/test_api_docs.py --write -->"
END = "<!-- /api-reference -->"


# ---------------------------------------------------------------------------------- rendering
def summary(doc: str | None) -> str:
    """The first paragraph of a docstring on one line, Sphinx roles turned into code spans."""
    first = (doc or "").strip().split("\n\n")[0]
    text = " ".join(line.strip() for line in first.splitlines())
    return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)


def annotation_text(annotation: Any) -> str:
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def signature_text(function: Any) -> str:
    """``(a: int, *, b: str = 'x') -> None`` without the quotes deferred annotations get."""
    sig = inspect.signature(function)
    parts: list[str] = []
    star_written = False
    params = [p for p in sig.parameters.values() if p.name != "self"]
    for param in params:
        if param.kind is param.KEYWORD_ONLY and not star_written:
            parts.append("*")
            star_written = True
        text = {param.VAR_POSITIONAL: "*", param.VAR_KEYWORD: "**"}.get(param.kind, "")
        text += param.name
        star_written |= param.kind is param.VAR_POSITIONAL
        if param.annotation is not param.empty:
            text += f": {annotation_text(param.annotation)}"
        if param.default is not param.empty:
            text += f" = {param.default!r}"
        parts.append(text)
    result = f"({', '.join(parts)})"
    if sig.return_annotation is not sig.empty:
        result += f" -> {annotation_text(sig.return_annotation)}"
    return result


def constant_comment(name: str, value: object) -> str:
    """The ``#:`` comment above a module constant's assignment (its documentation)."""
    for module in list(sys.modules.values()):
        if not module.__name__.startswith("kit.") or vars(module).get(name) is not value:
            continue
        lines = inspect.getsource(module).splitlines()
        for i, line in enumerate(lines):
            if re.match(rf"{name}\s*[:=]", line):
                comment = []
                while i > 0 and lines[i - 1].startswith("#:"):
                    i -= 1
                    comment.insert(0, lines[i][2:].strip())
                return " ".join(comment)
    return ""


def public_members(cls: type) -> list[tuple[str, Any]]:
    """Methods and properties a class defines itself, in source order."""
    return [(name, member) for name, member in vars(cls).items()
            if not name.startswith("_") and (inspect.isfunction(member)
                                             or isinstance(member, property))]


def render_reference() -> str:
    lines = [BEGIN]
    for name in kit.__all__:
        obj = getattr(kit, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            lines.append(f"- `kit.{name}` ({obj.__mro__[1].__name__}): {summary(obj.__doc__)}")
        elif inspect.isclass(obj):
            constructor = signature_text(obj).removesuffix(" -> None")
            lines.append(f"- `kit.{name}{constructor}`: {summary(obj.__doc__)}")
            for member_name, member in public_members(obj):
                if isinstance(member, property):
                    hint = annotation_text(inspect.signature(member.fget).return_annotation)
                    lines.append(f"  - `.{member_name}: {hint}` (property): "
                                 f"{summary(member.__doc__)}")
                else:
                    lines.append(f"  - `.{member_name}{signature_text(member)}`: "
                                 f"{summary(member.__doc__)}")
        elif callable(obj):
            lines.append(f"- `kit.{name}{signature_text(obj)}`: {summary(obj.__doc__)}")
        else:
            lines.append(f"- `kit.{name}`: {constant_comment(name, obj)}")
    lines.append(END)
    return "\n".join(lines)


# ------------------------------------------------------------------------------ the README
def api_section() -> str:
    text = README.read_text()
    start = text.index("## Public API")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def reference_block() -> str:
    section = api_section()
    if BEGIN not in section or END not in section:
        pytest.fail(f"README's Public API section lacks the {BEGIN!r} ... {END!r} block")
    return section[section.index(BEGIN):section.index(END) + len(END)]


def test_reference_matches_the_docstrings() -> None:
    assert reference_block() == render_reference(), (
        "README's API reference differs from the docstrings: run "
        "`.venv/bin/python tests/test_api_docs.py --write` and review the diff"
    )


@pytest.mark.parametrize("name", kit.__all__)
def test_every_public_name_is_documented_and_typed(name: str) -> None:
    obj = getattr(kit, name)
    if not (inspect.isclass(obj) or callable(obj)):
        assert constant_comment(name, obj), f"kit.{name} has no #: comment"
        return
    assert summary(obj.__doc__), f"kit.{name} has no docstring"
    functions = [obj] if not inspect.isclass(obj) else [
        m.fget if isinstance(m, property) else m for _, m in public_members(obj)
    ]
    for function in functions:
        assert summary(function.__doc__), f"{function.__qualname__} has no docstring"
        sig = inspect.signature(function)
        untyped = [p.name for p in sig.parameters.values()
                   if p.annotation is p.empty and p.name != "self"]
        assert untyped == [], f"{function.__qualname__}: parameters without a type hint"
        if function.__name__ != "__init__":
            assert sig.return_annotation is not sig.empty, f"{function.__qualname__}: no return"


def test_readme_example_runs_as_written() -> None:
    (code,) = re.findall(r"```python\n(.*?)```", api_section(), re.S)
    assert ">>> " in code, "the example is a doctest: lines start with >>>"
    test = doctest.DocTestParser().get_doctest(code, {}, "README Public API", str(README), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 5 and result.failed == 0


def resolve(dotted: str) -> object:
    """``kit.teaching.report.presets_table`` -> the object, importing modules on the way."""
    parts = dotted.split(".")
    obj: object = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=1):
        if not hasattr(obj, part):
            importlib.import_module(".".join(parts[:i + 1]))
        obj = getattr(obj, part)
    return obj


def test_names_the_prose_mentions_exist() -> None:
    prose = api_section().replace(reference_block(), "")
    kit_names = set(re.findall(r"`(kit(?:\.\w+)+)", prose))
    assert len(kit_names) > 10
    for dotted in sorted(kit_names):
        if dotted.startswith("kit.widgets"):
            continue  # a layer with its own extra; its names are not part of the core API
        resolve(dotted)
    zone_attributes = set(re.findall(r"`zone\.(\w+)", prose))
    assert len(zone_attributes) >= 3
    for name in sorted(zone_attributes):
        assert hasattr(kit.Zone(16), name), f"README mentions `zone.{name}`; Zone has no {name}"
    known = set(dir(kit.Zone)) | set(dir(kit))
    for module in ("core.metrics", "core.procfs", "core.workload", "core.events", "teaching.report",
                   "core.trace", "core.replay"):
        for value in vars(resolve(f"kit.{module}")).values():
            known |= set(dir(value)) if inspect.isclass(value) else set()
        known |= set(dir(resolve(f"kit.{module}")))
    calls = set(re.findall(r"`(?:\w+\.)*(\w+)\(", prose))
    assert len(calls) > 10
    missing = sorted(name for name in calls if name not in known)
    assert missing == [], f"README's API prose calls functions the core does not have: {missing}"


def write_reference() -> None:
    text = README.read_text()
    if BEGIN in text:
        start, end = text.index(BEGIN), text.index(END) + len(END)
        text = text[:start] + render_reference() + text[end:]
    else:
        layout = text.index("\n## ", text.index("## Public API") + 1)
        text = text[:layout] + "\n" + render_reference() + "\n" + text[layout:]
    README.write_text(text)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_api_docs.py --write  (rewrites README's API reference)")
    write_reference()
