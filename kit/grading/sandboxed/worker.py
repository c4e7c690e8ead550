"""UNTRUSTED: the sandboxed worker's loop (started by :mod:`kit.grading.trusted.bwrap`).

Requests come on standard input and replies go to file descriptor 3, one JSON line each
(:mod:`kit.grading.boundary.wire`); standard output and error are the student's, and the
grader only counts them.  Once set up, and before any request, it replies
``{"ok": true, "id": 0}`` (ready).  Requests:

* ``{"op": "run", "cell": ID, "source": TEXT, "forbid": [...]}`` -- run an answer (or set-up)
  cell in the notebook's namespace;
* ``{"op": "ipython"}`` -- import IPython's input transformer now, before any cell runs (the
  grader asks when a cell is not plain Python, so the import is not an exercise's time);
* ``{"op": "call", "name": NAME, "args": [...], "forbid": [...]}`` -- call the student's
  ``NAME(*args)`` (``"call_each"`` with ``"cases": [args, ...]``: one call per case, one reply
  each, see :func:`call_each`).  A zone argument arrives as its state and is handed over as a
  :class:`RecordingZone`; the reply lists the calls made on it so the grader can replay them.

``forbid`` names the kit functions the request refuses (:mod:`kit.grading.sandboxed.guard`,
by what their code is).  Every reply is ``{"ok": true, "value": ..., "logs": ...}`` or
``{"ok": false, "exc": TYPE, "error": TEXT}``, with the request's ``"id"``; a refused call is
``{"ok": false, "exc": "ForbiddenCall", "forbidden": INDEX}``, the index of the refused name in
the request's ``forbid`` (-1: the guard itself was switched off).  A reply chooses no status
and writes no reason: the grader words a refusal from its own list, decides "unanswered" from
the answer's source and "memory-limit" from its own cgroup, and fails an exercise whose reply
has anything else (:func:`kit.grading.trusted.remote.read_reply`).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import re
import resource
import select
import shutil
import signal
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

import kit
from kit.core.zone import Zone
from kit.grading.boundary import wire
from kit.grading.boundary.checks import delegation_message
from kit.grading.sandboxed import guard
from kit.grading.sandboxed.shell import NotebookShell, cell_code, kernel_names, load_reader

#: File names given to the student's compiled cells (an error's line is looked up in them).
ANSWER_FILE_PREFIX = "<answer "
#: The sandbox's tmpfs folders (see kit.grading.trusted.bwrap), emptied between notebooks.
SCRATCH_FOLDERS = ("/tmp", "/home/student", "/dev/shm")
#: prctl's option that makes a process (not) dumpable.
PR_SET_DUMPABLE = 4
#: The guard against delegation, installed by :func:`serve` before the first request.
GUARD: guard.Guard | None = None


class RecordingZone(Zone):
    """A zone that logs the calls the student's code makes on it, for the grader to replay."""

    log: list[list[Any]]
    depth: int

    def restore(self, state: Any) -> None:
        raise PermissionError("zone.restore is not available while grading: change the zone "
                              "with its allocation calls")


def _recording(name: str) -> Any:
    base = getattr(Zone, name)

    def method(self: RecordingZone, *args: Any, **kwargs: Any) -> Any:
        top = self.depth == 0
        self.depth += 1
        try:
            return base(self, *args, **kwargs)
        finally:
            self.depth -= 1
            if top:
                try:
                    self.log.append([name, wire.encode(wire.to_plain(list(args))),
                                     wire.encode(wire.to_plain(kwargs))])
                except wire.WireError:
                    pass  # arguments that are not plain data: the call had no effect anyway

    method.__name__ = name
    method.__doc__ = base.__doc__
    return method


for _name in wire.ZONE_CALLS:
    setattr(RecordingZone, _name, _recording(_name))


def _record(zone: Zone) -> RecordingZone:
    zone.__class__ = RecordingZone
    recording: RecordingZone = zone  # type: ignore[assignment]
    recording.log, recording.depth = [], 0
    return recording


def _error(exc: BaseException) -> dict[str, Any]:
    reply: dict[str, Any] = {"ok": False, "exc": type(exc).__name__, "error": str(exc)[:2000]}
    if isinstance(exc, SyntaxError):
        reply["error"] = f"{exc.msg} (line {exc.lineno})"
    elif not isinstance(exc, (guard.ForbiddenCall, NotImplementedError)):
        frames = traceback.extract_tb(exc.__traceback__)
        mine = [f for f in frames if f.filename.startswith(ANSWER_FILE_PREFIX)]
        if mine:
            reply["error"] += f" (line {mine[-1].lineno} of your answer)"
    return reply


