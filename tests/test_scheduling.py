"""How the root conftest.py shares the suite out over pytest-xdist's workers.

Its table of long scopes is hand-kept, so a renamed or deleted test file must fail here rather
than silently lose its place.  To re-measure the table, run the suite with ``--durations=0`` and
sum the lines by ``conftest.xdist_scope`` of their test ids.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Generator
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _root_conftest():  # noqa: ANN202 - a module
    """The root conftest.py, loaded by its path: ``import conftest`` would find whichever
    conftest pytest imported last (tests/browser/ and tests/fixtures/ have their own)."""
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


conftest = _root_conftest()
LONGEST_FIRST, SHARED_STATE = conftest.LONGEST_FIRST, conftest.SHARED_STATE
rank, xdist_scope = conftest.rank, conftest.xdist_scope


def test_every_long_scope_entry_names_a_test_file_that_exists() -> None:
    for entry in LONGEST_FIRST:
        if entry in SHARED_STATE:
            continue
        path = entry.split("::", 1)[0]  # a file, a folder, or the start of file names
        assert list(ROOT.glob(f"{path}*")), f"LONGEST_FIRST names {path}, which is gone"
    for modules in SHARED_STATE.values():
        for path in modules:
            assert (ROOT / path).is_file(), f"SHARED_STATE names {path}, which is gone"


def test_a_notebooks_cells_stay_in_one_worker() -> None:
    cells = [f"solutions/01-orders.ipynb::Cell {n}" for n in range(3)]
    assert {xdist_scope(cell) for cell in cells} == {"solutions/01-orders.ipynb"}


def test_a_module_with_a_module_scoped_fixture_stays_in_one_worker() -> None:
    # test_packaging builds its wheel in a module-scoped fixture, test_orders has none
    tests = ["tests/test_packaging.py::test_a", "tests/test_packaging.py::test_b"]
    assert {xdist_scope(t) for t in tests} == {"tests/test_packaging.py"}
    assert conftest.has_shared_fixture("tests/test_packaging.py")
    assert not conftest.has_shared_fixture("tests/test_orders.py")
    assert xdist_scope("tests/test_orders.py::test_x") == "tests/test_orders.py::test_x"


def test_the_slide_tests_lessons_spread_over_the_workers_longest_first() -> None:
    """test_slides.py checks a lesson at both window sizes in one test (one Voila load), so its
    lessons share nothing: each is a scope of its own, lesson 8 (the longest) first."""
    test = "tests/browser/test_slides.py::test_every_slide_fits_the_screen_in_large_type"
    assert not conftest.has_shared_fixture("tests/browser/test_slides.py")
    assert xdist_scope(f"{test}[05-tabi-2008-patch]") != xdist_scope(f"{test}[01-start-here]")
    assert rank(f"{test}[08-watch-your-kernel]") < rank(f"{test}[01-start-here]")


def test_the_tracing_modules_share_one_scope() -> None:
    scopes = {xdist_scope(f"{path}::test_x") for path in SHARED_STATE["tracing"]}
    assert scopes == {"tracing"}


@pytest.mark.parametrize(("scope", "fixture"), [("nbgrader", "nbgrader_generated"),
                                                ("shipped-trace", "shipped_events")])
def test_modules_sharing_a_session_fixture_share_one_scope(scope: str, fixture: str) -> None:
    """The modules of one SHARED_STATE entry share a session fixture of tests/conftest.py (the
    course nbgrader generates, the shipped trace as the careful reader reads it), built once
    in the run because they run in one worker, ranked where the entry stands."""
    modules = SHARED_STATE[scope]
    assert {xdist_scope(f"{path}::test_x") for path in modules} == {scope}
    assert {rank(f"{path}::test_x") for path in modules} == {LONGEST_FIRST.index(scope)}
    assert f"def {fixture}(" in (ROOT / "tests" / "conftest.py").read_text(encoding="utf-8")
    for path in modules:
        assert fixture in (ROOT / path).read_text(encoding="utf-8"), path


def test_browser_lessons_spread_over_the_workers() -> None:
    """Each lesson's browser test is a scope of its own (each worker starts its JupyterLab)."""
    one = "tests/browser/test_lessons_in_lab.py::test_lesson_runs_cleanly_then_answered[01-x]"
    two = "tests/browser/test_lessons_in_lab.py::test_lesson_runs_cleanly_then_answered[02-x]"
    assert xdist_scope(one) != xdist_scope(two)


