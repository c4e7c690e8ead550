#!/usr/bin/env bash
# Install everything (scripts/setup.sh), then serve one lesson for a projector with Voila:
#   bash scripts/present.sh 3            (lesson 3 on http://127.0.0.1:8866/)
#   bash scripts/present.sh 05 --port 9000
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO_ROOT/scripts/setup.sh"
# Python writes the bytecode of what this run imports, as test.sh lets it: set-up compiles
# only what no process could write later (scripts/setup.sh).
unset PYTHONDONTWRITEBYTECODE
cd "$REPO_ROOT"
exec "$REPO_ROOT/.venv/bin/kit" present "$@"
