"""The self-check library: plain-words failures, "not yet answered", partial-credit tallies."""

from __future__ import annotations

import pytest

from kit.grading.boundary import checks
from kit.grading.boundary.checks import CheckFailed, Checks, Outcome, check


def stub(*args: object) -> object:
    raise NotImplementedError("shift right by PAGE_SHIFT")


def test_check_passes_quietly_with_a_tick(capsys: pytest.CaptureFixture[str]) -> None:
    check("get_order(1)", 0, 0)
    assert capsys.readouterr().out == "✔ get_order(1)\n"


def test_check_failure_says_input_expected_received_and_hint() -> None:
    with pytest.raises(CheckFailed) as info:
        check("get_order(0)", 0, 52, inputs={"size": 0}, hint="size 0 is special")
    assert str(info.value) == (
        "✘ get_order(0)\n"
        "  input:    size=0\n"
        "  expected: 52\n"
        "  received: 0\n"
        "  hint:     size 0 is special"
    )
    assert isinstance(info.value, AssertionError)
    assert info.value._render_traceback_() == [f"CheckFailed: {info.value}"]


@pytest.mark.parametrize(
    ("got", "expected", "same"),
    [
        ((1, 2), [1, 2], True),
        ([1, (2, 3)], [1, [2, 3]], True),
        (0.1 + 0.2, 0.3, True),
        (1, True, False),
        (True, 1, False),
        ("1", 1, False),
        ({"a": [1]}, {"a": (1,)}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        (None, 0, False),
    ],
)
def test_same_compares_like_a_student_expects(got: object, expected: object, same: bool) -> None:
    assert checks.same(got, expected) is same


def test_long_values_are_cut() -> None:
    text = checks.describe(list(range(10_000)))
    assert len(text) == checks.MAX_VALUE_CHARS and text.endswith("...")


def test_dict_failures_show_only_what_differs() -> None:
    text = checks.failure_text("state", {"a": 1, "b": 2}, {"a": 1, "b": 3})
    assert "showing only what differs: b" in text
    assert "expected: {'b': 3}" in text and "received: {'b': 2}" in text


def test_checks_block_runs_every_check_and_counts(capsys: pytest.CaptureFixture[str]) -> None:
    # in the student's notebook a failure reports and does not raise: Run All goes on
    with Checks("demo") as t:
        t.expect("double(1)", lambda x: 2 * x, (1,), 2)
        t.expect("double(2)", lambda x: 2 * x, (2,), 5)
        t.expect("double(3)", lambda x: 2 * x, (3,), 6)
    out = capsys.readouterr().out
    assert out.count("✔") == 2 and "✘ double(2)" in out
    assert out.endswith("✘ demo: 1 of 3 checks failed (see the ✘ lines above): fix your "
                        "answer and run this cell again\n")


def test_an_exception_from_student_code_fails_only_its_check(
        capsys: pytest.CaptureFixture[str]) -> None:
    with Checks("demo", hint="divide carefully") as t:
        t.expect("inverse(0)", lambda x: 1 / x, (0,), None)
        t.expect("inverse(2)", lambda x: 1 / x, (2,), 0.5)
    out = capsys.readouterr().out
    assert "received: your code raised ZeroDivisionError: division by zero" in out
    assert "✔ inverse(2)" in out and "hint:     divide carefully" in out


def test_a_known_wrong_answer_gets_its_mistake_as_the_hint(
        capsys: pytest.CaptureFixture[str]) -> None:
    with Checks("demo", hint="multiply by two") as t:
        t.expect("double(3)", lambda x: x + 2, (3,), 6, misconceptions=[(5, "added two")])
        t.expect("double(4)", lambda x: x, (4,), 8, misconceptions=[(6, "added two")])
        t.expect_each("many", lambda x: x + 2, [(2,), (5,)], lambda x: 2 * x,
                      misconceptions=lambda x: [(x + 2, "added two")])
    out = capsys.readouterr().out
    assert "received: 5\n  hint:     likely mistake: added two" in out
    assert "received: 4\n  hint:     multiply by two" in out  # not a known mistake
    assert "many: input (5,)" in out and "received: 7\n  hint:     likely mistake: added two" in out


def test_unanswered_prints_the_hint_and_does_not_raise(
        capsys: pytest.CaptureFixture[str]) -> None:
    with Checks("get_order") as t:
        t.expect("get_order(1)", stub, (1,), 0)
        raise AssertionError("not reached")  # pragma: no cover
    assert capsys.readouterr().out == "not yet answered: shift right by PAGE_SHIFT\n"


class Recorder:
    """A stand-in for the grader's reporter: records what a Checks block tells it."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []
        self.ends: list[tuple[str | None, str | None]] = []

    def outcome(self, block: Checks, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def finished(self, block: Checks, unanswered: str | None, error: str | None) -> None:
        self.ends.append((unanswered, error))

    def seed(self, base: int) -> int:
        return base * 1000 + 7


@pytest.fixture
def recorder() -> object:
    recorder = Recorder()
    token = checks.reporter.set(recorder)
    yield recorder
    checks.reporter.reset(token)


def test_under_the_grader_outcomes_go_to_the_reporter_not_to_stdout(
        recorder: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    with Checks("demo", hint="think") as t:
        t.expect("a", lambda: 1, (), 1)
        t.expect_each("many", lambda x: x, [(1,), (2,)], lambda x: 1)
        assert t.seed(3) == 3007  # the grader's per-student seed, not the notebook's
    assert capsys.readouterr().out == ""
    assert [(o.what, o.passed) for o in recorder.outcomes] == [("a", True), ("many", False)]
    assert "expected: 1" in recorder.outcomes[1].text and recorder.outcomes[1].hint == "think"
    assert recorder.ends == [(None, None)]


def test_under_the_grader_unanswered_and_errors_are_reported_not_raised(
        recorder: Recorder) -> None:
    with Checks("get_order") as t:
        t.expect_each("random", stub, [(1,)], lambda s: 0)
    with Checks("demo"):
        raise NameError("name 'x' is not defined")
    assert recorder.ends[0] == ("not yet answered: shift right by PAGE_SHIFT", None)
    assert "the checks could not run: NameError" in (recorder.ends[1][1] or "")


def test_a_seed_outside_the_grader_is_the_notebooks_own() -> None:
    with Checks("demo") as t:
        assert t.seed(2008) == 2008


def test_delegating_to_the_kit_fails_at_once_in_the_self_check(
        capsys: pytest.CaptureFixture[str]) -> None:
    import kit

    def my_get_order(size: int) -> int:
        return kit.get_order(size)

    def helper(size: int) -> int:
        return getattr(kit, "get_" + "order")(size) if size < 0 else my_get_order(size)

    def honest(size: int) -> int:
        return ((size - 1) >> 12).bit_length()

    for answer in (my_get_order, helper, kit.get_order):
        with Checks("get_order", forbid=("get_order",)) as t:
            t.expect("get_order(5)", answer, (5,), 0)
        assert t.failures
        assert "write get_order yourself: your answer uses kit's get_order" in \
            capsys.readouterr().out
    with Checks("get_order", forbid=("get_order",)) as t:
        t.expect("get_order(5)", honest, (5,), 0)
    assert "✔ get_order: all 1 checks passed" in capsys.readouterr().out


def test_a_class_forbidden_only_as_its_constructor_is_found_by_its_name() -> None:
    import kit

    def makes_a_zone(pfn: int) -> int:
        return kit.Zone(64).buddy_pfn(pfn, 0) if pfn < 0 else pfn ^ 1

    def uses_a_zone(zone: object, pfn: int) -> int:
        return pfn ^ 1

    assert checks.forbidden_names(makes_a_zone, ("Zone.__init__",)) == {"Zone"}
    assert checks.forbidden_names(uses_a_zone, ("Zone.__init__",)) == set()


def test_a_student_function_handed_to_a_kit_helper_is_vetted_too(
        capsys: pytest.CaptureFixture[str]) -> None:
    from kit.grading.trusted import harness

    def lazy(zone: object, size: int) -> object:
        return zone.alloc_pages_exact(size)  # type: ignore[attr-defined]

    case = harness.exact_cases(1, 1)[0]
    with Checks("alloc_pages_exact", forbid=("alloc_pages_exact",)) as t:
        t.expect("case", harness.after_alloc_pages_exact, (case, lazy), None)
    assert "write alloc_pages_exact yourself" in capsys.readouterr().out


def test_expect_each_reports_the_first_differing_input(capsys: pytest.CaptureFixture[str]) -> None:
    def square(x: int) -> int:
        return x * x if x < 3 else 0

    with Checks("squares") as t:
        t.expect_each("squares", square, [(1,), (2,), (3,), (4,)], lambda x: x * x)
    out = capsys.readouterr().out
    assert "✘ squares: square(3,)" in out and "expected: 9" in out and "received: 0" in out


def test_broken_test_setup_is_reported_in_plain_words(capsys: pytest.CaptureFixture[str]) -> None:
    with Checks("demo"):  # reported, not raised: Run All goes on
        raise NameError("name 'my_get_order' is not defined")
    out = capsys.readouterr().out
    assert "the checks could not run: NameError" in out
    assert "run the answer cell above first" in out


def test_keyboard_interrupt_is_not_turned_into_a_check_failure() -> None:
    with pytest.raises(KeyboardInterrupt):
        with Checks("demo"):
            raise KeyboardInterrupt


@pytest.mark.parametrize("mode", ["autograde", "validate"])
def test_under_nbgrader_an_unanswered_exercise_fails(
        mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # nbgrader counts a test cell that raises nothing as passed: "not yet answered" must raise
    monkeypatch.setenv("NBGRADER_EXECUTION", mode)
    with pytest.raises(CheckFailed, match="get_order: not yet answered: shift right"):
        with Checks("get_order", partial=True) as t:
            t.expect("get_order(1)", stub, (1,), 0)
    with pytest.raises(CheckFailed, match="not yet answered: 1 page is order 0"):
        with Checks("get_order", hint="1 page is order 0") as t:  # nbgrader's bare stub
            t.expect("get_order(1)", lambda size: (_ for _ in ()).throw(NotImplementedError()),
                     (1,), 0)


def three_checks(block: Checks, right: int) -> None:
    for index in range(3):
        block.expect(f"check {index}", lambda i: i < right, (index,), True)


def test_under_nbgrader_autograde_a_partial_block_scores_its_share(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with Checks("demo", partial=True) as t:
        three_checks(t, 2)
    assert t.points(4) == 2.67  # what nbgrader reads from the cell's result
    assert "demo: 1 of 3 checks failed (see the ✘ lines above); partial credit" in \
        capsys.readouterr().out
    with Checks("demo", partial=True) as t:
        three_checks(t, 3)
    assert t.points(4) == 4.0
    with pytest.raises(CheckFailed, match="3 of 3 checks failed"):  # nothing earned: an error
        with Checks("demo", partial=True) as t:
            three_checks(t, 0)
    with pytest.raises(CheckFailed, match="1 of 3 checks failed"):  # all or nothing
        with Checks("demo") as t:
            three_checks(t, 2)


def test_under_nbgrader_autograde_hidden_checks_weigh_as_in_the_grader(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with Checks("demo", partial=True) as t:
        three_checks(t, 3)
        t.hidden()
        t.expect("a hidden check", lambda: 1, (), 2)
    assert (t.hidden_passed, t.hidden_total) == (0, 1)
    assert t.points(4) == checks.partial_points(4, (3, 3), (0, 1)) == 0.8


def test_partial_points_round_like_the_grader() -> None:
    assert checks.partial_points(3, (9, 10)) == 2.7
    assert checks.partial_points(2, (4, 6)) == 1.33
    assert checks.partial_points(2, (3, 3)) == 2.0
    assert checks.partial_points(2, (0, 3)) == 0.0 and checks.partial_points(2, (0, 0)) == 0.0
    assert checks.partial_points(2, (0, 0), (1, 4)) == 0.5  # hidden checks alone


def test_hidden_checks_earn_most_of_the_points() -> None:
    # every visible check right, every hidden one wrong: the visible share, no more
    assert checks.partial_points(5, (8, 8), (0, 2)) == 5 * checks.VISIBLE_SHARE == 1.0
    assert checks.VISIBLE_SHARE <= 0.4  # at least 60 % of every exercise's points are hidden
    assert checks.partial_points(3, (0, 8), (2, 2)) == 2.4
    assert checks.partial_points(3, (8, 8), (1, 2)) == 1.8
    assert checks.partial_points(3, (8, 8), (2, 2)) == 3.0


@pytest.mark.parametrize("mode", [None, "validate"])
def test_points_show_nothing_outside_nbgrader_autograde(
        mode: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if mode:
        monkeypatch.setenv("NBGRADER_EXECUTION", mode)
    else:
        monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    with Checks("demo", partial=True) as t:
        three_checks(t, 3)
    assert t.points(4) is None  # a notebook displays no None result
    if mode:  # validating: a failure is an error, as nbgrader judges a cell
        with pytest.raises(CheckFailed):
            with Checks("demo", partial=True) as t:
                three_checks(t, 2)
    else:  # the student's self-check reports and lets Run All go on
        with Checks("demo", partial=True) as t:
            three_checks(t, 2)
        assert len(t.failures) == 1


@pytest.mark.parametrize("mode", ["autograde", "validate"])
def test_under_nbgrader_a_failed_or_broken_check_cell_still_raises(
        mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """nbgrader scores a test cell by whether it raised: the notebook's "report and go on"
    must not turn a failure into full points there."""
    monkeypatch.setenv("NBGRADER_EXECUTION", mode)
    with pytest.raises(CheckFailed, match="1 of 3 checks failed"):
        with Checks("demo") as t:
            three_checks(t, 2)
    with pytest.raises(CheckFailed, match="the checks could not run: NameError"):
        with Checks("demo"):
            raise NameError("name 'my_get_order' is not defined")


def test_a_long_wrong_state_is_shown_by_its_first_differences() -> None:
    expected = {"returned pfn": 32, "nr_free": [1, 0, 3, 0, 0, 2],
                "free lists": {0: [1], 2: [60, 12, 4], 5: [64, 96]},
                "allocated": [(0, 0), (2, 1), *((pfn, 0) for pfn in range(32, 60))]}
    got = {"returned pfn": 32, "nr_free": [2, 0, 3, 0, 0, 2],
           "free lists": {0: [32, 1], 2: [60, 12, 4], 5: [64, 96]},
           "allocated": [(0, 0), (2, 1), *((pfn, 0) for pfn in range(33, 60))]}
    text = checks.failure_text("113475 bytes", got, expected, hint="lowest first")
    assert text == (
        "✘ 113475 bytes\n"
        "  differs:  ['nr_free']: expected [1, 0, 3, 0, 0, 2], received [2, 0, 3, 0, 0, 2]\n"
        "            ['free lists'][0]: expected [1], received [32, 1]\n"
        "            ['allocated'][2]: expected (32, 0), received (33, 0)\n"
        "  hint:     lowest first")
    long_list = list(range(100))
    assert "differs:  [100]: expected 100, received (nothing)" in checks.failure_text(
        "list", long_list, [*long_list, 100])
    assert "expected: [1, 2, 4]\n  received: [1, 2, 3]" in checks.failure_text(
        "short", [1, 2, 3], [1, 2, 4])  # short values are read whole


def test_the_grader_path_ignores_nbgrader_mode(
        recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with Checks("get_order", partial=True) as t:
        t.expect("get_order(1)", stub, (1,), 0)
    assert t.points(3) is None
    assert recorder.ends == [("not yet answered: shift right by PAGE_SHIFT", None)]


def test_checks_module_imports_no_jupyter() -> None:
    import subprocess
    import sys

    code = ("import sys, kit.grading.boundary.checks; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('IPython', 'ipykernel', 'nbformat', 'nbclient', 'jupyter_client')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_expect_each_shows_a_case_that_can_change_as_it_was_before_the_call(
        capsys: pytest.CaptureFixture[str]) -> None:
    import kit

    def take_two(zone: kit.Zone) -> int:
        zone.alloc_pages(1)  # changes the case's zone before the check reports it
        return -1

    zone = kit.Zone(64, max_order=4)
    before = repr(zone)
    with Checks("zones") as t:
        t.expect_each("after an allocation", take_two, [(zone,)], lambda z: 0)
    out = capsys.readouterr().out
    assert f"take_two({before},)" in out and repr(zone) != before
