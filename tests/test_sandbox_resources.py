"""The sandbox caps resources for the whole worker: a memory cgroup that counts its processes
and its tmpfs files, a sized /dev/shm, a read-only root, no capabilities, a seccomp filter, a
CPU limit the grader counts in a cgroup itself (so a worker's SIGXCPU is no timeout by its
word); and cgroups left by a grader that was killed are removed by the next run."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kit.grading.trusted import bwrap, cgroups, seccomp
from kit.grading.trusted.bwrap import Limits, Sandbox, Worker, WorkerStopped, open_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    try:
        return open_sandbox()
    except Exception as exc:  # noqa: BLE001 - SandboxUnavailable names the reason
        pytest.skip(f"no sandbox on this machine: {exc}")


def run(worker: Worker, source: str, call: str = "") -> Any:
    assert worker.request({"op": "run", "cell": "a", "source": source}, 20)["ok"]
    reply = worker.request({"op": "call", "name": call, "args": []}, 20)
    assert reply["ok"], reply
    from kit.grading.boundary import wire

    return wire.decode(reply["value"])


def needs_memory_cgroup(sandbox: Sandbox) -> None:
    if "memory" not in sandbox.cgroups.controllers():
        pytest.skip("no writable memory cgroup here: " + "; ".join(sandbox.cgroups.not_enforced))


#: Files in the sandbox's three tmpfs folders: 210 MiB of memory no process's address space
#: counts (each file under the file-size limit), over the 200 MiB of the worker's cgroup.
TMPFS_HOG = '''import os

def hog():
    for folder in ('/dev/shm', '/tmp', os.path.expanduser('~')):
        for number in range(2):
            with open(f'{folder}/hog{number}', 'wb') as out:
                for _ in range(35):
                    out.write(b'x' * (1 << 20))
    return 'survived'
'''
HOG_LIMITS = Limits(memory_mib=200, file_bytes=64 << 20, timeout=20)


def test_memory_over_the_cap_stops_that_worker_only(sandbox: Sandbox) -> None:
    """tmpfs files count against the worker's cgroup: past it the kernel ends the worker and
    its reply says memory-limit; a neighbour worker goes on."""
    needs_memory_cgroup(sandbox)
    hog, neighbour = Worker(sandbox, HOG_LIMITS), Worker(sandbox, HOG_LIMITS)
    try:
        assert run(neighbour, "def ok():\n    return 41 + 1\n", "ok") == 42
        with pytest.raises(WorkerStopped) as stopped:
            run(hog, TMPFS_HOG, "hog")
        assert stopped.value.status == "memory-limit"
        assert "/dev/shm" in stopped.value.reason and "200 MiB" in stopped.value.reason
        assert run(neighbour, "def again():\n    return 7\n", "again") == 7
    finally:
        hog.close()
        neighbour.close()


def test_files_in_dev_shm_and_tmp_are_bounded(sandbox: Sandbox) -> None:
    limits = Limits()
    worker = Worker(sandbox, limits)
    source = '''def fill(folder):
    written = 0
    try:
        with open(folder + '/big', 'wb') as out:
            for _ in range(256):
                out.write(b'x' * (1 << 20))
                out.flush()
                written += 1 << 20
    except OSError as exc:
        return written, exc.errno
    return written, 0

def both():
    return fill('/dev/shm'), fill('/tmp')
'''
    try:
        (shm, shm_errno), (tmp, tmp_errno) = run(worker, source, "both")
    finally:
        worker.close()
    cap = limits.file_bytes * 2
    assert shm <= cap and tmp <= cap
    assert shm_errno != 0 and tmp_errno != 0  # ENOSPC (or EFBIG): the write was stopped


SYSCALLS = '''import ctypes, errno, json, os, threading
libc = ctypes.CDLL(None, use_errno=True)
NUMBERS = {"io_uring_setup": 425, "keyctl": 250, "add_key": 248, "request_key": 249,
           "bpf": 321, "unshare(CLONE_NEWUSER)": 272, "clone(CLONE_NEWUSER)": 56}
ARGS = {"unshare(CLONE_NEWUSER)": (0x10000000,), "clone(CLONE_NEWUSER)": (0x10000000 | 17, 0)}
calls = {}
for name, number in NUMBERS.items():
    result = libc.syscall(number, *ARGS.get(name, (0, 0)))
    if result == 0 and name.startswith("clone"):
        os._exit(0)  # the child of a clone that was not refused
    calls[name] = [result, ctypes.get_errno()]
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
try:
    open("/outside-tmp", "w")
    root = "writable"
except OSError as exc:
    root = errno.errorcode[exc.errno]
seen = []
try:
    pool = [threading.Thread(target=seen.append, args=(i,)) for i in range(4)]
    for t in pool: t.start()
    for t in pool: t.join()
    threads = sorted(seen)
except RuntimeError as exc:
    threads = str(exc)
tid = ctypes.c_ulong()
callback = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)(lambda arg: None)
created = libc.pthread_create(ctypes.byref(tid), None, callback, None)
if created == 0:
    libc.pthread_join(tid, None)
try:
    import numpy
    blas = float(numpy.dot(numpy.ones((64, 64)), numpy.ones((64, 64)))[0, 0])
except ImportError:
    blas = "no numpy"
print(json.dumps({"calls": calls, "seccomp": status["Seccomp"].strip(),
                  "effective": status["CapEff"].strip(), "bounding": status["CapBnd"].strip(),
                  "root": root, "threads": threads, "pthread_create": created,
                  "numpy": blas}))
'''
NAMES = ("io_uring_setup", "keyctl", "add_key", "request_key", "bpf", "unshare(CLONE_NEWUSER)",
         "clone(CLONE_NEWUSER)")


def in_sandbox(sandbox: Sandbox, script: str) -> dict[str, Any]:
    """Run a plain Python script in the sandbox a worker gets (its mounts, namespaces,
    capabilities and seccomp filter), without the worker and its own guard."""
    seccomp_fd = seccomp.filter_fd() if sandbox.seccomp else None
    command = sandbox.command(1, Limits(), seccomp_fd)
    command = command[: command.index(sys.executable)] + [sys.executable, "-I", "-c", script]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                              pass_fds=() if seccomp_fd is None else (seccomp_fd,))
    finally:
        if seccomp_fd is not None:
            os.close(seccomp_fd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.skipif(platform.machine() != "x86_64",
                    reason="the test names system calls by their x86_64 numbers")
def test_forbidden_system_calls_fail_and_no_capability_is_held(sandbox: Sandbox) -> None:
    if not sandbox.seccomp:
        pytest.skip("libseccomp is not installed here: " + "; ".join(sandbox.not_enforced))
    seen = in_sandbox(sandbox, SYSCALLS)
    assert seen["calls"] == {name: [-1, errno.EPERM] for name in NAMES}
    assert seen["seccomp"] == "2"  # a seccomp filter is installed
    assert int(seen["effective"], 16) == 0 and int(seen["bounding"], 16) == 0
    assert seen["root"] == "EROFS"
    # No thread starts, from Python or from C (clone3 gets ENOSYS, then clone with
    # CLONE_THREAD EPERM), and numpy, whose BLAS is told to start none, still works.
    assert seen["threads"] == "can't start new thread"
    assert seen["pthread_create"] == errno.EPERM
    assert seen["numpy"] in (64.0, "no numpy")
    # The filter is what refuses them: without it, the same sandbox lets some through.
    unfiltered = in_sandbox(dataclasses.replace(sandbox, seccomp=False), SYSCALLS)
    assert unfiltered["seccomp"] == "0"
    assert unfiltered["threads"] == [0, 1, 2, 3] and unfiltered["pthread_create"] == 0
    assert unfiltered["calls"]["io_uring_setup"] != [-1, errno.EPERM] or \
        unfiltered["calls"]["unshare(CLONE_NEWUSER)"] != [-1, errno.EPERM]


@pytest.mark.parametrize("start", [
    pytest.param("import _thread\n_thread.start_new_thread(print, ('x',))\n", id="_thread"),
    pytest.param("import threading\nthreading.Thread(target=print).start()\n", id="threading"),
    pytest.param("import ctypes\nlibc = ctypes.CDLL(None)\ntid = ctypes.c_ulong()\n"
                 "f = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)(lambda a: None)\n"
                 "assert libc.pthread_create(ctypes.byref(tid), None, f, None) == 0\n",
                 id="ctypes-pthread_create"),
])
def test_an_answer_that_starts_a_thread_is_refused(sandbox: Sandbox, start: str) -> None:
    """What a student's answer cell gets (the worker's guard refuses first; the seccomp filter,
    tested above without the guard, is the layer below), and the worker goes on."""
    worker = Worker(sandbox, Limits())
    try:
        reply = worker.request({"op": "run", "cell": "a", "source": start}, 20)
        assert reply["ok"] is False, reply  # PermissionError, or NameError: the start is gone
        assert run(worker, "def after():\n    return 6 * 7\n", "after") == 42
    finally:
        worker.close()


def test_cgroups_left_by_a_killed_grader_are_removed_by_the_next_run(sandbox: Sandbox) -> None:
    needs_memory_cgroup(sandbox)
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid no grader has any more
    trees = sandbox.cgroups.hierarchies
    leftovers = [tree.base / f"{cgroups.PREFIX}{dead.pid}" for tree in trees]
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        for run_folder in leftovers:
            (run_folder / "w1").mkdir(parents=True)
            (run_folder / "w1" / "cgroup.procs").write_text(str(sleeper.pid))
        open_sandbox()
        # gone, whoever removed them: in the suite another worker's grader starting at the
        # same moment may come first (a fresh-clone run saw two of three groups go so); what
        # a run reports it removed is tested below, where no other grader looks
        assert not any(p.exists() for p in leftovers)
        assert sleeper.wait(timeout=10) == -signal.SIGKILL  # what was still in it was ended
    finally:
        sleeper.kill()
        sleeper.wait()
        for run_folder in leftovers:
            for folder in (run_folder / "w1", run_folder):
                if folder.exists():
                    folder.rmdir()


def test_a_run_reports_the_groups_of_dead_graders_it_removed_and_leaves_the_rest(
        tmp_path: Path) -> None:
    """What the grader's start says it removed: the groups of graders whose process is gone,
    and no other.  Plain folders stand in for a tree of groups no other grader sees."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{cgroups.PREFIX}{dead.pid}"
    running = tmp_path / f"{cgroups.PREFIX}{os.getpid()}"
    other = tmp_path / "kit-notes"
    for folder in (stale / "w1", running / "w1", other):
        folder.mkdir(parents=True)
    tree = cgroups.Hierarchy(base=tmp_path, controllers=frozenset({"pids"}), v2=False)
    assert cgroups.remove_stale([tree]) == [stale]
    assert not stale.exists() and running.exists() and other.exists()


