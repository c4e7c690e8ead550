"""Trace events as columns: how a summary reads a million events a second.

The careful reader (kit.core.kerneltrace) builds one typed record per line with a dozen
conversions; a summary needs far less.  Here a trace becomes batches of :class:`TraceColumns`,
one list per field holding each field's bytes as they stood in the line, cut into runs of equal
(head, event, fields): traces come in bursts, a million events make some 20,000 runs, and a
summary does its Python work once per run and per *distinct* value, the rest in C.

:func:`read_trace_columns` reads a file in chunks of whole lines and cuts every line of raw
tracefs text (what ``kit trace record`` writes) with one compiled pattern over the chunk
(:data:`FAST_LINE`); each line that pattern does not take (comments, other tracepoints,
``trace-cmd``/``perf`` text, malformed lines) goes to the careful reader with its line number,
in its place, so the report and the events are exactly what :func:`kerneltrace.parse_trace`
gives.  :func:`event_columns` turns typed records into the same columns.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate, compress, count, groupby, islice
from typing import Any, NamedTuple

from kit.core.errors import InvalidArgument
from kit.core.kerneltrace import (
    LineReader,
    PageEvent,
    TraceReport,
    event_fields,
)

__all__ = [
    "CHUNK_CHARS",
    "FAST_LINE",
    "Fields",
    "Head",
    "Run",
    "TraceColumns",
    "event_columns",
    "fields_of",
    "head_of",
    "read_trace_columns",
]

CHUNK_CHARS = 1 << 16
"""Bytes read at a time (whole lines of about 64 KiB, some 450 events): a chunk's
objects stay in the CPU's cache while the summary goes through them."""

#: One raw tracefs line of a page event (``kit trace record`` writes these), cut into the
#: columns: the head (``comm-pid [cpu] flags``), seconds, event, pfn and the event's fields.
#: Seconds and pfn are taken only as the careful reader reads them to the same value
#: (``digits.digits``; lowercase hex without leading zeros, so that a pfn's bytes are its
#: key), the page pointer only as hex (so no match runs over a newline: counting a chunk's
#: newlines cost a tenth of the reading).  The rest is loose on purpose (skipping to the next
#: space costs the regular expression engine some 5 instructions a character, a character
#: class 25, each group some 400 a line): the reader checks each distinct head
#: (:data:`_STRICT_HEAD`), event and fields, none of which holds a newline then; a chunk
#: where a check fails goes through the careful reader.  It reads bytes: a chunk is ASCII or
#: goes to the careful reader anyway, and bytes spare the decoding and some 700 instructions
#: a line of cutting.  Every repeat is possessive (``++``, ``*+``): none can give back what it
#: took and still match, as each stops at a character the next piece must begin with, so the
#: matches are the same, and the engine keeps no backtracking state (some 800 instructions a
#: line, 8% of reading and summarising).
FAST_LINE = re.compile(
    rb"^ ++([^ ]++ ++[^ ]++ [^ ]++) ++([0-9]++\.[0-9]++): (mm_page_[^:]++): page=[0-9a-f]++ "
    rb"pfn=0x([1-9a-f][0-9a-f]*+|0) (.*+)\n",
    re.MULTILINE,
)
_GROUPS = FAST_LINE.groups + 1  # re.split gives the text between matches, then the groups
#: What the careful reader accepts as the head of a tracefs line, once per distinct head.
_STRICT_HEAD = re.compile(r"(\S+)-([0-9]+) +\[([0-9]+)\] [^\s:]{4,6}")
#: Whitespace other than space and newline, which the fast pattern would take for a word.
_ODD_SPACE = tuple(bytes([c]) for c in b"\t\x0b\x0c\r\x1c\x1d\x1e\x1f")
_CACHE_LIMIT = 4096

Head = tuple[str, int, int]
"""(comm, pid, cpu) of an event."""

Fields = tuple[Any, ...]
"""An event's fields, typed: see :func:`fields_of`."""


