"""The sandbox caps resources for the whole worker: a memory cgroup that counts its processes
and its tmpfs files, a sized /dev/shm, a read-only root, no capabilities, a seccomp filter;
and cgroups left by a grader that was killed are removed by the next run."""

from __future__ import annotations

import dataclasses
import errno
import os
import platform
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from kit.grading.trusted import cgroups
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


FORKED_HOGS = '''import os, time

def hog():
    children = []
    for _ in range(5):
        pid = os.fork()
        if pid == 0:
            block = bytearray(60 << 20)  # each child stays under its own address-space limit
            time.sleep(30)
            os._exit(0)
        children.append(pid)
    time.sleep(3)
    return len(children)
'''


def test_memory_over_the_cap_across_processes_stops_that_worker_only(sandbox: Sandbox) -> None:
    """Five children of 60 MiB each stay under RLIMIT_AS each; together they pass the 200 MiB
    of the worker's cgroup, and the kernel ends them; a neighbour worker goes on."""
    needs_memory_cgroup(sandbox)
    limits = Limits(memory_mib=200)
    hog, neighbour = Worker(sandbox, limits), Worker(sandbox, limits)
    try:
        assert run(neighbour, "def ok():\n    return 41 + 1\n", "ok") == 42
        with pytest.raises(WorkerStopped) as stopped:
            run(hog, FORKED_HOGS, "hog")
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


SYSCALLS = '''import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
NUMBERS = {"io_uring_setup": 425, "keyctl": 250, "add_key": 248, "request_key": 249,
           "bpf": 321, "unshare(CLONE_NEWUSER)": 272, "clone(CLONE_NEWUSER)": 56}
ARGS = {"unshare(CLONE_NEWUSER)": (0x10000000,), "clone(CLONE_NEWUSER)": (0x10000000 | 17, 0)}

def attempts():
    out = {}
    for name, number in NUMBERS.items():
        result = libc.syscall(number, *ARGS.get(name, (0, 0)))
        if result == 0 and name.startswith("clone"):
            os._exit(0)  # the child of a clone that was not refused
        out[name] = (result, ctypes.get_errno())
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    try:
        open("/outside-tmp", "w")
        root = "writable"
    except OSError as exc:
        root = errno.errorcode[exc.errno]
    return out, status["Seccomp"].strip(), status["CapEff"].strip(), status["CapBnd"].strip(), root
'''


NAMES = ("io_uring_setup", "keyctl", "add_key", "request_key", "bpf", "unshare(CLONE_NEWUSER)",
         "clone(CLONE_NEWUSER)")


@pytest.mark.skipif(platform.machine() != "x86_64",
                    reason="the test names system calls by their x86_64 numbers")
def test_forbidden_system_calls_fail_and_no_capability_is_held(sandbox: Sandbox) -> None:
    if not sandbox.seccomp:
        pytest.skip("libseccomp is not installed here: " + "; ".join(sandbox.not_enforced))
    worker = Worker(sandbox, Limits())
    try:
        calls, mode, effective, bounding, root = run(worker, SYSCALLS, "attempts")
    finally:
        worker.close()
    assert calls == {name: (-1, errno.EPERM) for name in NAMES}
    assert mode == "2"  # a seccomp filter is installed
    assert int(effective, 16) == 0 and int(bounding, 16) == 0
    assert root == "EROFS"
    # The filter is what refuses them: without it, the same sandbox lets some through.
    unfiltered = Worker(dataclasses.replace(sandbox, seccomp=False), Limits())
    try:
        calls, mode, *_ = run(unfiltered, SYSCALLS, "attempts")
    finally:
        unfiltered.close()
    assert mode == "0"
    assert calls["io_uring_setup"] != (-1, errno.EPERM) or \
        calls["unshare(CLONE_NEWUSER)"] != (-1, errno.EPERM)


def test_threads_and_fork_still_work_under_the_filter(sandbox: Sandbox) -> None:
    """clone3 gets ENOSYS and the C library falls back to clone: threads and fork still work."""
    worker = Worker(sandbox, Limits())
    source = '''import os, threading
def threads():
    seen = []
    pool = [threading.Thread(target=seen.append, args=(i,)) for i in range(4)]
    for t in pool: t.start()
    for t in pool: t.join()
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    return sorted(seen), os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
'''
    try:
        assert run(worker, source, "threads") == ([0, 1, 2, 3], 3)
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
        fresh = open_sandbox()
        assert set(leftovers) <= set(fresh.cgroups.removed_stale)
        assert not any(p.exists() for p in leftovers)
        assert sleeper.wait(timeout=10) == -signal.SIGKILL  # what was still in it was ended
    finally:
        sleeper.kill()
        sleeper.wait()
        for run_folder in leftovers:
            for folder in (run_folder / "w1", run_folder):
                if folder.exists():
                    folder.rmdir()


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
"""
HYBRID_OWN = "8:pids:/\n4:memory:/session/abc\n0::/\n"


def test_the_grader_finds_its_own_cgroup_in_each_tree(tmp_path: Path) -> None:
    found = cgroups._mounted_hierarchies(HYBRID_MOUNTS, HYBRID_OWN)
    assert [(str(h.base), sorted(h.controllers), h.v2) for h in found] == [
        ("/sys/fs/cgroup/memory/session/abc", ["memory"], False),
        ("/sys/fs/cgroup/pids", ["pids"], False)]  # the unified tree here has no controller
    unified = tmp_path / "cg"
    (unified / "grader.slice").mkdir(parents=True)
    (unified / "grader.slice" / "cgroup.controllers").write_text("cpu memory pids\n")
    v2 = f"40 25 0:30 /container {unified} rw - cgroup2 cgroup2 rw\n"
    found = cgroups._mounted_hierarchies(v2, "0::/container/grader.slice\n")
    assert [(h.base, sorted(h.controllers), h.v2) for h in found] == [
        (unified / "grader.slice", ["memory", "pids"], True)]


def test_a_stopped_worker_leaves_no_cgroup(sandbox: Sandbox) -> None:
    needs_memory_cgroup(sandbox)
    worker = Worker(sandbox, Limits(timeout=1))
    group = worker._group
    assert group is not None and all(folder.exists() for folder in group.folders)
    with pytest.raises(WorkerStopped):
        worker.request({"op": "run", "cell": "a", "source": "while True:\n    pass\n"}, 1)
    worker.close()
    time.sleep(0.1)
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
            cell.source = FORKED_HOGS.replace("def hog():", "def my_get_order(size, "
                                                           "page_size=4096):")
    (tmp_path / "class" / "hog").mkdir(parents=True)
    nbformat.write(hog, tmp_path / "class" / "hog" / "01-orders.ipynb")
    (tmp_path / "class" / "ann").mkdir()
    (tmp_path / "class" / "ann" / "01-orders.ipynb").write_bytes(perfect.read_bytes())
    book = grade([tmp_path / "class"], root / "solutions", tmp_path / "out", GradingRun(
        limits=Limits(memory_mib=200, timeout=20), notebooks=["01-orders.ipynb"],
        log=lambda line: None))
    rows = {(r.student, r.exercise): (r.status, r.reason) for r in book.rows}
    assert rows[("hog", "orders-get-order-tests")] == (
        "memory-limit", "memory limit 200 MiB exceeded (the sandbox's processes and its /tmp "
                        "and /dev/shm files together)")
    assert {status for (student, _), (status, _) in rows.items() if student == "ann"} == \
        {"passed"}