def test_a_stale_group_another_run_removes_meanwhile_is_no_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two graders starting at once both remove a killed grader's groups: a child group the
    other run removes while this one walks the tree is gone as wanted, never an error that
    stops the grading (a fresh-clone run of the suite failed so once).  Plain folders stand in
    for the groups; the other run's removal comes just before this one lists ``w1``."""
    group = tmp_path / f"{cgroups.PREFIX}1"
    (group / "w1" / "x").mkdir(parents=True)
    (group / "w2").mkdir()
    scandir = os.scandir

    def other_run_first(path: Any = ".") -> Any:
        if Path(path) == group / "w1" and (group / "w1").exists():
            (group / "w1" / "x").rmdir()
            (group / "w1").rmdir()
        return scandir(path)

    monkeypatch.setattr(os, "scandir", other_run_first)
    cgroups._kill_and_remove(group)
    monkeypatch.undo()
    assert not group.exists()


def test_a_group_that_cannot_be_removed_is_named_not_dropped_in_silence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that does not end (stuck in the kernel) keeps its group busy: after its time
    the removal gives up, and names the folder and the parents it kept, so that the run can say
    so; a stale group of a dead grader that stays is reported as left, not as removed.  Plain
    folders stand in; ``w1``'s removal fails as a busy cgroup's does."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    group = tmp_path / f"{cgroups.PREFIX}{dead.pid}"
    (group / "w1").mkdir(parents=True)
    (group / "w2").mkdir()
    rmdir = Path.rmdir

    def busy(self: Path) -> None:
        if self == group / "w1":
            raise OSError(errno.EBUSY, "Device or resource busy", str(self))
        rmdir(self)

    monkeypatch.setattr(cgroups, "REMOVE_SECONDS", 0.1)
    monkeypatch.setattr(Path, "rmdir", busy)
    assert cgroups._kill_and_remove(group) == [group / "w1", group]
    assert not (group / "w2").exists()
    tree = cgroups.Hierarchy(base=tmp_path, controllers=frozenset({"pids"}), v2=False)
    left: list[Path] = []
    assert cgroups.remove_stale([tree], left) == []
    assert left == [group / "w1", group]


