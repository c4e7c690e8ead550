"""Benchmark: the CPU seconds one browser test file costs, split by program.

Run with ``python bench/bench_browser_cpu.py tests/browser/test_x.py [more files] [-- pytest
args]``; files joined by ``+`` run in one pytest process (as a worker runs them one after
another).  Prints figures; it does not assert them.  The machine is shared, so wall time says
little: what a test file costs the suite is the CPU of everything it starts (Chromium's
processes, the Jupyter/Voila/Hub servers, their kernels, the Hub's node proxy, pytest itself).

Each file runs alone (``pytest -p no:cacheprovider -n 0 FILE``) inside a cpuacct cgroup of the
bench's own (cgroup v1, as root; bench_grading.py does the same), whose ``cpuacct.usage`` is the
exact total.  Chromium's part is split by its process type (the browser, its renderers,
the GPU process that composites frames even with ``--disable-gpu``, utility processes such as
the network service).  The split by program samples, every ``SAMPLE_S``, the user+system ticks
of each process in the group (``/proc/PID/stat``) and keeps each process's last figure: CPU a
process spends after its last sample is missed, and shows as "unsampled" (the total minus the
parts).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CPUACCT = Path("/sys/fs/cgroup/cpuacct")
SAMPLE_S = 0.2
TICKS = os.sysconf("SC_CLK_TCK")

#: Program kinds, the first whose words occur in a process's command line (Chromium's
#: processes are told by their program, see ``chromium_kind``).
KINDS = (
    ("kernel", ("ipykernel_launcher", "ipykernel")),
    # before "voila": a Hub user's server may be told of Voila's extension in its arguments
    ("hub", ("jupyterhub",)),
    ("voila", ("voila",)),
    ("jupyter-server", ("jupyter-lab", "jupyter lab", "jupyter_server", "jupyter-server",
                        "-m jupyter")),
    ("playwright", ("playwright",)),
    ("node", ("node", "configurable-http-proxy")),
    ("pytest", ("pytest",)),
)


def chromium_kind(cmdline: str, comm: str) -> str | None:
    """``chromium <type>`` (browser, renderer, gpu-process, utility, zygote) for a process of
    Chromium, else None.  Told by the program run, not by words anywhere in the command line:
    a checkout whose path holds "chrome" would put pytest and its servers here."""
    program = cmdline.split(" ", 1)[0]
    if not (comm.startswith(("chromium", "chrome")) or "/chromium" in program):
        return None
    kind = next((arg.removeprefix("--type=") for arg in cmdline.split()
                 if arg.startswith("--type=")), "browser")
    return f"chromium {kind}"


def kind_of(cmdline: str, comm: str) -> str:
    chromium = chromium_kind(cmdline, comm)
    if chromium:
        return chromium
    for kind, words in KINDS:
        if any(word in f"{comm} {cmdline}" for word in words):
            return kind
    return f"other ({comm})"


class Sampler(threading.Thread):
    """Reads the CPU ticks of every process of ``group`` until stopped."""

    def __init__(self, group: Path) -> None:
        super().__init__(daemon=True)
        self.group = group
        self.last: dict[tuple[int, str], tuple[str, int]] = {}  # (pid, start) -> kind, ticks
        self.stopping = threading.Event()

    def sample(self) -> None:
        for pid in (self.group / "cgroup.procs").read_text().split():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            ticks, start = int(fields[11]) + int(fields[12]), fields[19]
            # the latest command line (a child sampled between its fork and its exec still
            # shows its parent's), unless it is gone (a process exiting has none)
            key = (int(pid), start)
            kind = kind_of(cmdline.decode(errors="replace"), comm) \
                if cmdline.strip() or key not in self.last else self.last[key][0]
            self.last[key] = (kind, ticks)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.sample()
            time.sleep(SAMPLE_S)

    def by_kind(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for kind, ticks in self.last.values():
            out[kind] = out.get(kind, 0.0) + ticks / TICKS
        return out


def measure(test: str, pytest_args: list[str]) -> None:
    group = CPUACCT / f"kit-bench-browser-{os.getpid()}"
    group.mkdir()
    try:
        command = [str(REPO / ".venv" / "bin" / "python"), "-m", "pytest", "-p",
                   "no:cacheprovider", "-n", "0", "-q", *test.split("+"), *pytest_args]
        start = time.monotonic()
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT,
                                   preexec_fn=lambda: (group / "cgroup.procs").write_text(
                                       str(os.getpid())))
        sampler = Sampler(group)
        sampler.start()
        output = process.communicate()[0].decode(errors="replace")
        wall = time.monotonic() - start
        sampler.stopping.set()
        sampler.join()
        total = int((group / "cpuacct.usage").read_text()) / 1e9
    finally:
        for _ in range(200):  # the group empties once its last process is gone
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)
    parts = sampler.by_kind()
    parts["unsampled"] = total - sum(parts.values())
    summary = output.strip().splitlines()[-1] if output.strip() else "(no output)"
    print(f"{test}: {total:.1f} CPU-s, {wall:.1f} s wall; {summary}")
    print("    " + ", ".join(f"{kind} {sec:.1f}" for kind, sec in
                             sorted(parts.items(), key=lambda item: -item[1])))
    if "passed" not in summary or "failed" in summary or "error" in summary:
        print(output[-3000:])


def main(argv: list[str]) -> None:
    tests, _, pytest_args = (argv[: argv.index("--")], None, argv[argv.index("--") + 1:]) \
        if "--" in argv else (argv, None, [])
    for test in tests or [str(p.relative_to(REPO))
                          for p in sorted((REPO / "tests" / "browser").glob("test_*.py"))]:
        measure(test, pytest_args)


if __name__ == "__main__":
    main(sys.argv[1:])
