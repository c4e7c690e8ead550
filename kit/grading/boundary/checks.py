"""Self-checks for the exercise notebooks: plain-words feedback, "not yet answered", tallies.

A student who gets a bare ``AssertionError`` learns nothing; the checks here always say what was
asked (the input), what the kit expected, what the student's code gave back, and a hint.  They
are pure Python (no Jupyter import).

A test cell groups its checks in one :class:`Checks` block::

    with Checks("get_order", hint="shift (size - 1) right by PAGE_SHIFT",
                forbid=("get_order",)) as t:
        t.expect("get_order(4097)", my_get_order, (4097,), 1, inputs={"size": 4097})

Every ``expect`` runs even when an earlier one failed, so a cell can give partial credit.  The
check calls the student's function itself, so that an exception it raises fails that one
check (and says so) instead of the whole cell.  A wrong list or dict too long to read at a
glance is reported by where it first differs (``['free lists'][0]: expected [1], received
[32, 1]``), per differing key of a dict, not as two long dumps.

Two places run the same test cell:

* **the student's kernel** (the self-check): the block prints ticks and plain-words failures
  and ends with a summary line (``✘ get_order: 2 of 5 checks failed ...``); it never raises,
  so *Run All* runs every exercise's checks even after one has failed.  An unanswered exercise
  (the release stub raises ``NotImplementedError(hint)``) prints ``not yet answered: <hint>``,
  so the released notebooks pass nbval as stored.
* **the trusted grader** (``kit grade``): the student's names are proxies that call into the
  sandboxed worker, and a :class:`Reporter` set in :data:`reporter` receives every outcome; the
  verdict is computed from those records in the grader's own process.  Nothing the student's
  code prints or sets can reach it.

``forbid`` names the kit functions an exercise asks the student to write: an answer that calls
one of them fails at once, in the self-check ("write get_order yourself: ...") and in the grader
(a static check of the answer cell, and a refusal at run time inside the worker).

``t.seed(n)`` is the seed of the hidden tests' random cases: ``n`` in a notebook, in the
grader one value per exercise for the class, derived from the instructor's secret.
``t.hidden()``, the first line of the hidden tests, marks the checks after it as hidden: they
earn most of the points (:data:`VISIBLE_SHARE`), so the values a self-check shows are no key.

A third place runs them: **nbgrader** (a course grading with ``nbgrader autograde``).  nbgrader
sets ``NBGRADER_EXECUTION`` in the kernel's environment (``autograde`` while it grades,
``validate`` when a student validates) and judges a test cell by its outputs: an error scores 0,
a result that is a number scores that many points, anything else full points.  So there:

* an unanswered exercise, a failed check and a check that could not run raise (in the
  notebook they only print, which nbgrader would count as passed);
* a block declared ``Checks(..., partial=True)`` does not raise when some of its checks passed
  (under ``autograde`` only), and the cell's last line ``t.points(3)`` is then the points the
  passed checks earn, rounded as ``kit grade`` rounds them.  Everywhere else ``t.points`` is
  None, which a notebook does not display and ``kit grade`` (which counts for itself) ignores.
"""

from __future__ import annotations

import contextlib
import contextvars
import dis
import math
import os
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from types import CodeType, FunctionType, TracebackType
from typing import Protocol

from kit.grading.boundary.wire import plain_number

#: Values longer than this are cut in messages (a huge list must not flood the notebook).
MAX_VALUE_CHARS = 300
#: Containers whose text is longer than this are reported by where they differ, not whole.
SHORT_VALUE_CHARS = 100
#: An item of a container this short is shown whole where it differs.
SHORT_ITEM_CHARS = 40
#: The environment variable nbgrader sets in the kernels it runs ("autograde", "validate").
NBGRADER_EXECUTION = "NBGRADER_EXECUTION"

__all__ = ["VISIBLE_SHARE", "CheckFailed", "Checks", "Outcome", "Raised", "Reporter", "check",
           "partial_points", "reporter"]


class CheckFailed(AssertionError):
    """A self-check failed; the message says what in plain words.

    IPython shows only the message (``_render_traceback_``), not a Python traceback: the
    student's mistake is in the values, not in the checking code.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"CheckFailed: {self}"]


class _Unanswered(Exception):
    """Internal: the student's code raised NotImplementedError (the release stub)."""


@dataclass(frozen=True)
class Outcome:
    """One check's result, as the grader records it."""

    what: str  # the check's label, as the test cell names it
    passed: bool
    text: str  # the plain-words report (input, expected, received, hint) or the tick line
    hint: str


