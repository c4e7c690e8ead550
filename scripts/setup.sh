#!/usr/bin/env bash
# Shared set-up, called by scripts/lab.sh, scripts/test.sh and scripts/bench.sh
# (run it on its own too: `bash scripts/setup.sh`).
#
# Idempotent:
#   1. creates .venv in the repo if missing (python3.11 when it runs, else python3), without
#      pip's own install step (ensurepip: 4-8 s of one core; uv puts pip in at step 3);
#   2. installs Debian's chromium-headless-shell (for the browser tests), bubblewrap and
#      libseccomp2 (the sandbox of `kit grade` and its seccomp filter), nodejs + npm (which run
#      JupyterHub's proxy) and postgresql (the classroom store's tests run on it too) when
#      absent, with apt-get as root, through sudo otherwise. Never `playwright install`:
#      Playwright's own browser download cannot work here; the tests launch
#      /usr/bin/chromium-headless-shell instead;
#   3. starts installing configurable-http-proxy, the proxy JupyterHub starts in front of the
#      Hub and the classroom service (kit.classroom), from npm into .venv/node (an npm package,
#      not on PyPI; kept inside the venv so nothing is installed system-wide), in the
#      background while step 4 runs;
#   4. installs the kit editable with its [dev] extra (which pulls in every layer: widgets,
#      course, grading, plus the test tools and nbgrader) and pip, quietly, with uv (pip when
#      uv cannot be had), with nbgrader's JupyterLab and server extensions turned off and
#      without rfc3987-syntax (2 s of CPU in every Jupyter process, see below); skipped while
#      .venv/.install-stamp is newer than pyproject.toml; then writes the bytecode that no
#      process could write later: the kit's (each run; 0.1 s when nothing changed), and, at
#      install, that of what a read-only grading sandbox and a kernel's start import;
#   5. copies the course's JupyterLab defaults (no news toast) into the venv's overrides.d.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
PY="$VENV/bin/python"
STAMP="$VENV/.install-stamp"

# 1. Virtual environment, without pip: `python -m venv` would run ensurepip, which installs pip
#    with pip (4 s of one core idle, 8-14 s loaded) before anything else can start; uv installs
#    pip from its cache with the rest at step 4 (tests/test_packaging.py runs the venv's pip).
BASE=""
base_python() {  # sets BASE: the Python the venv is made from
    [ -n "$BASE" ] && return 0
    # A pyenv shim can exist for a version that is not selected: check that it really runs.
    local cand
    for cand in python3.11 python3; do
        if command -v "$cand" >/dev/null 2>&1 \
                && "$cand" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' \
                   >/dev/null 2>&1; then
            BASE="$cand"
            return 0
        fi
    done
    echo "setup: no working Python >= 3.10 with venv found (tried python3.11, python3)" >&2
    return 1
}
if [ ! -x "$PY" ]; then
    base_python
    echo "setup: creating .venv with $("$BASE" --version 2>&1)"
    "$BASE" -m venv --without-pip "$VENV"
    rm -f "$STAMP"
fi

# 2. Debian packages: chromium-headless-shell for the browser tests, bubblewrap (bwrap) for
#    kit grade's sandbox, node and npm for JupyterHub's proxy (the live classroom).
missing=()
[ -x /usr/bin/chromium-headless-shell ] || missing+=(chromium-headless-shell)
[ -x /usr/bin/bwrap ] || missing+=(bubblewrap)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# libseccomp compiles the sandbox's seccomp filter (through pyseccomp, a ctypes binding).
ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2' || missing+=(libseccomp2)
# PostgreSQL's server: the classroom store's tests start a throwaway one (tests/postgres.py).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
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
        echo "setup:   without chromium-headless-shell the browser tests fail;" >&2
        echo "setup:   without bubblewrap kit grade runs no student code (unless given" >&2
        echo "setup:   --sandbox none, which it warns of) and its sandbox tests are skipped." >&2
        echo "setup:   without nodejs and npm the live classroom (scripts/classroom.sh) cannot run." >&2
    fi
fi

