"""``kit release``: exercises/ is exactly what releasing solutions/ writes, and hides answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nbgrader_course import headless_jupyter_path

from kit.cli import main
from kit.grading.trusted import notebooks as nbs
from kit.grading.trusted import release as releasing
from kit.grading.trusted.notebooks import NotebookError
from kit.grading.trusted.release import release_differences, student_version, validate_source

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"


def all_cells(folder: Path) -> list[tuple[str, object]]:
    return [(path.name, cell) for path in sorted(folder.glob("*.ipynb"))
            for cell in nbs.read_notebook(path).cells]


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """What ``kit release`` writes for solutions/, its solutions checked first: made once for
    the module (eight kernels), then handed to the tests that compare a folder with it.

    Its kernels are the suite's headless ``python3`` (nbval's and nbgrader's, held to the
    installed kernel by tests/test_headless_kernel.py): a release is a batch run whose stored
    outputs no debugger or input history reaches, and ~0.25 CPU-s less a kernel (installed
    0.64-0.71 against 0.39-0.42 CPU-s from start to exit, 2026-12-07, load 10-13).  nbval
    already compares exercises/' stored outputs with a headless run of each notebook."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", headless_jupyter_path())
        return releasing.release(SOLUTIONS, tmp_path_factory.mktemp("released"), check=True)


@pytest.fixture()
def release_once(released: list[Path], monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """``release`` answers with the module's one release, written into the folder it is given,
    when asked for what it made: solutions/, checked.  Returns the calls it answered."""
    calls: list[tuple] = []

    def release(source: Path, out: Path, *, execute: bool = True,
                check: bool = True) -> list[Path]:
        calls.append((Path(source).resolve(), execute, check))
        assert calls[-1] == (SOLUTIONS, True, True), "not the release this module made"
        for path in released:
            (Path(out) / path.name).write_bytes(path.read_bytes())
        return [Path(out) / path.name for path in released]

    monkeypatch.setattr(releasing, "release", release)
    return calls


def test_exercises_are_what_kit_release_writes(release_once: list[tuple]) -> None:
    problems = release_differences(SOLUTIONS, EXERCISES)
    assert release_once, "the comparison is with a release made here"
    assert not problems, (
        "exercises/ is stale: " + "; ".join(problems)
        + ". Run `kit release` (and commit exercises/)."
    )


def test_course_size_and_metadata() -> None:
    tests = [(name, cell) for name, cell in all_cells(SOLUTIONS) if nbs.is_test(cell)]
    assert len(tests) >= 12
    assert len({name for name, _ in tests}) >= 4
    for _, cell in all_cells(SOLUTIONS):
        meta = nbs.nbgrader(cell)
        if meta:
            assert meta["schema_version"] == 3
            assert set(meta) >= {"grade", "grade_id", "locked", "solution"}
    for _, cell in tests:
        assert nbs.points(cell) > 0 and nbs.nbgrader(cell)["locked"]


def test_no_answer_or_hidden_test_reaches_students() -> None:
    solutions = {(name, nbs.grade_id(c)): c for name, c in all_cells(SOLUTIONS)}
    for name, cell in all_cells(EXERCISES):
        source = cell.source
        assert nbs.BEGIN_SOLUTION not in source and nbs.BEGIN_HIDDEN not in source
        if nbs.is_answer(cell):
            assert "raise NotImplementedError(" in source
            original = solutions[(name, nbs.grade_id(cell))].source
            answer = original.split(nbs.BEGIN_SOLUTION)[1].split(nbs.END_SOLUTION)[0]
            code = [ln.strip() for ln in answer.splitlines()
                    if ln.strip() and not ln.strip().startswith("#")]
            visible = "\n".join(ln for ln in source.splitlines()
                                if not ln.strip().startswith('"'))  # the hint may quote code
            assert not any(line in visible for line in code if len(line) > 12), name
        if nbs.is_test(cell):
            assert "Checks(" in source
            # what the student sees is "not yet answered" with the hint, never an error
            text = "".join(o.get("text", "") for o in cell.outputs)
            assert text.startswith("not yet answered: ") and len(text) > 30
            assert all(o["output_type"] == "stream" for o in cell.outputs)


def test_stub_keeps_indentation_and_hint() -> None:
    source = (
        "def f(x):\n"
        "    # HINT: double it;\n"
        "    # HINT: no tricks.\n"
        "    ### BEGIN SOLUTION\n"
        "    return 2 * x\n"
        "    ### END SOLUTION\n"
    )
    stub = nbs.stub_source(source, "here")
    assert stub == (
        "def f(x):\n"
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError(\n"
        '        "double it; no tricks."\n'
        "    )"
    )
    namespace: dict[str, object] = {}
    exec(stub, namespace)  # noqa: S102 - the stub must be valid Python
    with pytest.raises(NotImplementedError, match="double it; no tricks."):
        namespace["f"](1)  # type: ignore[operator]


def test_a_hint_inside_the_solution_region_is_refused() -> None:
    # nbgrader's generate_assignment deletes the whole region: the hint would never reach students
    source = "def f(x):\n    ### BEGIN SOLUTION\n    # HINT: double it\n    return 2 * x\n" \
             "    ### END SOLUTION\n"
    with pytest.raises(NotebookError, match="right above '### BEGIN SOLUTION'"):
        nbs.stub_source(source, "cell 3")


def test_every_solution_hint_sits_above_its_region() -> None:
    for name, cell in all_cells(SOLUTIONS):
        if nbs.is_answer(cell):
            lines = cell.source.splitlines()
            for index, line in enumerate(lines):
                if line.strip() == nbs.BEGIN_SOLUTION:
                    assert lines[index - 1].strip().startswith(nbs.HINT_PREFIX), (name, index)


def replace_in_test_cell(nb: object, old: str, new: str) -> None:
    cell = next(c for c in nb.cells if nbs.is_test(c))  # type: ignore[attr-defined]
    assert old in cell.source
    cell.source = cell.source.replace(old, new)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("\nt.points(3)", "\n", "a last line t.points\\(3\\)"),  # nbgrader: full points
        ("t.points(3)", "t.points(2)", "a last line t.points\\(3\\)"),
        (", partial=True)", ")", "needs Checks\\(..., partial=True\\)"),
    ],
)
def test_partial_credit_is_declared_for_both_graders(old: str, new: str, message: str) -> None:
    nb = nbs.read_notebook(SOLUTIONS / "01-orders.ipynb")
    replace_in_test_cell(nb, old, new)
    with pytest.raises(NotebookError, match=message):
        validate_source(nb, "here")


