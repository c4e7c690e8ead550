"""Record the running kernel's page-allocator tracepoints, and leave tracing as it was found.

Recording needs root and tracefs (Linux; ``mount -t tracefs nodev /sys/kernel/tracing`` when it
is not mounted, which this module does for the time of the recording only).  It works in a
tracefs *instance* of its own (``instances/kit-<pid>-<ns>``): a private ring buffer with its own
event switches and ``tracing_on``, so the machine's top-level tracing (another tool's session,
``set_event``, the main buffer) is never touched.  Whatever happens (the end of the time, the
event cap, an error, Ctrl-C) the ``finally`` path switches the events it enabled off, stops
the instance, removes it (which frees its buffer) and unmounts tracefs if it mounted it.
Only SIGKILL (or a crash of the machine's power) skips that path and leaves the instance
behind, events on, its buffer read by nobody; so a recording removes, as it starts, every
``kit-<pid>-<ns>`` instance whose recorder process is gone, and says so in one line.  A mount
a killed recording made stays: nothing tells the next one who mounted tracefs, and a mounted
tracefs changes nothing (systemd mounts it at boot on most distributions).

Nothing here changes how the kernel manages memory: no compaction, no drop_caches, no sysctl.
The recording itself costs a little (the ring buffer, the reader's own allocations, which show
up in the trace under the recorder's comm).

``subprocess`` and ``platform`` are imported where a recording uses them, not with the module:
every grading sandbox imports the whole core as it starts (its guard indexes every kit
function) and never records, and the two cost ~15 ms of CPU of each sandbox's start.
"""

from __future__ import annotations

import errno
import gzip
import os
import re
import select
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kit.core.errors import KitError
from kit.core.kerneltrace import PAGE_EVENTS
from kit.core.pids import process_gone
from kit.core.recording import PROC_FILES, SHIPPED, Recording, load_recording

__all__ = [
    "TracingState",
    "record_or_shipped",
    "TracingUnavailable",
    "find_tracefs",
    "record_trace",
    "remove_stale_instances",
    "tracing_state",
]

TRACEFS = Path("/sys/kernel/tracing")
#: The name of a recording's instance: ``kit-<the recorder's pid>-<time.monotonic_ns()>``.
_INSTANCE_NAME = re.compile(r"kit-([0-9]+)-[0-9]+")
_MOUNTS = Path("/proc/mounts")
_READ_SIZE = 1 << 20


class TracingUnavailable(KitError):
    """Tracing cannot be used here (not Linux, not root, no tracefs); the message names the
    shipped recording to use instead."""


def _unavailable(reason: str) -> TracingUnavailable:
    return TracingUnavailable(
        f"cannot record a kernel trace here: {reason}; use the shipped recording "
        f"({SHIPPED}, kit.core.recording.shipped_recording())"
    )


def find_tracefs() -> Path | None:
    """Where tracefs is mounted (``/sys/kernel/tracing``, or debugfs's ``tracing`` folder on
    older set-ups), or None when it is not mounted."""
    try:
        mounts = _MOUNTS.read_text().splitlines()
    except OSError:
        return None
    points = {fields[1]: fields[2] for line in mounts if len(fields := line.split()) >= 3}
    for point, kind in points.items():
        if kind == "tracefs":
            return Path(point)
    for point, kind in points.items():
        if kind == "debugfs" and (Path(point) / "tracing" / "instances").is_dir():
            return Path(point) / "tracing"
    return None


@dataclass(frozen=True)
class TracingState:
    """What a recording must leave as it found: the mount, the top-level switches and the
    list of instances.  Tests compare it before and after a recording."""

    mounted: bool
    tracing_on: str = ""
    set_event: str = ""
    current_tracer: str = ""
    instances: tuple[str, ...] = ()


def tracing_state() -> TracingState:
    """The machine's tracing state now (empty fields where tracefs is not mounted)."""
    root = find_tracefs()
    if root is None:
        return TracingState(mounted=False)

    def read(name: str) -> str:
        try:
            return (root / name).read_text()
        except OSError:
            return ""

    try:
        instances = tuple(sorted(os.listdir(root / "instances")))
    except OSError:
        instances = ()
    return TracingState(
        True, read("tracing_on"), read("set_event"), read("current_tracer"), instances
    )


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _snapshot(out: Path, when: str) -> None:
    """Copy the /proc files a recording keeps (pagetypeinfo needs root, which we are)."""
    for name in PROC_FILES:
        try:
            text = Path("/proc", name).read_text()
        except OSError as exc:
            text = f"# /proc/{name} could not be read: {exc.strerror or exc}\n"
        (out / f"{name}-{when}.txt").write_text(text)


