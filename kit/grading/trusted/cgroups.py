"""TRUSTED: a cgroup per sandboxed worker, so a limit holds for the whole sandbox, not a process.

A process limit (``RLIMIT_AS``) binds one process: six interpreters of one answer each stay
under it together far above it, and a file in ``/tmp`` or ``/dev/shm`` (tmpfs, memory) counts
against none of them.  The kernel's memory controller charges every page of every process in a
cgroup, tmpfs pages included, to that cgroup; over its limit the kernel's OOM killer ends a
process *of that cgroup only*.  The pids controller caps processes and threads the same way.
And the kernel counts the CPU time of every process of a cgroup (v1's ``cpuacct`` controller,
``cpuacct.usage``; v2's ``cpu.stat``, kept in every group with or without a controller): the
grader's own measure of what a sandbox used, which no process of it can forge, so a worker
that ends by ``SIGXCPU`` is a ``timeout`` only when its CPU time says it reached the limit.

Where the groups go: below the cgroup the grader runs in, in every hierarchy that has the
controller (cgroup v2's unified tree; on a "hybrid" machine, v1's ``memory``, ``pids`` and
``cpuacct`` trees), as ``<grader's cgroup>/kit-grade-<grader pid>/w<n>``, so the worker's
memory is still counted in the grader's own group.  With cgroup v2 the grader's cgroup must
let its children use the memory controller (``cgroup.subtree_control``; a systemd unit with
``Delegate=yes``, or a container that gives the grader its own cgroup); where it does not, the
run says that the memory limit is per process only.  CPU time needs no delegation in v2; a v2
tree is used for it only where no v1 ``cpuacct`` tree counts it already.

A grader killed with ``kill -9`` cannot remove its groups: every run first removes the
``kit-grade-<pid>`` groups whose grader is no longer alive (ending whatever is still in them).
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from kit.core.pids import process_gone

PREFIX = "kit-grade-"
_RUN_NAME = re.compile(re.escape(PREFIX) + r"(\d+)$")
#: What the CPU time of a group is counted by: v1's controller, and its name here for v2's
#: ``cpu.stat``, which every v2 group has without any controller.
CPU_TIME = "cpuacct"
CONTROLLERS = ("memory", "pids", CPU_TIME)
#: The controllers a v2 parent must delegate (``cgroup.subtree_control``) to its children.
DELEGATED = frozenset({"memory", "pids"})
#: Numbers of this process's worker groups: unique across threads and grading runs (``next``
#: on a count is atomic in CPython).
_NUMBERS = itertools.count(1)


@dataclass(frozen=True)
class Hierarchy:
    """Where this grader's groups are made in one cgroup tree, and what that tree controls."""

    base: Path  # the grader's own cgroup in this tree
    controllers: frozenset[str]
    v2: bool


def _mounted_hierarchies(mountinfo: str, own: str) -> list[Hierarchy]:
    """The cgroup trees mounted here that hold a controller we use, at the grader's cgroup."""
    paths: dict[str, str] = {}  # "0" -> v2 path; controller name -> v1 path
    for line in own.splitlines():
        number, names, path = line.split(":", 2)
        if number == "0" and names == "":
            paths["0"] = path
        for controller in names.split(","):
            paths[controller] = path
    found: list[Hierarchy] = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        fstype, options = fields[sep + 1], fields[sep + 3].split(",")
        root, mount = fields[3], Path(fields[4])
        if fstype == "cgroup2" and "0" in paths:
            base = mount / _relative(paths["0"], root)
            usable = frozenset(_read(base / "cgroup.controllers").split()) & DELEGATED
            found.append(Hierarchy(base, usable | {CPU_TIME}, True))
        elif fstype == "cgroup":
            usable = frozenset(options) & set(CONTROLLERS)
            first = sorted(usable)[0] if usable else None
            if first is not None and first in paths:
                found.append(Hierarchy(mount / _relative(paths[first], root), usable, False))
    if any(CPU_TIME in tree.controllers for tree in found if not tree.v2):
        # A hybrid machine: v1's cpuacct counts CPU time, its v2 tree is not needed for it.
        found = [replace(tree, controllers=tree.controllers - {CPU_TIME}) if tree.v2 else tree
                 for tree in found]
    return [tree for tree in found if tree.controllers]


def _relative(path: str, root: str) -> str:
    """A cgroup path from /proc/self/cgroup made relative to the mount's root (containers)."""
    if root != "/" and (path == root or path.startswith(root + "/")):
        path = path[len(root):]
    return path.lstrip("/")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


#: How long a group's removal is tried again while its killed processes leave it (each
#: leaves once reaped); past it the group is given up and named (``_kill_and_remove``).
REMOVE_SECONDS = 2.0


