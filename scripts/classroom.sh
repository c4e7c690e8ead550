#!/usr/bin/env bash
# Start a live classroom on this machine: JupyterHub (from PyPI), its proxy
# (configurable-http-proxy, from npm) and the kit's classroom service (kit.classroom), then print
# the URLs. Installs what is missing first (scripts/setup.sh). Ctrl-C stops everything.
#
#   bash scripts/classroom.sh --demo 5                  # instructor + student01..student05
#   bash scripts/classroom.sh --class-list class.txt    # one name a line, 'name instructor'
#
# Options: --port (the Hub's, default 8000), --dir (its files, default ./classroom-hub),
# --db (an SQLAlchemy URL for the classroom database, default SQLite in --dir), --password
# (the class's shared password, default random), --start-servers (start every student's server
# now: on 2 cores 40 servers take over a minute, do it before class).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO_ROOT/scripts/setup.sh"
# Python writes the bytecode of what this run imports, as test.sh lets it: set-up compiles
# only what no process could write later (scripts/setup.sh).
unset PYTHONDONTWRITEBYTECODE
exec "$REPO_ROOT/.venv/bin/python" -m kit.classroom.localhub "$@"
