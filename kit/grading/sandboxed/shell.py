"""UNTRUSTED side: run an answer cell the way the notebook ran it, IPython syntax included.

A student's cell may hold what only IPython reads: ``%timeit f(1)``, a ``%%time`` cell,
``!ls``, ``f?``.  The worker first compiles a cell as plain Python; only when that fails does
it ask IPython's own input transformer (``IPython.core.inputtransformer2.TransformerManager``,
what the notebook's kernel uses) to rewrite the cell, so a plain cell never pays for importing
IPython and a magic is read exactly as the kernel read it.

The rewritten cell calls ``get_ipython()``; in the worker that is a :class:`NotebookShell`
bound to the notebook's namespace, which maps each magic to something harmless in the
sandbox and documented in the README:

* ``%time STATEMENT``, ``%timeit STATEMENT`` (options such as ``-n 10 -r 3`` dropped) and the
  cell magics ``%%time``, ``%%timeit`` (its line is the set-up statement) and ``%%capture`` run
  their code **once**, in the notebook's namespace, and time nothing;
  ``x = %time f(1)`` gives ``f(1)``;
* a shell command (``!cmd``, ``%%bash``, ``%%sh``, ``%%script``, ``%%writefile``...) does nothing
  (``x = !ls`` gives an empty list): the sandbox runs Python, not the student's shell;
* help (``f?``, ``f??``) and every other magic (``%matplotlib``, ``%load_ext``...) do nothing;
* any other attribute of ``get_ipython()`` is a function that does nothing, so a notebook's
  ``get_ipython().set_custom_exc(...)`` changes nothing here;
* ``display(...)``, which a kernel provides without an import, shows nothing.
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

#: Magics whose code runs once; the value is the magic's options that take an argument.
RUN_ONCE = {"time": "", "timeit": "nrp", "capture": ""}


def load_reader() -> Any:
    """IPython's input transformer class, imported (a second or more: the grader asks for it
    before an exercise's clock starts when a cell needs it), or None without IPython."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return None
    return TransformerManager


def transform(source: str) -> str | None:
    """The cell as IPython's input transformer rewrites it, or None without IPython."""
    reader = load_reader()
    if reader is None:
        return None
    try:
        return str(reader().transform_cell(source))
    except Exception:  # a cell IPython cannot read either: the plain SyntaxError says why
        return None


def cell_code(source: str, filename: str) -> Any:
    """The compiled cell: plain Python if it is, else IPython's reading of it."""
    try:
        return compile(source, filename, "exec")
    except SyntaxError as plain:
        rewritten = transform(source)
        if rewritten is None or rewritten == source:
            raise
        try:
            return compile(rewritten, filename, "exec")
        except SyntaxError:
            raise plain from None


def statement(magic: str, line: str) -> str:
    """The code of a ``%time``/``%timeit`` line without the magic's options."""
    words = shlex.split(line, posix=False) if line.strip() else []
    takes_value = RUN_ONCE.get(magic, "")
    skip = 0
    while skip < len(words) and words[skip].startswith("-") and len(words[skip]) > 1:
        option = words[skip][1]
        has_value = option in takes_value and len(words[skip]) == 2
        skip += 2 if has_value else 1
    if skip == 0:
        return line.strip()
    rest = line
    for word in words[:skip]:
        rest = rest.split(word, 1)[1]
    return rest.strip()


def display(*objects: object, **options: object) -> None:
    """IPython's ``display`` builtin: nothing is shown in the sandbox."""


def kernel_names(namespace: dict[str, Any]) -> dict[str, Any]:
    """The names a notebook's kernel gives every cell without an import."""
    return {"get_ipython": NotebookShell(namespace), "display": display}


class NotebookShell:
    """``get_ipython()`` inside the worker (see the module docstring)."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.filename = "<answer>"  # the running cell's, set by the worker before each cell

    def __call__(self) -> NotebookShell:
        return self

    def _run(self, code: str, first_line: int) -> Any:
        padded = "\n" * (first_line - 1) + code  # errors name the cell's own line numbers
        try:
            expression = compile(padded, self.filename, "eval")
        except SyntaxError:
            exec(compile(padded, self.filename, "exec"), self.namespace)
            return None
        return eval(expression, self.namespace)

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> Any:
        if name not in RUN_ONCE or name == "capture":
            return None
        value = self._run(statement(name, line), sys._getframe(1).f_lineno)
        return value if name == "time" else None

    def run_cell_magic(self, name: str, line: str, cell: str) -> Any:
        if name not in RUN_ONCE:
            return None
        if name == "timeit" and statement(name, line):
            self._run(statement(name, line), 1)
        self._run(cell, 2)
        return None

    def system(self, command: str) -> None:
        return None

    def getoutput(self, command: str, split: bool = True, depth: int = 0) -> list[str]:
        return []

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None
