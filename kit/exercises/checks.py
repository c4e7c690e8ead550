"""Self-checks for the exercise notebooks: plain-words feedback, "not yet answered", tallies.

A student who gets a bare ``AssertionError`` learns nothing; the checks here always say what was
asked (the input), what the kit expected, what the student's code gave back, and a hint.  They
are pure Python (no Jupyter import) so the same checks run in a notebook, under nbval and in
the grader.

A test cell groups its checks in one :class:`Checks` block::

    with Checks("get_order", hint="shift (size - 1) right by PAGE_SHIFT") as t:
        t.expect("get_order(4097)", my_get_order, (4097,), 1, inputs={"size": 4097})

Every ``expect`` runs even when an earlier one failed, so a cell can give partial credit.  The
check calls the student's function itself, so that an exception it raises fails that one
check (and says so) instead of the whole cell.

Unanswered exercises: the stub ``kit release`` writes raises ``NotImplementedError(hint)``.  A
``Checks`` block that meets it prints ``not yet answered: <hint>`` and does not raise, so the
student notebooks in ``exercises/`` pass nbval as stored.  Under the grader the environment
variable ``KIT_GRADING=1`` is set; the block then raises :class:`CheckFailed` instead, so an
unanswered exercise scores 0.

Partial credit: under the grader a failing block prints one machine-readable line,
``[kit-tally] passed=P total=T``, as its last output before raising; the grader gives a test
cell whose metadata says ``"kit": {"partial": true}`` ``points * P / T``.  Outside the grader
nothing of the sort is printed, so stored outputs stay readable.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType

#: Set to "1" by the grader: unanswered exercises then fail instead of only printing a notice.
GRADING_ENV = "KIT_GRADING"
#: The prefix of the tally line the grader reads for partial credit.
TALLY_PREFIX = "[kit-tally]"
#: Values longer than this are cut in messages (a huge list must not flood the notebook).
MAX_VALUE_CHARS = 300

__all__ = ["GRADING_ENV", "TALLY_PREFIX", "CheckFailed", "Checks", "check", "grading"]


class CheckFailed(AssertionError):
    """A self-check failed; the message says what in plain words.

    IPython shows only the message (``_render_traceback_``), not a Python traceback: the
    student's mistake is in the values, not in the checking code.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"CheckFailed: {self}"]


class _Unanswered(Exception):
    """Internal: the student's code raised NotImplementedError (the release stub)."""


def grading() -> bool:
    """True when the grader runs the notebook (``KIT_GRADING=1``)."""
    return os.environ.get(GRADING_ENV) == "1"


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
    """Compare the way a student would: lists and tuples alike, floats to 1e-9, bool is not int."""
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
    if isinstance(got, dict) and isinstance(expected, dict) and error is None:
        differ = [k for k in expected if k not in got or not same(got[k], expected[k])]
        differ += [k for k in got if k not in expected]
        if differ and len(differ) < len(expected):
            lines[0] += f" (showing only what differs: {', '.join(map(str, differ))})"
            expected = {k: expected[k] for k in differ if k in expected}
            got = {k: got[k] for k in differ if k in got}
    if inputs:
        lines.append("  input:    " + ", ".join(f"{k}={describe(v)}" for k, v in inputs.items()))
    lines.append(f"  expected: {describe(expected)}")
    if error is not None:
        lines.append(f"  received: your code raised {type(error).__name__}: {error}")
    else:
        lines.append(f"  received: {describe(got)}")
    if hint:
        lines.append(f"  hint:     {hint}")
    return "\n".join(lines)


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


class Checks:
    """A test cell's group of checks for one exercise (see the module docstring)."""

    def __init__(self, exercise: str, *, hint: str = "") -> None:
        self.exercise = exercise
        self.hint = hint
        self.passed = 0
        self.failures: list[str] = []

    @property
    def total(self) -> int:
        """Checks run so far."""
        return self.passed + len(self.failures)

    def expect(
        self,
        what: str,
        function: Callable[..., object],
        args: tuple[object, ...],
        expected: object,
        *,
        inputs: Mapping[str, object] | None = None,
        hint: str | None = None,
    ) -> bool:
        """Call ``function(*args)`` (the student's code) and compare the result with ``expected``.

        Prints ``✔ what`` or the plain-words failure and returns whether it passed; a failure
        does not stop the block, so every check gets its chance.
        """
        try:
            got = function(*args)
        except NotImplementedError as exc:
            raise _Unanswered(str(exc) or self.hint) from None
        except Exception as exc:
            return self._fail(failure_text(what, None, expected, inputs=inputs,
                                           hint=hint or self.hint, error=exc))
        if same(got, expected):
            self.passed += 1
            print(f"✔ {what}")
            return True
        return self._fail(failure_text(what, got, expected, inputs=inputs, hint=hint or self.hint))

    def expect_each(
        self,
        what: str,
        function: Callable[..., object],
        cases: Iterable[tuple[object, ...]],
        reference: Callable[..., object],
        *,
        hint: str | None = None,
    ) -> bool:
        """One check over many inputs: ``function(*case)`` must equal ``reference(*case)``.

        For seeded random cases: a failure reports the first input that differs, not a wall
        of numbers.
        """
        count = 0
        for case in cases:
            count += 1
            expected = reference(*case)
            inputs = {f"arg{i + 1}": value for i, value in enumerate(case)}
            name = getattr(function, "__name__", "<lambda>")
            call = f"input {describe(tuple(case))}" if name == "<lambda>" else \
                f"{name}{describe(tuple(case))}"
            try:
                got = function(*case)
            except NotImplementedError as exc:
                raise _Unanswered(str(exc) or self.hint) from None
            except Exception as exc:
                return self._fail(failure_text(f"{what}: {call}", None, expected, inputs=inputs,
                                               hint=hint or self.hint, error=exc))
            if not same(got, expected):
                return self._fail(failure_text(f"{what}: {call}", got, expected, inputs=inputs,
                                               hint=hint or self.hint))
        self.passed += 1
        print(f"✔ {what} ({count} cases)")
        return True

    def _fail(self, text: str) -> bool:
        self.failures.append(text)
        print(text)
        return False

    def __enter__(self) -> Checks:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc_type is not None and issubclass(exc_type, (_Unanswered, NotImplementedError)):
            message = f"not yet answered: {exc or self.hint}"
            print(message)
            if grading():
                self._tally(passed=0)
                raise CheckFailed(message) from None
            return True  # suppress: an unanswered exercise is not an error in the notebook
        if exc_type is not None and not issubclass(exc_type, Exception):
            return False  # KeyboardInterrupt (a time limit), SystemExit: not a check failure
        if exc_type is not None and not issubclass(exc_type, CheckFailed):
            assert exc is not None
            text = (f"✘ {self.exercise}: the checks could not run: {type(exc).__name__}: {exc}"
                    "\n  hint:     run the answer cell above first (and the set-up cell)")
            self.failures.append(text)
            print(text)
            self._tally(passed=0)
            raise CheckFailed(text) from None
        if exc_type is not None:
            return False
        if self.failures:
            self._tally(passed=self.passed)
            raise CheckFailed(
                f"{self.exercise}: {len(self.failures)} of {self.total} checks failed "
                "(see the ✘ lines above)"
            )
        print(f"✔ {self.exercise}: all {self.total} checks passed")
        return False

    def _tally(self, passed: int) -> None:
        if grading():
            print(f"{TALLY_PREFIX} passed={passed} total={max(self.total, 1)}", flush=True)
