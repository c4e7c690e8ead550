"""Trace events as columns: how a summary reads a million events a second.

The careful reader (kit.core.kerneltrace) builds one typed record per line with a dozen
conversions; a summary needs far less.  Here a trace becomes batches of :class:`TraceColumns`,
one list per field holding each field's bytes as they stood in the line, cut into runs of equal
(head, event, fields): traces come in bursts, a million events make some 20,000 runs, and a
summary does its Python work once per run and per *distinct* value, the rest in C.

:func:`read_trace_columns` reads a file in chunks of whole lines and cuts every line of raw
tracefs text (what ``kit trace record`` writes) with one compiled pattern over the chunk
(:data:`FAST_LINES`, up to :data:`LINES_PER_MATCH` lines of one run a match); each line that
pattern does not take (comments, other tracepoints, ``trace-cmd``/``perf`` text, malformed
lines) goes to the careful reader with its line number, in its place, so the report and the
events are exactly what :func:`kerneltrace.parse_trace` gives.  :func:`event_columns` turns
typed records into the same columns.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate, chain, compress, count, groupby, islice, pairwise
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
    "FAST_LINES",
    "Fields",
    "Head",
    "LINES_PER_MATCH",
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

LINES_PER_MATCH = 8
"""Lines of one run (equal head, event and fields) the fast pattern takes in one match."""

#: One raw tracefs line of a page event (``kit trace record`` writes these) and up to
#: LINES_PER_MATCH - 1 more lines of the same run, cut into the columns.  The first line gives
#: the head (``comm-pid [cpu] flags`` with the spaces around it), seconds, the event (as
#: ``: name: page=``), pfn and the event's fields (with the space before and the newline);
#: each next line is taken only if its head, event and fields are the first line's to the
#: byte (back references, compared in C), and gives only its seconds and pfn.  Per line that
#: spares three of five groups (some 400 instructions each) and the comparisons that found
#: the runs among lines (some 900), for the back references' character compares (some five
#: instructions a character): reading and summarising the shipped recording (runs of some 50
#: lines) took 10 % fewer instructions (cachegrind, 1765 M -> 1587 M for 200,000 events);
#: a trace of runs of one line costs about what one line a match did.
#: Seconds and pfn are taken only as the careful reader reads them to the same value
#: (``digits.digits``; lowercase hex without leading zeros, so that a pfn's bytes are its
#: key), the page pointer only as hex (so no line runs over a newline there).  The rest is
#: loose on purpose (skipping to the next space costs the regular expression engine some 5
#: instructions a character, a character class 25): the reader checks each distinct head
#: (:data:`_STRICT_HEAD`), event and fields, none of which holds a newline then, so each
#: line of a match is one line of the file; a chunk where a check fails goes through the
#: careful reader.  Every repeat is possessive (``++``, ``*+``, ``?+``): none can give back
#: what it took and still match, as each stops at a character the next piece must begin
#: with, so the matches are the same, and the engine keeps no backtracking state.  It reads
#: bytes: a chunk is ASCII or goes to the careful reader anyway, and bytes spare the
#: decoding and some 700 instructions a line of cutting.
_FIRST_LINE = (
    rb"^( ++[^ ]++ ++[^ ]++ [^ ]++ ++)([0-9]++\.[0-9]++)(: mm_page_[^:]++: page=)[0-9a-f]++"
    rb" pfn=0x([1-9a-f][0-9a-f]*+|0)( .*+\n)"
)
_NEXT_LINE = rb"\1([0-9]++\.[0-9]++)\3[0-9a-f]++ pfn=0x([1-9a-f][0-9a-f]*+|0)\5"


def _fast_lines(lines: int) -> re.Pattern[bytes]:
    """The pattern of a first line and up to ``lines - 1`` next ones, each optional only
    after the one before it."""
    more = b""
    for _ in range(lines - 1):
        more = b"(?:" + _NEXT_LINE + more + b")?+"
    return re.compile(_FIRST_LINE + more, re.MULTILINE)


FAST_LINES = _fast_lines(LINES_PER_MATCH)
_STRIDE = FAST_LINES.groups + 1  # re.split gives the text between matches, then the groups
#: Where each line's seconds and pfn are among a match's groups (numbered from 1).
_TIME_GROUPS = (2, *range(6, _STRIDE, 2))
_PFN_GROUPS = (4, *range(7, _STRIDE, 2))
#: What the careful reader accepts as the head of a tracefs line, once per distinct head.
_STRICT_HEAD = re.compile(r"(\S+)-([0-9]+) +\[([0-9]+)\] [^\s:]{4,6}")
#: Whitespace other than space and newline, which the fast pattern would take for a word.
#: Looked for in each distinct head, event and fields of a run (:func:`_known_run`), where
#: all that the pattern takes loosely is, not in every byte of every chunk.
#: As numbers: ``9 in text`` is one memchr, where ``b"\t" in text`` first tries the bytes as
#: a number and formats the error it clears (some 1,800 instructions).
_ODD_SPACE = tuple(b"\t\x0b\x0c\r\x1c\x1d\x1e\x1f")
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

    ``times`` are seconds as ASCII bytes (as the trace has them) or float; ``pfns`` the pfn in
    lowercase hex ASCII bytes without ``0x`` (b"" for none: a failed allocation).  Heads
    (process and CPU), events and fields are only in ``runs``, read once per run, where names
    are text.  Consecutive runs may be equal: a run is cut where a fast match or a batch
    ends, and nothing a summary counts depends on where.
    """

    times: list[bytes | float]
    pfns: list[bytes]
    runs: list[Run]

    def __len__(self) -> int:
        return len(self.times)