# 3. configurable-http-proxy (npm) for the live classroom, pinned, into .venv/node: in the
#    background (2-3 s, mostly waiting on the registry), beside step 4.
CHP_VERSION="5.3.0"
CHP="$VENV/node/node_modules/.bin/configurable-http-proxy"
npm_pid=""
if [ ! -x "$CHP" ] || ! grep -q "\"version\": \"$CHP_VERSION\"" \
        "$VENV/node/node_modules/configurable-http-proxy/package.json" 2>/dev/null; then
    if command -v npm >/dev/null 2>&1; then
        echo "setup: installing configurable-http-proxy $CHP_VERSION from npm into .venv/node"
        mkdir -p "$VENV/node"
        npm install --silent --no-audit --no-fund --prefix "$VENV/node" \
            "configurable-http-proxy@$CHP_VERSION" >/dev/null &
        npm_pid=$!
    fi
fi

# 4. Python packages.
# uv installs the ~150 packages of [dev] from its cache in seconds where pip takes minutes:
# the venv's own uv (a reinstall), else one on PATH, else the one an earlier set-up on this
# machine kept beside uv's cache (UV_KEPT), else one the base Python's pip puts in the venv
# (`pip --python`: pip runs from the base interpreter, so the venv needs none of its own; 4-8 s
# of one core, asking PyPI).
UV_KEPT="${XDG_CACHE_HOME:-$HOME/.cache}/pagealloc-kit/uv"
find_uv() {
    local cand
    for cand in "$VENV/bin/uv" "$(command -v uv || true)" "$UV_KEPT"; do
        if [ -n "$cand" ] && [ -x "$cand" ] && "$cand" --version >/dev/null 2>&1; then
            echo "$cand"
            return 0
        fi
    done
    base_python || return 1
    "$BASE" -m pip --python "$PY" install --quiet --disable-pip-version-check "uv>=0.4" \
        >/dev/null 2>&1 && [ -x "$VENV/bin/uv" ] && echo "$VENV/bin/uv"
}
# Keeps the venv's uv (a single program) for the next fresh clone's set-up: copied, then
# renamed into place, so that two set-ups at once never run a half-written one.
keep_uv() {
    [ -x "$VENV/bin/uv" ] && ! cmp -s "$VENV/bin/uv" "$UV_KEPT" || return 0
    mkdir -p "$(dirname "$UV_KEPT")" \
        && cp "$VENV/bin/uv" "$UV_KEPT.$$" && mv -f "$UV_KEPT.$$" "$UV_KEPT" \
        || rm -f "$UV_KEPT.$$"
}
imports_pid=""
if [ ! -f "$STAMP" ] || [ "$REPO_ROOT/pyproject.toml" -nt "$STAMP" ]; then
    echo "setup: installing pagealloc-kit[dev] into .venv"
    # Bytecode is not compiled here for the whole venv (uv's --compile-bytecode: ~7,300 files,
    # 30 CPU-s, most of them never imported): a process that may write bytecode writes its
    # imports' .pyc itself (scripts/test.sh lets the test run's do so), and what no process can
    # write, the read-only sandbox's, is written below.
    if uv="$(find_uv)" \
            && "$uv" pip install --quiet --python "$PY" -e "$REPO_ROOT[dev]" pip; then
        uninstall=("$uv" pip uninstall --quiet --python "$PY")
        keep_uv
    else
        echo "setup: uv unavailable or failed; installing with pip (a few minutes)" >&2
        "$PY" -m ensurepip --upgrade --default-pip >/dev/null
        "$PY" -m pip install --quiet --disable-pip-version-check -e "$REPO_ROOT[dev]"
        uninstall=("$PY" -m pip uninstall --quiet --yes --disable-pip-version-check)
    fi
    # jsonschema's optional checker of the "iri" formats (rfc3987-syntax, pulled in by
    # jupyter-events' jsonschema[format-nongpl]) compiles some 35 Earley grammars when imported:
    # 2 s of CPU in every process that imports nbformat or a Jupyter server (the test workers,
    # each JupyterLab, Voila, nbgrader and kit command the tests start), for a format that no
    # Jupyter or kit schema uses.  Without it jsonschema leaves those two formats unchecked
    # (python-jsonschema/jsonschema#1428).
    "${uninstall[@]}" rfc3987-syntax >/dev/null 2>&1 || true
    # nbgrader (dev, for tests/test_nbgrader_parity.py) and the Notebook 7 it pulls in add menus,
    # buttons and server extensions to JupyterLab; the course's JupyterLab is the students', so
    # turn them off.  The settings `jupyter labextension disable --level=sys_prefix` and
    # `jupyter server extension disable --sys-prefix` would write, written directly: each of
    # those commands costs a Jupyter start-up.
    "$PY" - "$VENV/etc/jupyter" <<'PYTHON' || echo "setup: note: nbgrader's extensions are still on" >&2
