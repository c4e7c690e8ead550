"""Recording real traces (kit.core.tracefs): bounded, and the tracing state always restored.

These record for real where they can: Linux, root, tracefs available (CI here is root on Linux
6.18).  Elsewhere they skip, saying why; the refusal without root is tested everywhere.
"""

from __future__ import annotations

import gzip
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from recorders import recorder, tracing_state, wait_until_recording

from kit.core import tracefs
from kit.core.errors import KitError
from kit.core.kerneltrace import PAGE_EVENTS, TraceReport
from kit.core.recording import PROC_FILES, SHIPPED, load_recording
from kit.core.tracefs import TracingUnavailable, record_trace


def _can_record() -> str:
    """Why recording cannot run here, or "" when it can."""
    if platform.system() != "Linux":
        return "kernel tracing is Linux only"
    if os.geteuid() != 0:
        return "recording needs root"
    if "tracefs" not in Path("/proc/filesystems").read_text():
        return "this kernel has no tracefs"
    return ""


needs_tracing = pytest.mark.skipif(bool(_can_record()), reason=_can_record() or "can record")


@needs_tracing
def test_records_a_bounded_trace_and_restores_the_state(tmp_path: Path) -> None:
    before = tracing_state()
    # An idle machine can allocate fewer than 300 pages in 5 s: a process allocates for it.
    target = Path("/dev/shm") / f"kit-test-load-{os.getpid()}"
    load = subprocess.Popen(["sh", "-c", f"while :; do head -c 1000000 /dev/zero > {target}; done"])
    try:
        recording = record_trace(tmp_path, seconds=5, max_events=300)
    finally:
        load.kill()
        load.wait()
        target.unlink(missing_ok=True)
    assert tracing_state() == before
    report = TraceReport()
    events = list(recording.events(report))
    assert len(events) == 300 and report.malformed_count == 0
    assert recording.header["recorded"].endswith("300 events (cap 300), stopped by: event cap")
    assert recording.header["kernel"].startswith("Linux ")
    assert {e.event for e in events} <= set(PAGE_EVENTS)
    for name in PROC_FILES:
        assert recording.proc_path(name, "before").stat().st_size > 0
        assert recording.proc_path(name, "after").stat().st_size > 0
    assert recording.zoneinfo("after") and recording.vmstat("after")["pgfree"] > 0
    assert not (tmp_path / "trace.body.tmp").exists()


@needs_tracing
def test_records_while_a_command_runs(tmp_path: Path) -> None:
    before = tracing_state()
    target = Path("/dev/shm") / f"kit-test-{os.getpid()}"
    pid_file = tmp_path / "dd.pid"
    # the shell writes its pid and becomes dd (exec keeps the pid)
    command = ["sh", "-c", 'echo $$ > "$0"; exec dd if=/dev/zero of="$1" bs=1M count=4 '
               "status=none", str(pid_file), str(target)]
    try:
        recording = record_trace(tmp_path, seconds=20, command=command, compress=False)
    finally:
        target.unlink(missing_ok=True)
    assert tracing_state() == before
    assert recording.trace.name == "trace.txt"
    assert "stopped by: command finished" in recording.header["recorded"]
    # By pid, not name: a trace's names are looked up at read time in the kernel's cache of
    # names by pid, which may still call dd "python", "sh", or an earlier owner of its pid
    # (see test_only_the_command_and_its_children)
    dd_pid = int(pid_file.read_text())
    dd_pages = sum(e.pages for e in recording.events()
                   if e.pid == dd_pid and e.event == "mm_page_alloc")
    assert dd_pages >= 1024  # 4 MiB of tmpfs pages, at least


#: The command of the test below: it feeds 3 MB to a child ``sort`` and writes its own pid and
#: the child's, so the test knows every process of the command's tree.
TREE = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(['sort'], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)\n"
    "child.communicate(bytes(3_000_000))\n"
    "open(sys.argv[1], 'w').write(f'{os.getpid()} {child.pid}')\n"
)