_fields: dict[tuple[str, bytes | str], Fields | None] = {}
_heads: dict[bytes | str, Head | None] = {}
_known: dict[tuple[bytes, bytes, bytes], tuple[str, int, int, str, Fields] | None] = {}


def _bounded(cache: dict[Any, Any]) -> dict[Any, Any]:
    """The cache, emptied first when full: endless distinct values must not grow it forever."""
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    return cache


def head_of(head: bytes | str | Head) -> Head | None:
    """(comm, pid, cpu) of a tracefs head (``comm-pid [cpu] flags``, the pid after the last
    '-' of the first word, where the careful reader finds it too; spaces around it are
    ignored) or of a tuple; None if the careful reader would not take it.  Each distinct
    text is parsed once."""
    if isinstance(head, tuple):
        return head
    if head in _heads:
        return _heads[head]
    text = head.decode() if isinstance(head, bytes) else head
    match = _STRICT_HEAD.fullmatch(text.strip(" "))
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


def _known_run(lead: bytes, event: bytes, tail: bytes) -> tuple[str, int, int, str, Fields] | None:
    """(comm, pid, cpu, event, fields) of a fast match's head (with its spaces), event (as
    ``: name: page=``) and fields (a space before, a newline after); None if the careful
    reader would not take them.  Each distinct three is looked at once."""
    key = (lead, event, tail)
    if key in _known:
        return _known[key]
    if any(space in part for part in key for space in _ODD_SPACE):
        _bounded(_known)[key] = None
        return None
    head = head_of(lead)
    name = event[2:-7].decode()  # ASCII: checked
    fields = fields_of(name, tail[1:-1])
    known = (*head, name, fields) if head is not None and fields is not None else None
    _bounded(_known)[key] = known
    return known


def _failed_marked(pfns: list[bytes]) -> list[bytes]:
    """An allocation run's pfns, a failed allocation's (tracefs prints ``pfn=0x0``) as b"",
    as a record's None."""
    if b"0" not in pfns:
        return pfns
    return [b"" if pfn == b"0" else pfn for pfn in pfns]