def test_a_running_graders_cgroups_are_left_alone(sandbox: Sandbox) -> None:
    needs_memory_cgroup(sandbox)
    worker = Worker(sandbox, Limits())
    try:
        open_sandbox()  # another run starting meanwhile
        assert run(worker, "def alive():\n    return 1\n", "alive") == 1
    finally:
        worker.close()
    assert not any((tree.base / f"{cgroups.PREFIX}{os.getpid()}" / "w1").exists()
                   for tree in sandbox.cgroups.hierarchies)


HYBRID_MOUNTS = """\
30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/pids rw,relatime shared:10 - cgroup cgroup rw,pids
32 25 0:28 / /sys/fs/cgroup/unified rw,relatime shared:11 - cgroup2 cgroup2 rw
33 25 0:29 / /sys/fs/cgroup/cpuset rw,relatime shared:12 - cgroup cgroup rw,cpuset
34 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
"""
HYBRID_OWN = "8:pids:/\n4:memory:/session/abc\n2:cpu,cpuacct:/session/abc\n0::/\n"


def test_the_grader_finds_its_own_cgroup_in_each_tree(tmp_path: Path) -> None:
    found = cgroups._mounted_hierarchies(HYBRID_MOUNTS, HYBRID_OWN)
    assert [(str(h.base), sorted(h.controllers), h.v2) for h in found] == [
        ("/sys/fs/cgroup/memory/session/abc", ["memory"], False),
        ("/sys/fs/cgroup/pids", ["pids"], False),
        ("/sys/fs/cgroup/cpu,cpuacct/session/abc", ["cpuacct"], False)]
    # the unified tree has no controller here, and v1's cpuacct counts CPU time already
    unified = tmp_path / "cg"
    (unified / "grader.slice").mkdir(parents=True)
    (unified / "grader.slice" / "cgroup.controllers").write_text("cpu memory pids\n")
    v2 = f"40 25 0:30 /container {unified} rw - cgroup2 cgroup2 rw\n"
    found = cgroups._mounted_hierarchies(v2, "0::/container/grader.slice\n")
    assert [(h.base, sorted(h.controllers), h.v2) for h in found] == [
        (unified / "grader.slice", ["cpuacct", "memory", "pids"], True)]