import json
import sys
from pathlib import Path

config = Path(sys.argv[1])
page = config / "labconfig" / "page_config.json"
settings = json.loads(page.read_text()) if page.exists() else {}
for key, names in (("disabledExtensions", ("@jupyter/nbgrader", "@jupyter-notebook/lab-extension")),
                   ("lockedExtensions", ("@jupyter/nbgrader",))):
    settings.setdefault(key, {}).update(dict.fromkeys(names, True))
page.parent.mkdir(parents=True, exist_ok=True)
page.write_text(json.dumps(settings, indent=2))
for ext in ("formgrader", "validate_assignment", "assignment_list", "course_list"):
    name = f"nbgrader.server_extensions.{ext}"
    off = {"ServerApp": {"jpserver_extensions": {name: False}}}
    (config / "jupyter_server_config.d" / f"{name}.json").write_text(json.dumps(off, indent=2))
PYTHON
    # The .pyc of what a grading sandbox imports from the venv (IPython's input transformer,
    # which reads a cell's magics, and numpy, which answers may use): the sandbox is read-only
    # and can write none, so without them every student's sandbox compiled those modules again.
    # And of what a Jupyter kernel loads to start and run a cell (ipykernel, IPython, zmq,
    # tornado, debugpy, ...), where PYTHONDONTWRITEBYTECODE is set (kit grade's, nbgrader's and a
    # lab's kernels): a kernel's start cost twice the CPU without them.  Loaded here once with
    # bytecode writing on, so exactly the modules used get their .pyc (~2 CPU-s, in the
    # background beside the kit's compilation and npm).
    PYTHONDONTWRITEBYTECODE='' "$PY" - 2>/dev/null <<'PYTHON' &
import numpy  # noqa: F401
from jupyter_client.manager import start_new_kernel

from kit.grading.sandboxed.shell import transform

transform("%time 1")
manager, client = start_new_kernel()  # on TCP, as kit grade's, nbgrader's and a lab's are
try:
    client.execute_interactive("1", timeout=60, output_hook=lambda msg: None)
finally:
    client.stop_channels()
    manager.shutdown_kernel(now=True)
PYTHON
    imports_pid=$!
    touch "$STAMP"
fi
# The kit's own .pyc, all of it (an editable install leaves the kit out of the step above, and
# the grader writes only the sandbox's part, kit.grading.trusted.bwrap.compile_kit): every
# kernel (nbval's, nbgrader's, JupyterLab's) imports the kit, its widgets and the harness,
# ~0.1 CPU-s each to compile from source where no process writes bytecode.  Each run: 0.1 s
# when nothing changed; a module edited afterwards is compiled again in memory (Python checks
# the source's time and size).
"$PY" -m compileall -q "$REPO_ROOT/kit" >/dev/null \
    || echo "setup: note: the kit is not byte-compiled" >&2

if [ -n "$imports_pid" ] && ! wait "$imports_pid"; then
    echo "setup: note: the sandbox's and kernels' imports are not byte-compiled" >&2
fi
if [ -n "$npm_pid" ] && ! wait "$npm_pid"; then
    echo "setup: WARNING: npm could not install configurable-http-proxy" >&2
fi

# 5. The course's JupyterLab defaults (no "Jupyter news" toast, no update check) for every
#    server run from this venv: lab.sh's and a classroom Hub's students'. A wheel install puts
#    this file there itself (pyproject's data-files); an editable install does not, hence here.
OVERRIDES_D="$VENV/share/jupyter/lab/settings/overrides.d"
mkdir -p "$OVERRIDES_D"
cp "$REPO_ROOT/jupyter-config/lab/settings/overrides.d/pagealloc-kit.json" "$OVERRIDES_D/"
