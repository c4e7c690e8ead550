"""Cut a trace file into parts at line boundaries and summarise the parts on every core.

One CPython process reads and summarises under a million events a second (0.71-0.92 M on this
project's 2-core machine, ``bench/bench_trace.py``, December 2026; about half of its work is the
regular expression engine's, kit.core.tracecolumns); the machines the course runs on have two
cores or more.
So a big file is cut into byte ranges, each ending just after a newline, one per usable core;
this process takes the first range, a worker process each of the others, and the results come
back in file order for the caller to merge (kit.core.tracesummary's PartialSummary).  A small
file (under :data:`MIN_PART_BYTES` a part) stays in one process: starting a worker costs more
than it saves, and the lessons and tests pay nothing.

Workers are forked: a fork costs some 15 ms and shares the imported kit.  Only a process that
runs no other thread forks (the command line, the benchmark): forking a threaded one (a Jupyter
kernel) can leave a worker waiting on a lock another thread held.  There the file is read in
one process: spawning workers instead starts each interpreter afresh (0.4-0.6 s measured here
at load 10, against 15 ms for a fork) and runs the caller's main module again in each, and the
lessons read the shipped ``.gz``, which cannot be cut anyway.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any, TypeVar

from kit.core.errors import InvalidArgument

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = [
    "MIN_PART_BYTES", "Span", "can_fork", "line_spans", "map_spans", "part_count", "usable_cpus",
]

MIN_PART_BYTES = 4 << 20
"""The smallest part worth a process of its own: 4 MiB of raw tracefs text is some 30,000
events, about 50 ms of work, against a few milliseconds to fork a worker and send its result."""

Span = tuple[int, int]
"""A byte range [start, end) of a file."""

_Result = TypeVar("_Result")
_SCAN = 1 << 16  # bytes read at a time when looking for the end of a line


def usable_cpus() -> int:
    """The cores this process may run on (its affinity where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether workers can be forked: the system has fork and no other thread runs here.

    ``multiprocessing`` is imported here, not with the module: the grader's sandbox loads the
    whole core for every student before any answer runs, and importing it took 19 ms of CPU
    there (a tenth of the sandbox's start), for a trace big enough to split that no answer
    reads."""
    import multiprocessing

    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


def part_count(size: int, cpus: int | None = None) -> int:
    """How many parts a file of ``size`` bytes is cut into: one per usable core, but none
    smaller than :data:`MIN_PART_BYTES`, and always at least one."""
    return max(1, min(cpus if cpus is not None else usable_cpus(), size // MIN_PART_BYTES))


def line_spans(path: str | os.PathLike[str], parts: int) -> list[Span]:
    """Byte ranges covering the file, about ``parts`` of them of equal size, each ending just
    after a newline (the last at the end of the file).  Fewer when lines are long."""
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as handle:
        for i in range(1, max(parts, 1)):
            aim = max(size * i // parts, cuts[-1] + 1)
            if aim >= size:
                break
            handle.seek(aim - 1)  # a newline just before ``aim`` cuts right at it
            cut = size
            offset = aim - 1
            while block := handle.read(_SCAN):
                found = block.find(b"\n")
                if found >= 0:
                    cut = offset + found + 1
                    break
                offset += len(block)
            if cut >= size:
                break
            cuts.append(cut)
    cuts.append(size)
    return [(start, end) for start, end in pairwise(cuts) if end > start] or [(0, 0)]


def _work(connection: Connection, function: Callable[..., Any], span: Span,
          args: tuple[Any, ...]) -> None:
    """A worker's whole life: one span, its result (or its error, as one line) sent back."""
    try:
        try:
            reply = (True, function(span, *args))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
            reply = (False, f"{type(exc).__name__}: {exc}")
        connection.send(reply)
    except OSError:
        pass  # the parent stopped listening (interrupted itself): nothing to tell
    finally:
        connection.close()


def map_spans(
    function: Callable[..., _Result], spans: Sequence[Span], *args: Any
) -> list[_Result]:
    """``function(span, *args)`` for every span, in order: the first in this process, each
    other one in a forked worker process started first, so all run at once (all in this
    process where workers cannot be forked).

    ``function``'s result must be picklable.  A worker that fails or dies raises
    InvalidArgument naming its part; every worker is ended before this returns or raises
    (also on Ctrl-C).
    """
    if len(spans) <= 1 or not can_fork():
        return [function(span, *args) for span in spans]
    import multiprocessing  # see can_fork

    context = multiprocessing.get_context("fork")
    workers = []
    try:
        for span in spans[1:]:
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_work, args=(sender, function, span, args), daemon=True
            )
            process.start()
            sender.close()
            workers.append((process, receiver, span))
        results = [function(spans[0], *args)]
        for process, receiver, span in workers:
            try:
                ok, value = receiver.recv()
            except EOFError:
                process.join()
                raise InvalidArgument(
                    f"the worker reading bytes {span[0]}-{span[1]} ended without a result "
                    f"(exit code {process.exitcode})"
                ) from None
            if not ok:
                raise InvalidArgument(f"reading bytes {span[0]}-{span[1]}: {value}")
            results.append(value)
        return results
    finally:
        for process, receiver, _ in workers:
            receiver.close()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