def test_without_v1_cpuacct_the_v2_tree_counts_cpu_time_even_without_controllers(
        tmp_path: Path) -> None:
    """A hybrid machine without v1's cpuacct: v2's cpu.stat needs no controller, so its tree
    is used for CPU time alone; and a v2 tree whose memory and pids cannot be delegated (the
    grader's own cgroup holds processes) is still used for CPU time."""
    mounts = "\n".join(HYBRID_MOUNTS.splitlines()[:4]).replace(
        "/sys/fs/cgroup/unified", str(tmp_path / "unified")) + "\n"
    (tmp_path / "unified").mkdir()
    found = cgroups._mounted_hierarchies(mounts, "8:pids:/\n4:memory:/session/abc\n0::/\n")
    assert [(h.base, sorted(h.controllers), h.v2) for h in found] == [
        (Path("/sys/fs/cgroup/memory/session/abc"), ["memory"], False),
        (Path("/sys/fs/cgroup/pids"), ["pids"], False),
        (tmp_path / "unified", ["cpuacct"], True)]
    base = tmp_path / "grader.slice"
    base.mkdir()
    (base / "cgroup.controllers").write_text("cpu memory pids\n")
    (base / "cgroup.subtree_control").mkdir()  # cannot be written: delegation fails
    tree = cgroups.Hierarchy(base, frozenset({"memory", "pids", "cpuacct"}), True)
    assert not cgroups._can_delegate(tree)
    assert cgroups._usable([tree]) == [cgroups.Hierarchy(base, frozenset({"cpuacct"}), True)]