def test_longest_scopes_rank_first_and_the_rest_after() -> None:
    assert rank("tests/test_nbgrader_parity.py::test_x") == 0
    assert rank("tests/test_orders.py::test_x") == len(LONGEST_FIRST)
    tracing = [rank(f"{path}::test_x") for path in SHARED_STATE["tracing"]]
    assert tracing == [LONGEST_FIRST.index("tracing")] * len(tracing)  # ranked by its name
    lessons = "tests/browser/test_lessons_in_lab.py::test_lesson_runs_cleanly_then_answered"
    assert rank(f"{lessons}[08-watch-your-kernel.ipynb]") < rank(f"{lessons}[01-start-here.ipynb]")
    # a browser test with no entry of its own comes with the other browser tests
    assert rank(f"{lessons}[01-start-here.ipynb]") == LONGEST_FIRST.index("tests/browser/")


def test_hypothesis_is_imported_without_rewriting_its_asserts() -> None:
    """The root conftest spares hypothesis's package pytest's assert rewriting (a plugin's whole
    package is rewritten, in every worker); the test modules' own asserts still are."""
    import hypothesis.strategies
    from _pytest.assertion.rewrite import AssertionRewritingHook

    assert "hypothesis" in conftest.NOT_REWRITTEN
    assert not isinstance(hypothesis.strategies.__loader__, AssertionRewritingHook)
    assert isinstance(sys.modules[__name__].__loader__, AssertionRewritingHook)


def _collecting(worker: bool) -> Generator[None, object, object]:
    """The root conftest's hook around one process's collection, started: it returns once the
    process may collect (the generator stopped at its ``yield``)."""
    config = SimpleNamespace(workerinput={}) if worker else SimpleNamespace()
    hook = conftest.pytest_collection(SimpleNamespace(config=config))
    next(hook)
    return hook


def _collected(hook: Generator[None, object, object]) -> None:
    with pytest.raises(StopIteration):
        hook.send(None)  # the collection is done: the hook lets go of its turn


def _starts_collecting(worker: bool, done: threading.Event) -> tuple[threading.Thread,
                                                                   threading.Event]:
    """Another process's collection, started in a thread: the event returned is set once it
    may collect; it has collected once ``done`` is set (the thread then ends)."""
    may_collect = threading.Event()

    def collect() -> None:
        hook = _collecting(worker)
        may_collect.set()
        done.wait(10)
        _collected(hook)

    thread = threading.Thread(target=collect)
    thread.start()
    return thread, may_collect


def test_workers_collect_after_the_first_one_then_together(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a fresh clone the first worker to collect compiles what collecting imports; the
    others wait for it, then read its bytecode, and do not wait for each other."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    done = threading.Event()
    first = _collecting(worker=True)
    second, second_may = _starts_collecting(True, done)
    third, third_may = _starts_collecting(True, done)
    try:
        assert not second_may.wait(0.5) and not third_may.wait(0), "collected at once"
        not_a_worker, its_turn = _starts_collecting(False, done)  # a run without xdist
        assert its_turn.wait(10), "a run without workers waited"
    finally:
        _collected(first)
    try:
        # both at once: neither has collected yet
        assert second_may.wait(10) and third_may.wait(10), "the others waited for each other"
    finally:
        done.set()
        for thread in (second, third, not_a_worker):
            thread.join(10)
    assert not second.is_alive() and not third.is_alive()


def test_workers_that_write_no_bytecode_collect_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    done = threading.Event()
    first = _collecting(worker=True)
    try:
        second, second_may = _starts_collecting(True, done)
        assert second_may.wait(10), "waited for a first worker that writes no bytecode"
    finally:
        done.set()
        _collected(first)
    second.join(10)
