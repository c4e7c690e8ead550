#!/usr/bin/env bash
# Install everything (scripts/setup.sh), then run the whole suite: ruff, mypy, the tests in tests/,
# and every notebook in notebooks/, solutions/ and exercises/ under nbval (strict --nbval), in
# one pytest run spread over every core (pytest-xdist; conftest.py says what stays together).
# Each stage prints how long it took (mypy runs beside pytest and reports after it).
# Arguments, if any, replace the default pytest arguments, e.g.
#   bash scripts/test.sh tests/test_buddy.py -x
#   bash scripts/test.sh -m browser
set -uo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
PY="$VENV/bin/python"
started=$SECONDS
bash "$REPO_ROOT/scripts/setup.sh" || { echo "test.sh: FAILED (set-up)"; exit 1; }
cd "$REPO_ROOT"
echo "== set-up: $((SECONDS - started)) s"
# The checks write the bytecode of what they import, even where PYTHONDONTWRITEBYTECODE is set:
# set-up compiles only what no process could write later (scripts/setup.sh), so the test
# workers, their kernels and servers (and mypy) write the .pyc of the ~3,200 modules they load,
# once (3,172 .pyc in the venv after a fresh clone's run, 424 of them set-up's), instead of
# set-up compiling all ~7,300 of the venv; pytest keeps the test modules' rewritten bytecode.
# Processes that load a module at once each write it, harmlessly: Python and pytest write a
# file of their own and rename it over the .pyc (importlib's _write_atomic,
# _pytest/assertion/rewrite.py's _write_pyc), and ignore a failed write.
unset PYTHONDONTWRITEBYTECODE
# mypy's incremental cache lives outside the checkout, like pip's and uv's, so a fresh clone
# checks only what differs from the last run (mypy re-reads any file whose hash changed).
export MYPY_CACHE_DIR="${MYPY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pagealloc-kit/mypy}"

status=0

echo "== ruff check ."
stage=$SECONDS
if ! "$VENV/bin/ruff" check .; then
    status=1
fi
echo "== ruff: $((SECONDS - stage)) s"

# Strict type check (settings in pyproject.toml's [tool.mypy]), run beside pytest: a cold
# cache costs about a minute of one core, which pytest's waits for kernels and servers leave
# idle.  Its report is printed after pytest's, with its own time.
echo "== mypy: started beside pytest (its report follows pytest's)"
mypy_log="$(mktemp)"
trap 'rm -f "$mypy_log"' EXIT
(
    stage=$SECONDS
    "$VENV/bin/mypy" >"$mypy_log" 2>&1
    rc=$?
    echo "== mypy: $((SECONDS - stage)) s" >>"$mypy_log"
    exit "$rc"
) &
mypy_pid=$!

if [ "$#" -gt 0 ]; then
    args=("$@")
else
    # One worker more than the cores (pytest-xdist; KIT_TEST_WORKERS=N for another count): the
    # tests wait on kernels, servers and browsers, and with one worker per core those waits
    # left ~18 % of two cores idle (one fresh-clone run here: 2 workers pytest 428 s, 3
    # workers 403 s).  conftest.py keeps a notebook's cells and a module's costly fixture on
    # one worker, longest first.
    args=(-n "${KIT_TEST_WORKERS:-$(( $(nproc) + 1 ))}")
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
stage=$SECONDS
"$PY" -m pytest "${args[@]}"
rc=$?
echo "== pytest: $((SECONDS - stage)) s"
if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests (exit 5): a suite that runs nothing counts as a failure"
fi
if [ "$rc" -ne 0 ]; then
    status=1
fi

echo "== mypy"
wait "$mypy_pid"
mypy_rc=$?
cat "$mypy_log"
if [ "$mypy_rc" -ne 0 ]; then
    status=1
fi
echo "== all stages: $((SECONDS - started)) s"

if [ "$status" -eq 0 ]; then
    echo "test.sh: ALL PASSED (ruff clean, mypy clean, pytest exit 0)"
else
    echo "test.sh: FAILED (ruff, mypy or pytest failed; pytest exit code $rc)"
fi
exit "$status"