def _machine() -> str:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return (
        f"{os.cpu_count()} CPUs, {pages >> 20} MiB RAM, page size {os.sysconf('SC_PAGE_SIZE')}"
    )


def remove_stale_instances(root: Path) -> list[str]:
    """Remove the instances of recordings whose recorder is gone (SIGKILLed: its ``finally``
    never ran); return their names.

    Only names this module makes (``kit-<pid>-<ns>``) whose pid no process has: never
    another program's instance, nor one of a recorder still running (this one's included).
    Removing an instance frees its buffer and its event switches with it.  Another recording
    starting at the same time may remove the same instance first: gone is what is wanted.  One
    that cannot be removed (busy: a reader still has its pipe open) is left as it is.
    """
    try:
        names = sorted(os.listdir(root / "instances"))
    except OSError:
        return []
    removed = []
    for name in names:
        match = _INSTANCE_NAME.fullmatch(name)
        if match is None or not process_gone(int(match.group(1))):
            continue
        try:
            (root / "instances" / name).rmdir()
        except OSError:
            continue  # removed meanwhile by another recording, or busy: not ours to force
        removed.append(name)
    return removed


def _say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr)


class _Session:
    """One recording's tracefs instance, undone by :meth:`close` whatever happened."""

    def __init__(self, buffer_kb: int, notice: Callable[[str], None] = _say_on_stderr) -> None:
        self.mounted_here = False
        root = find_tracefs()
        if root is None:
            if os.geteuid() != 0:
                raise _unavailable("tracefs is not mounted and only root may mount it")
            TRACEFS.mkdir(parents=True, exist_ok=True)
            import subprocess  # here, not at import: see the module's docstring

            done = subprocess.run(
                ["mount", "-t", "tracefs", "nodev", str(TRACEFS)],
                capture_output=True, text=True, check=False,
            )
            if done.returncode == 0:
                self.mounted_here, root = True, TRACEFS
            else:
                # Another recording starting at the same time may have mounted it between
                # this one's look and its mount ("already mounted"): this one records in
                # that mount and leaves it to the one that made it.
                root = find_tracefs()
                if root is None:
                    raise _unavailable(f"mounting tracefs failed: {done.stderr.strip()}")
        self.root = root
        stale = remove_stale_instances(root)
        if stale:
            notice(
                f"removed {len(stale)} tracefs instance(s) left by recordings that were killed "
                f"(events still on, nobody reading): {', '.join(stale)}"
            )
        self.instance = root / "instances" / f"kit-{os.getpid()}-{time.monotonic_ns()}"
        self.enabled: list[Path] = []
        self.pipe: int | None = None
        try:
            self.instance.mkdir()
        except PermissionError:
            self.close()
            raise _unavailable("writing to tracefs needs root") from None
        except OSError as exc:
            self.close()
            raise _unavailable(f"cannot create a tracefs instance: {exc.strerror}") from None
        try:
            _write(self.instance / "buffer_size_kb", str(buffer_kb))
        except BaseException:
            self.close()
            raise

    def start(self, only_pid: int | None = None) -> None:
        """Enable the page events and start tracing; with ``only_pid``, only that process and
        the children it forks from now on (``set_event_pid`` with the ``event-fork`` option)."""
        if only_pid is not None:
            _write(self.instance / "options" / "event-fork", "1")
            _write(self.instance / "set_event_pid", str(only_pid))
        for event in PAGE_EVENTS:
            switch = self.instance / "events" / "kmem" / event / "enable"
            if switch.exists():
                _write(switch, "1")
                self.enabled.append(switch)
        _write(self.instance / "tracing_on", "1")
        self.pipe = os.open(self.instance / "trace_pipe", os.O_RDONLY | os.O_NONBLOCK)

    def read(self) -> bytes:
        """What the ring buffer holds now, without waiting (b"" when empty)."""
        assert self.pipe is not None
        try:
            return os.read(self.pipe, _READ_SIZE)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EINTR):
                return b""
            raise

    def wait(self, seconds: float) -> None:
        """Sleep until the ring buffer has data or ``seconds`` pass."""
        assert self.pipe is not None
        select.select([self.pipe], [], [], max(0.0, seconds))

    def stop(self) -> None:
        """Stop writing into the instance's buffer (what it holds can still be read)."""
        _write(self.instance / "tracing_on", "0")

    def close(self) -> None:
        """Undo everything, each step even if an earlier one failed."""
        for step in (self._stop_quietly, self._disable, self._close_pipe, self._remove):
            try:
                step()
            except OSError:
                pass
        if self.mounted_here:
            import subprocess

            subprocess.run(["umount", str(self.root)], capture_output=True, check=False)

    def _stop_quietly(self) -> None:
        if self.instance.exists():
            self.stop()

    def _disable(self) -> None:
        while self.enabled:
            _write(self.enabled.pop(), "0")

    def _close_pipe(self) -> None:
        if self.pipe is not None:
            os.close(self.pipe)
            self.pipe = None

    def _remove(self) -> None:
        if self.instance.exists():
            self.instance.rmdir()


