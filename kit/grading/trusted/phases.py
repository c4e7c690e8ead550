"""TRUSTED: where a grading run's time goes, phase by phase (``bench/bench_grading.py --phases``).

A grading run on a shared machine is slow for many reasons at once: starting sandboxes, the
instructor's reference check, the test cells the grader runs, writing the gradebook.  A
:class:`Phases` given to a run (``GradingRun.phases``) adds up, per named phase, the wall
seconds and this process's CPU seconds spent in it (``time.thread_time``: the grading threads
run side by side, so each counts its own).  Sandboxed processes are not this process: what they
cost shows in the wall time of the phases that wait for them, and in the bench's CPU figures of
child processes.  Without a ``Phases`` the run pays nothing for it (:data:`NO_PHASES`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass


@dataclass
class Spent:
    """What one phase took in all: how often it ran, wall seconds, this process's CPU seconds."""

    count: int = 0
    wall: float = 0.0
    cpu: float = 0.0


class Phases:
    """Wall and CPU seconds per phase, added up across the grading threads."""

    enabled = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spent: dict[str, Spent] = {}

    def __call__(self, name: str) -> AbstractContextManager[None]:
        """Time the ``with`` block as part of phase ``name``."""
        return self._timed(name)

    @contextmanager
    def _timed(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - wall, time.thread_time() - cpu)

    def add(self, name: str, wall: float, cpu: float) -> None:
        with self._lock:
            spent = self.spent.setdefault(name, Spent())
            spent.count += 1
            spent.wall += wall
            spent.cpu += cpu

    def table(self, submissions: int) -> list[str]:
        """One line per phase, most wall time first, in seconds per submission."""
        lines = [f"  {'phase':<34} {'times':>6} {'wall s/sub':>10} {'cpu s/sub':>10}"]
        for name, spent in sorted(self.spent.items(), key=lambda item: -item[1].wall):
            lines.append(f"  {name:<34} {spent.count:>6} {spent.wall / submissions:>10.3f} "
                         f"{spent.cpu / submissions:>10.3f}")
        return lines


class _NoPhases(Phases):
    """The phases of a run nobody is timing: every block runs as it is, nothing is kept."""

    enabled = False

    def __call__(self, name: str) -> AbstractContextManager[None]:
        return _NOTHING  # one for every block: a request asks for two or three

    def add(self, name: str, wall: float, cpu: float) -> None:
        pass


#: The ``with`` of a phase nobody times: it does nothing, so one serves every thread.
_NOTHING: AbstractContextManager[None] = nullcontext()
#: What a run times with when it was given no :class:`Phases`.
NO_PHASES: Phases = _NoPhases()