def _kill_and_remove(group: Path) -> list[Path]:
    """End every process of ``group`` and its children, then remove them (deepest first);
    return the folders still there after ``REMOVE_SECONDS`` each (a process that does not
    die, stuck in the kernel), so that the caller can say so.

    Another grader starting at the same time may be removing the same stale group: a folder
    that vanishes meanwhile is gone as wanted (``os.walk`` skips what it cannot list, and
    lists bottom-up: every child before its parent, ``group`` last)."""
    left: list[Path] = []
    for folder in [Path(root) for root, _dirs, _files in os.walk(group, topdown=False)]:
        if any(child.parent == folder for child in left):
            left.append(folder)  # cannot be removed before its child
            continue
        deadline = time.monotonic() + REMOVE_SECONDS
        while True:
            pids = [int(p) for p in _read(folder / "cgroup.procs").split()]
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                folder.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    left.append(folder)
                    break
                time.sleep(0.02)  # a killed process leaves its cgroup once it is reaped
    return left


def remove_stale(hierarchies: list[Hierarchy],
                 left: list[Path] | None = None) -> list[Path]:
    """Remove the groups of graders that are no longer running (killed: a grader removes its
    own as it ends); return what was removed, and add to ``left`` what could not be."""
    removed: list[Path] = []
    for tree in hierarchies:
        try:
            entries = list(tree.base.iterdir())
        except OSError:
            continue
        for entry in entries:
            match = _RUN_NAME.match(entry.name)
            if match and entry.is_dir() and process_gone(int(match.group(1))):
                stuck = _kill_and_remove(entry)
                if not entry.exists():
                    removed.append(entry)
                elif left is not None:
                    left.extend(stuck)
    return removed


@dataclass
class WorkerGroup:
    """The cgroups of one worker (one per tree); the worker joins them before it starts."""

    folders: list[Path]
    memory: Path | None
    memory_v2: bool
    cpu: Path | None = None  # the group that counts the worker's CPU time
    cpu_v2: bool = False
    _open: dict[Path, int] = field(default_factory=dict, init=False)  # files read again

    def __post_init__(self) -> None:
        # The two files read after every reply, named once: a reply costs a read, not a path.
        self._oom_file = None if self.memory is None else \
            self.memory / ("memory.events" if self.memory_v2 else "memory.oom_control")
        self._cpu_file = None if self.cpu is None else \
            self.cpu / ("cpu.stat" if self.cpu_v2 else "cpuacct.usage")

    def procs_files(self) -> list[str]:
        return [str(folder / "cgroup.procs") for folder in self.folders]

    def _read_again(self, path: Path) -> str | None:
        """The text of a cgroup file that is read after every reply: opened once, then read
        again from its start (the kernel writes it anew for each read)."""
        fd = self._open.get(path)
        try:
            if fd is None:
                fd = self._open[path] = os.open(path, os.O_RDONLY)
            return os.pread(fd, 4096, 0).decode()
        except OSError:
            return None

    def oom_killed(self) -> bool:
        """Did the kernel end a process of this worker for going over the memory limit?"""
        if self._oom_file is None:
            return False
        found = _OOM_KILL.search(self._read_again(self._oom_file) or "")
        return found is not None and int(found.group(1)) > 0

    def cpu_seconds(self) -> float | None:
        """The CPU time (user and system) every process of this worker has used so far, as
        the kernel counts it in the cgroup; None where no cgroup counts it."""
        if self._cpu_file is None:
            return None
        text = self._read_again(self._cpu_file) or ""
        if self.cpu_v2:
            usec = _keyed(text).get("usage_usec")
            return int(usec) / 1e6 if usec is not None and usec.isdigit() else None
        nsec = text.strip()
        return int(nsec) / 1e9 if nsec.isdigit() else None

    def remove(self) -> list[Path]:
        """End the worker's processes and remove its groups; the folders that could not be
        (the run's end tries them again, with ``Cgroups.remove_run_folders``)."""
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()
        return [left for folder in self.folders for left in _kill_and_remove(folder)]


#: The OOM-kill count's line of v1's ``memory.oom_control`` and v2's ``memory.events``.
_OOM_KILL = re.compile(r"^oom_kill (\d+)$", re.MULTILINE)


def _keyed(text: str) -> dict[str, str]:
    """A flat-keyed cgroup file (``name value`` lines) as a mapping."""
    return dict(line.split() for line in text.splitlines() if len(line.split()) == 2)