@needs_tracing
def test_only_the_command_and_its_children(tmp_path: Path) -> None:
    """Every event is the command's or its child's, told by pid: a process's name in a trace is
    looked up when the trace is read, in the kernel's cache of names by pid, which can still
    hold an earlier process's name for a reused pid (/proc/sys/kernel/pid_max reads 32768 on
    these 2-CPU machines, and a busy one wraps it: a fresh-clone run once saw a Python thread's
    name, ZMQbg/IO/0, on the command's events)."""
    before = tracing_state()
    pids = tmp_path / "pids"
    command = [sys.executable, "-c", TREE, str(pids)]
    recording = record_trace(tmp_path / "trace", seconds=20, command=command, only_command=True)
    assert tracing_state() == before
    # the script's line breaks did not end the header (they are written as \n)
    assert recording.header["traced"] == "the command and its children only"
    script = recording.header["command"]
    assert "child.communicate(" in script and "\\n" in script
    parent, child = (int(pid) for pid in pids.read_text().split())
    events = list(recording.events())
    assert {e.pid for e in events} <= {parent, child}  # never another process of the machine
    assert sum(e.pages for e in events if e.pid == child and e.event == "mm_page_alloc") >= 16


@needs_tracing
@pytest.mark.parametrize("only_command", [False, True])
def test_a_command_that_cannot_start_restores_the_state(
    tmp_path: Path, only_command: bool
) -> None:
    before = tracing_state()
    with pytest.raises(KitError, match="cannot run no-such-command-kit"):
        record_trace(
            tmp_path, seconds=2, command=["no-such-command-kit"], only_command=only_command
        )
    assert tracing_state() == before


@needs_tracing
def test_an_error_while_recording_restores_the_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tracing_state()
    seen = []

    def broken_read(self: object) -> bytes:
        seen.append(tracing_state())
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(tracefs._Session, "read", broken_read)
    with pytest.raises(OSError, match="Input/output error"):
        record_trace(tmp_path, seconds=2)
    assert seen and any(name.startswith("kit-") for name in seen[0].instances)
    assert tracing_state() == before


@needs_tracing
@pytest.mark.parametrize("late", ["snapshot", "start"])
def test_ctrl_c_before_tracing_runs_keeps_an_empty_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, late: str
) -> None:
    """Ctrl-C while the first snapshot is taken or tracefs is set up (seconds on a loaded
    machine): the trace file is still written, with no event, and the state restored."""
    before = tracing_state()
    if late == "snapshot":
        snapshot = tracefs._snapshot

        def interrupted(folder: Path, when: str) -> None:
            snapshot(folder, when)
            if when == "before":
                raise KeyboardInterrupt

        monkeypatch.setattr(tracefs, "_snapshot", interrupted)
    else:
        def interrupted(self: object, only_pid: int | None = None) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(tracefs._Session, "start", interrupted)
    with pytest.raises(KeyboardInterrupt):
        record_trace(tmp_path, seconds=60)
    assert tracing_state() == before
    with gzip.open(tmp_path / "trace.txt.gz", "rt") as handle:
        text = handle.read()
    assert "stopped by: interrupted" in text and ", 0 events" in text
    assert not [line for line in text.splitlines() if not line.startswith("#")]


@needs_tracing
def test_ctrl_c_keeps_what_was_recorded_and_restores_the_state(tmp_path: Path) -> None:
    before = tracing_state()
    script = (
        "import sys\nfrom kit.core.tracefs import record_trace\n"
        "try:\n    record_trace(sys.argv[1], seconds=60, max_events=10**9)\n"
        "except KeyboardInterrupt:\n    sys.exit(130)\n"
    )
    # No event cap: a busy machine can reach the default one before the signal comes.
    with recorder([sys.executable, "-c", script, str(tmp_path)]) as child:
        # it is recording in an instance of its own
        assert wait_until_recording(child) in tracefs.tracing_state().instances
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=30) == 130
    assert tracing_state() == before
    recording = load_recording(tmp_path)
    assert "stopped by: interrupted" in recording.header["recorded"]