def handle(message: dict[str, Any], namespace: dict[str, Any]) -> dict[str, Any]:
    """Carry out one request under the delegation guard; never raises.

    Everything the student's code can run -- the cell or the call, the encoding of what it
    returned, the text of what it raised -- runs between the guard's ``begin`` and ``end``; a
    refusal anywhere in it makes the whole reply a refusal, whatever the student's code did
    with the exception.  A cell runs as the notebook ran it (IPython syntax read by IPython,
    see :mod:`kit.grading.sandboxed.shell`); a value goes back as the plain data it equals
    (numpy's and the numeric tower's numbers converted here, in the sandbox).
    """
    assert GUARD is not None
    forbid = _forbid(message)
    try:  # the grader's arguments are made into zones before the guard starts
        args = wire.decode(message["args"], zones=True) if message.get("op") == "call" else []
    except (wire.WireError, KeyError) as exc:
        return _error(exc)
    token = GUARD.begin(forbid)
    try:
        try:
            reply = _serve(message, namespace, args)
        except BaseException as exc:  # noqa: BLE001 - the student's exception becomes data
            reply = _error(exc)
    finally:
        refused = GUARD.end(token)
    return reply if refused is None else _refusal(refused, forbid)


def _forbid(message: dict[str, Any]) -> list[str]:
    return [n for n in message.get("forbid", []) if isinstance(n, str)]


def _refusal(refused: tuple[str, str], forbid: list[str]) -> dict[str, Any]:
    """The reply to a request the guard refused: the index of the name refused in the
    request's ``forbid`` (-1: the guard itself)."""
    name = refused[0]
    index = next((i for i, n in enumerate(forbid) if name and wire.refused_name(n) == name), -1)
    return {"ok": False, "exc": "ForbiddenCall", "forbidden": index}


def _serve(message: dict[str, Any], namespace: dict[str, Any], args: list[Any]) -> dict[str, Any]:
    if message.get("op") == "run":
        filename = f"{ANSWER_FILE_PREFIX}{message['cell']}>"
        code = cell_code(str(message["source"]), filename)
        shell = namespace.get("get_ipython")
        if isinstance(shell, NotebookShell):
            shell.filename = filename
        exec(code, namespace)
        return {"ok": True}
    if message.get("op") == "ipython":  # before any cell: IPython's reader, imported
        load_reader()
        return {"ok": True}
    if message.get("op") == "call":
        name = str(message["name"])
        if name not in namespace:
            raise NameError(f"name {name!r} is not defined: run the answer cell that "
                            "defines it")
        zones = [i for i, a in enumerate(args) if isinstance(a, Zone)]
        for i in zones:
            args[i] = _record(args[i])
        value = namespace[name](*args)
        return {"ok": True, "value": wire.encode(wire.to_plain(value)),
                "logs": {str(i): args[i].log for i in zones}}
    return {"ok": False, "exc": "ProtocolError", "error": "unknown request"}


def limit_myself(options: dict[str, str]) -> None:
    """Set the resource limits the grader asked for (soft = hard).

    Done before the first request, so no student code runs without them; a process without
    privileges cannot raise a hard limit again.  The zygote sets them and every notebook's
    process inherits them (its CPU time counts from zero).
    """
    limits = {
        resource.RLIMIT_AS: int(options["memory"]) << 20,
        resource.RLIMIT_CPU: int(options["cpu"]),
        resource.RLIMIT_NPROC: int(options["processes"]),
        resource.RLIMIT_FSIZE: int(options["file-bytes"]),
        resource.RLIMIT_NOFILE: int(options["open-files"]),
        resource.RLIMIT_CORE: 0,
    }
    for which, value in limits.items():
        hard = value + 1 if which == resource.RLIMIT_CPU else value  # SIGXCPU first, then KILL
        resource.setrlimit(which, (value, hard))