def test_partial_checks_without_kit_metadata_are_refused() -> None:
    nb = nbs.read_notebook(SOLUTIONS / "01-orders.ipynb")
    del next(c for c in nb.cells if nbs.is_test(c)).metadata["kit"]
    with pytest.raises(NotebookError, match="kit grade's partial credit"):
        validate_source(nb, "here")


def test_hidden_tests_are_removed_for_students_and_kept_for_grading() -> None:
    source = "a = 1\n### BEGIN HIDDEN TESTS\nb = 2\n### END HIDDEN TESTS\nc = 3"
    assert nbs.strip_hidden(source, "here") == "a = 1\nc = 3"
    assert nbs.keep_hidden(source, "here") == "a = 1\nb = 2\nc = 3"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1\n", "without '### END SOLUTION'"),
        ("x = 1\n### END SOLUTION\n", "without '### BEGIN SOLUTION'"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
    ],
)
def test_broken_markers_are_clear_errors(source: str, message: str) -> None:
    with pytest.raises(NotebookError, match=message):
        nbs.stub_source(source, "cell 3")


def test_source_validation_catches_duplicate_ids_and_pointless_tests() -> None:
    nb = nbs.read_notebook(SOLUTIONS / "01-orders.ipynb")
    validate_source(nb, "ok")
    tests = [c for c in nb.cells if nbs.is_test(c)]
    tests[1].metadata["nbgrader"]["grade_id"] = nbs.grade_id(tests[0])
    with pytest.raises(NotebookError, match="used twice"):
        validate_source(nb, "dup")
    nb = nbs.read_notebook(SOLUTIONS / "01-orders.ipynb")
    next(c for c in nb.cells if nbs.is_test(c)).metadata["nbgrader"]["points"] = 0
    with pytest.raises(NotebookError, match="points > 0"):
        validate_source(nb, "zero")


def test_student_version_clears_outputs() -> None:
    nb = student_version(nbs.read_notebook(SOLUTIONS / "01-orders.ipynb"), "x")
    assert all(c.outputs == [] and c.execution_count is None
               for c in nb.cells if c.cell_type == "code")


def test_stored_notebooks_are_stable_text() -> None:
    for path in sorted(SOLUTIONS.glob("*.ipynb")) + sorted(EXERCISES.glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        assert nbs.notebook_text(nbs.read_notebook(path)) == text, path
        data = json.loads(text)
        assert all("execution" not in c["metadata"] for c in data["cells"])


def test_release_cli_errors_are_plain(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    assert main(["release", "--source", str(tmp_path / "nowhere"), "--out",
                 str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith("error: source folder")


def test_release_check_reports_a_stale_folder(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              release_once: list[tuple]) -> None:
    stale = tmp_path / "exercises"
    stale.mkdir()
    for path in EXERCISES.glob("*.ipynb"):
        (stale / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (stale / "99-extra.ipynb").write_text("{}", encoding="utf-8")
    first = sorted(stale.glob("0*.ipynb"))[0]
    first.write_text(first.read_text(encoding="utf-8").replace("YOUR CODE HERE", "TODO"),
                     encoding="utf-8")
    assert main(["release", "--check", "--source", str(SOLUTIONS), "--out", str(stale)]) == 1
    out = capsys.readouterr().out
    assert f"{first} differs" in out and "99-extra.ipynb has no source" in out
    assert "run `kit release" in out
    assert len(release_once) == 1  # the CLI compared with one release of solutions/, checked
