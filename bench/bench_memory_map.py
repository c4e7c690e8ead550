"""Benchmark of the memory map widget: Python-side update time and message size.

Run with ``bash scripts/bench.sh`` (or ``python bench/bench_memory_map.py``).  Prints figures; it
does not assert them.  Targets (the widgets issue): for zones of a million pages and more, an
update under 50 ms on the Python side and under 256 KB sent to the browser.

Each zone first runs a seeded workload so the map has something to show.  "update" is one
``MemoryMap.refresh()`` (read the zone's blocks, aggregate them per cell with numpy, set the
marks' data); "message" is what that update sends: the JSON of the changed traits plus the
binary buffers ipywidgets sends numpy arrays in.
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
REPEATS = 7
DATA_TRAITS = {"grid": ["color"], "outlines": ["x", "y"], "highlights": ["x", "y"]}


def message_bytes(memory: MemoryMap) -> int:
    """Bytes of one update of the map's data traits: JSON text plus binary buffers."""
    total = 0
    for mark_name, keys in DATA_TRAITS.items():
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


def bench(nr_pages: int, worst_case: bool = False) -> dict[str, float]:
    if worst_case:
        zone, live = checkerboard(nr_pages), nr_pages // 2
    else:
        zone = Zone(nr_pages, record=False)
        result = run_workload(zone, seed=1, steps=STEPS, sizes="mixed", lifetimes="mixed")
        live = len(result.live)
    memory = MemoryMap(zone)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        memory.refresh()
        times.append(time.perf_counter() - start)
    blocks = sum(1 for _ in zone.free_blocks()) + sum(1 for _ in zone.allocations())
    return {
        "pages": nr_pages,
        "pages_per_cell": memory.pages_per_cell,
        "cells": memory.rows * memory.columns,
        "blocks": blocks,
        "live": live,
        "update_ms": statistics.median(times) * 1000,
        "worst_ms": max(times) * 1000,
        "message_kb": message_bytes(memory) / 1024,
    }


def main() -> None:
    print(f"memory map: {STEPS} seeded workload steps per zone, median of {REPEATS} updates")
    print(f"{'pages':>9} {'pages/cell':>10} {'cells':>6} {'blocks':>7} {'update ms':>10} "
          f"{'worst ms':>9} {'message KB':>11}")
    for nr_pages in SIZES:
        r = bench(nr_pages)
        print(f"{r['pages']:>9} {r['pages_per_cell']:>10} {r['cells']:>6} {r['blocks']:>7} "
              f"{r['update_ms']:>10.1f} {r['worst_ms']:>9.1f} {r['message_kb']:>11.1f}")
    print("targets: update < 50 ms, message < 256 KB (for 2^20 pages and more)")
    print("worst case, every other page allocated (the cost grows with the number of blocks):")
    for nr_pages in (1 << 16, 1 << 20):
        r = bench(nr_pages, worst_case=True)
        print(f"{r['pages']:>9} {r['pages_per_cell']:>10} {r['cells']:>6} {r['blocks']:>7} "
              f"{r['update_ms']:>10.1f} {r['worst_ms']:>9.1f} {r['message_kb']:>11.1f}")


if __name__ == "__main__":
    main()