class _Command:
    """The command a recording runs; held back until tracing is on when only it is traced."""

    def __init__(self, command: Sequence[str], held: bool) -> None:
        import subprocess

        argv = list(command)
        self.go: int | None = None
        if held:
            if shutil.which(argv[0]) is None:
                raise KitError(f"cannot run {shlex.join(argv)}: command not found")
            ready, self.go = os.pipe()
            # /dev/fd/N, not <&N: POSIX sh reads one-digit descriptor numbers only
            wait = f'read _ < /dev/fd/{ready}; exec "$@"'
            argv = ["sh", "-c", wait, "sh", *argv]
        try:
            self.process = subprocess.Popen(argv, pass_fds=(ready,) if held else ())
        except OSError as exc:
            raise KitError(f"cannot run {shlex.join(command)}: {exc.strerror or exc}") from None
        finally:
            if held:
                os.close(ready)

    def release(self) -> None:
        """Let a held command run (a no-op otherwise, and when it has already died)."""
        go, self.go = self.go, None
        if go is not None:
            try:
                os.write(go, b"go\n")
            except BrokenPipeError:
                pass  # it exited before tracing began; its exit status tells
            finally:
                os.close(go)

    def end(self) -> None:
        """Terminate the command if it still runs."""
        import subprocess

        self.release()
        process = self.process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def record_trace(
    out: str | os.PathLike[str],
    *,
    seconds: float = 3.0,
    max_events: int = 200_000,
    command: Sequence[str] | None = None,
    workload: str = "",
    only_command: bool = False,
    buffer_kb: int = 4096,
    compress: bool = True,
    progress: Callable[[int], None] | None = None,
    notice: Callable[[str], None] = _say_on_stderr,
) -> Recording:
    """Record the page-allocator tracepoints for at most ``seconds`` and ``max_events`` into
    the folder ``out`` (a recording: the trace and the /proc files before and after).

    With ``command`` the recording starts with it and ends when it exits; a command still
    running at the time limit is terminated.  ``only_command`` traces only the command and the
    processes it starts (the machine's other processes go unrecorded).  Ctrl-C ends the
    recording early and keeps what was recorded (the header says ``stopped by:
    interrupted``), then raises KeyboardInterrupt.
    As it starts it removes the instances of killed recordings (``remove_stale_instances``),
    saying so in one line to ``notice`` (standard error by default).
    Raises TracingUnavailable (one line naming the shipped recording) where tracing cannot be
    used, KitError when the command cannot start.  The tracing state found is restored in
    every case.
    """
    if seconds <= 0 or max_events <= 0:
        raise KitError("seconds and max_events must be positive")
    import platform

    if platform.system() != "Linux":
        raise _unavailable(f"this is {platform.system()}, and kernel tracing is Linux's")
    folder = Path(out)
    body = folder / "trace.body.tmp"
    session = _Session(buffer_kb, notice)  # raises TracingUnavailable before anything is written
    events = 0
    stopped_by = "time limit"
    interrupted = False
    runner: _Command | None = None
    started = time.monotonic()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(body, "wb") as sink:

            def take(data: bytes) -> bool:
                """Write what fits under the cap; True when the cap is reached."""
                nonlocal events
                lines = data.count(b"\n")
                if events + lines >= max_events:
                    cut = 0
                    for _ in range(max_events - events):
                        cut = data.index(b"\n", cut) + 1
                    sink.write(data[:cut])
                    events = max_events
                    return True
                sink.write(data)
                events += lines
                return False

            # Ctrl-C from the first snapshot on keeps the recording, however little it holds:
            # on a loaded machine the snapshot and the tracefs set-up take a while
            try:
                _snapshot(folder, "before")
                if command and only_command:  # held until tracing follows its pid
                    runner = _Command(command, held=True)
                    session.start(runner.process.pid)
                    runner.release()
                else:  # tracing first, so the command's first allocations are in the trace
                    session.start()
                    runner = _Command(command, held=False) if command else None
                process = runner.process if runner else None
                deadline = started + seconds
                while True:
                    if take(session.read()):
                        stopped_by = "event cap"
                        break
                    if progress is not None:
                        progress(events)
                    if process is not None and process.poll() is not None:
                        stopped_by = "command finished"
                        break
                    if time.monotonic() >= deadline:
                        break
                    session.wait(min(0.1, deadline - time.monotonic()))
            except KeyboardInterrupt:
                stopped_by, interrupted = "interrupted", True
            if session.pipe is not None:  # tracing started: what its buffer still holds
                session.stop()
                while stopped_by != "event cap" and (data := session.read()):
                    if take(data):
                        stopped_by = "event cap"
        elapsed = time.monotonic() - started
        _snapshot(folder, "after")
    finally:
        try:
            if runner is not None:
                runner.end()
        finally:
            session.close()
    header = {
        "pagealloc-kit kernel trace": "raw tracefs text (trace_pipe) of the kmem page events",
        "kernel": " ".join(platform.uname()[i] for i in (0, 2, 3, 4)),
        "machine": _machine(),
        "events": " ".join(PAGE_EVENTS),
        "workload": workload or "(not described)",
        "command": shlex.join(command) if command else "(none: whatever the machine did)",
        "traced": "the command and its children only" if only_command and command
        else "every process of the machine",
        "recorded": f"{elapsed:.2f} s, {events} events (cap {max_events}), "
        f"stopped by: {stopped_by}",
    }
    trace = _finish(folder, body, header, compress)
    if interrupted:
        raise KeyboardInterrupt
    return load_recording(trace.parent)


