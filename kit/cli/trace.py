"""``kit trace record|summary``: record the running kernel's page-allocator events, and read them.

``kit trace record [--out DIR] [--seconds S] [--max-events N] [--only-command] [-- COMMAND...]``
writes a recording folder (kit.core.recording); ``kit trace summary [DIR|FILE|--shipped]``
prints what it says (kit.core.tracesummary), with ``--model`` the kit's Zone beside it
(kit.core.tracemodel).  Where recording is not possible it says so in one line and names the
shipped recording, which ``summary --shipped`` reads.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from kit.core.errors import KitError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="trace_command", metavar="ACTION", required=True)
    record = sub.add_parser(
        "record", help="record the kmem page events (root, Linux)",
        description="Record the page-allocator tracepoints for a bounded time, with /proc/"
        "zoneinfo, vmstat, buddyinfo and pagetypeinfo before and after. The tracing state "
        "found is restored on success, error and Ctrl-C; nothing changes how the kernel "
        "manages memory.",
    )
    record.add_argument("--out", default="kit-trace", metavar="DIR",
                        help="the recording folder to write (default: kit-trace)")
    record.add_argument("--seconds", type=float, default=3.0,
                        help="stop after this long (default 3; a command still running is "
                        "terminated)")
    record.add_argument("--max-events", type=int, default=200_000, metavar="N",
                        help="stop after N events (default 200000)")
    record.add_argument("--only-command", action="store_true",
                        help="trace only COMMAND and the processes it starts")
    record.add_argument("--workload", default="", metavar="TEXT",
                        help="what the machine was doing, for the trace's header")
    record.add_argument("--buffer-kb", type=int, default=4096, metavar="KB",
                        help="ring buffer per CPU in KiB (default 4096)")
    record.add_argument("--no-compress", action="store_true",
                        help="write trace.txt instead of trace.txt.gz")
    record.add_argument("--force", action="store_true",
                        help="replace a recording already in DIR")
    record.add_argument("run_command", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                        help="a command to run while recording; recording ends when it exits")
    summary = sub.add_parser(
        "summary", help="summarise a recording or a trace file",
        description="Summarise a recording folder or a trace file (raw tracefs, trace-cmd "
        "report or perf script text): orders, GFP flags, per-CPU lists, refills, drains, "
        "fallbacks, processes, lifetimes; for a folder also watermarks and vmstat changes.",
    )
    summary.add_argument("source", nargs="?", metavar="DIR|FILE",
                         help="a recording folder or a trace file")
    summary.add_argument("--shipped", action="store_true",
                         help="the recording shipped with the kit")
    summary.add_argument("--model", action="store_true",
                         help="also replay ZONE's requests on a kit Zone and compare")
    summary.add_argument("--zone", default="Normal", help="the zone for --model (Normal)")
    summary.add_argument("--top", type=int, default=5, help="processes to list (5)")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _holds_recording(folder: Path) -> bool:
    """True when ``folder`` has a trace (an unreadable folder: the recorder will say why)."""
    try:
        return (folder / "trace.txt").exists() or (folder / "trace.txt.gz").exists()
    except OSError:
        return False


def _record(args: argparse.Namespace) -> int:
    from kit.core.tracefs import TracingUnavailable, record_trace

    out = Path(args.out)
    if not args.force and _holds_recording(out):
        raise KitError(f"{out} already holds a recording: give another --out or --force")
    command = args.run_command[1:] if args.run_command[:1] == ["--"] else args.run_command
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        recording = record_trace(
            out, seconds=args.seconds, max_events=args.max_events, command=command or None,
            workload=args.workload, only_command=args.only_command,
            buffer_kb=args.buffer_kb, compress=not args.no_compress,
        )
    except TracingUnavailable as exc:
        print(f"error: {exc}; read it with: kit trace summary --shipped", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: tracing state restored; what was recorded is in {out}",
              file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f"{recording.trace}: {recording.header['recorded']}")
    print(f"read it with: kit trace summary {out}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from kit.core.kerneltrace import TraceReport
    from kit.core.recording import load_recording, shipped_recording
    from kit.core.tracemodel import replay_beside_model
    from kit.core.tracesummary import summarise_trace_file

    if args.shipped == bool(args.source):
        raise KitError("give a recording folder or trace file, or --shipped (one of them)")
    report = TraceReport()
    source = Path(args.source) if args.source else None
    if source is not None and source.is_file():
        if args.model:
            raise KitError("--model needs a recording folder (its zoneinfo), not a file")
        summary = summarise_trace_file(source, report=report)
        recording = None
    else:
        recording = shipped_recording() if args.shipped else load_recording(source or ".")
        for key, value in recording.header.items():
            print(f"# {key}: {value}")
        summary = summarise_trace_file(recording.trace, recording.zoneinfo(), report)
    print(report.summary())
    for line in summary.lines(top=args.top):
        print(line)
    if recording is not None:
        print("watermarks after (pages): " + "; ".join(
            f"{zone} free {free} min {low_min} low {low} high {high} boost {boost}: {level}"
            for zone, free, low_min, low, high, boost, level in recording.watermarks("after")
        ))
        delta = recording.vmstat_delta()
        print("vmstat changes (whole machine): "
              + (", ".join(f"{k} {v:+d}" for k, v in delta.items()) or "none"))
        if args.model:
            print(f"model beside the kernel, zone {args.zone}:")
            for line in replay_beside_model(recording, args.zone).lines():
                print("  " + line)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.trace_command == "record":
        return _record(args)
    return _summary(args)
