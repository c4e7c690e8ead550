"""TRUSTED: start, talk to and end the sandboxed worker that runs a student's answer cells.

The sandbox is Debian's bubblewrap (``bwrap``, what Flatpak uses), not a home-made one:

* new user, PID, network, IPC, UTS and cgroup namespaces (``--unshare-all``); the worker is
  uid 65534 (``nobody``) inside, has no network but loopback, and sees no other process;
* a mount namespace holding only what Python and the kit need, read-only (``/usr``, the
  interpreter's prefix, the venv, the ``kit`` package), and small tmpfs folders for ``/tmp``
  and the home folder: not the instructor's source, not the submissions, not the out folder;
* ``--die-with-parent`` and the PID namespace: when the grader kills ``bwrap``, every process
  the student started dies with it, detached or not;
* ``--new-session``: no terminal to type into.

* ``--remount-ro /`` and ``--cap-drop ALL``: the root is read-only and the worker holds no
  capability, inside its namespaces either;
* ``--seccomp``: a filter (:mod:`.seccomp`) refuses io_uring, the keyring, bpf
  and nested user namespaces;
* ``/tmp``, the home folder and ``/dev/shm`` are tmpfs folders of a fixed size.

Resources are capped for the whole sandbox, not per process: each worker runs in cgroups of its
own (:mod:`.cgroups`) whose ``memory`` limit counts every process of the answer and
every file it writes to tmpfs (``/tmp``, ``/dev/shm``), and whose ``pids.max`` caps processes
and threads (RLIMIT_NPROC does not bind a user-namespace root).  Over the memory limit the
kernel ends the worker, and only it; its rows say ``memory-limit``, which the grader reads in
the cgroup's OOM count, never in a reply.  The worker also sets process limits on itself before
it reads the first request (soft = hard, which a process without privileges cannot raise): CPU
seconds, address space, file size, open files.  Going over the address space is a MemoryError
in the answer, which only the worker's reply tells: a failed exercise ("your code raised
MemoryError"), never ``memory-limit``, as the grader saw no limit reached.  Printed output is
counted by the grader and capped.

Time is the grader's count too: the kernel's count of the sandbox's CPU time in its cgroup,
read while the grader waits for each reply.  An exercise's time is the CPU time of its requests
(:class:`ExerciseClock`), with a wall-clock backstop, so a loaded machine does not time out an
honest answer.  At the CPU limit (every process of the notebook's sandbox since its process
started) the grader ends the worker and the row says ``timeout``.  How a worker ended never
says ``timeout``: a process can send itself ``SIGXCPU`` (or exit with status 152, what
bubblewrap reports for it), so such an end is ``crashed`` unless the count shows the limit
reached.  The process's own RLIMIT_CPU is a backstop at twice the limit.  Where no cgroup
counts CPU time, an exercise's time is the wall clock's, RLIMIT_CPU is the limit, and a
``SIGXCPU`` end is ``crashed`` with a reason that says the grader cannot tell.

Where no sandbox is possible (no ``bwrap``, no user namespaces), :func:`open_sandbox` refuses
unless the instructor asked for ``--sandbox none``; the worker then runs as a plain subprocess
and the run says, on every start, what is not enforced.
"""

from __future__ import annotations

import compileall
import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kit
from kit.core.errors import KitError
from kit.grading.boundary import wire
from kit.grading.trusted import seccomp
from kit.grading.trusted.cgroups import CPU_TIME, Cgroups, WorkerGroup, open_cgroups
from kit.grading.trusted.phases import NO_PHASES, Phases