class Reporter(Protocol):
    """Where a Checks block reports when the trusted grader runs it (see the module docstring)."""

    def outcome(self, checks: Checks, outcome: Outcome) -> None: ...

    def finished(self, checks: Checks, unanswered: str | None, error: str | None) -> None: ...

    def seed(self, base: int) -> int: ...


#: Set by the grader (in its own process) while it runs a test cell; None in a notebook.
reporter: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar(
    "kit_checks_reporter", default=None)


#: Called as ``on_finished(exercise, passed)`` when an answered block ends in a student's own
#: kernel (never under the grader or nbgrader): the exercise notebooks' harness sets it to
#: record progress (``kit.teaching.progress``).  It cannot change a verdict: its errors are ignored.
on_finished: Callable[[str, bool], None] | None = None


#: The share of a test cell's points its visible checks earn at most when it has hidden ones:
#: the self-check guides, the hidden cases grade, so an answer that only returns the values the
#: self-check shows as expected earns at most this share.
VISIBLE_SHARE = 0.2


def partial_points(points: float, visible: tuple[int, int],
                   hidden: tuple[int, int] = (0, 0)) -> float:
    """The points a partial-credit test cell earns from (passed, run) of its visible checks and
    of its hidden ones.

    Every check passed earns ``points``, none (or no check at all) 0.  Otherwise the visible
    checks' pass rate earns :data:`VISIBLE_SHARE` of the points and the hidden ones' the rest
    (a cell with checks of one kind only: that kind earns them all), rounded to hundredths,
    never outside ``[0, points]``: the rule of ``kit grade`` and of ``t.points``.
    """
    (seen_passed, seen), (hidden_passed, hidden_run) = visible, hidden
    if seen + hidden_run <= 0 or seen_passed + hidden_passed <= 0:
        return 0.0
    if seen_passed >= seen and hidden_passed >= hidden_run:
        return float(points)
    if hidden_run == 0:
        share = seen_passed / seen
    elif seen == 0:
        share = hidden_passed / hidden_run
    else:
        share = VISIBLE_SHARE * seen_passed / seen + \
            (1 - VISIBLE_SHARE) * hidden_passed / hidden_run
    return min(max(round(points * share, 2), 0.0), float(points))


def describe(value: object) -> str:
    """A short ``repr`` of a value for a message, cut at :data:`MAX_VALUE_CHARS`."""
    try:
        text = repr(value)
    except Exception as exc:  # a student's object with a broken __repr__
        text = f"<unprintable {type(value).__name__}: {type(exc).__name__}>"
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 3] + "..."
    return text


def same(got: object, expected: object) -> bool:
    """Compare the way a student would: lists and tuples alike, floats to 1e-9, bool is not int.

    A number of numpy or of the numeric tower counts as the plain number it equals (numpy's
    ``bool_`` as a bool), as the grader's worker converts it before it crosses the boundary.
    """
    kind = type(got)
    if kind is type(expected) and (kind is int or kind is str):
        return got == expected  # most of what a check compares: what the branches below give
    got = plain_number(got)
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(got) is type(expected) and got == expected
    if isinstance(expected, float) or isinstance(got, float):
        if isinstance(got, (int, float)) and isinstance(expected, (int, float)):
            return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)
        return False
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        return len(got) == len(expected) and all(map(same, got, expected))
    if isinstance(expected, dict) and isinstance(got, dict):
        return got.keys() == expected.keys() and all(same(got[k], expected[k]) for k in got)
    try:
        return bool(got == expected)
    except Exception:
        return False


def _first_difference(got: object, expected: object,
                      path: str = "") -> tuple[str, object, object] | None:
    """Where two values first differ: (path such as ``[3][1]``, expected, received) or None.

    Walks lists and tuples index by index and dicts key by key (in the expected order); a
    missing or extra item is reported at its index, with ``MISSING`` on the side lacking it.
    Items short enough to read at a glance (``(32, 0)``, ``[1]``) are reported whole.
    """
    if path and max(len(describe(got)), len(describe(expected))) <= SHORT_ITEM_CHARS:
        return None if same(got, expected) else (path, expected, got)
    if isinstance(expected, (list, tuple)) and isinstance(got, (list, tuple)):
        for index, (g, e) in enumerate(zip(got, expected, strict=False)):
            if not same(g, e):
                return _first_difference(g, e, f"{path}[{index}]")
        if len(got) != len(expected):
            index = min(len(got), len(expected))
            return (f"{path}[{index}]", expected[index] if index < len(expected) else MISSING,
                    got[index] if index < len(got) else MISSING)
        return None
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in [*expected, *(k for k in got if k not in expected)]:
            g, e = got.get(key, MISSING), expected.get(key, MISSING)
            if g is MISSING or e is MISSING or not same(g, e):
                return _first_difference(g, e, f"{path}[{key!r}]")
        return None
    return None if same(got, expected) else (path, expected, got)


