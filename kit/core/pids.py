"""Whether the process that left something behind is still running.

A recording's tracefs instance (kit.core.tracefs) and a grader's cgroups
(kit.grading.trusted.cgroups) are named after the process that made them, which removes them
as it ends; one killed with SIGKILL cannot.  The next recording or grader removes what a
process that is gone left, and never what a running one still uses: both ask this module.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["process_gone"]


def process_gone(pid: int) -> bool:
    """Whether no process ``pid`` runs: none has it, or it has died and awaits its parent's
    ``wait`` (a zombie holds no file open and is in no cgroup).  Unreadable means running: when
    in doubt, what it left is left alone.  (A process of another pid namespace that shares
    this machine's tracefs or cgroups is not seen from this one: it would count as gone.)"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    state = stat[stat.rfind(")") + 2:][:1]  # after "pid (comm) ": comm may hold anything
    return state in ("Z", "X")