def test_without_root_it_says_so_in_one_line_and_names_the_shipped_trace(
    tmp_path: Path,
) -> None:
    before = tracing_state()
    as_root = platform.system() == "Linux" and os.geteuid() == 0
    if as_root:
        os.seteuid(65534)  # an ordinary user for this call; the real uid stays root
    try:
        with pytest.raises(TracingUnavailable) as refused:
            record_trace(tmp_path, seconds=1)
    finally:
        if as_root:
            os.seteuid(0)
    message = str(refused.value)
    assert "\n" not in message and "cannot record a kernel trace here" in message
    assert "shipped recording" in message and str(SHIPPED) in message
    if platform.system() == "Linux":
        assert "root" in message
    assert tracing_state() == before
    assert not (tmp_path / "trace.txt.gz").exists()


def test_bad_bounds_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KitError, match="must be positive"):
        record_trace(tmp_path, seconds=0)


def test_releasing_a_held_command_that_already_died_does_not_raise() -> None:
    """A held command waits for the go signal; if it died first (its shell failed), writing
    the signal meets a broken pipe, which must not stop the clean-up of the recording."""
    command = tracefs._Command(["true"], held=True)
    command.process.kill()
    command.process.wait()
    command.release()  # no BrokenPipeError
    command.end()
    assert command.go is None