class Run(NamedTuple):
    """Consecutive events with the same head, event and fields: rows ``start`` to ``end``."""

    start: int
    end: int
    comm: str
    pid: int
    cpu: int
    event: str
    fields: Fields


@dataclass
class TraceColumns:
    """A batch of events, one list per field, in trace order, and its runs.

    ``times`` are seconds as ASCII bytes (as the trace has them) or float; ``events`` tracepoint
    names (bytes where read in bulk); ``pfns`` the pfn in lowercase hex ASCII bytes without
    ``0x`` (b"" for none: a failed allocation).  Heads (process and CPU) and fields are only in
    ``runs``, read once per run, where names are text.
    """

    times: list[bytes | float]
    events: list[bytes | str]
    pfns: list[bytes]
    runs: list[Run]

    def __len__(self) -> int:
        return len(self.events)


_fields: dict[tuple[str, bytes | str], Fields | None] = {}
_heads: dict[bytes | str, Head | None] = {}


def _bounded(cache: dict[Any, Any]) -> dict[Any, Any]:
    """The cache, emptied first when full: endless distinct values must not grow it forever."""
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    return cache


def head_of(head: bytes | str | Head) -> Head | None:
    """(comm, pid, cpu) of a tracefs head (``comm-pid [cpu] flags``, the pid after the last
    '-' of the first word, where the careful reader finds it too) or of a tuple; None if the
    careful reader would not take it.  Each distinct text is parsed once."""
    if isinstance(head, tuple):
        return head
    if head in _heads:
        return _heads[head]
    match = _STRICT_HEAD.fullmatch(head.decode() if isinstance(head, bytes) else head)
    known = (match[1], int(match[2]), int(match[3])) if match is not None else None
    _bounded(_heads)[head] = known
    return known


def fields_of(event: str, tail: bytes | str | Fields) -> Fields | None:
    """An event's fields typed, from their text (None if they are not that event's):
    ``mm_page_alloc`` (order, migratetype, gfp_flags); the frees (order,);
    ``mm_page_alloc_zone_locked`` (order, migratetype, percpu_refill);
    ``mm_page_pcpu_drain`` (order, migratetype); ``mm_page_alloc_extfrag`` (order,
    fallback_order, migratetype, fallback_migratetype, fragmenting, change_ownership).
    Typed fields pass through.  Each distinct text is parsed once."""
    if isinstance(tail, tuple):
        return tail
    key = (event, tail)
    if key in _fields:
        return _fields[key]
    groups = event_fields(event, tail.decode() if isinstance(tail, bytes) else tail)
    fields: Fields | None = None
    if groups is not None:
        if event == "mm_page_alloc":
            fields = (int(groups[0]), int(groups[1]), groups[2])
        elif event == "mm_page_alloc_zone_locked":
            fields = (int(groups[0]), int(groups[1]), groups[2] == "1")
        elif event == "mm_page_alloc_extfrag":
            fields = (*(int(g) for g in groups[:4]), groups[4] == "1", groups[5] == "1")
        else:
            fields = tuple(int(g) for g in groups)
    _bounded(_fields)[key] = fields
    return fields


def _typed_fields(e: PageEvent) -> Fields:
    """A record's fields as :func:`fields_of` gives them."""
    if e.event == "mm_page_alloc":
        return (e.order, e.migratetype, e.gfp_flags)
    if e.event == "mm_page_alloc_zone_locked":
        return (e.order, e.migratetype, e.percpu_refill)
    if e.event == "mm_page_pcpu_drain":
        return (e.order, e.migratetype)
    if e.event == "mm_page_alloc_extfrag":
        return (e.order, e.fallback_order, e.migratetype, e.fallback_migratetype,
                e.fragmenting, e.change_ownership)
    return (e.order,)


def _ends(column: list[Any]) -> Iterator[int]:
    """Where each run of equal values in a column ends (the row after it).  groupby compares
    neighbours in C: a third of the instructions of mapping ``operator.ne`` over the column
    and counting the rows that differ."""
    return accumulate([len(list(run)) for _, run in groupby(column)])


