"""``kit trace record|summary`` (kit.cli.trace): what a user types and sees."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from recorders import recorder, tracing_state, wait_until_recording

from kit.cli import main

can_record = platform.system() == "Linux" and os.geteuid() == 0 and "tracefs" in Path(
    "/proc/filesystems").read_text()
needs_root = pytest.mark.skipif(not can_record, reason="recording needs root on Linux")


def test_summary_of_the_shipped_recording(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "summary", "--shipped", "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "# kernel: Linux 6.18" in out and "274647 page-allocator events" in out
    assert "fallbacks: 19 (Unmovable from Movable 19)" in out
    assert "top processes (pages): python3-32272 77804, dd-32269 5457\n" in out
    assert "Normal free 444354 min 12329 low 15411 high 18493 boost 0: above high" in out
    assert "vmstat changes (whole machine): pgalloc_normal +274908, pgfree +206281" in out
    assert "model beside the kernel" not in out


def test_summary_of_a_trace_file_and_bad_requests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = Path(__file__).parent / "data" / "kerneltrace" / "perf-script-6.1.txt"
    assert main(["trace", "summary", str(trace)]) == 0
    assert "12 page-allocator events" in capsys.readouterr().out
    assert main(["trace", "summary"]) == 2
    assert "give a recording folder or trace file, or --shipped" in capsys.readouterr().err
    assert main(["trace", "summary", str(trace), "--model"]) == 2
    assert "--model needs a recording folder" in capsys.readouterr().err
    assert main(["trace", "summary", str(tmp_path)]) == 2
    assert "is not a recording" in capsys.readouterr().err


@needs_root
def test_record_a_command_then_summarise_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tracing_state()
    out = tmp_path / "rec"
    command = ["sh", "-c", "head -c 2000000 /dev/zero | sort > /dev/null"]
    assert main(["trace", "record", "--out", str(out), "--only-command", "--", *command]) == 0
    assert tracing_state() == before
    said = capsys.readouterr().out
    assert "stopped by: command finished" in said and f"kit trace summary {out}" in said
    assert main(["trace", "record", "--out", str(out), "--seconds", "1"]) == 2
    assert "already holds a recording" in capsys.readouterr().err
    assert main(["trace", "summary", str(out), "--model"]) == 0
    summary = capsys.readouterr().out
    assert "# traced: the command and its children only" in summary
    assert "top processes (pages): sort-" in summary and "model beside the kernel" in summary


def test_record_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    as_root = platform.system() == "Linux" and os.geteuid() == 0
    if as_root:
        os.seteuid(65534)
    try:
        status = main(["trace", "record", "--out", str(tmp_path / "r"), "--seconds", "1"])
    finally:
        if as_root:
            os.seteuid(0)
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert err.startswith("error: cannot record a kernel trace here")
    assert err.rstrip().endswith("read it with: kit trace summary --shipped")


@needs_root
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_record_interrupted_keeps_the_trace(tmp_path: Path, sig: signal.Signals) -> None:
    before = tracing_state()
    # No event cap: a busy machine can reach the default one before the signal comes.
    with recorder([sys.executable, "-m", "kit", "trace", "record", "--out", str(tmp_path),
                   "--seconds", "60", "--max-events", str(10**9)],
                  stderr=subprocess.PIPE, text=True) as child:
        wait_until_recording(child)
        child.send_signal(sig)
        _, err = child.communicate(timeout=30)
    assert child.returncode == 130
    assert "interrupted: tracing state restored" in err
    assert tracing_state() == before
    assert (tmp_path / "trace.txt.gz").exists()