@dataclass
class Cgroups:
    """The cgroup trees this grading run uses, and what cannot be limited here."""

    hierarchies: list[Hierarchy]
    not_enforced: list[str] = field(default_factory=list)
    removed_stale: list[Path] = field(default_factory=list)
    #: Folders of killed graders' groups that could not be removed (a process in them did
    #: not end): the run says so.
    stale_left: list[Path] = field(default_factory=list)
    #: Held while a group is made and while the run's folders are removed, so a worker thread
    #: still starting a sandbox when the run stops (Ctrl-C) cannot make a folder again after
    #: they are gone; ``closed`` once they are.
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)

    def controllers(self) -> set[str]:
        return {name for tree in self.hierarchies for name in tree.controllers}

    def make(self, memory_bytes: int, processes: int) -> WorkerGroup:
        """A new group for one worker, its limits set (raises OSError when one cannot be, or
        when the run's folders are already removed)."""
        with self._lock:
            if self._closed:
                raise OSError("the grading run has ended: no new worker cgroup")
            return self._make(memory_bytes, processes)

    def _make(self, memory_bytes: int, processes: int) -> WorkerGroup:
        number = next(_NUMBERS)
        folders: list[Path] = []
        memory: Path | None = None
        memory_v2 = False
        cpu: Path | None = None
        cpu_v2 = False
        try:
            for tree in self.hierarchies:
                run = tree.base / f"{PREFIX}{os.getpid()}"
                run.mkdir(exist_ok=True)
                delegated = tree.controllers & DELEGATED
                if tree.v2 and not delegated <= set(
                        _read(run / "cgroup.subtree_control").split()):
                    (run / "cgroup.subtree_control").write_text(
                        " ".join("+" + name for name in sorted(delegated)))
                folder = run / f"w{number}"
                folder.mkdir()
                folders.append(folder)
                if "memory" in tree.controllers:
                    memory, memory_v2 = folder, tree.v2
                    _limit_memory(folder, memory_bytes, tree.v2)
                if "pids" in tree.controllers:
                    (folder / "pids.max").write_text(str(processes))
                if CPU_TIME in tree.controllers:
                    cpu, cpu_v2 = folder, tree.v2
        except OSError:
            WorkerGroup(folders, None, False).remove()
            raise
        return WorkerGroup(folders, memory, memory_v2, cpu, cpu_v2)

    def remove_run_folders(self) -> list[Path]:
        """Remove this run's ``kit-grade-<pid>`` folders, ending any worker still in them; no
        group is made after.  Returns the folders that could not be removed."""
        with self._lock:
            self._closed = True
            return [left for tree in self.hierarchies
                    for left in _kill_and_remove(tree.base / f"{PREFIX}{os.getpid()}")]


def _limit_memory(folder: Path, limit: int, v2: bool) -> None:
    if v2:
        (folder / "memory.max").write_text(str(limit))
        for name, value in (("memory.swap.max", "0"), ("memory.oom.group", "1")):
            if (folder / name).exists():
                (folder / name).write_text(value)
        return
    (folder / "memory.limit_in_bytes").write_text(str(limit))
    if (folder / "memory.memsw.limit_in_bytes").exists():  # swap accounting on: no swap either
        (folder / "memory.memsw.limit_in_bytes").write_text(str(limit))


def open_cgroups() -> Cgroups:
    """The memory, pids and CPU-time trees usable here, after removing groups left by killed
    graders."""
    hierarchies = _mounted_hierarchies(_read(Path("/proc/self/mountinfo")),
                                       _read(Path("/proc/self/cgroup")))
    usable = _usable(hierarchies)
    stale_left: list[Path] = []
    cgroups = Cgroups(usable, removed_stale=remove_stale(usable, stale_left),
                      stale_left=stale_left)
    have = cgroups.controllers()
    if "memory" not in have:
        cgroups.not_enforced.append("memory per sandbox (no writable memory cgroup here: "
                                    "the address-space limit binds each process only, and "
                                    "/tmp and /dev/shm are capped by their size alone)")
    if "pids" not in have:
        cgroups.not_enforced.append("process count (no writable pids cgroup; RLIMIT_NPROC "
                                    "only)")
    if CPU_TIME not in have:
        cgroups.not_enforced.append(NO_CPU_TIME)
    return cgroups


#: What the run says where no cgroup counts a sandbox's CPU time.
NO_CPU_TIME = ("CPU time per sandbox (no writable cpuacct cgroup: a worker ended by SIGXCPU "
               "is 'crashed', not 'timeout', as the grader cannot tell the CPU limit from the "
               "answer's own signal; the per-exercise wall-clock timeout is unchanged)")


def _usable(hierarchies: list[Hierarchy]) -> list[Hierarchy]:
    """The trees this grader may make groups in, each with what it can use there: a v2 tree
    whose controllers cannot be delegated still counts CPU time (needing no controller)."""
    usable: list[Hierarchy] = []
    for tree in hierarchies:
        if not os.access(tree.base, os.W_OK):
            continue
        if not _can_delegate(tree):
            tree = replace(tree, controllers=tree.controllers - DELEGATED)
        if tree.controllers:
            usable.append(tree)
    return usable


def _can_delegate(tree: Hierarchy) -> bool:
    """cgroup v2 gives children a controller only through the parent's subtree_control, which
    a cgroup holding processes (the grader's own, unless it is the root) cannot enable."""
    wanted = tree.controllers & DELEGATED
    if not tree.v2 or not wanted:
        return True
    control = tree.base / "cgroup.subtree_control"
    if wanted <= set(_read(control).split()):
        return True
    try:
        control.write_text(" ".join("+" + name for name in sorted(wanted)))
    except OSError:
        return False
    return True
