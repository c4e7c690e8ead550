"""TRUSTED: the student's functions as the grader sees them -- proxies into the sandbox.

A test cell runs in the grader's own process.  Where it names a function of the student's
(``my_get_order``), it gets a :class:`RemoteFunction`: calling it sends the arguments to the
worker as plain data and returns the plain data that came back, or raises what the student's
code raised (as :class:`AnswerError`, or :class:`AnswerNotImplemented` -- a
``NotImplementedError`` -- for the release stub, which the grader reads in the answer's source).
Every reply is checked by :func:`read_reply` first: it chooses no status and writes no reason.

A zone argument is sent as its state; the worker hands the student a recording copy and
returns the list of calls the student's code made on it.  The grader then **replays** those
calls on its own zone, with its own untouched kit: the state a test compares is computed
here, never reported by the worker, so a student who patches the worker's kit gains nothing.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kit.core.errors import KitError
from kit.core.zone import Zone
from kit.grading.boundary import checks, wire
from kit.grading.trusted.bwrap import Worker
from kit.grading.trusted.gradebook import printable

#: The most zone calls one student call may make that the grader replays.
MAX_REPLAYED_CALLS = 100_000
#: How much of the text of what the student's code raised the grader keeps.
MAX_ERROR_CHARS = 500


class AnswerNotImplemented(NotImplementedError):
    """The student's function is still the release stub (``Checks`` reads it as unanswered)."""


class AnswerError(Exception):
    """The student's code raised ``kind`` (the exception's type name) with ``message``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class RemoteFunction:
    """A function defined by the student's answer cells, living in the worker."""

    def __init__(self, name: str, worker: Callable[[], Worker], call: CallContext) -> None:
        self.__name__ = name
        self._worker = worker
        self._call = call

    def __call__(self, *args: Any) -> Any:
        message = {"op": "call", "name": self.__name__, "args": wire.encode(list(args)),
                   "forbid": self._call.forbid_list}
        return self._result(self._worker().request(message, self._call.time_left()), args)

    def call_each(self, cases: list[tuple[Any, ...]]) -> Iterator[Any]:
        """``self(*case)`` for each case in turn, as a generator, in one request: the worker
        calls the student's function case after case and replies to each as it is done, so
        a check over 200 seeded cases costs one round trip, not 200 (each a wake-up of both
        processes).  What each call gives, raises or changes is the same as one by one, with
        one difference: a check that stops reading early (at the first wrong value) leaves
        the worker still running the later cases, so its notebook process is replaced (the
        cells run again in a fresh one: :attr:`CallContext.replace_process`) before the
        student's code is used again.  Cases that hold a zone are called one by one (the
        grader replays each call's zone changes before the next call is sent).
        """
        encoded = [wire.encode(list(case)) for case in cases]
        if len(cases) < 2 or any(_carries_zone(args) for args in encoded):
            for case in cases:
                yield self(*case)
            return
        message = {"op": "call_each", "name": self.__name__, "cases": encoded,
                   "forbid": self._call.forbid_list}
        running = False  # the worker may still be calling: the reader stopped early
        try:
            for index, reply in enumerate(self._worker().stream(message, len(cases),
                                                                  self._call.time_left)):
                running = reply.get("ok") is True and index + 1 < len(cases)
                yield self._result(reply, cases[index])
            running = False
        finally:
            if running and self._call.replace_process is not None:
                self._call.replace_process()

    def _result(self, reply: dict[str, Any], args: tuple[Any, ...]) -> Any:
        """What a call gave: its value (zone changes replayed), or what it raised, read by
        :func:`read_reply` (a reply chooses no status and writes no reason)."""
        forbid = self._call.forbid_list
        try:
            said = read_reply(reply, forbid)
        except ProtocolViolation:
            self._call.protocol_error = True
            raise AnswerError("ProtocolError", PROTOCOL_ERROR) from None
        if said.refused:
            self._call.delegated = self._call.delegated or said.refused
            raise AnswerError("ForbiddenCall", said.refused)
        if not said.ok:
            if self.__name__ in self._call.stubs:  # the answer's source says so, not the reply
                self._call.stub_called = True
                raise AnswerNotImplemented(self._call.stubs[self.__name__])
            if said.kind == "NotImplementedError":  # ends the checks, as in a notebook, but
                self._call.not_implemented = self._call.not_implemented or said.text  # fails
                raise AnswerNotImplemented(said.text)
            raise AnswerError(said.kind, said.text)
        deadline = time.monotonic() + self._call.time_left()
        try:
            value = wire.decode(reply.get("value"), deadline=deadline)
            logs = reply.get("logs") or {}
            if type(logs) is not dict:
                raise wire.WireError("zone call logs that are not a mapping")
            for index, arg in enumerate(args):
                if isinstance(arg, Zone):
                    replay(arg, logs.get(str(index), []), self._call.forbid, deadline)
        except wire.WireError as exc:
            raise AnswerError("WireError", f"your function returned what the grader cannot "
                                           f"accept: {exc}") from None
        return value


#: The grader's own words for a reply that claims what no worker reply may: a field the
#: protocol does not have (a status, a limit), a refusal of a name the request did not forbid,
#: an exception that is no type name.  Such a reply fails its exercise, whatever it claimed.
PROTOCOL_ERROR = ("the answer process sent the grader a reply that the protocol does not "
                  "allow (written to the grader's channel by hand?)")
