#!/usr/bin/env bash
# Install everything (scripts/setup.sh), then run every bench/*.py with the venv's python, or
# only the ones named: `bash scripts/bench.sh browser playground` runs bench/bench_browser.py and
# bench/bench_playground.py. Each benchmark prints its own figures. Exits non-zero if any fails.
set -uo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
PY="$VENV/bin/python"
bash "$REPO_ROOT/scripts/setup.sh" || { echo "bench.sh: FAILED (set-up)"; exit 1; }
# Python writes the bytecode of what this run imports, as test.sh lets it: set-up compiles
# only what no process could write later (scripts/setup.sh).
unset PYTHONDONTWRITEBYTECODE
cd "$REPO_ROOT"

shopt -s nullglob
if [ "$#" -gt 0 ]; then
    benches=()
    for name in "$@"; do
        if [ ! -f "bench/bench_$name.py" ]; then
            echo "bench.sh: no bench/bench_$name.py (have: $(ls bench | tr '\n' ' '))"
            exit 2
        fi
        benches+=("bench/bench_$name.py")
    done
else
    benches=(bench/*.py)
fi
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
