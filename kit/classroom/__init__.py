"""The live classroom: imports kit.core and kit.teaching (never widgets, grading or the cli).

Peer-instruction polls and "follow the instructor" through JupyterHub.

A lesson's concept question becomes a poll the whole room answers from its own notebooks: each
student's kernel sends its vote to one JupyterHub-managed service, which knows who each student
is from their Hub token, lets only the instructor open and close rounds, read the results and
export them, and holds where the presenter is so that students can follow.

- ``kit.classroom.client``: the stdlib client the widgets use (importable with the core alone);
- ``kit.classroom.service``: the Tornado service the Hub starts (needs the [classroom] extra);
- ``kit.classroom.store``: where votes, rounds and the follow state live (SQLite WAL by default,
  any SQLAlchemy database URL, e.g. PostgreSQL);
- ``kit.classroom.polls``: the rules of a poll, as plain functions (histograms, pairs);
- ``kit.classroom.hubconfig``: the lines a ``jupyterhub_config.py`` needs to run the service;
- ``kit.classroom.localhub``: a Hub on one machine, for ``scripts/classroom.sh``, tests, bench.
"""

from __future__ import annotations

from .client import ClassroomClient, ClassroomError, ClassroomUnavailable

__all__ = ["ClassroomClient", "ClassroomError", "ClassroomUnavailable"]
