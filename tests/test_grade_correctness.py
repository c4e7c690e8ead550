"""Answers are run the way the notebook ran them (issue 19, item 1), piece by piece.

IPython syntax is read by IPython's own transformer and mapped to something harmless in the
sandbox; cells the student added run in notebook order; numbers of numpy and of the numeric
tower cross the boundary as the plain values they equal, converted on the worker's side; a
student's own function named like a kit helper is not delegation.  The whole class of such
students is graded in ``tests/test_grade_class_correctness.py``.
"""

from __future__ import annotations

import copy
import fractions
from pathlib import Path

import nbformat
import numpy as np
import pytest

from kit.grading.boundary import checks, wire
from kit.grading.sandboxed.shell import NotebookShell, cell_code, kernel_names, statement
from kit.grading.trusted import notebooks as nbs
from kit.grading.trusted.grading import load_source, rebuild

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------- numbers as plain data
@pytest.mark.parametrize(("value", "plain"), [
    (np.int64(7), 7), (np.float64(0.5), 0.5), (np.bool_(True), True), (np.array(3), 3),
    (np.uint8(255), 255), (fractions.Fraction(6, 3), 2), (fractions.Fraction(1, 4), 0.25),
    ([np.int64(1), (np.int32(2), np.bool_(False))], [1, (2, False)]),
    ({np.int64(1): [np.float32(1.5)]}, {1: [1.5]}), ({np.int64(4)}, {4}),
    (np.str_("same"), "same"),
])
def test_numbers_become_the_plain_values_they_equal(value: object, plain: object) -> None:
    converted = wire.to_plain(value)
    assert converted == plain
    assert repr(converted) == repr(plain)  # the plain types, not numpy's
    wire.encode(converted)  # and the strict codec takes them


def test_the_codec_itself_stays_strict_and_arrays_stay_arrays() -> None:
    with pytest.raises(wire.WireError, match="a int64 is not plain data"):
        wire.encode(np.int64(1))
    array = np.array([1, 2])
    assert wire.to_plain(array) is array  # a list of numbers is not an array: encode refuses
    with pytest.raises(wire.WireError, match="ndarray"):
        wire.encode(wire.to_plain(array))


def test_the_self_check_accepts_what_the_grader_accepts() -> None:
    assert checks.same(np.bool_(True), True) and not checks.same(np.bool_(True), 1)
    assert checks.same(np.int64(3), 3) and checks.same(np.float64(0.1 + 0.2), 0.3)
    assert checks.same([np.int64(1), np.int64(2)], [1, 2])
    assert not checks.same(np.int64(3), 4)


# ------------------------------------------------------------------------------ IPython syntax
def run_cell(source: str, namespace: dict[str, object]) -> None:
    exec(cell_code(source, "<answer test>"), namespace)


def test_magics_run_their_code_once_and_shell_commands_do_nothing() -> None:
    namespace: dict[str, object] = {"calls": []}
    namespace["get_ipython"] = NotebookShell(namespace)
    run_cell("def f(x):\n    calls.append(x)\n    return x + 1\n", namespace)
    run_cell("%timeit -n 100 -r 7 f(1)\nvalue = %time f(2)\n!rm -rf /\nfiles = !ls\nf?\nf??\n"
             "%matplotlib inline\n", namespace)
    assert namespace["calls"] == [1, 2] and namespace["value"] == 3
    assert namespace["files"] == []
    run_cell("%%time\ny = f(10)\n", namespace)
    run_cell("%%timeit z = 5\nf(z)\n", namespace)
    run_cell("%%bash\nrm -rf /\n", namespace)
    assert namespace["y"] == 11 and namespace["calls"] == [1, 2, 10, 5]


def test_a_cell_may_use_what_a_kernel_gives_without_an_import() -> None:
    namespace: dict[str, object] = {}
    namespace.update(kernel_names(namespace))
    run_cell("display(1, 'x')\nshell = get_ipython()\nshell.set_custom_exc((Exception,), None)\n"
             "value = 2\n", namespace)
    assert namespace["value"] == 2 and namespace["shell"] is namespace["get_ipython"]


def test_an_error_inside_a_magic_names_the_cell_line() -> None:
    namespace: dict[str, object] = {}
    namespace["get_ipython"] = NotebookShell(namespace)
    with pytest.raises(ZeroDivisionError) as caught:
        run_cell("%%time\nx = 1\ny = 1 / 0\n", namespace)
    assert caught.traceback[-1].lineno + 1 == 3  # pytest counts from 0


