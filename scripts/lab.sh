#!/usr/bin/env bash
# Install everything (scripts/setup.sh), then open JupyterLab on the course with lesson 1.
# The server's root is the repository, so the lessons (notebooks/) and the exercises
# (exercises/) are both reachable; scripts/lab_config.py hides the kit's code and solutions/
# from the file browser and gives JupyterLab's terminal the course's venv (`kit` works there).
# Extra arguments go to `jupyter lab`, e.g. `bash scripts/lab.sh --no-browser --port 8899`.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
bash "$REPO_ROOT/scripts/setup.sh"
# Python writes the bytecode of what this run imports, as test.sh lets it: set-up compiles
# only what no process could write later (scripts/setup.sh).
unset PYTHONDONTWRITEBYTECODE
cd "$REPO_ROOT"
export KIT_COURSE_ROOT="$REPO_ROOT" KIT_VENV="$VENV" VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
# No "would you like news?" toast over the first lesson: the kit installs that default into
# the venv (pyproject's data-files: share/jupyter/lab/settings/overrides.d/pagealloc-kit.json).
extra=()
if [ "$(id -u)" -eq 0 ]; then
    extra+=(--allow-root)
fi
exec "$VENV/bin/jupyter" lab \
    --config="$REPO_ROOT/scripts/lab_config.py" "${extra[@]}" "$@"
