"""Benchmark of the Playground's buttons: Python time per action and what it sends.

Run with ``bash scripts/bench.sh`` (or ``python bench/bench_playground.py``).  Prints figures; it
does not assert them.  Target (the widgets issue): at most 30 ms of Python time per action on a
zone of 2^20 pages, with every view attached (the free-area chart and the memory map).

For zones of 2^16, 2^20 and 2^22 pages (recording a trace, as in the lessons), a Playground is
built, then ``ROUNDS`` times the same actions a student's clicks run: ``alloc_pages(0)``,
``alloc_pages_exact`` of 2 MiB + 4 KiB (about 1,500 events), freeing it, the same two calls in
"predict first" mode (the question, computed on a copy of the zone; then the check and the call,
each a click of its own), a random workload of 100 steps and a reset. Each action is timed from
the button's callback to its return (the zone's work, the log and every redraw included) and its
messages counted: each widget message ipywidgets would send to the browser, with its JSON text
and binary buffers.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ipywidgets as widgets  # noqa: E402

from kit import Zone  # noqa: E402
from kit.widgets import Playground  # noqa: E402

SIZES = (1 << 16, 1 << 20, 1 << 22)
ROUNDS = 5
EXACT_SIZE = 2 * 1024 * 1024 + 4096
TARGET_MS = 30


class Wire:
    """Counts the messages and bytes widgets send (patched over ``Widget._send``)."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0

    def send(self, msg: dict, buffers: list | None = None) -> None:
        self.messages += 1
        self.bytes += len(json.dumps(msg, default=str))
        self.bytes += sum(memoryview(buffer).nbytes for buffer in buffers or ())


def check(play: Playground) -> None:
    """Check a (right) prediction of the waiting call, which then runs."""
    assert play.pending is not None
    play.check_prediction(play.pending.answer)


def actions(play: Playground) -> list[tuple[str, object]]:
    """The buttons' actions, in the order a round runs them (the last brings the zone back)."""
    play.ask.value = "nr_free"
    return [
        ("alloc_pages(0)", lambda: play.alloc(0)),
        ("alloc_pages_exact(2M+4K)", lambda: play.alloc_exact(EXACT_SIZE)),
        ("free selected", play.free_selected),
        ("predict first on", lambda: setattr(play.predict_first, "value", True)),
        ("ask: exact(2M+4K)", lambda: play.press("alloc_pages_exact", EXACT_SIZE)),
        ("check, then run it", lambda: check(play)),
        ("ask: free selected", lambda: play.press("free")),
        ("check, then free it", lambda: check(play)),
        ("predict first off", lambda: setattr(play.predict_first, "value", False)),
        ("random workload 100", lambda: play.run_random(0, 100)),
        ("reset", play.reset),
    ]


def bench(nr_pages: int, wire: Wire) -> dict[str, tuple[float, float, int, float]]:
    """Per action: (median ms, max ms, messages, KB sent) over ROUNDS rounds."""
    start = time.perf_counter()
    play = Playground(Zone(nr_pages))
    build_ms = (time.perf_counter() - start) * 1000
    times: dict[str, list[float]] = {}
    sent: dict[str, tuple[int, int]] = {}
    for _ in range(ROUNDS):
        for name, action in actions(play):
            wire.messages = wire.bytes = 0
            start = time.perf_counter()
            action()  # type: ignore[operator]
            times.setdefault(name, []).append(time.perf_counter() - start)
            sent[name] = max(sent.get(name, (0, 0)), (wire.messages, wire.bytes))
    assert play.error.value == "", play.error.value
    result = {name: (statistics.median(t) * 1000, max(t) * 1000, sent[name][0],
                     sent[name][1] / 1024) for name, t in times.items()}
    result["(build)"] = (build_ms, build_ms, 0, 0.0)
    return result


def main() -> None:
    wire = Wire()
    # count instead of sending
    widgets.Widget._send = lambda _widget, msg, buffers=None: wire.send(msg, buffers)
    print(f"playground: Python time per action (median and max of {ROUNDS} rounds), messages "
          "and KB sent to the browser, chart and memory map attached")
    print(f"{'pages':>9}  {'action':<26} {'median ms':>9} {'max ms':>7} {'msgs':>5} {'KB':>7}")
    for nr_pages in SIZES:
        for name, (median, worst, messages, kb) in bench(nr_pages, wire).items():
            print(f"{nr_pages:>9}  {name:<26} {median:>9.1f} {worst:>7.1f} {messages:>5} "
                  f"{kb:>7.1f}", flush=True)
    print(f"target: at most {TARGET_MS} ms per action at 2^20 pages")


if __name__ == "__main__":
    main()
