"""TRUSTED: find what a class handed in -- whose folder is whose, and which file is which notebook.

Classes hand in the way their tools make them, and every case gets a row, never a silent skip:

* a class folder of student folders (``submitted/ann/01-orders.ipynb``), or nbgrader's layout
  with an assignment folder in each (``submitted/ann/ps1/01-orders.ipynb``), or student folders
  given one by one;
* a notebook renamed by a browser's download or Jupyter's "Duplicate" (``01-orders (1).ipynb``,
  ``03-buddy-Copy1.ipynb``) is matched to its source notebook by the exercise ids in it and
  graded, with a note on its rows; a copy beside the notebook of its name is not graded, and
  that notebook's rows say so; a notebook that matches none is listed as extra;
* what operating systems leave behind (``.DS_Store``, ``__MACOSX/``, ``.ipynb_checkpoints/``,
  ``._*`` files, ``Thumbs.db``) is never a student and never a notebook;
* a notebook beside student folders, at the top of the class folder, is a stray file;
* two folder names that print the same (an invisible character, 200-character names that share
  their first 197) each get a row under a name made unique with a short hash of the raw name;
* with ``--roster FILE`` every rostered student gets a row ("not submitted" when nothing came)
  and a folder that is not on the roster is flagged.

A file the grader reads must be a regular file with one name (a hard link could be another
student's or the instructor's file), owned by the owner of the student's folder or by the
grader: anything else is refused with its reason.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from kit.core.errors import KitError
from kit.grading.trusted.gradebook import printable

#: What file managers and archivers leave in folders: never a student, never a notebook.
JUNK_NAMES = frozenset({".DS_Store", "__MACOSX", ".ipynb_checkpoints", "Thumbs.db",
                        "desktop.ini", ".Trashes", ".Spotlight-V100", ".fseventsd",
                        ".localized"})
#: Roster columns, as Canvas names them in its gradebook export (the folder is the login).
ROSTER_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
ROSTER_FOLDER_COLUMNS = ("folder", "SIS Login ID", "login", "username")
#: The longest folder name used as a student's name as it is.
MAX_NAME = 200
#: Files nbgrader's own layout keeps beside the notebooks (``nbgrader collect``): no hand-in.
NBGRADER_FILES = frozenset({"timestamp.txt"})
#: How deep, and how many, of a student's files that are not graded are looked for and named.
UNREAD_DEPTH, UNREAD_LISTED = 4, 5
ARCHIVES = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar")
#: The largest notebook read to find out which source notebook a renamed file is.
MAX_PROBE_BYTES = 20 << 20


class CollectionError(KitError):
    """The class cannot be collected at all (a folder that is not there, a bad roster)."""


def is_junk(name: str) -> bool:
    return name in JUNK_NAMES or name.startswith("._")


@dataclass
class Submission:
    """One student's hand-in: the files to grade per source notebook, and what was noticed."""

    student: str
    folder: Path | None  # None: on the roster, nothing handed in
    problem: str = ""
    files: dict[str, Path] = field(default_factory=dict)  # source notebook -> file
    notes: dict[str, str] = field(default_factory=dict)  # source notebook -> note on its rows
    extra: list[str] = field(default_factory=list)  # notebooks that are no source notebook
    #: Other files of the folder, not graded (a zip of the notebooks, a notebook too deep)
    unread: list[str] = field(default_factory=list)
    roster: dict[str, str] | None = None  # the roster's identity columns, when rostered
    off_roster: bool = False  # a roster was given and this folder is not on it
    #: A file where a student's folder belongs (a notebook beside the student folders, found
    #: in the class folder or given by a shell glob): reported, never counted as a student
    stray: bool = False


@dataclass(frozen=True)
class SourceIds:
    """The source notebooks' names and the exercise ids (nbgrader grade_ids) each holds."""

    ids: dict[str, frozenset[str]]


def file_problem(path: Path, name: str, folder_owner: int | None) -> str:
    """Why ``path`` cannot be read as a student's file, or "" when it can."""
    try:
        info = path.lstat()
    except OSError:
        return f"{name} was not submitted"
    if stat.S_ISLNK(info.st_mode):
        return f"{name} is a symbolic link, not a submitted file"
    if not stat.S_ISREG(info.st_mode):
        return f"{name} is not a regular file"
    if info.st_nlink > 1:
        return (f"{name} is a hard link ({info.st_nlink} names for one file, perhaps someone "
                "else's): hand in a copy")
    if folder_owner is not None and info.st_uid not in (folder_owner, os.geteuid()):
        return (f"{name} is owned by uid {info.st_uid}, not by the owner of the student's "
                f"folder (uid {folder_owner}) or the grader")
    return ""


def _notebooks(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.name.endswith(".ipynb")
                      and not is_junk(p.name) and not p.is_dir())
    except OSError:
        return []


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir()
                      if p.is_dir() and not p.is_symlink() and not is_junk(p.name))
    except OSError:
        return []


