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
  ``NAME(*args)``.  A zone argument arrives as its state and is handed over as a
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

import os
import resource
import sys
import traceback
from typing import Any

import kit
from kit.core.zone import Zone
from kit.grading.boundary import wire
from kit.grading.boundary.checks import delegation_message
from kit.grading.sandboxed import guard
from kit.grading.sandboxed.shell import NotebookShell, cell_code, kernel_names, load_reader

#: File names given to the student's compiled cells (an error's line is looked up in them).
ANSWER_FILE_PREFIX = "<answer "
#: The guard against delegation, installed by :func:`main` before the first request.
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
    forbid = [n for n in message.get("forbid", []) if isinstance(n, str)]
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
    if refused is not None:  # the index of the name refused (-1: the guard itself)
        name = refused[0]
        index = next((i for i, n in enumerate(forbid) if name and wire.refused_name(n) == name),
                     -1)
        return {"ok": False, "exc": "ForbiddenCall", "forbidden": index}
    return reply


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


def limit_myself(argv: list[str]) -> int:
    """Set the resource limits the grader asked for (soft = hard); return the reply fd.

    Done before the first request, so no student code runs without them; a process without
    privileges cannot raise a hard limit again.
    """
    options = dict(arg[2:].split("=", 1) for arg in argv if arg.startswith("--") and "=" in arg)
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
    return int(options["reply-fd"])


def main() -> None:
    """Serve requests until standard input closes."""
    global GUARD
    reply_fd = limit_myself(sys.argv[1:])
    GUARD = guard.install(handle.__code__, lambda name: delegation_message([name]))
    requests = os.fdopen(0, "rb", buffering=0)
    replies = os.fdopen(reply_fd, "wb", buffering=0)
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
                data = wire.dumps({**handle(message, namespace), "id": number})
            except wire.WireError as exc:
                data = wire.dumps({"ok": False, "exc": "WireError", "error": str(exc),
                                   "id": number})
            replies.write(data)


if __name__ == "__main__":
    main()