def test_the_core_as_a_grading_sandbox_loads_it_imports_neither_subprocess_nor_platform() -> None:
    # Every sandbox imports the whole core as it starts (its guard indexes it) and never
    # records: the two modules a recording needs are imported where it uses them.
    kit_parent = str(Path(tracefs.__file__).resolve().parents[2])
    code = (f"import sys; sys.path.insert(0, {kit_parent!r}); "
            "from kit.grading.sandboxed import guard; guard.preload(); "
            "print(sorted({'subprocess', 'platform'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "[]"


# ------------------------------------------------ instances left behind by killed recordings
#: A stand-in recorder: it makes its instance as a recording does, says so, then waits.
_FAKE_RECORDER = (
    "import os, sys, time\n"
    "os.mkdir(f'{sys.argv[1]}/instances/kit-{os.getpid()}-{time.monotonic_ns()}')\n"
    "print('recording', flush=True)\n"
    "time.sleep(120)\n"
)


def _killed_recorder(root: Path, reap: bool = True) -> tuple[subprocess.Popen[str], str]:
    """A stand-in recorder SIGKILLed while it records into the fake tracefs ``root``; the name
    of the instance it left.  Without ``reap`` it stays a zombie (its parent has not waited)."""
    before = set(os.listdir(root / "instances"))
    child = subprocess.Popen([sys.executable, "-c", _FAKE_RECORDER, str(root)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "recording\n"
    child.send_signal(signal.SIGKILL)
    if reap:
        child.wait(timeout=30)
    else:
        stat = Path(f"/proc/{child.pid}/stat")
        deadline = time.monotonic() + 30
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the killed recorder never became a zombie"
            time.sleep(0.01)
    [left] = set(os.listdir(root / "instances")) - before
    return child, left


@pytest.fixture
def fake_tracefs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty tracefs tree (its ``instances`` folder) that a recording finds as mounted."""
    root = tmp_path / "tracing"
    (root / "instances").mkdir(parents=True)
    monkeypatch.setattr(tracefs, "find_tracefs", lambda: root)
    return root


@pytest.mark.skipif(platform.system() != "Linux", reason="reads /proc/<pid>/stat (Linux)")
@pytest.mark.parametrize("reap", [True, False], ids=["reaped", "zombie"])
def test_a_recording_removes_the_instance_a_killed_recorder_left(
    fake_tracefs: Path, reap: bool
) -> None:
    """A SIGKILLed recorder's ``finally`` never runs: the next recording removes its instance,
    and only it (not another program's, not a running recorder's), saying so in one line."""
    child, left = _killed_recorder(fake_tracefs, reap)
    running = subprocess.Popen(["sleep", "120"])
    reaped = subprocess.Popen(["true"])
    reaped.wait()
    others = [f"kit-{running.pid}-1", f"kit-{os.getpid()}-2",  # recorders still running
              "kit-notes", f"kit-{reaped.pid}", f"kitten-{reaped.pid}-3", "perf-session"]
    for name in others:
        (fake_tracefs / "instances" / name).mkdir()
    said: list[str] = []
    try:
        session = tracefs._Session(64, notice=said.append)
        session.close()
    finally:
        running.kill()
        running.wait()
        child.wait()
    # its own instance stays in a fake tree: a plain folder with its buffer_size_kb file
    assert sorted(os.listdir(fake_tracefs / "instances")) == sorted(
        [*others, session.instance.name])
    assert len(said) == 1 and "\n" not in said[0] and left in said[0], said


@pytest.mark.parametrize("meanwhile", [True, False], ids=["mounted-meanwhile", "not-mounted"])
def test_a_mount_another_recording_made_meanwhile_is_used_not_unmounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, meanwhile: bool
) -> None:
    """Two recordings starting together where tracefs is not mounted both find it unmounted;
    the second one's mount then fails ("already mounted": two ``kit trace record`` started at
    once failed so, one in five tries).  That one records in the other's mount and leaves it
    mounted for it.  A mount that fails with nothing mounted still says why."""
    root = tmp_path / "tracing"
    (root / "instances").mkdir(parents=True)
    looks = iter([None, root if meanwhile else None])
    monkeypatch.setattr(tracefs, "find_tracefs", lambda: next(looks))
    monkeypatch.setattr(os, "geteuid", lambda: 0)  # the mount is faked: no root needed
    ran: list[list[str]] = []

    def mount(argv: list[str], **_options: object) -> subprocess.CompletedProcess[str]:
        ran.append(argv)
        return subprocess.CompletedProcess(
            argv, 32, "", f"mount: {tracefs.TRACEFS}: nodev already mounted on {tracefs.TRACEFS}.")

    monkeypatch.setattr(subprocess, "run", mount)
    if not meanwhile:
        with pytest.raises(TracingUnavailable, match="mounting tracefs failed: .*already mounted"):
            tracefs._Session(64, notice=print)
        return
    session = tracefs._Session(64, notice=print)
    assert session.root == root and session.instance.parent == root / "instances"
    assert not session.mounted_here
    session.close()
    assert [argv[0] for argv in ran] == ["mount"]  # no umount: the mount is the other's


def test_an_instance_another_recording_removes_meanwhile_is_no_error(
    fake_tracefs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two recordings starting together both find a killed recorder's instance: the one that
    comes second finds it gone, which is what it wanted."""
    instance = fake_tracefs / "instances" / "kit-4194304-1"  # above any pid_max: nobody's
    instance.mkdir()

    def gone_and_removed_by_another(pid: int) -> bool:
        instance.rmdir()  # the other recording, between this one's listing and its removal
        return True

    monkeypatch.setattr(tracefs, "process_gone", gone_and_removed_by_another)
    assert tracefs.remove_stale_instances(fake_tracefs) == []
    assert not instance.exists()


@needs_tracing
def test_a_recording_removes_what_a_sigkilled_recording_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """For real: ``kit trace record`` SIGKILLed while it records leaves its instance (events
    on); the next recording removes it, says so on standard error, and leaves the tracing
    state as it was before the killed one.  Tracefs is mounted first: a killed recording that
    mounted it leaves it mounted, and nothing tells the next one who mounted it (a fresh
    machine, where nothing had mounted it yet, failed this test on the mount alone)."""
    mounted_here = tracefs.find_tracefs() is None
    if mounted_here:
        subprocess.run(["mount", "-t", "tracefs", "nodev", str(tracefs.TRACEFS)], check=True)
    before = tracing_state()
    killed = tmp_path / "killed"
    try:
        with recorder([sys.executable, "-m", "kit", "trace", "record", "--seconds", "120",
                       "--out", str(killed)], stderr=subprocess.DEVNULL) as child:
            left = wait_until_recording(child)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        assert left.startswith(f"kit-{child.pid}-") and left in tracefs.tracing_state().instances
        enabled = tracefs.find_tracefs() / "instances" / left / "events" / "kmem" / \
            PAGE_EVENTS[0] / "enable"
        assert enabled.read_text().strip() == "1"  # left with its events on
        record_trace(tmp_path / "next", seconds=0.5)
        said = capsys.readouterr().err.splitlines()
        assert [line for line in said if left in line] == said and len(said) == 1, said
        assert tracing_state() == before
    finally:
        tracefs.remove_stale_instances(tracefs.find_tracefs() or tracefs.TRACEFS)
        if mounted_here:
            subprocess.run(["umount", str(tracefs.TRACEFS)], check=True)