def unread_files(folder: Path) -> list[str]:
    """The files of a student's folder the collection does not read (at most
    ``UNREAD_LISTED``, down to ``UNREAD_DEPTH`` folders), as paths inside it: what a student
    handed in instead of notebooks, such as a zip of them, a PDF, or a notebook in a folder
    deeper than an assignment folder.  Links are not followed; junk is left out."""
    read = set(_notebooks(folder)) | {p for sub in _subfolders(folder) for p in _notebooks(sub)}
    found: list[str] = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        depth = len(here.relative_to(folder).parts)
        dirs[:] = sorted(d for d in dirs if not is_junk(d) and depth < UNREAD_DEPTH)
        for name in sorted(files):
            path = here / name
            if is_junk(name) or path in read or path.is_symlink() or \
                    (name in NBGRADER_FILES and depth == 1):
                continue
            found.append(printable(str(path.relative_to(folder))))
            if len(found) >= UNREAD_LISTED:
                return found
    return found


def not_submitted(name: str, unread: list[str]) -> str:
    """The reason of a notebook's rows that nothing was graded for, naming what was there."""
    if not unread:
        return f"{name} was not submitted"
    archive = any(path.lower().endswith(ARCHIVES) for path in unread)
    return (f"{name} was not submitted; the folder holds {', '.join(unread)}, which was not "
            "graded" + (" (archives are not unpacked: unpack it into the folder and grade "
                        "again)" if archive else ""))


def holds_notebooks(folder: Path) -> bool:
    """A student's folder: notebooks in it, or in an assignment folder in it (nbgrader)."""
    return bool(_notebooks(folder)) or any(_notebooks(sub) for sub in _subfolders(folder))


def is_student_folder(path: Path) -> bool:
    """A folder holding notebooks and no folder that holds some is one student's submission;
    any other folder is a class folder (a notebook beside student folders is a stray file)."""
    path = Path(path)
    return bool(_notebooks(path)) and not any(holds_notebooks(sub) for sub in _subfolders(path))


#: How the reason of a stray file's rows (:attr:`Submission.stray`) ends, and no other's: a
#: re-grade keeps the earlier run's rows from its gradebook, and tells a stray file's by it.
NOT_A_FOLDER = ": not a student's folder"


def is_stray_reason(reason: str) -> bool:
    """Whether an ``invalid-submission`` row's reason is a stray file's (not a student's)."""
    return reason.endswith(NOT_A_FOLDER)


def _folder_problem(entry: Path, given: bool = False) -> str:
    """Why ``entry`` is no student's folder to grade, or "" (``given``: named on the command
    line rather than found in a class folder)."""
    name = entry.name
    if entry.is_symlink():  # a link to a file (or to nothing) is a stray file too
        return f"{printable(name)!r} is a symbolic link" + \
            (", not a student's folder" if entry.is_dir() else NOT_A_FOLDER)
    if not entry.is_dir():
        kind = "a notebook" if name.endswith(".ipynb") else "a file"
        where = "given where a student's folder is expected" if given else \
            "at the top of the class folder, beside the students' folders"
        return f"{printable(name)!r} is {kind} {where}{NOT_A_FOLDER}"
    if name.startswith("."):
        return f"the folder name {printable(name)!r} starts with a dot (a hidden folder)"
    if printable(name) != name:
        return (f"the folder name {name!r} has control or invisible characters: rename it to "
                "the student's name")
    if len(name) > MAX_NAME:
        return f"the folder name is {len(name)} characters long: rename it to the student's name"
    return ""


def _unique_names(entries: list[Path]) -> dict[Path, str]:
    """Entry -> the name its rows carry: printable, and never the same for two raw names.

    A name that prints as itself keeps it; any other that prints the same gets a short hash of
    its raw name after it, so two look-alike folders are two students, each with a row.
    """
    shown: dict[str, list[Path]] = {}
    for entry in entries:
        shown.setdefault(printable(entry.name, MAX_NAME), []).append(entry)
    names: dict[Path, str] = {}
    for text, group in shown.items():
        raw = {entry.name for entry in group}
        for entry in group:
            if len(raw) == 1 or entry.name == text:
                names[entry] = text
            else:
                digest = hashlib.sha256(os.fsencode(entry.name)).hexdigest()[:8]
                names[entry] = f"{text} #{digest}"
    return names


def _ids_of(path: Path) -> frozenset[str]:
    """The exercise ids in a notebook file (empty when it cannot be read as one)."""
    try:
        if path.stat().st_size > MAX_PROBE_BYTES:
            return frozenset()
        data = json.loads(path.read_text(encoding="utf-8"))
        cells = data.get("cells", []) if isinstance(data, dict) else []
        return frozenset(
            str(cell["metadata"]["nbgrader"]["grade_id"]) for cell in cells
            if isinstance(cell, dict) and isinstance(cell.get("metadata"), dict)
            and isinstance(cell["metadata"].get("nbgrader"), dict)
            and cell["metadata"]["nbgrader"].get("grade_id"))
    except (OSError, ValueError, RecursionError):
        return frozenset()