def _finish(folder: Path, body: Path, header: dict[str, str], compress: bool) -> Path:
    """Write the trace file: the header lines, then the recorded text.  A value is kept on its
    line: a line break in it (a ``python -c`` script as the command, a workload described on
    two lines) is written as ``\\n``, else the lines after it would end the header."""
    for stale in ("trace.txt", "trace.txt.gz"):
        (folder / stale).unlink(missing_ok=True)
    trace = folder / ("trace.txt.gz" if compress else "trace.txt")
    opener = gzip.open if compress else open
    with opener(trace, "wb") as sink, open(body, "rb") as source:
        for key, value in header.items():
            one_line = value.replace("\r", "\\r").replace("\n", "\\n")
            sink.write(f"# {key}: {one_line}\n".encode())
        shutil.copyfileobj(source, sink)
    body.unlink()
    return trace


def record_or_shipped(seconds: float = 2.0, out: str | os.PathLike[str] | None = None,
                      **options: object) -> tuple[Recording, str]:
    """Record ``seconds`` of this machine into ``out`` (a new temporary folder by default);
    where that is not possible, the shipped recording.  Returns the recording and "" when it
    is this machine's, else the one-line reason it is the shipped one (for a lesson to say)."""
    import tempfile

    from kit.core.recording import shipped_recording

    folder = out if out is not None else tempfile.mkdtemp(prefix="kit-trace-")
    try:
        return record_trace(folder, seconds=seconds, **options), ""  # type: ignore[arg-type]
    except TracingUnavailable as exc:
        return shipped_recording(), str(exc)