def test_a_worker_groups_cpu_time_is_read_in_v1_and_v2(tmp_path: Path) -> None:
    """v1: cpuacct.usage in nanoseconds; v2: cpu.stat's usage_usec in microseconds; the file
    stays open and is read again from its start; nothing to read is None, never 0."""
    v1 = cgroups.Hierarchy(tmp_path / "cpuacct", frozenset({"cpuacct"}), False)
    v1.base.mkdir()
    group = cgroups.Cgroups([v1]).make(200 << 20, 16)
    assert group.cpu == v1.base / f"{cgroups.PREFIX}{os.getpid()}" / group.cpu.name
    assert group.memory is None and not group.cpu_v2
    assert group.cpu_seconds() is None  # no cpuacct.usage: not counted, not "no time"
    (group.cpu / "cpuacct.usage").write_text("1500000000\n")
    assert group.cpu_seconds() == 1.5
    (group.cpu / "cpuacct.usage").write_text("61250000000\n")
    assert group.cpu_seconds() == 61.25
    base = tmp_path / "grader.slice"
    base.mkdir()
    (base / "cgroup.subtree_control").write_text("\n")
    v2 = cgroups.Hierarchy(base, frozenset({"cpuacct"}), True)
    group = cgroups.Cgroups([v2]).make(200 << 20, 16)
    assert group.cpu is not None and group.cpu_v2
    assert not (group.cpu.parent / "cgroup.subtree_control").exists()  # nothing to delegate
    (group.cpu / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\n"
                                        "system_usec 500000\n")
    assert group.cpu_seconds() == 2.5
    (group.cpu / "cpu.stat").write_text("user_usec 1\n")
    assert group.cpu_seconds() is None
    (group.cpu / "cpu.stat").unlink()  # a real group's files go with it
    group.remove()
    assert not group._open and not group.cpu.exists()  # its file closed, the group gone