def match_files(folder: Path, source: SourceIds) -> tuple[dict[str, Path], dict[str, str],
                                                          list[str]]:
    """Which file of a student's folder is which source notebook.

    Returns the files per source notebook, notes for the renamed ones, and the notebooks that
    are none (extra).  Notebooks directly in the folder come before those of an assignment
    folder in it; an exact name before a renamed copy; a renamed copy goes to the source
    notebook whose exercise ids it shares most.
    """
    candidates = _notebooks(folder) + [p for sub in _subfolders(folder) for p in _notebooks(sub)]
    files: dict[str, Path] = {}
    notes: dict[str, str] = {}
    for name in source.ids:
        exact = [p for p in candidates if p.name == name]
        if exact:
            files[name] = exact[0]
    left = [p for p in candidates if p not in files.values()]
    ids = {p: _ids_of(p) for p in left}
    for name, wanted in source.ids.items():
        if name in files:
            continue
        scored = sorted(((len(ids[p] & wanted), p) for p in left if ids[p] & wanted),
                        key=lambda pair: (-pair[0], str(pair[1])))
        if scored:
            chosen = scored[0][1]
            files[name] = chosen
            left.remove(chosen)
            notes[name] = (f"graded {printable(str(chosen.relative_to(folder)))!r}, a copy "
                           f"named differently, matched to {name} by its exercise ids")
    for copy in left:  # a copy that lost to the notebook of its name: its rows say so
        shared = [(-len(ids[copy] & wanted), name) for name, wanted in source.ids.items()
                  if ids[copy] & wanted]
        kept = min(shared)[1] if shared else None
        if kept is not None and kept not in notes:
            notes[kept] = (f"graded {kept}, not {printable(str(copy.relative_to(folder)))!r}, "
                           "a copy of it, which was not graded (the notebook of the right "
                           "name wins)")
    extra = [printable(str(p.relative_to(folder))) for p in left]
    return files, notes, extra


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """Folder name -> identity columns, from a CSV with a header.

    The folder column is the first of ``folder``, ``SIS Login ID``, ``login``, ``username``
    found (so Canvas's own gradebook export is a roster as it is); Canvas's identity columns
    are kept when present.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CollectionError(f"roster {path} cannot be read: {exc}") from None
    column = next((c for c in ROSTER_FOLDER_COLUMNS if c in header), None)
    if column is None:
        raise CollectionError(f"roster {path} has no column naming the students' folders "
                              f"(one of: {', '.join(ROSTER_FOLDER_COLUMNS)})")
    roster: dict[str, dict[str, str]] = {}
    for number, row in enumerate(rows, start=2):
        folder = (row.get(column) or "").strip()
        if not folder:
            if "Points Possible" in (row.get("Student") or ""):
                continue  # Canvas's export carries a points row
            raise CollectionError(f"roster {path} line {number}: no {column}")
        if folder in roster:
            raise CollectionError(f"roster {path} line {number}: {folder!r} is listed twice")
        roster[folder] = {c: (row.get(c) or "").strip() for c in ROSTER_IDENTITY}
    return roster


def find_submissions(paths: list[Path], source: SourceIds,
                     roster: dict[str, dict[str, str]] | None = None) -> dict[str, Submission]:
    """Student name -> submission, for every folder given and every rostered student."""
    entries: list[Path] = []
    given_files: set[Path] = set()
    for path in map(Path, paths):
        if path.is_file():  # ``kit grade class/*``: the class's stray notebook comes along
            entries.append(path)
            given_files.add(path)
        elif not path.is_dir():
            raise CollectionError(f"submission folder {path} does not exist")
        elif is_student_folder(path):
            entries.append(path)
        else:
            entries += sorted(p for p in path.iterdir() if not is_junk(p.name))
    seen: dict[str, Path] = {}
    for entry in entries:
        other = seen.get(entry.name)
        if other is not None and other.resolve() != entry.resolve():
            raise CollectionError(f"two submissions for student {printable(entry.name)!r}: "
                                  f"{other} and {entry}")
        seen[entry.name] = entry
    entries = list(seen.values())
    names = _unique_names(entries)
    found: dict[str, Submission] = {}
    for entry in entries:
        submission = Submission(names[entry], entry, _folder_problem(entry, entry in given_files),
                                stray=not entry.is_dir())
        if not submission.problem:
            submission.files, submission.notes, submission.extra = match_files(entry, source)
            submission.unread = unread_files(entry) if entry.is_dir() else []
        if roster is not None:
            submission.roster = roster.get(entry.name)
            # A stray file is reported as one; a folder not on the roster is flagged.
            submission.off_roster = submission.roster is None and entry.is_dir()
        found[submission.student] = submission
    for folder, identity in (roster or {}).items():
        if folder not in seen:
            name = printable(folder, MAX_NAME)
            found[name] = Submission(name, None, roster=identity)
    if not found:
        raise CollectionError("no submissions found in " + ", ".join(map(str, paths)))
    return dict(sorted(found.items()))