class _Builder:
    """A batch put together in trace order from fast matches and typed records."""

    def __init__(self) -> None:
        self.times: list[bytes | float] = []
        self.pfns: list[bytes] = []
        self.runs: list[Run] = []

    def batch(self) -> TraceColumns:
        return TraceColumns(self.times, self.pfns, self.runs)

    def typed(self, events: Iterable[PageEvent]) -> None:
        """Append typed records, a run for each stretch of equal head, event and fields."""
        heads: list[Head] = []
        names: list[str] = []
        tails: list[Fields] = []
        times, pfns, offset = self.times, self.pfns, len(self.times)
        for e in events:
            heads.append((e.comm, e.pid, e.cpu))
            times.append(e.time)
            names.append(e.event)
            pfns.append(b"" if e.pfn is None else b"%x" % e.pfn)
            tails.append(_typed_fields(e))
        if names:
            cuts = [0, *_cuts(heads, names, tails), len(names)]
            self.runs += (Run(offset + start, offset + end, *heads[start], names[start],
                              tails[start]) for start, end in pairwise(cuts))

    def fast(self, parts: list[Any], first: int, last: int) -> bool:
        """Append the lines of matches ``first`` to ``last`` of a chunk's ``FAST_LINES.split``;
        False if a run's head, event or fields are not what the careful reader would take.
        The lines of each match come from its groups in order, None for the lines it did not
        take; runs are found among the matches, not the lines."""
        low, high = first * _STRIDE, last * _STRIDE
        # LINES_PER_MATCH entries a match; a run's rows are its matches' entries but the
        # Nones, so one filter per run gives its rows and where it ends.
        times = list(chain.from_iterable(zip(
            *(parts[low + g:high:_STRIDE] for g in _TIME_GROUPS), strict=True)))
        pfns = list(chain.from_iterable(zip(
            *(parts[low + g:high:_STRIDE] for g in _PFN_GROUPS), strict=True)))
        leads, events, tails = (parts[low + g:high:_STRIDE] for g in (1, 3, 5))
        cuts = [0, *_cuts(leads, events, tails), last - first]
        row = len(self.times)
        for start, end in pairwise(cuts):
            known = _known_run(leads[start], events[start], tails[start])
            if known is None:
                return False
            begin, stop = start * LINES_PER_MATCH, end * LINES_PER_MATCH  # its lines
            self.times += filter(None, times[begin:stop])  # times are never b""
            if known[3] == "mm_page_alloc":
                self.pfns += _failed_marked(list(filter(None, pfns[begin:stop])))
            else:
                self.pfns += filter(None, pfns[begin:stop])  # nor pfns ("0" at least)
            self.runs.append(Run(row, len(self.times), *known))
            row = len(self.times)
        return True


def event_columns(events: Iterable[PageEvent], size: int = 4096) -> Iterator[TraceColumns]:
    """Typed records as columns, ``size`` at a time (a lazy stream stays lazy)."""
    iterator = iter(events)
    while True:
        builder = _Builder()
        builder.typed(islice(iterator, size))
        if not builder.times:
            return
        yield builder.batch()


class _ChunkReader:
    """Cuts chunks of whole lines into columns, sending what the fast pattern leaves to the
    careful reader with its line number."""

    def __init__(self, report: TraceReport) -> None:
        self.report = report
        self.careful = LineReader(report)

    def columns(self, text: bytes) -> TraceColumns:
        """The events of ``text`` (whole lines, each ending in a newline)."""
        first = self.report.lines + 1  # the number of the chunk's first line
        if not text.isascii():
            return self._careful(text, first)
        parts = FAST_LINES.split(text)
        gaps = parts[0::_STRIDE]
        if any(gaps):
            return self._mixed(text, parts, gaps, first)
        fast = _Builder()
        if not fast.fast(parts, 0, len(gaps) - 1):
            return self._careful(text, first)
        self.careful.form = 0  # where the careful reader is after a tracefs line
        self.report.events += len(fast.times)
        self.report.lines += len(fast.times)
        return fast.batch()

    def _mixed(self, text: bytes, parts: list[Any], gaps: list[bytes], first: int
               ) -> TraceColumns:
        """Fast lines and careful lines interleaved, each in its place."""
        matches = len(gaps) - 1
        keys = zip(*(parts[g::_STRIDE] for g in (1, 3, 5)), strict=False)
        if any(_known_run(*key) is None for key in set(keys)):  # before reading any line
            return self._careful(text, first)
        batch = _Builder()
        lineno = first
        done = 0  # matches taken; gap i comes before match i, the last after them all
        for gap in [*compress(count(), gaps), matches + 1]:
            upto = min(gap, matches)
            if upto > done:
                rows = len(batch.times)
                batch.fast(parts, done, upto)  # checked above
                rows = len(batch.times) - rows
                self.report.events += rows
                self.careful.form = 0
                lineno += rows
                done = upto
            if gap > matches:
                break
            lines = gaps[gap].decode().split("\n")  # ASCII: checked
            lines.pop()  # the text after the last newline: empty
            batch.typed(self._careful_lines(lines, lineno))
            lineno += len(lines)
        self.report.lines = lineno - 1
        return batch.batch()

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
        batch = _Builder()
        batch.typed(self._careful_lines(lines, first))
        self.report.lines = first + len(lines) - 1
        return batch.batch()


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
        # A chunk and the rest of its last line: one copy of the chunk, where cutting it at
        # its last newline and prefixing the piece cut off before made two.
        while left and (data := handle.read(CHUNK_CHARS if left < 0 else
                                            min(CHUNK_CHARS, left))):
            if not data.endswith(b"\n"):
                data += handle.readline(left - len(data) if left > 0 else -1)
            left -= len(data) if left > 0 else 0
            text = _newlines(data)
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
