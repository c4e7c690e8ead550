#!/usr/bin/env bash
# Install everything (scripts/setup.sh), then open JupyterLab on notebooks/.
# Extra arguments go to `jupyter lab`, e.g. `bash scripts/lab.sh --no-browser --port 8899`.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
PY="$VENV/bin/python"
bash "$REPO_ROOT/scripts/setup.sh"
cd "$REPO_ROOT"
mkdir -p notebooks
extra=()
if [ "$(id -u)" -eq 0 ]; then
    extra+=(--allow-root)
fi
exec "$VENV/bin/jupyter" lab notebooks/ "${extra[@]}" "$@"