def main() -> None:
    """Set the limits, load the kit once, then serve each notebook in a process of its own.

    The process the grader starts is a *zygote*: it never runs a student's code.  It imports
    the kit and indexes its code for the guard, then forks one child per notebook; the child
    installs the guard, says it is ready and serves the notebook's requests (:func:`serve`).
    When the grader moves on to the student's next notebook it says "next" on the control
    pipe, which no child holds: the zygote kills the child and everything it started,
    empties the sandbox's tmpfs folders, throws away what is left in the request pipe and
    forks a fresh child from its own untouched state.  So every
    notebook starts as clean as in a sandbox of its own, without paying again for a new
    interpreter and a new import of the kit (most of what a sandbox's start costs).  The
    zygote says "ready" on the control pipe when the old child is gone (the grader then drops
    what is left in the reply pipe) and forks the new one on "go".

    When a child ends by itself (standard input closed, a crash, a signal, a limit), the
    zygote ends the same way, so the grader sees the worker's end and its cause as before.
    """
    options = dict((arg[2:] + "=").split("=")[:2] for arg in sys.argv[1:]
                   if arg.startswith("--"))
    limit_myself(options)
    reply_fd = int(options["reply-fd"])
    control_in, control_out = (int(fd) for fd in options["control"].split(","))
    guard.preload()
    index = guard.CodeIndex(guard.kit_folder())  # once: every notebook's process inherits it
    _not_dumpable()
    sandboxed = "sandboxed" in options
    kept = kept_mounts() if sandboxed else frozenset()
    # The kit and its index, loaded once, are kept out of the collector's full passes in every
    # notebook's process (a 300-step workload makes enough objects to start some): a pass then
    # walks what the notebook made, not the kit again, nor copies the kit's pages to do so.
    # The grader starts this process with the collector off while the kit loads (see
    # Sandbox.command): every notebook's process runs with it on, as Python does by default.
    gc.freeze()
    gc.enable()
    while True:
        child = os.fork()
        if child == 0:  # the notebook's process: the zygote's control pipe does not reach it
            os.close(control_in)
            os.close(control_out)
            try:
                serve(reply_fd, index)
            except BaseException:  # noqa: BLE001 - said on stderr, then the exit status
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        if not _wait_for_next(child, control_in):
            return
        _end_notebook(child, sandboxed=sandboxed, kept=kept)
        os.write(control_out, b"ready\n")  # the old one is gone: the grader drains its pipes
        if os.read(control_in, 64) != b"go\n":
            return


def _not_dumpable() -> None:
    """Keep the zygote out of its children's reach: a process that is not dumpable cannot be
    traced, nor its memory or file descriptors opened through /proc, by another process of
    the same user (so the control pipe stays the grader's)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")


def _wait_for_next(child: int, control_in: int) -> bool:
    """Wait until the grader asks for the next notebook (True) or closes the control pipe
    (False); when the child ends first, end this process the same way."""
    watch = os.pidfd_open(child)
    try:
        while True:
            ready, _, _ = select.select([control_in, watch], [], [])
            if watch in ready:
                _end_like(os.waitpid(child, 0)[1])
            line = os.read(control_in, 64)
            if line == b"next\n":
                return True
            if not line:
                return False
    finally:
        os.close(watch)


def _end_like(status: int) -> NoReturn:
    """End this process as the child ended: by the same signal, or with the same exit code."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        with contextlib.suppress(OSError, ValueError):  # SIGKILL's cannot be set, nor need be
            signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        os._exit(128 + number)  # a signal that does not end a process when sent to it
    os._exit(os.waitstatus_to_exitcode(status))


def kept_mounts() -> frozenset[Path]:
    """The mount points inside the scratch folders, read before any notebook runs: the kit and
    the venv, bound read-only there when the checkout lives under /tmp (a CI clone, say).
    Clearing a scratch folder keeps them and the folders on the way to them."""
    scratch = [Path(folder) for folder in SCRATCH_FOLDERS]
    kept = set()
    with open("/proc/self/mountinfo", encoding="utf-8") as table:
        for line in table:
            point = Path(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)),
                                line.split()[4]))  # spaces and such are octal escapes
            if any(folder in point.parents for folder in scratch):
                kept.add(point)
    return frozenset(kept)