WORKER_MODULE = "kit.grading.sandboxed.worker"
#: Where the worker lives inside the sandbox: its home and working folder.
SANDBOX_HOME = "/home/student"
#: Submissions graded at once unless --jobs says otherwise: the fastest measured on 2 cores.
#: One student's grading alternates between the grader and their sandbox, so it keeps at
#: most one core busy: a run is slowest at its end, when fewer students than cores are left.
#: With 6, a class of 8 (the issue's) ended with two students graded after the other six, and
#: the last one alone; with 8 all start together and end together.  Measured with the bench's
#: class, one process per value, taken in turns (2 cores shared with other work, load 9-16):
#: 8 students, 8 ahead in 8 of 11 pairs, median 0.83x the wall time of 6 (0.52-1.22x), CPU
#: per submission alike (1.01-1.35 s against 1.11-1.30); 20 students, 8 ahead in 4 of 5 pairs
#: (16.6, 19.9, 26.3, 26.9, 18.5 s against 19.0, 20.3, 25.6, 41.8, 21.9; load 9-19), CPU per
#: submission alike (0.85-1.07 s against 0.84-1.06).  Before that, 6 finished 20 submissions
#: ahead of 4 in each of three pairs (16.2-30.3 s against 31.6-47.0), and 2 was the slowest.
DEFAULT_JOBS = 8
#: How long a worker may take to start (sandbox, interpreter, kit) before the grader gives up
#: on it as its own fault: not part of any exercise's timeout.
START_SECONDS = 120.0
#: How often the grader reads a sandbox's CPU time in its cgroup while it waits for a reply:
#: the CPU limit is the grader's to enforce, and it may be passed by this much per core.
CPU_POLL_SECONDS = 0.1
#: Where the grader counts CPU time, a process's own limit (RLIMIT_CPU) is only a backstop
#: this many times the CPU limit.  The kernel's SIGXCPU cannot be the measure: it can be faked
#: (a process sends it to itself), and it comes early under load -- the kernel checks the
#: limit against tick-sampled CPU time, and with a load of 16 on 2 cores a process was sent
#: SIGXCPU at a 2 s limit after 1.64-1.79 s of CPU time (its own ``os.times`` and the cgroup).
CPU_BACKSTOP = 2
#: Where the grader counts CPU time, an exercise's ``--timeout`` is seconds of its sandbox's CPU
#: time, and by the clock it may take this many times as long before it is stopped anyway (an
#: answer that sleeps, waits or stops itself uses no CPU time).  Measured (honest answers, the
#: solutions of every notebook, ``--jobs 6``, load 12-15 on 2 cores): an exercise's wall time
#: was a median 9 and at most 50 times the CPU time it and the grader used, and the slowest,
#: about 0.5 s of CPU time, took 4.5 s: on the wall clock a loaded machine times honest
#: answers out (``bench/bench_exercise_clock.py``).
WALL_BACKSTOP = 5


#: Numerical libraries told to start no thread of their own: the seccomp filter refuses
#: threads, and OpenBLAS's import fails when it cannot start its pool.
ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class SandboxUnavailable(KitError):
    """No sandbox can be made on this machine and ``--sandbox none`` was not given."""


@dataclass(frozen=True)
class Limits:
    """What one worker may use.  ``timeout`` is seconds per exercise, counted from the worker's
    ready reply (its start is the grader's, see :data:`START_SECONDS`): seconds of the sandbox's
    CPU time where a cgroup counts it, with :data:`WALL_BACKSTOP` times as many by the clock
    (:class:`ExerciseClock`), else seconds by the clock."""

    timeout: float = 10.0
    memory_mib: int = 1024
    cpu_seconds: int = 60
    output_bytes: int = 1 << 20
    processes: int = 32
    file_bytes: int = 16 << 20
    open_files: int = 64

    def worker_arguments(self, cpu_counted: bool = False) -> list[str]:
        """The worker's own limits; ``cpu_counted``: the grader enforces the CPU limit from the
        sandbox's cgroup, and the process limit is a backstop (:data:`CPU_BACKSTOP`)."""
        cpu = self.cpu_seconds * CPU_BACKSTOP if cpu_counted else self.cpu_seconds
        return [f"--memory={self.memory_mib}", f"--cpu={cpu}",
                f"--processes={self.processes}", f"--file-bytes={self.file_bytes}",
                f"--open-files={self.open_files}"]