class _Missing:
    def __repr__(self) -> str:
        return "(nothing)"


#: The side of a difference that has no item there.
MISSING = _Missing()


def differences(got: object, expected: object) -> list[tuple[str, object, object]]:
    """The first difference of each differing key of two dicts, or the first difference of two
    lists: what a student needs to find the mistake, without two long dumps to compare."""
    if isinstance(expected, dict) and isinstance(got, dict):
        found = []
        for key in [*expected, *(k for k in got if k not in expected)]:
            g, e = got.get(key, MISSING), expected.get(key, MISSING)
            if g is MISSING or e is MISSING or not same(g, e):
                found.append(_first_difference(g, e, f"[{key!r}]") or (f"[{key!r}]", e, g))
        return found
    first = _first_difference(got, expected)
    return [] if first is None else [first]


def failure_text(
    what: str,
    got: object,
    expected: object,
    *,
    inputs: Mapping[str, object] | None = None,
    hint: str | None = None,
    error: BaseException | None = None,
) -> str:
    """The plain-words report of one failed check: input, expected, received, hint."""
    lines = [f"✘ {what}"]
    containers = (list, tuple, dict)
    if (error is None and isinstance(got, containers) and isinstance(expected, containers)
            and max(len(describe(got)), len(describe(expected))) > SHORT_VALUE_CHARS
            and (found := differences(got, expected))):
        if inputs:
            lines.append("  input:    " + ", ".join(f"{k}={describe(v)}"
                                                    for k, v in inputs.items()))
        label = "differs:  "
        for where, e, g in found:
            lines.append(f"  {label}{where or 'the whole value'}: expected {describe(e)}, "
                         f"received {describe(g)}")
            label = " " * len(label)
        if hint:
            lines.append(f"  hint:     {hint}")
        return "\n".join(lines)
    if isinstance(got, dict) and isinstance(expected, dict) and error is None:
        differ = [k for k in expected if k not in got or not same(got[k], expected[k])]
        differ += [k for k in got if k not in expected]
        if differ and len(differ) < len(expected):
            lines[0] += f" (showing only what differs: {', '.join(map(str, differ))})"
            expected = {k: expected[k] for k in differ if k in expected}
            got = {k: got[k] for k in differ if k in got}
    if inputs:
        lines.append("  input:    " + ", ".join(f"{k}={describe(v)}" for k, v in inputs.items()))
    shown = describe(expected)
    if error is not None and len(shown) > SHORT_VALUE_CHARS:  # the crash is what to fix
        shown = shown[:SHORT_VALUE_CHARS - 3] + "..."
    lines.append(f"  expected: {shown}")
    if error is not None:
        kind = getattr(error, "kind", type(error).__name__)  # a worker's error names its own
        lines.append(f"  received: your code raised {kind}: {error}")
    else:
        lines.append(f"  received: {describe(got)}")
    if hint:
        lines.append(f"  hint:     {hint}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Raised:
    """A known wrong answer that is an exception: the student's code raised ``kind`` (the
    exception's type name) with ``text`` in its message.  Listed in ``misconceptions`` like a
    wrong value, so that a crash caused by a known slip names that slip, not the general hint
    (which would send the student looking for a mistake they did not make)."""

    kind: str
    text: str = ""

    def matches(self, error: BaseException) -> bool:
        kind = getattr(error, "kind", type(error).__name__)  # a worker's error names its own
        return kind == self.kind and self.text in str(error)


def misconception_hint(got: object, misconceptions: Iterable[tuple[object, str]],
                       hint: str, error: BaseException | None = None) -> str:
    """What a wrong result (or the ``error`` the code raised) shows when it is a known wrong
    answer, else the general ``hint``."""
    for wrong, shows in misconceptions:
        if error is not None:
            if isinstance(wrong, Raised) and wrong.matches(error):
                return f"likely mistake: {shows}"
        elif not isinstance(wrong, Raised) and same(got, wrong):
            return f"likely mistake: {shows}"
    return hint


def check(
    what: str,
    got: object,
    expected: object,
    *,
    inputs: Mapping[str, object] | None = None,
    hint: str | None = None,
) -> None:
    """Print ``✔ what`` when ``got`` matches ``expected``, else raise a plain-words CheckFailed."""
    if same(got, expected):
        print(f"✔ {what}")
        return
    raise CheckFailed(failure_text(what, got, expected, inputs=inputs, hint=hint))



def _unchanging(value: object) -> bool:
    """Whether ``value`` cannot change (a plain scalar, or a tuple of them)."""
    if isinstance(value, tuple):
        return type(value) is tuple and all(map(_unchanging, value))
    kind = type(value)
    return value is None or kind is int or kind is str or kind is bool or kind is float


def _calls(function: Callable[..., object],
           cases: list[tuple[object, ...]]) -> Generator[object, None, None]:
    """``function(*case)`` for each case in turn, lazily.  The grader's proxy of a student's
    function calls them all in one request (``call_each``: one round trip into the sandbox,
    not one per case); anything else is called case by case."""
    each = getattr(function, "call_each", None)
    if callable(each) and not isinstance(function, FunctionType):
        yield from each(cases)
    else:
        for case in cases:
            yield function(*case)

class Checks:
    """A test cell's group of checks for one exercise (see the module docstring)."""

    def __init__(self, exercise: str, *, hint: str = "", forbid: Iterable[str] = (),
                 partial: bool = False) -> None:
        self.exercise = exercise
        self.hint = hint
        self.forbid = tuple(forbid)
        self.partial = partial
        self.passed = 0
        self.failures: list[str] = []
        self.hidden_passed = self.hidden_total = 0  # of them, the hidden checks' (t.hidden())
        self._hidden = False
        self._reporter = reporter.get()
        # nbgrader's mode ("autograde", "validate") when nbgrader runs this kernel, else ""
        self._nbgrader = os.environ.get(NBGRADER_EXECUTION, "") if self._reporter is None \
            else ""
        self._vetted: dict[int, str | None] = {}

    @property
    def total(self) -> int:
        """Checks run so far."""
        return self.passed + len(self.failures)

    def seed(self, base: int) -> int:
        """The seed of a hidden test's random cases: ``base`` here, the class's in the grader."""
        return base if self._reporter is None else self._reporter.seed(base)

    def hidden(self) -> None:
        """The first line of a test cell's hidden tests: the checks after it are hidden ones,
        which earn most of the points (:data:`VISIBLE_SHARE`).  The release removes the line
        with the hidden tests; ``kit release`` refuses a hidden region that does not start so.
        """
        self._hidden = True

    def points(self, max_points: float) -> float | None:
        """The last line of a partial-credit test cell, for nbgrader: ``t.points(3)``.

        Under ``nbgrader autograde`` it is the points the passed checks earn out of
        ``max_points`` (the cell's nbgrader points), which nbgrader takes as the cell's score;
        elsewhere None, so the notebook shows nothing and ``kit grade`` counts for itself.
        """
        if self._nbgrader != "autograde":
            return None
        visible = (self.passed - self.hidden_passed, self.total - self.hidden_total)
        return partial_points(max_points, visible, (self.hidden_passed, self.hidden_total))

    def expect(
        self,
        what: str,
        function: Callable[..., object],
        args: tuple[object, ...],
        expected: object,
        *,
        inputs: Mapping[str, object] | None = None,
        hint: str | None = None,
        misconceptions: Iterable[tuple[object, str]] = (),
    ) -> bool:
        """Call ``function(*args)`` (the student's code) and compare the result with ``expected``.

        Prints ``✔ what`` or the plain-words failure and returns whether it passed; a failure
        does not stop the block, so every check gets its chance.  ``misconceptions`` are
        (wrong answer, what it shows) pairs: a result equal to one gets that as its hint, so
        the message names the mistake made rather than a general tip.
        """
        hint = hint or self.hint
        if (delegated := self._delegation(function, *args)) is not None:
            return self._fail(what, f"✘ {what}\n  {delegated}", hint)
        try:
            got = function(*args)
        except NotImplementedError as exc:
            raise _Unanswered(str(exc) or self.hint) from None
        except Exception as exc:
            hint = misconception_hint(None, misconceptions, hint, exc)
            return self._fail(what, failure_text(what, None, expected, inputs=inputs, hint=hint,
                                                 error=exc), hint)
        if same(got, expected):
            return self._pass(what, f"✔ {what}", hint)
        hint = misconception_hint(got, misconceptions, hint)
        return self._fail(what, failure_text(what, got, expected, inputs=inputs, hint=hint), hint)

    def expect_each(
        self,
        what: str,
        function: Callable[..., object],
        cases: Iterable[tuple[object, ...]],
        reference: Callable[..., object],
        *,
        hint: str | None = None,
        misconceptions: Callable[..., Iterable[tuple[object, str]]] | None = None,
    ) -> bool:
        """One check over many inputs: ``function(*case)`` must equal ``reference(*case)``.

        For seeded random cases: a failure reports the first input that differs, not a wall
        of numbers.  ``misconceptions(*case)`` gives that case's (wrong answer, what it shows)
        pairs, as for ``expect``.
        """
        hint = hint or self.hint
        if (delegated := self._delegation(function)) is not None:
            return self._fail(what, f"✘ {what}\n  {delegated}", hint)
        count = 0
        cases = [tuple(case) for case in cases]
        name = getattr(function, "__name__", "<lambda>")

        def shown(case: tuple[object, ...]) -> str:
            return f"input {describe(case)}" if name == "<lambda>" else \
                f"{name}{describe(case)}"

        def failed(case: tuple[object, ...], call: str | None, got: object, expected: object,
                   error: Exception | None) -> bool:
            """The failure of ``case``, shown as ``call`` (None: described now)."""
            inputs = {f"arg{i + 1}": value for i, value in enumerate(case)}
            wrong = misconceptions(*case) if misconceptions is not None else ()
            why = misconception_hint(got, wrong, hint, error)
            return self._fail(what, failure_text(f"{what}: {call or shown(case)}", got, expected,
                                                 inputs=inputs, hint=why, error=error), why)

        with contextlib.closing(_calls(function, cases)) as calls:
            for case in cases:
                count += 1
                expected = reference(*case)
                # Described before the call as before, unless nothing in it can change (a zone
                # can: the student's calls are replayed on it); most cases are numbers, and a
                # check over 200 passing cases then describes none of them.
                call = None if all(map(_unchanging, case)) else shown(case)
                try:
                    got = next(calls)
                except NotImplementedError as exc:
                    raise _Unanswered(str(exc) or self.hint) from None
                except Exception as exc:
                    return failed(case, call, None, expected, exc)
                if not same(got, expected):
                    return failed(case, call, got, expected, None)
        return self._pass(what, f"✔ {what} ({count} cases)", hint)

    def _delegation(self, *functions: object) -> str | None:
        """The complaint about a forbidden kit call in the functions a check calls (the checked
        function, and functions of the student's passed to a kit helper), once per function."""
        if not self.forbid or self._reporter is not None:
            return None  # the grader checks the answer's source and refuses at run time
        for function in functions:
            if not callable(function):
                continue
            key = id(function)
            if key not in self._vetted:
                used = forbidden_names(function, self.forbid)
                self._vetted[key] = delegation_message(used) if used else None
            if self._vetted[key] is not None:
                return self._vetted[key]
        return None

    def _pass(self, what: str, text: str, hint: str) -> bool:
        self.passed += 1
        self.hidden_passed += self._hidden
        self.hidden_total += self._hidden
        self._report(Outcome(what, True, text, hint))
        return True

    def _fail(self, what: str, text: str, hint: str) -> bool:
        self.failures.append(text)
        self.hidden_total += self._hidden
        self._report(Outcome(what, False, text, hint))
        return False

    def _report(self, outcome: Outcome) -> None:
        if self._reporter is None:
            print(outcome.text)
        else:
            self._reporter.outcome(self, outcome)

    def __enter__(self) -> Checks:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc_type is not None and not issubclass(exc_type, Exception):
            return False  # KeyboardInterrupt, SystemExit, a stopped worker: not a check result
        unanswered = error = None
        if exc_type is not None and issubclass(exc_type, (_Unanswered, NotImplementedError)):
            unanswered = f"not yet answered: {exc or self.hint}"
        elif exc_type is not None and not issubclass(exc_type, CheckFailed):
            error = (f"✘ {self.exercise}: the checks could not run: {type(exc).__name__}: {exc}"
                     "\n  hint:     run the answer cell above first (and the set-up cell)")
        if self._reporter is not None:
            self._reporter.finished(self, unanswered, error)
            return exc_type is None or issubclass(exc_type, Exception)
        if on_finished is not None and unanswered is None and not self._nbgrader:
            with contextlib.suppress(Exception):
                on_finished(self.exercise, exc_type is None and not self.failures)
        if unanswered is not None:
            if self._nbgrader:  # nbgrader counts a test cell that does not raise as passed
                raise CheckFailed(f"{self.exercise}: {unanswered}") from None
            print(unanswered)
            return True  # an unanswered exercise is not an error in the notebook
        if error is not None:
            print(error)
            if self._nbgrader:  # nbgrader scores a test cell by whether it raised
                raise CheckFailed(error) from None
            return True  # the student's Run All goes on to the next exercise
        if exc_type is not None:
            return False
        summary = f"{len(self.failures)} of {self.total} checks failed (see the ✘ lines above)"
        if self.failures and self.partial and self.passed and self._nbgrader == "autograde":
            print(f"{self.exercise}: {summary}; partial credit")  # t.points gives the score
            return False
        if self.failures and not self._nbgrader:
            # the student's own check: report and let Run All go on to the next exercise
            print(f"✘ {self.exercise}: {summary}: fix your answer and run this cell again")
            return False
        if self.failures:
            raise CheckFailed(f"{self.exercise}: {summary}")
        print(f"✔ {self.exercise}: all {self.total} checks passed")
        return False


def delegation_message(used: Iterable[str]) -> str:
    """What a student reads when the answer calls a kit function that an exercise of the notebook
    asks them to write (the cell's forbid= list: its own and the other exercises' names)."""
    names = sorted(set(used))
    return (f"write {names[0]} yourself: your answer uses kit's "
            f"{', '.join(names)}, which an exercise of this notebook asks you to write "
            "(the check cell's forbid= lists them)")


def forbidden_names(function: object, forbid: Iterable[str]) -> set[str]:
    """The names of ``forbid`` that ``function`` (or a function of the student's it calls) uses.

    Reads the compiled code, not the source: names called (``kit.get_order(...)``), imported
    (``from kit import get_order``) or spelled in a string (``getattr(kit, "get_order")``).
    A function that *is* a kit function (``my_get_order = kit.get_order``) counts too.
    """
    wanted = spellings(forbid)
    if _from_kit(function):  # the kit's own code (a check helper) is not the student's answer
        name = getattr(function, "__name__", "")
        return {name} if name in wanted else set()
    found: set[str] = set()
    seen: set[int] = set()
    todo = [function]
    while todo:
        current = todo.pop()
        if id(current) in seen or not isinstance(current, FunctionType):
            continue
        seen.add(id(current))
        names = _code_names(current.__code__)
        own = {name for name in _global_names(current.__code__) & wanted
               if _is_students(current.__globals__.get(name))}
        found |= (names & wanted) - own
        for name in names:  # follow the student's own helpers
            helper = current.__globals__.get(name)
            if isinstance(helper, FunctionType) and not _from_kit(helper):
                todo.append(helper)
    return found


def spellings(forbid: Iterable[str]) -> set[str]:
    """The names an answer spells when it uses a forbidden kit name: ``Zone.__init__`` (a class
    only making one of which is forbidden) is spelled ``Zone``."""
    return {name.removesuffix(".__init__") for name in forbid}


def _from_kit(function: object) -> bool:
    return str(getattr(function, "__module__", "") or "").split(".")[0] == "kit"


def _is_students(value: object) -> bool:
    """A function or class the student defined (a helper of theirs named like a kit one)."""
    return isinstance(value, (FunctionType, type)) and not _from_kit(value)


def _global_names(code: CodeType) -> set[str]:
    """The names ``code`` (and the code inside it) reads as globals, and nowhere else: a name
    also read as an attribute (``kit.pages_for``), imported or spelled as a string is not one."""
    bare: set[str] = set()
    other: set[str] = set()
    todo = [code]
    while todo:
        current = todo.pop()
        for instruction in dis.get_instructions(current):
            if isinstance(instruction.argval, str):
                kind = instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME")
                (bare if kind else other).add(instruction.argval)
        other |= {c for c in current.co_consts if isinstance(c, str)}
        todo += [c for c in current.co_consts if isinstance(c, CodeType)]
    return bare - other


def _code_names(code: CodeType) -> set[str]:
    names = set(code.co_names) | {c for c in code.co_consts if isinstance(c, str)}
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _code_names(const)
    return names
