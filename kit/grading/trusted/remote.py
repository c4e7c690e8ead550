"""TRUSTED: the student's functions as the grader sees them -- proxies into the sandbox.

A test cell runs in the grader's own process.  Where it names a function of the student's
(``my_get_order``), it gets a :class:`RemoteFunction`: calling it sends the arguments to the
worker as plain data and returns the plain data that came back, or raises what the student's
code raised (as :class:`AnswerError`, or :class:`AnswerNotImplemented` -- a
``NotImplementedError`` -- for the release stub).

A zone argument is sent as its state; the worker hands the student a recording copy and
returns the list of calls the student's code made on it.  The grader then **replays** those
calls on its own zone, with its own untouched kit: the state a test compares is computed
here, never reported by the worker, so a student who patches the worker's kit gains nothing.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
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
                   "forbid": sorted(self._call.forbid)}
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
                   "forbid": sorted(self._call.forbid)}
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
        """What a call gave: its value (zone changes replayed), or what it raised."""
        forbid = sorted(self._call.forbid)
        if reply.get("ok") is not True:
            refused = refusal(reply, self._call.forbid)
            if refused:
                self._call.delegated = self._call.delegated or refused
                raise AnswerError("ForbiddenCall", refused)
            kind = error_kind(reply)
            text = printable(str(reply.get("error", ""))[:MAX_ERROR_CHARS], MAX_ERROR_CHARS)
            if kind == "NotImplementedError":
                raise AnswerNotImplemented(text)
            raise AnswerError(kind, text)
        deadline = time.monotonic() + self._call.time_left()
        try:
            value = wire.decode(reply.get("value"), deadline=deadline)
            logs = reply.get("logs") or {}
            if type(logs) is not dict:
                raise wire.WireError("zone call logs that are not a mapping")
            for index, arg in enumerate(args):
                if isinstance(arg, Zone):
                    replay(arg, logs.get(str(index), []), frozenset(forbid), deadline)
        except wire.WireError as exc:
            raise AnswerError("WireError", f"your function returned what the grader cannot "
                                           f"accept: {exc}") from None
        return value


def error_kind(reply: dict[str, Any]) -> str:
    """The type name of what the student's code raised, as the reply gives it (checked)."""
    kind = reply.get("exc")
    if type(kind) is str and kind.isidentifier() and len(kind) <= 60 and \
            kind != "ForbiddenCall":
        return kind
    return "Error"


def refusal(reply: dict[str, Any], forbid: frozenset[str]) -> str:
    """The grader's own words for a refused call, or "" when the reply is not a refusal.

    The worker names what it refused; the text is the grader's, and a name the request did
    not forbid is not believed (the reply is then an ordinary error).
    """
    if reply.get("exc") != "ForbiddenCall":
        return ""
    name = reply.get("forbidden")
    shown = {n.split(".")[0] if n.endswith((".__init__", ".__new__")) else n.split(".")[-1]
             for n in forbid}
    if name == "":
        return ("your answer tried to switch off or go round the grader's delegation check "
                "(a thread, another program, the kit's source or its code objects)")
    if type(name) is str and name in shown:
        return checks.delegation_message([name])
    return ""


def _carries_zone(encoded: Any) -> bool:
    if type(encoded) is dict:
        return "zone" in encoded or any(_carries_zone(v) for v in encoded.values())
    return type(encoded) is list and any(_carries_zone(v) for v in encoded)


class CallContext:
    """What every remote call of one exercise shares: its forbidden names and its clock, and
    ``replace_process``, called when the worker's notebook process must not be used again
    (see :meth:`RemoteFunction.call_each`)."""

    def __init__(self, forbid: frozenset[str], time_left: Callable[[], float],
                 replace_process: Callable[[], None] | None = None) -> None:
        self.forbid = forbid
        self.time_left = time_left
        self.replace_process = replace_process
        self.delegated: str | None = None


def replay(zone: Zone, log: Any, forbid: frozenset[str], deadline: float | None = None) -> None:
    """Make the calls the student's code made in the worker, on the grader's ``zone``.

    Only the allocator's own calls are replayed (``wire.ZONE_CALLS``), never one the exercise
    forbids; a call that failed in the worker fails here the same way and is passed over, as
    the student's code may have caught it.
    """
    if type(log) is not list:
        raise wire.WireError("a zone call log that is not a list")
    for entry in log[:MAX_REPLAYED_CALLS]:
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                getattr(zone, entry[0])(*args, **kwargs)
            except (KitError, TypeError):
                pass
