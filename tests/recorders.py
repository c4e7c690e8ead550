"""A real recording run in a child process and stopped from outside, as a user stops one:
Ctrl-C at a terminal (SIGINT), ``kill`` (SIGTERM) or SIGKILL.  Shared by the tests of
``record_trace`` (test_tracefs) and of ``kit trace record`` (test_trace_cli); ``at_a_terminal``
also by the Ctrl-C test of ``kit grade`` (test_grade_reports).

- The child gets SIGINT as a terminal's foreground process has it, whatever the test process
  has: a process a shell starts in the background without job control (``cmd &`` in a script)
  has SIGINT ignored, its children inherit that across exec, and Python then leaves it ignored
  instead of raising KeyboardInterrupt.  A suite started so sent Ctrl-C to recorders that never
  saw it: they recorded on until the test gave up and SIGKILLed them, which left their
  instance and their mount of tracefs behind, and the next tracing tests found the state
  changed under them.
- ``wait_until_recording`` waits until the child reads its instance's ``trace_pipe`` (tracing
  is on: the pipe is opened last), not a fixed time after its first file is written.
- ``recorder`` leaves nothing behind when a test fails: a child still running is killed, then
  its instance removed and tracefs unmounted if it was not mounted before the child started.
- ``tracing_state`` is the machine's tracing state less the instances of recordings other
  processes are making meanwhile: the tests compare it before and after a recording of
  theirs, and two test runs side by side (two checkouts on one machine) failed 13 of them on
  the other run's recorder, which came or went in between.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from waiting import eventually

from kit.core import tracefs
from kit.core.pids import process_gone

#: Python code that sets SIGINT to its default action and executes its arguments: the program
#: run then has SIGINT as at a terminal (Python makes it KeyboardInterrupt), with this pid.
_SIGINT_AS_AT_A_TERMINAL = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def at_a_terminal(argv: Sequence[str]) -> list[str]:
    """``argv`` (its first item a path) run with SIGINT at its default action, as a terminal
    runs it, whatever this process's SIGINT is (see the module's docstring)."""
    return [sys.executable, "-c", _SIGINT_AS_AT_A_TERMINAL, *argv]


def reading_instance(pid: int) -> str:
    """The name of the tracefs instance whose ``trace_pipe`` process ``pid`` has open, or ""
    (not yet, or no longer)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return ""
    for fd in fds:
        try:
            target = Path(os.readlink(fd))
        except OSError:  # closed meanwhile
            continue
        if target.name == "trace_pipe" and target.parent.parent.name == "instances":
            return target.parent.name
    return ""


def wait_until_recording(child: subprocess.Popen[Any], timeout: float = 60.0) -> str:
    """Wait until ``child`` records (reads its instance's pipe); return its instance's name.
    Fails if it exits first or takes ``timeout`` seconds (a hang, not a pace: on a loaded
    machine its start, import and /proc snapshot take seconds)."""
    found: list[str] = []

    def recording_or_gone() -> bool:
        found[:] = [reading_instance(child.pid)]
        return bool(found[0]) or child.poll() is not None

    assert eventually(recording_or_gone, timeout=timeout), f"no recording in {timeout} s"
    if not found[0]:
        said = child.communicate()[1] if child.stderr is not None else "(not captured)"
        raise AssertionError(f"the recorder exited with {child.returncode} before it "
                             f"recorded; its standard error: {said!r}")
    return found[0]


@contextlib.contextmanager
def recorder(argv: Sequence[str], **popen: Any) -> Iterator[subprocess.Popen[Any]]:
    """Run ``argv`` (a recording) in a child that takes SIGINT as at a terminal; whatever
    happens in the ``with`` block, no recorder and nothing of it is left: one still running
    is killed (SIGKILL skips its clean-up), then its instance is removed and tracefs unmounted
    if it was not mounted when it started."""
    mounted_before = tracefs.find_tracefs() is not None
    child = subprocess.Popen(at_a_terminal(argv), **popen)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
            root = tracefs.find_tracefs()
            if root is not None:
                tracefs.remove_stale_instances(root)
                if not mounted_before:
                    subprocess.run(["umount", str(root)], check=True)


def tracing_state() -> tracefs.TracingState:
    """``kit.core.tracefs.tracing_state()`` less the instances of the recordings that other
    processes are making now (``kit-<pid>-<ns>``, the pid running and not this process's):
    another test run's or a user's, which come and go as they please.  A recording of this
    process, and one whose recorder is gone (killed, its instance left behind), still count."""
    state = tracefs.tracing_state()

    def someone_elses(name: str) -> bool:
        match = tracefs._INSTANCE_NAME.fullmatch(name)
        return match is not None and int(match.group(1)) != os.getpid() and not process_gone(
            int(match.group(1)))

    return dataclasses.replace(state, instances=tuple(
        name for name in state.instances if not someone_elses(name)))
