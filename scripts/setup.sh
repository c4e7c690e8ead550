#!/usr/bin/env bash
# Shared set-up, called by scripts/lab.sh, scripts/test.sh and scripts/bench.sh
# (run it on its own too: `bash scripts/setup.sh`).
#
# Idempotent:
#   1. creates .venv in the repo if missing (python3.11 when it runs, else python3);
#   2. upgrades pip and installs the kit editable with its [dev] extra (which pulls in every
#      layer: widgets, course, grading, plus the test tools and nbgrader), quietly, with
#      nbgrader's JupyterLab and server extensions turned off; skipped while
#      .venv/.install-stamp is newer than pyproject.toml;
#   3. installs Debian's chromium (for the browser tests) and bubblewrap (the sandbox of
#      `kit grade`) when absent, with apt-get as root, through sudo otherwise. Never
#      `playwright install`: Playwright's own browser download cannot work here; the tests
#      launch /usr/bin/chromium instead.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
PY="$VENV/bin/python"
STAMP="$VENV/.install-stamp"

# 1. Virtual environment.
if [ ! -x "$PY" ]; then
    base=""
    # A pyenv shim can exist for a version that is not selected: check that it really runs.
    for cand in python3.11 python3; do
        if command -v "$cand" >/dev/null 2>&1 \
                && "$cand" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' \
                   >/dev/null 2>&1; then
            base="$cand"
            break
        fi
    done
    if [ -z "$base" ]; then
        echo "setup: no working Python >= 3.10 with venv found (tried python3.11, python3)" >&2
        exit 1
    fi
    echo "setup: creating .venv with $("$base" --version 2>&1)"
    "$base" -m venv "$VENV"
    rm -f "$STAMP"
fi

# 2. Python packages.
if [ ! -f "$STAMP" ] || [ "$REPO_ROOT/pyproject.toml" -nt "$STAMP" ]; then
    echo "setup: installing pagealloc-kit[dev] into .venv (the first time takes a few minutes)"
    "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$PY" -m pip install --quiet --disable-pip-version-check -e "$REPO_ROOT[dev]"
    # nbgrader (dev, for tests/test_nbgrader_parity.py) and the Notebook 7 it pulls in add menus,
    # buttons and server extensions to JupyterLab; the course's JupyterLab is the students', so
    # turn them off.
    "$VENV/bin/jupyter" labextension disable --level=sys_prefix @jupyter/nbgrader \
        @jupyter-notebook/lab-extension >/dev/null 2>&1 \
        || echo "setup: note: nbgrader's JupyterLab extension is still on" >&2
    for ext in formgrader validate_assignment assignment_list course_list; do
        "$VENV/bin/jupyter" server extension disable --sys-prefix \
            "nbgrader.server_extensions.$ext" >/dev/null 2>&1 \
            || echo "setup: note: nbgrader's server extension $ext is still on" >&2
    done
    touch "$STAMP"
fi

# 3. Debian packages: chromium for the browser tests, bubblewrap (bwrap) for kit grade's sandbox.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/bwrap ] || missing+=(bubblewrap)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian's ${missing[*]} (browser tests, grading sandbox)"
    if [ "$(id -u)" -eq 0 ]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        sudo=(none)
    fi
    if [ "${sudo[*]-}" = "none" ] || ! { "${sudo[@]}" apt-get update -qq \
            && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" \
               >/dev/null; }; then
        echo "setup: WARNING: could not install Debian's ${missing[*]}." >&2
        echo "setup:   as root run: apt-get update && apt-get install -y ${missing[*]}" >&2
        echo "setup:   without chromium the browser tests fail; without bubblewrap kit grade" >&2
        echo "setup:   runs answers unsandboxed (and says so) and its sandbox tests are skipped." >&2
    fi
fi
