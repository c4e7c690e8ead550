"""TRUSTED: run the instructor's own solution against its visible and hidden checks.

An instructor's mistake must stop the run, not grade a class: a typo in a hidden test would
otherwise fail every student ("failed", exit 0) and a wrong expected value would fail the
right answers.  So before anything is released or graded, each solution notebook runs here,
in the grader's own process (it is the instructor's code, not a student's): its set-up cells,
its answer cells as written (the solution markers are comments), and its test cells with the
hidden tests in, each test cell's checks reported to a :class:`Tally` instead of printed.

* ``kit release`` checks with the notebook's own seeds (``t.seed(n)`` is ``n``), what a
  student's self-check and nbgrader use, and refuses to release when a check fails or raises.
* ``kit grade`` checks with the seeds it is about to grade with (the class's hidden cases) and
  reports a test its solution does not pass as ``grader-error`` for everyone.  The verdict is
  cached by content (the notebook's cells, the seeds and the kit's code) in the out folder,
  so re-grading one student does not run every solution again, and in the instructor's own
  cache folder (:func:`shared_cache`), so grading into another out folder with the same
  secret does not either.  That folder is never one a sandbox can read.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kit.grading.boundary import checks
from kit.grading.trusted import notebooks as nbs

#: The marker the grader puts where a test cell's hidden checks begin (a call in the namespace).
HIDDEN_MARKER = "__kit_hidden__()"
#: The file in the out folder that remembers which solutions passed, by content.
CACHE_FILE = "reference-checks.json"
#: The most verdicts the instructor's shared cache keeps (the oldest go first).
SHARED_ENTRIES = 256

#: seed(grade_id, base) -> the seed of that test cell's hidden cases
Seeder = Callable[[str, int], int]


class Tally:
    """A :class:`kit.grading.boundary.checks.Reporter` that counts a test cell's checks."""

    def __init__(self, seed: Callable[[int], int]) -> None:
        self._seed = seed
        self.hidden = False
        self.passed = self.total = self.blocks = 0
        self.first_failure = ""
        self.problem = ""  # "not yet answered" or the error a Checks block stopped on

    def outcome(self, block: checks.Checks, outcome: checks.Outcome) -> None:
        self.total += 1
        self.passed += outcome.passed
        if not outcome.passed and not self.first_failure:
            kind = "hidden" if self.hidden else "visible"
            detail = " ".join(outcome.text.split())
            self.first_failure = f"its {kind} check failed: {detail}"

    def finished(self, block: checks.Checks, unanswered: str | None, error: str | None) -> None:
        self.blocks += 1
        if not self.problem:
            self.problem = unanswered or (error.splitlines()[0] if error else "")

    def seed(self, base: int) -> int:
        return self._seed(base)

    def mark_hidden(self) -> None:
        self.hidden = True