#: The fields a reply may have: a value, or an exception (a refusal adds ``forbidden``).
_VALUE_FIELDS = frozenset({"ok", "id", "value", "logs"})
_ERROR_FIELDS = frozenset({"ok", "id", "exc", "error"})
#: What ``"forbidden"`` holds for a refusal that is not of one name: the guard was switched off.
GUARD_REFUSED = -1


class ProtocolViolation(Exception):
    """A worker reply outside the protocol (see :data:`PROTOCOL_ERROR`)."""


@dataclass(frozen=True)
class Said:
    """What one worker reply says, in the grader's words: a value came back (``ok``), the
    student's code raised ``kind`` with message ``text`` (quoted in a reason, capped), or
    ``refused``: the grader's delegation text, written from its own forbid list."""

    ok: bool
    kind: str = ""
    text: str = ""
    refused: str = ""


def read_reply(reply: dict[str, Any], forbid: Sequence[str]) -> Said:
    """Check a worker's reply to a request that refused ``forbid`` (the list as sent).

    A reply chooses no status and writes no reason: it carries a value, or an exception's type
    name and message, or a refusal as an index into ``forbid`` (:data:`GUARD_REFUSED` for the
    guard itself), which the grader words.  Anything else raises :class:`ProtocolViolation`.
    """
    fields = set(reply)
    if reply.get("ok") is True and fields <= _VALUE_FIELDS:
        return Said(True)
    if reply.get("ok") is not False:
        raise ProtocolViolation("a reply that is neither a value nor an error")
    kind, text = reply.get("exc"), reply.get("error", "")
    if type(kind) is not str or not kind.isidentifier() or len(kind) > 60 or \
            type(text) is not str:
        raise ProtocolViolation("an error that is not a type name and a message")
    if kind == "ForbiddenCall" and fields <= _ERROR_FIELDS | {"forbidden"}:
        return Said(False, kind, refused=refusal_text(reply.get("forbidden"), forbid))
    if not fields <= _ERROR_FIELDS:
        raise ProtocolViolation("a reply with fields the protocol does not have")
    return Said(False, kind, printable(text[:MAX_ERROR_CHARS], MAX_ERROR_CHARS))


def refusal_text(index: object, forbid: Sequence[str]) -> str:
    """The grader's words for the worker's refusal of ``forbid[index]``; a refusal of anything
    the request did not forbid is a :class:`ProtocolViolation`."""
    if type(index) is not int or not GUARD_REFUSED <= index < len(forbid):
        raise ProtocolViolation("a refusal of a name the request did not forbid")
    if index == GUARD_REFUSED:
        return ("your answer tried to switch off or go round the grader's delegation check "
                "(a thread, another program, the kit's source or its code objects)")
    return checks.delegation_message([wire.refused_name(forbid[index])])


def _carries_zone(encoded: Any) -> bool:
    if type(encoded) is dict:
        return "zone" in encoded or any(_carries_zone(v) for v in encoded.values())
    return type(encoded) is list and any(_carries_zone(v) for v in encoded)


class CallContext:
    """What every remote call of one exercise shares: its forbidden names, its clock, the
    student's functions that are still release stubs (read from their source by the grader),
    what its replies showed (a refusal, a reply outside the protocol), and
    ``replace_process``, called when the worker's notebook process must not be used again
    (see :meth:`RemoteFunction.call_each`)."""

    def __init__(self, forbid: frozenset[str], time_left: Callable[[], float],
                 stubs: Mapping[str, str] | None = None,
                 replace_process: Callable[[], None] | None = None) -> None:
        self.forbid = forbid
        # as every request sends it and every reply's refusal index reads it: sorted once
        self.forbid_list = sorted(forbid)
        self.time_left = time_left
        self.stubs = stubs or {}  # function -> the hint of its release stub, still unanswered
        self.replace_process = replace_process
        self.delegated: str | None = None
        self.protocol_error = False
        self.stub_called = False
        self.not_implemented: str | None = None  # what code that is no stub raised as such


def replay(zone: Zone, log: Any, forbid: frozenset[str], deadline: float | None = None) -> None:
    """Make the calls the student's code made in the worker, on the grader's ``zone``.

    Only the allocator's own calls are replayed (``wire.ZONE_CALLS``), never one the exercise
    forbids; a call that failed in the worker fails here the same way and is passed over, as
    the student's code may have caught it.
    """
    if type(log) is not list:
        raise wire.WireError("a zone call log that is not a list")
    with warnings.catch_warnings():  # once for the log: ~25 us a call (a log can hold 1,000s)
        warnings.simplefilter("ignore")
        for entry in log[:MAX_REPLAYED_CALLS]:
            _replay_one(zone, entry, forbid, deadline)


def _replay_one(zone: Zone, entry: Any, forbid: frozenset[str], deadline: float | None) -> None:
    if type(entry) is not list or len(entry) != 3 or entry[0] not in wire.ZONE_CALLS \
            or entry[0] in forbid:
        raise wire.WireError("a zone call the grader does not replay")
    if deadline is not None and time.monotonic() > deadline:
        raise wire.WireError("zone calls that take too long to replay")
    args = wire.decode(entry[1], deadline=deadline)
    kwargs = wire.decode(entry[2], deadline=deadline)
    if type(args) is not list or type(kwargs) is not dict or \
            not all(type(k) is str for k in kwargs):
        raise wire.WireError("zone call arguments that are not a list and a mapping")
    try:
        getattr(zone, entry[0])(*args, **kwargs)
    except (KitError, TypeError):
        pass
