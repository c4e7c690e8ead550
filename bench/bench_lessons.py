"""Benchmark of what the lessons' kernels spend: CPU seconds per lesson and per costly cell.

Run with ``bash scripts/bench.sh lessons`` (or ``python bench/bench_lessons.py [08 03 ...]``,
lessons by number or name).  Prints figures; it asserts nothing, so a busy machine fails
nothing.  Every lesson runs in the suite three times (nbval, the JupyterLab test, the Voila
slides) and again for every student, so a second of its kernel's CPU is paid many times.

Each lesson is executed as ``kit execute`` does (nbclient, ``KIT_PROGRESS=off``), in a fresh
kernel of the suite's headless kernelspec (``tests/jupyter``, as nbval's kernels: no debugger,
history in memory, over Unix sockets), ``REPEATS`` times (``--repeats N``).  The figures are
the kernel process's own CPU seconds (user + system, from ``/proc/<pid>/stat``; wall time on a
shared machine counts everybody's load): at start-up (the kernel ready, before any cell), per
code cell, and in all.
The best run is the figure (other load only slows a run down), the median beside it; cells that
took at least ``SHOWN_CELL`` CPU-s in the best run are listed with their first line.  The load
average before and after is printed.  Linux only (``/proc``).

``--against DIR`` compares with another checkout's kit (e.g. ``git archive main kit | tar -x
-C DIR``): its kernels import ``DIR/kit`` (first on their ``PYTHONPATH``), and each lesson runs
in pairs, that kit then this one, ``REPEATS`` pairs, so both see the same load; each pair's
difference is printed with the two figures.  That kit is compiled first, as set-up compiles
this one, so that no run pays for compiling it.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import tempfile
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
#: The suite's headless kernelspec (conftest.py's TEST_JUPYTER_PATH), found before the installed.
HEADLESS_KERNELS = ROOT / "tests" / "jupyter" / "kernels"
REPEATS = 3
SHOWN_CELL = 0.1
TICKS = os.sysconf("SC_CLK_TCK")

Run = tuple[float, list[tuple[str, float]], float]


def cpu_seconds(pid: int) -> float:
    """A process's own user + system CPU seconds (its children not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def headless_kernel(sockets: str) -> KernelManager:
    """A manager of the suite's kernel: its kernelspec, on Unix sockets in ``sockets``."""
    manager = KernelManager(kernel_name="python3", transport="ipc", ip=f"{sockets}/kernel")
    specs = manager.kernel_spec_manager
    specs.kernel_dirs = [str(HEADLESS_KERNELS), *specs.kernel_dirs]
    return manager


def run_lesson(path: Path, kit_dir: Path | None = None) -> Run:
    """Execute a lesson in a fresh kernel: (start-up CPU-s, [(cell, CPU-s)], total CPU-s).
    ``kit_dir`` holds the kit the kernel imports (default: this checkout's, as installed)."""
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ)
    if kit_dir is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(kit_dir),
                                                          env.get("PYTHONPATH")]))
    cells = []
    with tempfile.TemporaryDirectory(prefix="bench-lessons-") as sockets:
        client = NotebookClient(nb, km=headless_kernel(sockets), timeout=600,
                                resources={"metadata": {"path": str(path.parent)}})
        with client.setup_kernel(env=env):
            pid = client.km.provisioner.process.pid  # type: ignore[union-attr]
            start = cpu_seconds(pid)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                before = cpu_seconds(pid)
                client.execute_cell(cell, index)
                first_line = cell.source.splitlines()[0] if cell.source else ""
                cells.append((f"cell {index}: {first_line[:60]}", cpu_seconds(pid) - before))
            total = cpu_seconds(pid)
    return start, cells, total


def lessons(names: list[str]) -> list[Path]:
    """The lessons named (by number or name), or all of them."""
    every = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not names:
        return every
    chosen = [p for p in every if any(p.name.startswith(name) for name in names)]
    missing = [n for n in names if not any(p.name.startswith(n) for p in every)]
    if missing:
        raise SystemExit(f"bench_lessons: no lesson {', '.join(missing)} in {NOTEBOOKS}")
    return chosen


def describe(runs: list[Run]) -> str:
    """Best and median total, best start-up."""
    totals = [run[2] for run in runs]
    return (f"{min(totals):.2f} CPU-s (median {statistics.median(totals):.2f}); "
            f"start-up {min(run[0] for run in runs):.2f}")


def costly_cells(runs: list[Run]) -> list[str]:
    """The cells of the best run that took at least ``SHOWN_CELL``."""
    best = min(runs, key=lambda run: run[2])
    return [f"    {seconds:5.2f}  {name}" for name, seconds in best[1] if seconds >= SHOWN_CELL]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lessons by number or name (default: all)")
    parser.add_argument("--against", type=Path, metavar="DIR",
                        help="a checkout whose kit to compare with, in pairs of runs")
    parser.add_argument("--repeats", type=int, default=REPEATS, metavar="N",
                        help=f"runs (or pairs) a lesson (default {REPEATS})")
    args = parser.parse_args()
    repeats = max(args.repeats, 1)
    if args.against is not None and not (args.against / "kit" / "__init__.py").is_file():
        raise SystemExit(f"bench_lessons: no kit/__init__.py in {args.against}")
    if args.against is not None:  # its bytecode, as set-up compiles this kit's: not in a run
        compileall.compile_dir(args.against / "kit", quiet=1)
    os.environ["KIT_PROGRESS"] = "off"  # as kit execute: the stored outputs, no records
    print(f"load average before: {os.getloadavg()[0]:.2f}; {repeats} runs a lesson, "
          "kernel CPU-s (best, median)")
    for path in lessons(args.lessons):
        if args.against is None:
            runs = [run_lesson(path) for _ in range(repeats)]
            print(f"{path.name}: {describe(runs)}")
            print("\n".join(costly_cells(runs)))
            continue
        pairs = [(run_lesson(path, args.against), run_lesson(path)) for _ in range(repeats)]
        before, after = [p[0] for p in pairs], [p[1] for p in pairs]
        print(f"{path.name}: against {describe(before)}; this kit {describe(after)}; "
              "pairs " + " ".join(f"{b[2]:.2f}->{a[2]:.2f}" for b, a in pairs))
        print("\n".join(costly_cells(after)))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