@dataclass
class Sandbox:
    """How workers are started on this machine, and what is not enforced here."""

    bwrap: str | None
    cgroups: Cgroups | None
    not_enforced: list[str] = field(default_factory=list)
    seccomp: bool = False  # a filter is passed to bwrap (libseccomp is installed)

    def describe(self) -> str:
        """One line for the start of a grading run."""
        if self.bwrap is None:
            return ("WARNING: sandbox: NONE (--sandbox none; " + "; ".join(self.not_enforced)
                    + "): answers run as plain processes of this user; scores are still "
                    "decided outside them")
        text = ("sandbox: bubblewrap (namespaces, read-only file system, no network, no "
                "capabilities" + (", seccomp" if self.seccomp else "") + ")")
        if self.not_enforced:
            text += "; not enforced here: " + "; ".join(self.not_enforced)
        return text

    def counts_cpu(self) -> bool:
        """Whether each sandbox's CPU time is counted in a cgroup of its own here."""
        return self.cgroups is not None and CPU_TIME in self.cgroups.controllers()

    def command(self, fd: int, limits: Limits, seccomp_fd: int | None = None,
                control: tuple[int, int] = (-1, -1)) -> list[str]:
        """The command line that starts one worker replying on ``fd``, told to move on to the
        next notebook on ``control[0]`` and answering on ``control[1]`` (its system calls
        filtered by the program readable from ``seccomp_fd``, when given)."""
        # The worker imports the very kit the grader runs, from the folder that holds it
        # (-I: no environment variable, user site or current folder reaches its sys.path).
        # The collector is off while it loads the kit (the worker's main turns it on before
        # any notebook's process starts): loading makes tens of thousands of objects that
        # live as long as the worker, and the ~40 passes over them cost ~10 ms of every
        # sandbox's start while finding next to nothing to free.
        start = (f"import gc; gc.disable(); import sys; "
                 f"sys.path.insert(0, {str(_kit_folder().parent)!r}); "
                 f"from {WORKER_MODULE} import main; main()")
        python = [sys.executable, "-I", "-c", start, f"--reply-fd={fd}",
                  f"--control={control[0]},{control[1]}",
                  *limits.worker_arguments(self.counts_cpu())]
        if self.bwrap is not None:
            python.append("--sandboxed")
        if self.bwrap is None:
            return python
        binds: list[str] = []
        for path in _read_only_paths():
            binds += ["--ro-bind", path, path]
        for path in _hidden_paths():  # an empty read-only folder over what the worker must not read
            binds += ["--tmpfs", path, "--remount-ro", path]
        filtered = ["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []
        tmpfs = str(limits.file_bytes * 2)
        # Mounts are made in order: the tmpfs folders first, so that the read-only binds
        # stay visible when the kit or the venv lives under /tmp (a CI clone, say).
        return [
            self.bwrap, "--unshare-all", "--die-with-parent", "--new-session",
            "--uid", "65534", "--gid", "65534", "--hostname", "sandbox",
            "--size", tmpfs, "--tmpfs", "/tmp",
            "--size", tmpfs, "--tmpfs", SANDBOX_HOME,
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin",
            *binds,
            "--proc", "/proc", "--dev", "/dev", "--size", tmpfs, "--tmpfs", "/dev/shm",
            "--remount-ro", "/", "--cap-drop", "ALL", *filtered,
            "--chdir", SANDBOX_HOME,
            "--clearenv", "--setenv", "HOME", SANDBOX_HOME, "--setenv", "PATH", "/usr/bin",
            "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONHASHSEED", "0",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            *(arg for name in ONE_THREAD for arg in ("--setenv", name, "1")),
            *python,
        ]


def _read_only_paths() -> list[str]:
    """Folders the worker needs: the interpreter, the venv and the kit package, nothing more.

    Only the ``kit`` package folder is bound, not the folder that holds it: in a checkout that
    folder also holds ``solutions/``.
    """
    wanted = {sys.base_prefix, sys.prefix, str(_kit_folder())}
    real = {str(Path(p).resolve()) for p in wanted}
    paths = sorted(p for p in wanted | real if Path(p).exists() and not p.startswith("/usr"))
    # A folder inside another one already bound comes after it (sorted), so it stays visible.
    return paths


def sandbox_readable() -> list[Path]:
    """Every folder of this machine that a sandboxed worker can read."""
    return [Path("/usr"), *map(Path, _read_only_paths())]


#: Parts of the kit the worker has no use for: the grader's own side (the harness, the
#: reference answers), the command line and the teaching tools.  Hidden inside the sandbox.
HIDDEN_KIT_FOLDERS = ("grading/trusted", "cli", "widgets", "teaching", "classroom")


def _hidden_paths() -> list[str]:
    kit_folder = _kit_folder()
    return [str(kit_folder / name) for name in HIDDEN_KIT_FOLDERS
            if (kit_folder / name).is_dir()]


def _kit_folder() -> Path:
    return Path(kit.__file__).resolve().parent


def compile_kit() -> None:
    """Write the bytecode of the kit's modules that the worker loads (``__pycache__``), where
    it is missing or older than its source.

    The sandbox is read-only and its interpreter writes no bytecode, so without it every
    student's sandbox compiles the kit from source again: ~0.1 s of CPU a start, a third of
    it (on a fresh clone, and wherever ``PYTHONDONTWRITEBYTECODE`` is set, nothing has written
    them).  The trusted side writes them before grading; they are the instructor's files, and
    Python checks each against its source's time and size before using it.  A kit folder this
    user cannot write (installed by root) is left as it is: the sandbox then compiles.
    """
    folder = _kit_folder()
    hidden = "|".join(re.escape(str(folder / name)) for name in HIDDEN_KIT_FOLDERS)
    with contextlib.suppress(OSError):
        compileall.compile_dir(folder, quiet=2, rx=re.compile(f"^(?:{hidden})(?:/|$)"))


def open_sandbox(*, allow_none: bool = False) -> Sandbox:
    """Find out how workers can be isolated here (a real ``bwrap`` start, ~10 ms), having
    written the bytecode the workers will load (:func:`compile_kit`: grading starts here).

    Without a working bubblewrap this refuses (:class:`SandboxUnavailable`) unless
    ``allow_none`` (``--sandbox none``): student code never runs unsandboxed by default.
    """
    compile_kit()
    cgroups = open_cgroups()
    not_enforced = list(cgroups.not_enforced)
    filtered = True
    try:
        seccomp.program()
    except seccomp.SeccompUnavailable as exc:
        filtered = False
        not_enforced.append(str(exc))
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        reason = "bubblewrap (bwrap) is not installed"
    else:
        reason = _probe(Sandbox(bwrap, None, seccomp=filtered))
    if reason:
        if not allow_none:
            raise SandboxUnavailable(f"no sandbox: {reason}; install bubblewrap (apt-get "
                                     "install bubblewrap) or, knowing that answers then run "
                                     "as plain processes, give --sandbox none")
        not_enforced = [reason, "file-system isolation", "network isolation", "seccomp",
                        "killing every process an answer starts (its process group is killed)",
                        *(n for n in cgroups.not_enforced)]
        if os.geteuid() == 0:
            not_enforced.append("resource limits (answers run as root, which may raise them)")
        return Sandbox(None, cgroups, not_enforced)
    return Sandbox(bwrap, cgroups, not_enforced, filtered)


def _probe(sandbox: Sandbox) -> str:
    """Why ``bwrap`` cannot start a sandbox here, or "" when it can."""
    seccomp_fd = seccomp.filter_fd() if sandbox.seccomp else None
    command = sandbox.command(1, Limits(), seccomp_fd)
    command = command[: command.index(sys.executable)] + ["/bin/true"]
    try:
        result = subprocess.run(command, capture_output=True, timeout=30,
                                pass_fds=() if seccomp_fd is None else (seccomp_fd,))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap did not start: {exc}"
    finally:
        if seccomp_fd is not None:
            os.close(seccomp_fd)
    if result.returncode == 0:
        return ""
    return "bwrap cannot create namespaces here: " + \
        result.stderr.decode("utf-8", "replace").strip()[:200]


@dataclass
class ExerciseClock:
    """The time of one exercise: ``cpu_seconds`` of the sandbox's CPU time spent during the
    exercise's requests (None: not counted here), and a wall-clock ``deadline``.

    CPU time is the kernel's count in the sandbox's cgroup, read before and after each request
    and while the grader waits for its reply: what the answer spent, however busy the machine
    (the grader's own work on the test cell, and a fresh process's start, are not the
    answer's).  The deadline stops what spends no CPU time: a sleep, a wait, a stopped process.
    """

    cpu_seconds: float | None
    wall_seconds: float
    deadline: float = field(init=False)  # time.monotonic() + wall_seconds
    spent: float = 0.0  # CPU seconds of the requests that have ended

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.wall_seconds

    def reason(self) -> str:
        """What a timeout row says, whichever of the two clocks ran out first."""
        if self.cpu_seconds is None:
            return f"timeout: {self.wall_seconds:g} s per exercise"
        return (f"timeout: {self.cpu_seconds:g} s of CPU time per exercise, or "
                f"{self.wall_seconds:g} s by the clock")


class WorkerStopped(BaseException):
    """The worker had to be ended: a limit, a crash, or a reply the grader cannot read.

    A BaseException, so that no ``except Exception`` in a test cell swallows it: the exercise
    stops there and the grader reports ``status`` with ``reason`` in words.
    """

    def __init__(self, status: str, reason: str, during: tuple[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        #: The grader's own last request when a limit ended the worker: (op, the cell it ran
        #: or the function it called), for the reason to name where; never the answer's word.
        self.during = during


def _described(message: dict[str, Any]) -> tuple[str, str]:
    """A request as a limit's reason names it: its op, and the cell it runs or the function
    it calls (both the grader's own)."""
    return str(message.get("op", "")), str(message.get("cell", message.get("name", "")))


#: Join every cgroup named before ``--`` (exit 125 when one cannot be), then run the rest.
_JOIN = ('while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; '
         'exec "$@"')


class Worker:
    """One sandboxed worker process: requests in, replies out, limits enforced from outside."""

    def __init__(self, sandbox: Sandbox, limits: Limits, phases: Phases = NO_PHASES) -> None:
        self.limits = limits
        self.sandbox = sandbox
        self.phases = phases
        self.output = 0
        self._started = time.perf_counter()
        self._starting = "sandbox: start, until ready"  # the phase that ends at ready
        self._stopped: WorkerStopped | None = None
        self._sending: tuple[str, str] | None = None  # the last request: (op, cell or name)
        self._group: WorkerGroup | None = None
        self._cpu_start: float | None = None  # the sandbox's CPU time at the process's start
        self.clock: ExerciseClock | None = None  # the exercise whose requests are being sent
        self._request_cpu: float | None = None  # the sandbox's CPU time when the request went
        reply_read, reply_write = os.pipe()
        out_read, out_write = os.pipe()
        next_read, self._next = os.pipe()  # "next": the grader moves on to another notebook
        self._acks, ready_write = os.pipe()  # "ready": the last notebook's process is gone
        seccomp_fd = seccomp.filter_fd() if sandbox.seccomp else None
        passed = (reply_write, next_read, ready_write, *(() if seccomp_fd is None
                                                          else (seccomp_fd,)))
        command = sandbox.command(reply_write, limits, seccomp_fd, (next_read, ready_write))
        if sandbox.cgroups is not None and sandbox.cgroups.hierarchies:
            # The cgroups are joined by a shell that then becomes bwrap: nothing of the
            # answer's runs before it is in them (and no preexec_fn, unsafe with threads).
            self._group = sandbox.cgroups.make(limits.memory_mib << 20, limits.processes)
            command = ["/bin/sh", "-c", _JOIN, "sh", *self._group.procs_files(), "--",
                       *command]
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=out_write, stderr=out_write,
                pass_fds=passed, start_new_session=True, cwd="/",
            )
        except OSError:
            if self._group is not None:
                self._group.remove()
            raise
        finally:
            for fd in (out_write, *passed):
                os.close(fd)
        assert self.process.stdin is not None
        os.set_blocking(self.process.stdin.fileno(), False)  # writes wait in select, bounded
        self._replies = reply_read
        self._buffer = b""
        self._sent = 0  # requests sent: each reply must carry its request's number
        self._ready = False  # the worker's ready reply (number 0) read
        self._drain = threading.Thread(target=self._count_output, args=(out_read,), daemon=True)
        self._drain.start()

    def next_notebook(self, timeout: float) -> bool:
        """Have the worker replace its notebook's process by a fresh one (see the worker's
        ``main``), for another notebook of the same student; False when that cannot be (the
        worker was stopped or has ended): start a new worker then."""
        if self._stopped is not None or self.process.poll() is not None:
            return False
        try:
            os.write(self._next, b"next\n")
            ready, _, _ = select.select([self._acks], [], [], timeout)
            if not ready or os.read(self._acks, 64) != b"ready\n":
                return False
            # The old process is gone: whatever it wrote after its last reply is no reply.
            self._buffer = b""
            while select.select([self._replies], [], [], 0)[0]:
                if not os.read(self._replies, 1 << 20):
                    return False
            self._cpu_start = self._sandbox_cpu()  # the fresh process's CPU counts from here
            os.write(self._next, b"go\n")  # now the fresh process may start, and say ready
        except OSError:
            return False
        self._ready, self.output, self._sent = False, 0, 0  # a new process: numbers anew
        self._started, self._starting = time.perf_counter(), "sandbox: next notebook"
        return True

    def _count_output(self, fd: int) -> None:
        """Read and drop what the student's code prints; past the cap, end the worker."""
        try:
            while chunk := os.read(fd, 1 << 16):
                self.output += len(chunk)
                if self.output > self.limits.output_bytes and self._stopped is None:
                    self._stopped = WorkerStopped(
                        "output-limit", f"output limit: the answer printed more than "
                        f"{self.limits.output_bytes} bytes", self._sending)
                    self.kill()
        finally:
            os.close(fd)

    def wait_ready(self, ipython: bool = False) -> None:
        """Wait for the worker's ready reply (id 0), and with ``ipython`` for it to import
        IPython's cell reader, at most :data:`START_SECONDS` in all.

        No student code has run yet, so a worker that is slow here is the machine's doing: it
        ends as ``grader-error``, never as the answer's timeout.  Call it before starting the
        clock of an exercise; :meth:`request` calls it when nobody has.
        """
        if self._ready:
            return
        self.clock = None  # a fresh process's start is no exercise's time
        deadline = time.monotonic() + START_SECONDS
        try:
            self._receive(deadline)
            self._ready = True
            if self._cpu_start is None:  # the first process (a fresh one counts from "go")
                self._cpu_start = self._sandbox_cpu()
            self.phases.add(self._starting, time.perf_counter() - self._started, 0.0)
            if ipython:
                self.request({"op": "ipython"}, deadline - time.monotonic())
        except WorkerStopped as stopped:
            if stopped.status != "timeout":
                raise
            self._stopped = WorkerStopped(
                "grader-error", f"the sandbox did not start within {START_SECONDS:g} s "
                "(is the machine overloaded? grade again with fewer --jobs)")
            raise self._stopped from None

    def clock_exercise(self) -> ExerciseClock:
        """Start the clocks of an exercise whose requests come next (see :class:`Limits`)."""
        timeout = self.limits.timeout
        if self._group is None or self._group.cpu is None:
            self.clock = ExerciseClock(None, timeout)
        else:
            self.clock = ExerciseClock(timeout, timeout * WALL_BACKSTOP)
        return self.clock

    @contextlib.contextmanager
    def _counted(self) -> Iterator[None]:
        """Count the sandbox's CPU time from here to the end of the block as the exercise's."""
        self._request_cpu = self._sandbox_cpu()
        try:
            yield
        finally:
            now = self._sandbox_cpu()
            if self.clock is not None and self._request_cpu is not None and now is not None:
                self.clock.spent += now - self._request_cpu
            self._request_cpu = None

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait at most ``timeout`` seconds for its reply."""
        if self._stopped is not None:
            raise self._stopped
        self.wait_ready()
        with self.phases("sandbox: requests (cells, calls)"), self._counted():
            deadline = time.monotonic() + max(timeout, 0.0)
            self._sent += 1
            self._sending = _described(message)
            self._send(wire.dumps({**message, "id": self._sent}), deadline)
            return self._receive(deadline)

    def stream(self, message: dict[str, Any], count: int,
               time_left: Callable[[], float]) -> Iterator[dict[str, Any]]:
        """Send one request that has up to ``count`` replies (``call_each``: one per case, in
        order) and yield them as they come, each waited for at most ``time_left()`` seconds.
        The replies end early after one that is not ``ok``.  Whoever stops reading before the
        end must not use this worker's notebook process again: it may still be running."""
        if self._stopped is not None:
            raise self._stopped
        self.wait_ready()
        with self._counted():
            with self.phases("sandbox: requests (cells, calls)"):
                self._sent += 1
                self._sending = _described(message)
                self._send(wire.dumps({**message, "id": self._sent}),
                           time.monotonic() + max(time_left(), 0.0))
            for case in range(count):
                with self.phases("sandbox: batched calls, per reply"):
                    reply = self._receive(time.monotonic() + max(time_left(), 0.0), case)
                yield reply
                if reply.get("ok") is not True:
                    return

    def _receive(self, deadline: float, case: int | None = None) -> dict[str, Any]:
        """The reply to the last request (or the ready reply), read by ``deadline`` (in a
        stream, the one for its ``case``)."""
        # Chunks are kept apart until the line ends: a pipe hands over 64 KiB at a time, and
        # joining them as they come would copy a long reply over and over.
        chunks, size, ended = [self._buffer], len(self._buffer), b"\n" in self._buffer
        while not ended:
            left = deadline - time.monotonic()
            if left <= 0:
                self._stop(self._timeout())
            self._check_cpu()
            ready, _, _ = select.select([self._replies], [], [], self._poll(left))
            if not ready:
                continue
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                self._stop(self._ended())
            chunks.append(chunk)
            size += len(chunk)
            ended = b"\n" in chunk
            if size > wire.MAX_MESSAGE_BYTES + 1:
                self._stop(WorkerStopped("crashed", "the answer process sent a reply larger "
                                                    "than the grader accepts"))
        line, self._buffer = b"".join(chunks).split(b"\n", 1)
        try:
            reply = wire.loads(line)
        except wire.WireError as exc:
            self._stop(WorkerStopped("crashed", f"the answer process sent an unreadable reply "
                                                f"({exc})"))
        if reply.get("id") != self._sent or reply.get("case") != case:
            self._stop(WorkerStopped("crashed", "the answer process sent a reply out of turn "
                                                "(written to the grader's channel by hand?)"))
        # A process of the answer the kernel ended for the cgroup's memory limit (a forked
        # child, say) ends the worker too, even when the rest of it could still reply.  The
        # grader reads that in the cgroup itself: no reply can claim it.
        if self._group is not None and self._group.oom_killed():
            self._stop(self._memory_stop())
        reply.pop("case", None)  # checked above: what the reply says is read without it
        return reply

    def _send(self, data: bytes, deadline: float) -> None:
        """Write a request by ``deadline``: a worker that stops reading cannot block the grader."""
        assert self.process.stdin is not None
        fd = self.process.stdin.fileno()
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                self._stop(self._timeout())
            self._check_cpu()
            _, ready, _ = select.select([], [fd], [], self._poll(left))
            if not ready:
                continue
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                continue
            except OSError:  # a broken pipe: the worker is gone
                self._stop(self._ended())

    def _sandbox_cpu(self) -> float | None:
        """The CPU time of every process of the sandbox so far, from its cgroup (None: no
        cgroup counts it here)."""
        return None if self._group is None else self._group.cpu_seconds()

    def notebook_cpu(self) -> float | None:
        """CPU seconds the sandbox has used since the notebook's process started (its
        ready reply; the whole sandbox, so what the answer's own children used counts)."""
        now = self._sandbox_cpu()
        return None if now is None or self._cpu_start is None else now - self._cpu_start

    def _poll(self, left: float) -> float:
        """How long to wait for the worker before looking at its CPU time again."""
        counted = self._group is not None and self._group.cpu is not None
        return min(left, CPU_POLL_SECONDS) if counted else left

    def _check_cpu(self) -> None:
        """End the worker once the sandbox has used its CPU limit since the notebook's process
        started, or the exercise its CPU time, by the grader's own count (the process's
        RLIMIT_CPU is only a backstop)."""
        now = self._sandbox_cpu()
        if now is None or self._cpu_start is None:
            return
        if now - self._cpu_start >= self.limits.cpu_seconds:
            self._stop(self._cpu_stop())
        clock, start = self.clock, self._request_cpu
        if clock is not None and clock.cpu_seconds is not None and start is not None and \
                clock.spent + now - start >= clock.cpu_seconds:
            self._stop(WorkerStopped("timeout", clock.reason()))

    def _cpu_stop(self) -> WorkerStopped:
        return WorkerStopped("timeout", f"CPU time limit of {self.limits.cpu_seconds} s used up")

    def _timeout(self) -> WorkerStopped:
        """A request's time is up: its exercise's, or (no exercise) the ``timeout`` it was
        given, as the exercise's would be without a CPU count."""
        clock = self.clock or ExerciseClock(None, self.limits.timeout)
        return WorkerStopped("timeout", clock.reason())

    def _memory_stop(self) -> WorkerStopped:
        """The kernel ended a process of the sandbox for its cgroup's limit (every process and
        tmpfs file counts), as the grader read in the cgroup."""
        return WorkerStopped("memory-limit", f"memory limit {self.limits.memory_mib} MiB "
                                             "exceeded (the sandbox's processes and its /tmp "
                                             "and /dev/shm files together)")

    def _stop(self, stopped: WorkerStopped) -> None:
        self.kill()
        if self._stopped is None:  # the output counter may have stopped it first
            self._stopped = stopped
        raise self._stopped

    def _ended(self) -> WorkerStopped:
        """Why the worker is gone, from its exit status."""
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.wait()
        if self._stopped is not None:
            return self._stopped
        if self._group is not None and self._group.oom_killed():
            return self._memory_stop()
        used = self.notebook_cpu()
        if used is not None and used >= self.limits.cpu_seconds:
            return self._cpu_stop()
        number = -code if code < 0 else code - 128 if code > 128 and self.sandbox.bwrap else 0
        if number == signal.SIGXCPU:  # how the worker ended says nothing of what it used
            return WorkerStopped("crashed", self._sigxcpu_reason(used is not None))
        if number == signal.SIGXFSZ:
            return WorkerStopped("crashed", f"file size limit of {self.limits.file_bytes} "
                                            "bytes exceeded")
        if number:
            name = signal.Signals(number).name if number in signal.valid_signals() else "?"
            return WorkerStopped("crashed", f"answer process killed by signal {number} "
                                            f"({name})")
        return WorkerStopped("crashed", f"answer process exited with status {code}")

    def _sigxcpu_reason(self, counted: bool) -> str:
        """Why a worker that ended by SIGXCPU (or, under bubblewrap, with exit status 152,
        which says the same) is no ``timeout``: a process can send itself that signal."""
        how = "answer process killed by signal 24 (SIGXCPU" + \
            (", or it exited with status 152)" if self.sandbox.bwrap else ")")
        if counted:
            return (f"{how} before it had used its {self.limits.cpu_seconds} s of CPU time: "
                    "the answer's own doing, not the CPU limit")
        return (f"{how}: the CPU time limit or the answer's own signal (no cgroup here "
                "counts the sandbox's CPU time to tell which)")

    def stop(self, stopped: WorkerStopped) -> None:
        """End the worker from outside (the student's watchdog): what it is doing, or the next
        request, raises ``stopped``."""
        if self._stopped is None:
            self._stopped = stopped
        self.kill()

    def kill(self) -> None:
        """End the worker and everything it started (the sandbox's PID namespace goes too)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        """Kill the worker, wait for it, and release its pipes and cgroup."""
        self.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        for fd in (self._replies, self._next, self._acks):
            os.close(fd)
        self._drain.join(timeout=5)
        if self._group is not None:
            self._group.remove()


class SandboxSession:
    """One student's sandbox, kept for all their notebooks.

    Each notebook still runs in a process of its own that has run nothing before it
    (:meth:`Worker.next_notebook`); what the session saves is starting bubblewrap, an
    interpreter and the kit again for every notebook.  Nothing is kept from one student to the
    next: a session belongs to one student and is closed when they are done.
    """

    def __init__(self, sandbox: Sandbox, limits: Limits, phases: Phases = NO_PHASES) -> None:
        self.sandbox, self.limits, self.phases = sandbox, limits, phases
        self._worker: Worker | None = None
        self._used = False  # the worker's current process has served a notebook

    def start(self) -> None:
        """Start the sandbox now, unused: its interpreter and the kit load while the grader
        does other work (reading the notebooks, checking the solutions), and the first
        :meth:`worker` gets it."""
        if self._worker is None:
            with self.phases("sandbox: cgroup and spawn"):
                self._worker = Worker(self.sandbox, self.limits, self.phases)

    def worker(self) -> Worker:
        """A worker whose notebook process has run nothing yet."""
        worker = self._worker
        if worker is not None and self._used and \
                not worker.next_notebook(self.limits.timeout):
            self.close()
            worker = None
        if worker is None:
            with self.phases("sandbox: cgroup and spawn"):
                worker = self._worker = Worker(self.sandbox, self.limits, self.phases)
        self._used = True
        return worker

    def close(self) -> None:
        """End the sandbox (every process of it) and release its pipes and cgroup."""
        if self._worker is not None:
            with self.phases("sandbox: end"):
                self._worker.close()
            self._worker = None
