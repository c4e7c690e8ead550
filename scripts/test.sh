#!/usr/bin/env bash
# Install everything (scripts/setup.sh), then run the whole suite: ruff, mypy, the tests in tests/,
# and every notebook in notebooks/, solutions/ and exercises/ under nbval (strict --nbval).
# Arguments, if any, replace the default pytest arguments, e.g.
#   bash scripts/test.sh tests/test_buddy.py -x
#   bash scripts/test.sh -m browser
set -uo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
PY="$VENV/bin/python"
bash "$REPO_ROOT/scripts/setup.sh" || { echo "test.sh: FAILED (set-up)"; exit 1; }
cd "$REPO_ROOT"

status=0

echo "== ruff check ."
if ! "$VENV/bin/ruff" check .; then
    status=1
fi

# Strict type check of the kit core (settings in pyproject.toml's [tool.mypy]).
echo "== mypy"
if ! "$VENV/bin/mypy"; then
    status=1
fi

if [ "$#" -gt 0 ]; then
    args=("$@")
else
    args=()
    [ -d tests ] && args+=(tests/)
    nb_dirs=()
    for d in notebooks solutions exercises; do
        if [ -d "$d" ] && find "$d" -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' \
                -print -quit | grep -q .; then
            nb_dirs+=("$d/")
        fi
    done
    if [ "${#nb_dirs[@]}" -gt 0 ]; then
        args+=(--nbval "${nb_dirs[@]}")
        if [ -f tests/nbval_sanitize.cfg ]; then
            args+=(--nbval-sanitize-with tests/nbval_sanitize.cfg)
        fi
    fi
fi

echo "== pytest ${args[*]}"
"$PY" -m pytest "${args[@]}"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests (exit 5): a suite that runs nothing counts as a failure"
fi
if [ "$rc" -ne 0 ]; then
    status=1
fi

if [ "$status" -eq 0 ]; then
    echo "test.sh: ALL PASSED (ruff clean, mypy clean, pytest exit 0)"
else
    echo "test.sh: FAILED (ruff, mypy or pytest failed; pytest exit code $rc)"
fi
exit "$status"
