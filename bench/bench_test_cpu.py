"""Benchmark: the CPU seconds the pytest process itself spends on each test module.

Run with ``python bench/bench_test_cpu.py [pytest args]``, e.g.
``python bench/bench_test_cpu.py tests/ -m "not browser" --ignore=tests/browser``; with no
arguments, the modules whose tests cost the most CPU in the pytest process (``DEFAULT``).
Prints figures; it does not assert them.

The tests run in this process (``pytest.main``, no xdist, no cache), as one worker would run
them.  A test's figure is the CPU this process spent from its set-up to its teardown
(``time.process_time``), so a module-scoped fixture counts in the test that builds it and a
module's first import of a heavy library in its first test; collection (importing and
assert-rewriting every test module) is its own line.  CPU of the programs a test starts (kernels,
servers, sandboxes) is the "children" column (``RUSAGE_CHILDREN``: those that have ended).  The
machine is shared, so wall time says little; CPU seconds still vary by a tenth or so with load.
"""

from __future__ import annotations

import resource
import sys
import time
from collections import defaultdict
from collections.abc import Generator

import pytest

#: The modules whose tests cost the pytest process the most CPU (2026-12-06: 80 of the 118
#: CPU-s of every test that runs in-process, browser, grading and server tests left out).
DEFAULT = [f"tests/test_{name}.py" for name in (
    "memory_map_incremental", "tracecolumns", "traceparts", "widgets", "map_tells_the_truth",
    "tracemodel", "practice", "trace_predictions", "tracesummary", "kerneltrace_widget",
    "recording", "layers", "zone_properties")]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuByTest:
    """A pytest plugin: this process's CPU and its ended children's, per test and collection."""

    def __init__(self) -> None:
        self.tests: dict[str, tuple[float, float]] = {}
        self.collection = 0.0

    def pytest_collection(self) -> None:
        self.collection = time.process_time()

    def pytest_collection_finish(self) -> None:
        self.collection = time.process_time() - self.collection

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, None, None]:
        own, children = time.process_time(), children_cpu()
        yield
        self.tests[item.nodeid] = (time.process_time() - own, children_cpu() - children)


def main(args: list[str]) -> int:
    recorder = CpuByTest()
    status = pytest.main([*(args or DEFAULT), "-p", "no:xdist", "-p", "no:cacheprovider", "-q"],
                         plugins=[recorder])
    modules: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for nodeid, (own, children) in recorder.tests.items():
        module = modules[nodeid.split("::", 1)[0]]
        module[0] += own
        module[1] += children
        module[2] += 1
    print(f"\n{'CPU-s':>8} {'children':>8} {'tests':>6}  module (this process's CPU, by test)")
    print(f"{recorder.collection:8.2f} {0.0:8.2f} {'':>6}  <collection>")
    for name, (own, children, count) in sorted(modules.items(), key=lambda m: -m[1][0]):
        print(f"{own:8.2f} {children:8.2f} {int(count):6d}  {name}")
    total = sum(own for own, _ in recorder.tests.values())
    print(f"{total + recorder.collection:8.2f} {'':>8} {len(recorder.tests):6d}  all "
          f"(whole process: {time.process_time():.2f} CPU-s)")
    return int(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