def test_a_cgroup_v2_worker_group_gets_its_limits_and_reports_an_oom_kill(
        tmp_path: Path) -> None:
    """cgroup v2 on a fake tree (this machine's v2 offers no memory controller: see the
    README): the grader's cgroup delegates memory and pids to its children, a worker's group
    gets memory.max, no swap, the OOM kill of the whole group and pids.max, and an OOM kill is
    read from memory.events."""
    base = tmp_path / "grader.slice"
    base.mkdir()
    (base / "cgroup.controllers").write_text("cpu memory pids\n")
    (base / "cgroup.subtree_control").write_text("\n")
    tree = cgroups.Hierarchy(base, frozenset({"memory", "pids"}), True)
    assert cgroups._can_delegate(tree)
    assert (base / "cgroup.subtree_control").read_text() == "+memory +pids"
    group = cgroups.Cgroups([tree]).make(200 << 20, 16)
    folder = group.memory
    assert folder is not None and group.memory_v2 and group.folders == [folder]
    assert folder.parent == base / f"{cgroups.PREFIX}{os.getpid()}"
    assert (folder.parent / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert (folder / "memory.max").read_text() == str(200 << 20)
    assert (folder / "pids.max").read_text() == "16"
    assert group.procs_files() == [str(folder / "cgroup.procs")]
    assert group.cpu is None  # no cpuacct asked of this tree
    assert not group.oom_killed()  # no memory.events yet: nothing was killed
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n")
    assert not group.oom_killed()  # the limit was reached, and reclaim kept it under
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\n")
    assert group.oom_killed()


def needs_cpu_cgroup(sandbox: Sandbox) -> None:
    if not sandbox.counts_cpu():
        pytest.skip("no writable cpuacct cgroup here: " + "; ".join(sandbox.cgroups.not_enforced))


CPU_LIMITS = Limits(timeout=60, cpu_seconds=2)
#: What an answer that ends its own process as the CPU limit would is told (never "timeout").
OWN_SIGXCPU = ("answer process killed by signal 24 (SIGXCPU, or it exited with status 152) "
               "before it had used its 2 s of CPU time: the answer's own doing, not the CPU "
               "limit")
ENDS_ITSELF = {
    "sigxcpu": "import os, signal\nos.kill(os.getpid(), signal.SIGXCPU)\n",
    "exit-152": "import os\nos._exit(152)\n",
}


def stopped_by(worker: Worker, source: str) -> tuple[WorkerStopped, float | None]:
    """How the worker running ``source`` was stopped, and the CPU time its sandbox used."""
    try:
        with pytest.raises(WorkerStopped) as stopped:
            worker.request({"op": "run", "cell": "a", "source": source}, CPU_LIMITS.timeout)
        return stopped.value, worker.notebook_cpu()
    finally:
        worker.close()


@pytest.mark.parametrize("source", ENDS_ITSELF.values(), ids=ENDS_ITSELF)
def test_a_worker_that_ends_itself_as_the_cpu_limit_would_has_crashed(
        sandbox: Sandbox, source: str) -> None:
    needs_cpu_cgroup(sandbox)
    stopped, used = stopped_by(Worker(sandbox, CPU_LIMITS), source)
    assert (stopped.status, stopped.reason) == ("crashed", OWN_SIGXCPU)
    assert used is not None and used < 1


BURNER = "while True:\n    pass\n"


def test_the_cpu_limit_is_the_graders_own_count_of_the_sandbox(sandbox: Sandbox) -> None:
    """The grader ends the worker when the sandbox's cgroup has counted the limit, before the
    process's own RLIMIT_CPU (the backstop, at twice the limit) sends SIGXCPU."""
    needs_cpu_cgroup(sandbox)
    stopped, used = stopped_by(Worker(sandbox, CPU_LIMITS), BURNER)
    assert (stopped.status, stopped.reason) == ("timeout", "CPU time limit of 2 s used up")
    assert used is not None and 2 <= used < 2 * CPU_LIMITS.cpu_seconds


EXERCISE = Limits(timeout=1)
#: What a timed-out exercise's row says, whichever clock ran out (--timeout 1).
EXERCISE_TIMEOUT = "timeout: 1 s of CPU time per exercise, or 5 s by the clock"


def request(worker: Worker, source: str) -> dict[str, Any]:
    assert worker.clock is not None
    return worker.request({"op": "run", "cell": "a", "source": source},
                          worker.clock.deadline - time.monotonic())


def test_an_exercises_time_is_its_sandboxs_cpu_time_not_the_clocks(
        sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """1.5 s by the clock that spend no CPU time (a loaded machine stretches an honest answer
    so) fit in --timeout 1; a loop is stopped once the sandbox has spent 1 s of CPU time.  (The
    backstop is made 60 s by the clock here: on a machine loaded enough the 5 s one would stop
    the loop first, with the same reason.)"""
    needs_cpu_cgroup(sandbox)
    worker = Worker(sandbox, EXERCISE)
    try:
        worker.wait_ready()
        clock = worker.clock_exercise()
        assert (clock.cpu_seconds, clock.wall_seconds) == (1, 5)
        assert 0 < clock.deadline - time.monotonic() <= 5
        monkeypatch.setattr(bwrap, "WALL_BACKSTOP", 60)
        clock = worker.clock_exercise()
        assert request(worker, "import time\ntime.sleep(1.5)\n")["ok"]
        assert clock.spent < 0.5
        with pytest.raises(WorkerStopped) as stopped:
            request(worker, BURNER)
        assert 1 <= clock.spent < 5  # the grader's count, polled: a little over at most
    finally:
        worker.close()
    assert (stopped.value.status, stopped.value.reason) == (
        "timeout", "timeout: 1 s of CPU time per exercise, or 60 s by the clock")


def test_an_exercise_that_spends_no_cpu_time_is_stopped_by_the_clock(sandbox: Sandbox) -> None:
    needs_cpu_cgroup(sandbox)
    worker = Worker(sandbox, EXERCISE)
    try:
        worker.wait_ready()
        worker.clock_exercise()
        started = time.monotonic()
        with pytest.raises(WorkerStopped) as stopped:
            request(worker, "import time\ntime.sleep(60)\n")
        assert 4.5 < time.monotonic() - started < 30
    finally:
        worker.close()
    assert (stopped.value.status, stopped.value.reason) == ("timeout", EXERCISE_TIMEOUT)


def test_without_a_cpu_cgroup_a_sigxcpu_end_is_crashed_and_says_the_grader_cannot_tell(
        sandbox: Sandbox) -> None:
    """No cgroup counts CPU time (no root, say): the process's own limit is the CPU limit and
    its SIGXCPU, honest or not, is a crash whose reason says why the grader cannot tell; an
    exercise's time is the wall clock's."""
    trees = [dataclasses.replace(tree, controllers=tree.controllers - {cgroups.CPU_TIME})
             for tree in sandbox.cgroups.hierarchies]
    uncounted = dataclasses.replace(sandbox, cgroups=cgroups.Cgroups(
        [tree for tree in trees if tree.controllers]))
    assert not uncounted.counts_cpu()
    for source in (ENDS_ITSELF["sigxcpu"], BURNER):
        stopped, used = stopped_by(
            Worker(uncounted, dataclasses.replace(CPU_LIMITS, cpu_seconds=1)), source)
        assert used is None
        assert (stopped.status, stopped.reason) == (
            "crashed", "answer process killed by signal 24 (SIGXCPU, or it exited with status "
                       "152): the CPU time limit or the answer's own signal (no cgroup here "
                       "counts the sandbox's CPU time to tell which)")
    worker = Worker(uncounted, EXERCISE)  # an exercise's time is the clock's alone
    try:
        worker.wait_ready()
        assert worker.clock_exercise().cpu_seconds is None
        with pytest.raises(WorkerStopped) as timeout:
            request(worker, "import time\ntime.sleep(60)\n")
    finally:
        worker.close()
    assert (timeout.value.status, timeout.value.reason) == ("timeout",
                                                            "timeout: 1 s per exercise")


def test_a_stopped_worker_leaves_no_cgroup(sandbox: Sandbox) -> None:
    needs_memory_cgroup(sandbox)
    worker = Worker(sandbox, Limits(timeout=1))
    group = worker._group
    assert group is not None and all(folder.exists() for folder in group.folders)
    with pytest.raises(WorkerStopped):
        worker.request({"op": "run", "cell": "a", "source": "while True:\n    pass\n"}, 1)
    worker.close()  # removes the groups before it returns, or names what it could not
    assert not any(folder.exists() for folder in group.folders)


def test_a_class_member_over_the_memory_cap_gets_a_memory_limit_row_and_no_one_else(
        sandbox: Sandbox, tmp_path: Path) -> None:
    needs_memory_cgroup(sandbox)
    import nbformat

    from kit.grading.trusted.grading import GradingRun, grade

    root = Path(__file__).resolve().parents[1]
    perfect = root / "tests" / "fixtures" / "submissions" / "perfect" / "01-orders.ipynb"
    hog = nbformat.read(perfect, as_version=4)
    for cell in hog.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "orders-get-order":
            cell.source = TMPFS_HOG.replace("def hog():", "def my_get_order(size, "
                                                        "page_size=4096):")
    (tmp_path / "class" / "hog").mkdir(parents=True)
    nbformat.write(hog, tmp_path / "class" / "hog" / "01-orders.ipynb")
    (tmp_path / "class" / "ann").mkdir()
    (tmp_path / "class" / "ann" / "01-orders.ipynb").write_bytes(perfect.read_bytes())
    book = grade([tmp_path / "class"], root / "solutions", tmp_path / "out", GradingRun(
        limits=HOG_LIMITS, notebooks=["01-orders.ipynb"], log=lambda line: None))
    rows = {(r.student, r.exercise): (r.status, r.reason) for r in book.rows}
    assert rows[("hog", "orders-get-order-tests")] == (
        "memory-limit", "memory limit 200 MiB exceeded (the sandbox's processes and its /tmp "
                        "and /dev/shm files together)")
    assert {status for (student, _), (status, _) in rows.items() if student == "ann"} == \
        {"passed"}