def test_plain_python_never_goes_through_ipython_and_bad_syntax_stays_an_error() -> None:
    assert cell_code("x = 1\n", "<answer a>").co_filename == "<answer a>"
    with pytest.raises(SyntaxError):
        cell_code("def f(:\n", "<answer a>")
    assert statement("timeit", "-n 10 -r 3 -q f(1, -2)") == "f(1, -2)"
    assert statement("time", "x = -1") == "x = -1"


# -------------------------------------------------------------------------------- added cells
def test_cells_the_student_added_run_where_the_notebook_ran_them() -> None:
    source = load_source(ROOT / "solutions")
    nb = copy.deepcopy(nbs.read_notebook(ROOT / "exercises" / "01-orders.ipynb"))
    position = next(i for i, c in enumerate(nb.cells) if nbs.grade_id(c) == "orders-get-order")
    nb.cells.insert(position, nbformat.v4.new_code_cell("import math"))
    nb.cells.insert(0, nbformat.v4.new_code_cell("HELPER = 1"))
    nb.cells.append(nbformat.v4.new_markdown_cell("my notes"))
    nb.cells.append(nbformat.v4.new_code_cell("print('the end')"))
    rebuilt = rebuild(source, "01-orders.ipynb", nb)
    kinds = [(s.kind, s.source if s.kind == "added" else s.grade_id) for s in rebuilt.steps]
    assert kinds[0] == ("added", "HELPER = 1")
    at = kinds.index(("answer", "orders-get-order"))
    assert kinds[at - 1] == ("added", "import math")
    assert kinds[-1] == ("added", "print('the end')")
    assert not rebuilt.tampering and not rebuilt.missing_answers


# ------------------------------------------------------------------------ a name is not a call
OWN_PAGES_FOR = """def pages_for(size):
    return -(-size // 4096)


def my_pages_for(size):
    return pages_for(size)
"""


def test_a_helper_of_the_students_own_named_like_a_kit_one_is_not_delegation() -> None:
    """The self-check's side (in the notebook, and under nbgrader); the grader's is the
    ``own-pages-for`` student of tests/fixtures/class-correctness, graded in full."""
    forbid = frozenset({"pages_for"})
    namespace: dict[str, object] = {}
    exec(OWN_PAGES_FOR, namespace)
    assert checks.forbidden_names(namespace["my_pages_for"], forbid) == set()
    exec("import kit\n\ndef my_pages_for(size):\n    return kit.pages_for(size)\n", namespace)
    assert checks.forbidden_names(namespace["my_pages_for"], forbid) == {"pages_for"}
    exec("from kit import pages_for\n\ndef my_pages_for(size):\n    return pages_for(size)\n",
         namespace)
    assert checks.forbidden_names(namespace["my_pages_for"], forbid) == {"pages_for"}
    exec("def my_pages_for(size):\n    return getattr(kit, 'pages_for')(size)\n", namespace)
    assert checks.forbidden_names(namespace["my_pages_for"], forbid) == {"pages_for"}


# -------------------------------------------------------------- the solution checked, by content
def test_a_solutions_verdict_is_remembered_by_content(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from kit.grading.trusted import reference

    nb = nbs.read_notebook(ROOT / "solutions" / "01-orders.ipynb")
    cache = tmp_path / reference.CACHE_FILE
    assert reference.cached_failures(nb, "01", lambda gid, base: base, cache) == {}
    assert cache.exists()

    def not_again(*args: object) -> dict[str, str]:
        raise AssertionError("the solution ran again")

    monkeypatch.setattr(reference, "solution_failures", not_again)
    assert reference.cached_failures(nb, "01", lambda gid, base: base, cache) == {}
    with pytest.raises(AssertionError, match="ran again"):  # other seeds: checked again
        reference.cached_failures(nb, "01", lambda gid, base: base + 1, cache)
    test = next(c for c in nb.cells if nbs.grade_id(c) == "orders-fits-tests")
    test.source = test.source.replace("(5 << 20,), False", "(5 << 20,), True")
    with pytest.raises(AssertionError, match="ran again"):  # another test: checked again
        reference.cached_failures(nb, "01", lambda gid, base: base, cache)
    monkeypatch.undo()
    failures = reference.cached_failures(nb, "01", lambda gid, base: base, cache)
    assert list(failures) == ["orders-fits-tests"]
    assert "its hidden check failed: ✘ fits_one_block(5 MiB)" in failures["orders-fits-tests"]
