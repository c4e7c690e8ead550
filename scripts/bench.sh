#!/usr/bin/env bash
# Install everything (scripts/setup.sh), then run every bench/*.py with the venv's python.
# Each benchmark prints its own figures. Exits non-zero if any benchmark fails.
set -uo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
PY="$VENV/bin/python"
bash "$REPO_ROOT/scripts/setup.sh" || { echo "bench.sh: FAILED (set-up)"; exit 1; }
cd "$REPO_ROOT"

shopt -s nullglob
benches=(bench/*.py)
if [ "${#benches[@]}" -eq 0 ]; then
    echo "bench.sh: no bench/*.py found"
    exit 0
fi

failed=0
for b in "${benches[@]}"; do
    echo "== $b"
    if ! "$PY" "$b"; then
        echo "bench.sh: $b FAILED"
        failed=$((failed + 1))
    fi
done
echo "bench.sh: ran ${#benches[@]} benchmark(s), $failed failed"
[ "$failed" -eq 0 ]