def clear(folder: Path, kept: frozenset[Path]) -> None:
    """Remove everything in ``folder`` but the ``kept`` mounts (and the way to them)."""
    for entry in folder.iterdir():
        if entry in kept:
            continue
        if any(entry in point.parents for point in kept):
            clear(entry, kept)
        elif entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _end_notebook(child: int, *, sandboxed: bool, kept: frozenset[Path]) -> None:
    """Kill the child and whatever it started, and leave nothing of it behind.

    A file that cannot be removed (the child made it so) ends the zygote: the grader then
    starts a new sandbox for the next notebook.
    """
    # In the sandbox's own PID namespace, -1 is every process but bubblewrap's and mine.
    # (Unsandboxed, what the child started lives on until the grader ends the worker.)
    os.kill(-1 if sandboxed else child, signal.SIGKILL)
    os.waitpid(child, 0)
    os.set_blocking(0, False)
    with contextlib.suppress(BlockingIOError):
        while os.read(0, 1 << 16):
            pass  # requests a child wrote into its own standard input: never served
    os.set_blocking(0, True)
    for folder in SCRATCH_FOLDERS if sandboxed else ():
        clear(Path(folder), kept)


def serve(reply_fd: int, index: guard.CodeIndex | None = None) -> None:
    """Serve one notebook's requests until standard input closes (``index``: the kit's code,
    indexed by the zygote)."""
    global GUARD
    GUARD = guard.install((handle.__code__, call_each.__code__),
                          lambda name: delegation_message([name]), index)
    requests = os.fdopen(0, "rb", buffering=0, closefd=False)
    replies = os.fdopen(reply_fd, "wb", buffering=0, closefd=False)
    namespace: dict[str, Any] = {"__name__": "__main__", "kit": kit}
    namespace.update(kernel_names(namespace))
    # Ready: the grader's clock for the first exercise starts now, not at the process start
    # (on a busy machine starting the sandbox can take seconds, and they are not the answer's).
    replies.write(wire.dumps({"ok": True, "id": 0}))
    buffer = b""
    while True:
        chunk = requests.read(1 << 16)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            number = None
            try:
                message = wire.loads(line)
                number = message.get("id")
                if message.get("op") == "call_each":
                    call_each(message, namespace, replies)
                    continue
                data = wire.dumps({**handle(message, namespace), "id": number})
            except wire.WireError as exc:
                data = wire.dumps({"ok": False, "exc": "WireError", "error": str(exc),
                                   "id": number})
            replies.write(data)


def call_each(message: dict[str, Any], namespace: dict[str, Any], replies: Any) -> None:
    """``{"op": "call_each", "name": NAME, "cases": [args, ...], "forbid": [...]}``: call the
    student's ``NAME(*args)`` for each case in turn, each call judged as a request of its own
    (its own refusal record, its own reply, tagged ``"case": i``), written as soon as it is
    done; stop after the first call that raised, as the grader's checks stop there.  (A value
    that is wrong does not stop it: only the grader knows what is right, and it replaces this
    process when it stops reading before the last reply.)

    The guard is begun once for all the calls and settled after each (``Guard.settle``): the
    same refusals hold for every call and in between, and a request refusing a whole class
    (``Zone``: a hundred functions' code swapped in and out) pays for its swaps once, not once
    per case.  The arguments are read first, outside the guard, as for a single call.
    """
    assert GUARD is not None
    cases = message.get("cases")
    if type(cases) is not list:
        raise wire.WireError("cases that are not a list")
    forbid = _forbid(message)
    calls: list[list[Any] | BaseException] = []
    for args in cases:
        try:
            calls.append(wire.decode(args, zones=True))
        except wire.WireError as exc:
            calls.append(exc)
            break
    token = GUARD.begin(forbid)
    try:
        for index, args in enumerate(calls):
            if isinstance(args, BaseException):
                reply = _error(args)
            else:
                try:
                    reply = _serve({"op": "call", "name": message.get("name")}, namespace, args)
                except BaseException as exc:  # noqa: BLE001 - the student's exception: data
                    reply = _error(exc)
                refused = GUARD.settle(token)
                if refused is not None:
                    reply = _refusal(refused, forbid)
            try:
                data = wire.dumps({**reply, "id": message.get("id"), "case": index})
            except wire.WireError as exc:
                reply = {"ok": False, "exc": "WireError", "error": str(exc)}
                data = wire.dumps({**reply, "id": message.get("id"), "case": index})
            replies.write(data)
            if reply.get("ok") is not True:
                return
    finally:
        GUARD.end(token)


if __name__ == "__main__":
    main()