def solution_failures(nb: Any, where: str, seed: Seeder) -> dict[str, str]:
    """grade_id -> why the solution does not pass that test cell ({} when it passes them all).

    Every reason names the cell (``where`` cell N, its grade_id) and what went wrong: a check
    that failed, a test cell that raised, a cell of the solution that raised before it.
    """
    namespace: dict[str, Any] = {"__name__": "__main__"}
    failures: dict[str, str] = {}
    broken = ""  # the first set-up or answer cell that raised: every test after it is moot
    with this_thread_quiet(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            gid = nbs.grade_id(cell) or f"cell-{index}"
            label = f"{where} cell {index} ({gid})"
            if not nbs.is_test(cell):
                try:
                    exec(compile(cell.source, f"<{label}>", "exec"), namespace)
                except Exception as exc:
                    broken = broken or f"{label} raised {type(exc).__name__}: {exc}"
                continue
            if broken:
                failures[gid] = f"{label}: not checked, because {broken}"
                continue
            failures.update(_check_test_cell(cell, gid, label, namespace, seed))
    return failures


class _Router:
    """Standard output or error as the threads see it while some are quiet: what a quiet
    thread writes is dropped, what the others write goes where it went."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        if threading.get_ident() in _QUIET:
            return len(text)
        return int(self.stream.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


#: The threads whose output is dropped (see :func:`this_thread_quiet`), and the streams the
#: routers replaced.
_QUIET: set[int] = set()
_QUIET_LOCK = threading.Lock()
_REPLACED: list[Any] = []


@contextlib.contextmanager
def this_thread_quiet() -> Iterator[None]:
    """Drop what this thread prints (a solution's cells may print) and leave what every other
    thread prints alone: ``kit grade`` checks the solutions while it grades the class, and its
    progress lines must not vanish meanwhile (``contextlib.redirect_stdout`` would swap the
    streams of the whole process)."""
    with _QUIET_LOCK:
        if not _QUIET:
            _REPLACED[:] = [sys.stdout, sys.stderr]
            sys.stdout, sys.stderr = _Router(sys.stdout), _Router(sys.stderr)
        _QUIET.add(threading.get_ident())
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET.discard(threading.get_ident())
            if not _QUIET:
                if isinstance(sys.stdout, _Router):
                    sys.stdout = _REPLACED[0]
                if isinstance(sys.stderr, _Router):
                    sys.stderr = _REPLACED[1]


def _check_test_cell(cell: Any, gid: str, label: str, namespace: dict[str, Any],
                     seed: Seeder) -> dict[str, str]:
    tally = Tally(lambda base: seed(gid, base))
    namespace[HIDDEN_MARKER[:-2]] = tally.mark_hidden
    token = checks.reporter.set(tally)
    try:
        exec(compile(nbs.keep_hidden(cell.source, label, HIDDEN_MARKER), f"<{label}>", "exec"),
             namespace)
    except Exception as exc:
        return {gid: f"{label}: the test cell raised {type(exc).__name__}: {exc}"}
    finally:
        checks.reporter.reset(token)
    if tally.problem:
        return {gid: f"{label}: the solution does not pass it: {tally.problem}"}
    if tally.blocks == 0 or tally.total == 0:
        return {gid: f"{label}: the test cell ran no check"}
    if tally.passed < tally.total:
        return {gid: f"{label}: the solution does not pass it: {tally.first_failure}"}
    return {}


def cached_failures(nb: Any, where: str, seed: Seeder, cache: Path | None,
                    shared: Path | None = None) -> dict[str, str]:
    """:func:`solution_failures`, remembered by the notebook's content and seeds in ``cache``
    (the out folder's) and in ``shared`` (the instructor's, see :func:`shared_cache`)."""
    key = content_key(nb, seed)
    files = [path for path in (cache, shared) if path is not None]
    known = [_read_cache(path) for path in files]
    failures = next((entry for entries in known if (entry := _verdict(entries.get(key)))
                     is not None), None)
    if failures is None:
        failures = solution_failures(nb, where, seed)
    for path, entries in zip(files, known, strict=True):
        if entries.get(key) != failures:
            entries.pop(key, None)  # a new or renewed entry goes last: the newest
            entries[key] = failures
            ordered = path == shared  # oldest first; the out folder's file sorted, stable
            if ordered:
                entries = dict(list(entries.items())[-SHARED_ENTRIES:])
            with contextlib.suppress(OSError):  # a cache that cannot be written is no cache
                path.parent.mkdir(parents=True, exist_ok=True)
                nbs.atomic_write(path, json.dumps(entries, indent=1, sort_keys=not ordered)
                                 + "\n")
    return failures


def _read_cache(path: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            return loaded
    return {}


def _verdict(entry: Any) -> dict[str, str] | None:
    if isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values()):
        return {str(k): v for k, v in entry.items()}
    return None


def shared_cache(readable_in_sandbox: list[Path]) -> Path | None:
    """The instructor's cache of solution verdicts: ``$XDG_CACHE_HOME/pagealloc-kit/`` (or
    ``~/.cache/pagealloc-kit/``), or None where that folder lies inside one the sandbox can
    read (``readable_in_sandbox``): a verdict's text may show a hidden case."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = (Path(base) / "pagealloc-kit").resolve()
    for path in readable_in_sandbox:
        inside = path.resolve()
        if folder == inside or inside in folder.parents:
            return None
    return folder / CACHE_FILE


def content_key(nb: Any, seed: Seeder) -> str:
    """A hash of what a solution check depends on: every code cell, the seeds it gets and the
    kit's own code (the references the checks compare with)."""
    digest = hashlib.sha256(kit_code_hash().encode())
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            gid = nbs.grade_id(cell) or f"cell-{index}"
            digest.update(json.dumps([gid, cell.source, [seed(gid, b) for b in _BASES]]).encode())
    return digest.hexdigest()


#: Seeds sampled for the cache key: two bases tell one class's seeds from another's.
_BASES = (0, 1)


@functools.lru_cache(maxsize=1)
def kit_code_hash() -> str:
    """A hash of every Python file of the kit package."""
    import kit

    digest = hashlib.sha256()
    root = Path(kit.__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