def _cuts(heads: list[Any], events: list[Any], tails: list[Any]) -> list[int]:
    """Indices where (head, event, tail) changes: where any of the three does."""
    cuts = {*_ends(heads), *_ends(events), *_ends(tails)}
    cuts.discard(len(events))
    return sorted(cuts)


def _batch(
    heads: list[bytes | Head], times: list[bytes | float], events: list[bytes | str],
    pfns: list[bytes], tails: list[bytes | Fields],
) -> TraceColumns | None:
    """The columns and their runs; None if a run's head or fields are not what the careful
    reader would take."""
    if not events:
        return TraceColumns(times, events, pfns, [])
    cuts = _cuts(heads, events, tails)
    runs = []
    for start, end in zip([0, *cuts], [*cuts, len(events)], strict=True):
        event = events[start]
        name = event.decode() if isinstance(event, bytes) else event
        head = head_of(heads[start])
        fields = fields_of(name, tails[start])
        if head is None or fields is None:
            return None
        runs.append(Run(start, end, *head, name, fields))
    return TraceColumns(times, events, pfns, runs)


def _append_events(columns: list[list[Any]], events: Iterable[PageEvent]) -> None:
    """Append typed records to the five field lists."""
    heads, times, names, pfns, tails = columns
    for e in events:
        heads.append((e.comm, e.pid, e.cpu))
        times.append(e.time)
        names.append(e.event)
        pfns.append(b"" if e.pfn is None else b"%x" % e.pfn)
        tails.append(_typed_fields(e))


def event_columns(events: Iterable[PageEvent], size: int = 4096) -> Iterator[TraceColumns]:
    """Typed records as columns, ``size`` at a time (a lazy stream stays lazy)."""
    iterator = iter(events)
    while True:
        columns: list[list[Any]] = [[], [], [], [], []]
        _append_events(columns, islice(iterator, size))
        if not columns[0]:
            return
        batch = _batch(*columns)
        assert batch is not None  # typed records are what they are
        yield batch


def _mark_failed(events: list[Any], pfns: list[bytes]) -> None:
    """Failed allocations (tracefs prints ``pfn=0x0``) get pfn b"", as a record's None."""
    i = -1
    while True:
        try:
            i = pfns.index(b"0", i + 1)
        except ValueError:
            return
        if events[i] == b"mm_page_alloc":
            pfns[i] = b""


