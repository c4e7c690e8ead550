"""Benchmark of the memory map widget: Python-side update time and message size.

Run with ``bash scripts/bench.sh`` (or ``python bench/bench_memory_map.py``).  Prints figures; it
does not assert them.  Targets (the widgets issue): for zones of a million pages and more, an
update under 50 ms on the Python side and under 256 KB sent to the browser.

Each zone first runs a seeded workload so the map has something to show (or, for the worst
case, every other page is allocated, so that every page is a block of its own).  Then:

* "full" is one ``MemoryMap.refresh()``: read every block of the zone, aggregate them per cell
  with numpy, rebuild the per-page state the incremental updates start from, set the marks'
  data.  It is what the first draw, ``reset`` and a ``zone.restore`` cost: O(blocks + cells).
* "alloc" and "free" are the redraw after one ``alloc_pages(0)``, and after freeing that page
  again, while the map follows the zone: the events of the call are applied to the pages they
  cover, O(pages touched).  Only the redraw is timed (the zone's own work is not), as the
  kernel's event loop runs it, once per call (a ``hold()`` block here).
* "message" is what an update sends: the JSON of the changed traits plus the binary buffers
  ipywidgets sends numpy arrays in (for "full", every data trait; for an incremental update,
  the traits it changed, largest of the alloc and free updates).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ipywidgets.widgets.widget import _remove_buffers  # noqa: E402

from kit import Zone, run_workload  # noqa: E402
from kit.widgets import MemoryMap  # noqa: E402

SIZES = (1 << 16, 1 << 20, 1 << 22)
STEPS = 20_000
REPEATS = 7  # full redraws timed (3 for the worst case, which is slow by design)
UPDATES = 50  # alloc/free pairs timed
DATA_TRAITS = {"grid": ["color"], "outlines": ["x", "y"], "highlights": ["x", "y"]}


def message_bytes(memory: MemoryMap, traits: dict[str, list[str]] | None = None) -> int:
    """Bytes of one update of the map's data traits: JSON text plus binary buffers."""
    total = 0
    for mark_name, keys in (DATA_TRAITS if traits is None else traits).items():
        if not keys:
            continue
        state = getattr(memory, mark_name).get_state(key=keys)
        state, _paths, buffers = _remove_buffers(state)
        total += len(json.dumps(state)) + sum(memoryview(b).nbytes for b in buffers)
    return total


def checkerboard(nr_pages: int) -> Zone:
    """The worst case: every other page allocated, so every page is its own block."""
    zone = Zone(nr_pages, record=False)
    pages = [zone.alloc_pages(0) for _ in range(nr_pages)]
    for page in pages[::2]:
        if page is not None:
            zone.release(page)
    return zone


def timed_redraw(memory: MemoryMap, call) -> tuple[float, dict[str, list[str]]]:  # noqa: ANN001
    """Run ``call`` inside ``memory.hold()``; time the redraw at its end, note what it sent."""
    sent: dict[str, list[str]] = {name: [] for name in DATA_TRAITS}
    observers = []
    for mark_name, keys in DATA_TRAITS.items():
        mark = getattr(memory, mark_name)

        def note(change, mark_name=mark_name) -> None:  # noqa: ANN001
            if change["name"] not in sent[mark_name]:
                sent[mark_name].append(change["name"])

        mark.observe(note, keys)
        observers.append((mark, note, keys))
    hold = memory.hold()
    hold.__enter__()
    call()
    start = time.perf_counter()
    hold.__exit__(None, None, None)
    elapsed = time.perf_counter() - start
    for mark, note, keys in observers:
        mark.unobserve(note, keys)
    return elapsed, sent


def bench(nr_pages: int, worst_case: bool = False) -> dict[str, float]:
    if worst_case:
        zone = checkerboard(nr_pages)
    else:
        zone = Zone(nr_pages, record=False)
        run_workload(zone, seed=1, steps=STEPS, sizes="mixed", lifetimes="mixed")
    memory = MemoryMap(zone)
    full = []
    for _ in range(3 if worst_case else REPEATS):
        start = time.perf_counter()
        memory.refresh()
        full.append(time.perf_counter() - start)
    full_kb = message_bytes(memory) / 1024
    alloc, free, update_kb = [], [], 0.0
    pages: list = []
    for _ in range(UPDATES):
        elapsed, sent = timed_redraw(memory, lambda: pages.append(zone.alloc_pages(0)))
        alloc.append(elapsed)
        update_kb = max(update_kb, message_bytes(memory, sent) / 1024)
        elapsed, sent = timed_redraw(memory, lambda: zone.release(pages.pop()))
        free.append(elapsed)
        update_kb = max(update_kb, message_bytes(memory, sent) / 1024)
    assert memory._live, "the updates should have been incremental"
    blocks = sum(1 for _ in zone.free_blocks()) + sum(1 for _ in zone.allocations())
    return {
        "pages": nr_pages,
        "pages_per_cell": memory.pages_per_cell,
        "cells": memory.rows * memory.columns,
        "blocks": blocks,
        "full_ms": statistics.median(full) * 1000,
        "alloc_ms": statistics.median(alloc) * 1000,
        "free_ms": statistics.median(free) * 1000,
        "max_ms": max(alloc + free) * 1000,
        "full_kb": full_kb,
        "update_kb": update_kb,
    }


def row(r: dict[str, float]) -> str:
    return (f"{r['pages']:>9} {r['pages_per_cell']:>10} {r['cells']:>6} {r['blocks']:>8} "
            f"{r['full_ms']:>8.1f} {r['alloc_ms']:>8.2f} {r['free_ms']:>8.2f} {r['max_ms']:>7.2f} "
            f"{r['full_kb']:>8.1f} {r['update_kb']:>9.1f}")


def main() -> None:
    print(f"memory map: {STEPS} seeded workload steps per zone; full redraw median of {REPEATS}, "
          f"incremental alloc/free medians of {UPDATES}")
    header = (f"{'pages':>9} {'pages/cell':>10} {'cells':>6} {'blocks':>8} {'full ms':>8} "
              f"{'alloc ms':>8} {'free ms':>8} {'max ms':>7} {'full KB':>8} {'update KB':>9}")
    print(header)
    for nr_pages in SIZES:
        print(row(bench(nr_pages)), flush=True)
    print("targets: update < 50 ms, message < 256 KB (for 2^20 pages and more)")
    print("worst case, every other page allocated (a full redraw grows with the number of "
          "blocks; an incremental update does not):")
    print(header)
    for nr_pages in SIZES:
        print(row(bench(nr_pages, worst_case=True)), flush=True)


if __name__ == "__main__":
    main()
