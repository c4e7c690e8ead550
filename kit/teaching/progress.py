"""A student's progress through the course, kept in one small local file (no server).

What is recorded: the lessons run (a lesson counts once a kit widget was built in it), the
predictions made (asked and whether one was right), the practice sets checked (per kind and
level: how many, how many right) and the exercise self-checks passed (per exercise notebook and
exercise).  ``kit progress`` and lesson 1's course map show it (:func:`progress_report`).

Where: ``.kit-progress.json`` in the course root, the folder holding ``notebooks/`` (found from
the notebook's folder, or the current directory for ``kit progress``: that folder or its
parent); ``KIT_PROGRESS_FILE`` names another file.

When: only in a kernel a Jupyter server started for a notebook (it sets ``JPY_SESSION_NAME`` to
the notebook's path), so ``kit execute``, nbval, ``kit grade`` and its sandbox, nbgrader and the
tests never record, and a lesson's stored outputs never depend on the machine that ran it.
``KIT_PROGRESS=off`` turns recording off everywhere (``kit execute`` and ``kit grade`` set it for
the kernels they start); ``KIT_PROGRESS=on`` records outside a Jupyter server too (another
front end), under the name ``KIT_PROGRESS_NOTEBOOK`` gives, if any.

Robust by design: every update is read-modify-write under an exclusive lock on a side file
(``.kit-progress.json.lock``, so kernels running at once never lose each other's records) and
written to a temporary file renamed over the old one (atomic: a crash leaves the old file or the
new one, never half of one).  A file that is not valid kit progress (corrupt, or someone else's
``.kit-progress.json``) is never overwritten: recording skips it with one line on stderr, once,
and ``kit progress`` says what is wrong in one line.  Recording never raises.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kit.core.errors import KitError

try:  # POSIX; elsewhere updates are still atomic, only concurrent kernels are not serialised
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["FILE_NAME", "ProgressFileError", "course_root", "load", "progress_path",
           "progress_report", "record_exercise", "record_lesson", "record_practice",
           "record_prediction", "recording_notebook", "summary", "update"]

FILE_NAME = ".kit-progress.json"
#: The format's marker and version: a file without it is not ours and is left alone.
FORMAT = "kit-progress"
VERSION = 1
SWITCH = "KIT_PROGRESS"
FILE_ENV = "KIT_PROGRESS_FILE"
NOTEBOOK_ENV = "KIT_PROGRESS_NOTEBOOK"
SESSION_ENV = "JPY_SESSION_NAME"
SECTIONS = ("lessons", "predictions", "practice", "exercises")

Data = dict[str, Any]


class ProgressFileError(KitError):
    """The progress file exists but is not kit progress (corrupt, or another program's)."""


def course_root(start: Path) -> Path:
    """The folder holding ``notebooks/`` among ``start`` and its parent; else ``start``."""
    for folder in (start, start.parent):
        if (folder / "notebooks").is_dir():
            return folder
    return start


def progress_path(start: Path | None = None) -> Path:
    """The progress file: ``KIT_PROGRESS_FILE``, else ``.kit-progress.json`` in the course
    root found from ``start`` (default: the current directory)."""
    if named := os.environ.get(FILE_ENV):
        return Path(named)
    return course_root((start or Path.cwd()).resolve()) / FILE_NAME


def empty() -> Data:
    return {"format": FORMAT, "version": VERSION, **{name: {} for name in SECTIONS}}


def load(path: Path) -> Data:
    """The progress in ``path``; empty when there is no file.  Raises ProgressFileError for a
    file that is not kit progress (the message is one line naming the file and the problem)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return empty()
    except OSError as exc:
        raise ProgressFileError(f"{path}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ProgressFileError(f"{path}: not text (not UTF-8); move it aside to start a new "
                                "record") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProgressFileError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); "
                                "move it aside to start a new record") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProgressFileError(f"{path}: not a kit progress file (no \"format\": \"{FORMAT}\");"
                                " move it aside to start a new record")
    if data.get("version") != VERSION or not all(isinstance(data.get(s, {}), dict)
                                                 for s in SECTIONS):
        raise ProgressFileError(f"{path}: kit progress version {data.get('version')!r} or "
                                f"layout this kit does not read (it reads version {VERSION})")
    for name in SECTIONS:
        data.setdefault(name, {})
    return data


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``'s side lock file (not on ``path``, which is replaced)."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_atomic(path: Path, data: Data) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def update(path: Path, change: Callable[[Data], None]) -> Data:
    """Apply ``change`` to the progress in ``path`` under the lock and write it atomically.

    Raises ProgressFileError (and writes nothing) when the file is not kit progress."""
    with _locked(path):
        data = load(path)
        change(data)
        _write_atomic(path, data)
    return data


def recording_notebook() -> Path | None:
    """The notebook this kernel records progress for, or None when recording is off here."""
    switch = os.environ.get(SWITCH, "").strip().lower()
    if switch in ("off", "0", "no", "false") or os.environ.get("NBGRADER_EXECUTION"):
        return None
    name = os.environ.get(SESSION_ENV) or (
        os.environ.get(NOTEBOOK_ENV, "notebook") if switch in ("on", "1", "yes", "true") else "")
    return Path(name) if name else None


_warned: set[str] = set()
_lessons_seen: set[str] = set()


def _record(change: Callable[[Data, str], None]) -> None:
    """Record ``change(data, notebook_name)`` if recording is on; never raises."""
    try:
        notebook = recording_notebook()
        if notebook is None:
            return
        start = notebook.parent if notebook.is_absolute() else Path.cwd()
        update(progress_path(start), lambda data: change(data, notebook.stem))
    except Exception as exc:  # progress must never break a lesson or a self-check
        message = f"kit progress not recorded: {exc}"
        if message not in _warned:
            _warned.add(message)
            print(message, file=sys.stderr)


def record_lesson() -> None:
    """Count the lesson this kernel runs (once per kernel): a widget was built in it."""
    notebook = recording_notebook()
    if notebook is None or notebook.stem in _lessons_seen:
        return
    _lessons_seen.add(notebook.stem)

    def change(data: Data, name: str) -> None:
        data["lessons"][name] = data["lessons"].get(name, 0) + 1
    _record(change)


def record_prediction(question: str, correct: bool) -> None:
    """A prediction was made on ``question``: count it, and whether one was ever right."""
    def change(data: Data, name: str) -> None:
        entry = data["predictions"].setdefault(f"{name}: {question}", {"made": 0, "right": False})
        entry["made"] += 1
        entry["right"] = bool(entry["right"] or correct)
    _record(change)


def record_practice(kind: str, level: int, correct: bool) -> None:
    """A practice problem of ``kind`` at ``level`` was checked: count it, and right ones."""
    def change(data: Data, _name: str) -> None:
        entry = data["practice"].setdefault(f"{kind} level {level}", {"checked": 0, "right": 0})
        entry["checked"] += 1
        entry["right"] += bool(correct)
    _record(change)


def record_exercise(exercise: str, passed: bool) -> None:
    """An exercise's self-check ran in an exercise notebook: keep whether it has ever passed."""
    def change(data: Data, name: str) -> None:
        book = data["exercises"].setdefault(name, {})
        book[exercise] = bool(book.get(exercise, False) or passed)
    _record(change)


def summary(data: Data, lessons: list[str] | None = None) -> str:
    """Plain lines: lessons run (of ``lessons``, when the course's list is known), predictions,
    practice sets and exercises passed."""
    run = sorted(data["lessons"])
    known = lessons if lessons is not None else run
    ticks = [f"  {'✔' if name in data['lessons'] else '·'} {name}" for name in known]
    predictions = data["predictions"].values()
    lines = [f"Lessons run: {sum(name in data['lessons'] for name in known)} of {len(known)}",
             *ticks,
             f"Predictions made on {len(predictions)} question"
             f"{'' if len(predictions) == 1 else 's'}, "
             f"{sum(bool(p.get('right')) for p in predictions)} answered right"]
    practice = data["practice"]
    tried = sum(p["checked"] for p in practice.values())
    lines.append(f"Practice problems checked: {tried}, "
                 f"{sum(p['right'] for p in practice.values())} right" if tried else
                 "Practice problems checked: none yet (each lesson ends with a practice set)")
    lines += [f"  {key}: {entry['right']} of {entry['checked']} right"
              for key, entry in sorted(practice.items())]
    exercises = data["exercises"]
    passed = sum(sum(map(bool, book.values())) for book in exercises.values())
    checked = sum(map(len, exercises.values()))
    lines.append(f"Exercises passed: {passed} of {checked} checked" if checked else
                 "Exercises passed: none checked yet (run a self-check in exercises/)")
    lines += [f"  {name}: {sum(map(bool, book.values()))} of {len(book)} passed"
              for name, book in sorted(exercises.items())]
    return "\n".join(lines)


def course_lessons(root: Path) -> list[str]:
    """The course's lesson names (the notebooks in ``root/notebooks``), in order."""
    return sorted(p.stem for p in (root / "notebooks").glob("[0-9]*.ipynb"))


def progress_report() -> str:
    """What lesson 1's course map prints: this student's progress when recording is on, else
    one neutral line (so a lesson's stored output never shows the machine that ran it)."""
    notebook = recording_notebook()
    if notebook is None:
        # two short lines: an output area breaks a long line anywhere, even inside a word
        return ("Your progress appears here when you run the lessons in JupyterLab\n"
                "(bash scripts/lab.sh); `kit progress` prints it in a terminal.")
    start = notebook.parent if notebook.is_absolute() else Path.cwd()
    path = progress_path(start)
    try:
        data = load(path)
    except ProgressFileError as exc:
        return f"Progress not shown: {exc}"
    return summary(data, course_lessons(course_root(path.parent)) or None)