class _ChunkReader:
    """Cuts chunks of whole lines into columns, sending what the fast pattern leaves to the
    careful reader with its line number."""

    def __init__(self, report: TraceReport) -> None:
        self.report = report
        self.careful = LineReader(report)

    def columns(self, text: bytes) -> TraceColumns:
        """The events of ``text`` (whole lines, each ending in a newline)."""
        first = self.report.lines + 1  # the number of the chunk's first line
        if not text.isascii() or any(space in text for space in _ODD_SPACE):
            return self._careful(text, first)
        parts = FAST_LINE.split(text)
        gaps = parts[0::_GROUPS]
        gap_lines = sum(gap.count(b"\n") for gap in compress(gaps, gaps))
        fields = [parts[i::_GROUPS] for i in range(1, _GROUPS)]
        rows = len(gaps) - 1
        if gap_lines:
            return self._mixed(text, fields, gaps, first)
        fast = _batch(*fields)
        if fast is None:
            return self._careful(text, first)
        _mark_failed(fast.events, fast.pfns)
        self.careful.form = 0  # where the careful reader is after a tracefs line
        self.report.events += rows
        self.report.lines += rows
        return fast

    def _mixed(
        self, text: bytes, fields: list[list[bytes]], gaps: list[bytes], first: int
    ) -> TraceColumns:
        """Fast rows and careful lines interleaved, each in its place."""
        rows = len(gaps) - 1
        if _batch(*fields) is None:  # type: ignore[arg-type]
            return self._careful(text, first)
        _mark_failed(fields[2], fields[3])
        columns: list[list[Any]] = [[], [], [], [], []]
        lineno = first
        done = 0  # fast rows taken; gap i comes before fast row i, the last after them all

        def take(row: int) -> None:
            nonlocal done, lineno
            if row > done:
                for column, field in zip(columns, fields, strict=True):
                    column.extend(field[done:row])
                self.careful.form = 0
                lineno += row - done
                done = row

        for row in compress(count(), gaps):
            take(row)
            lines = gaps[row].decode().split("\n")  # ASCII: checked
            lines.pop()  # the text after the last newline: empty
            _append_events(columns, self._careful_lines(lines, lineno))
            lineno += len(lines)
        take(rows)
        self.report.events += rows
        self.report.lines = lineno - 1
        batch = _batch(*columns)
        assert batch is not None  # every part was checked
        return batch

    def _careful_lines(self, lines: list[str], first: int) -> Iterator[PageEvent]:
        for lineno, line in enumerate(lines, start=first):
            event = self.careful.read(lineno, line + "\n")
            if event is not None:
                yield event

    def _careful(self, text: bytes, first: int) -> TraceColumns:
        """Every line of a chunk through the careful reader: a line the fast pattern took had
        fields that are not its event's, which the careful reader reports as malformed.  UTF-8
        with bad bytes replaced, as a text-mode file reads (a chunk ends at a newline, which no
        multi-byte character holds, so chunks decode alone to what the whole file decodes to)."""
        lines = text.decode("utf-8", "replace").split("\n")
        lines.pop()
        columns: list[list[Any]] = [[], [], [], [], []]
        _append_events(columns, self._careful_lines(lines, first))
        self.report.lines = first + len(lines) - 1
        batch = _batch(*columns)
        assert batch is not None  # typed records are what they are
        return batch


def _newlines(data: bytes) -> bytes:
    """Universal newlines, as a text-mode file reads: CRLF and a lone CR end a line as LF
    does."""
    if b"\r" in data:
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def _pieces(path: str | os.PathLike[str], span: tuple[int, int] | None) -> Iterator[bytes]:
    """The bytes of a trace file (``.gz`` decompressed), or the bytes ``span`` of a plain one,
    in pieces of whole lines with universal newlines (a last line without its newline gets
    one)."""
    name = os.fspath(path)
    try:  # closed below; a generator holds it
        handle = gzip.open(name, "rb") if span is None and name.endswith(".gz") else open(  # noqa: SIM115
            name, "rb")
    except OSError as exc:
        raise InvalidArgument(f"cannot read trace {name}: {exc.strerror or exc}") from None
    with handle:
        start, end = span if span is not None else (0, -1)
        if start:
            handle.seek(start)
        left = end - start if end >= 0 else -1  # bytes still to read; -1: up to the end
        tail = b""
        while left and (data := handle.read(CHUNK_CHARS if left < 0 else
                                            min(CHUNK_CHARS, left))):
            left -= len(data) if left > 0 else 0
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                tail += data
                continue
            yield _newlines(tail + data[:cut] if tail else data[:cut])
            tail = data[cut:]
    if tail:
        text = _newlines(tail)
        yield text if text.endswith(b"\n") else text + b"\n"


def read_trace_columns(
    path: str | os.PathLike[str], report: TraceReport | None = None,
    span: tuple[int, int] | None = None,
) -> Iterator[TraceColumns]:
    """Stream a trace file (``.gz`` too) as batches of columns, filling ``report`` exactly as
    :func:`kit.core.kerneltrace.read_trace` does.  ``span`` (start, end) reads only those
    bytes of a plain file, cut at line boundaries (kit.core.traceparts), numbering lines
    from 1 as if the span were a file of its own."""
    reader = _ChunkReader(report if report is not None else TraceReport())
    for text in _pieces(path, span):
        yield reader.columns(text)
