# The shell of JupyterLab's terminal when scripts/lab.sh runs the course (scripts/lab_config.py):
# your own ~/.bashrc first, then the course's venv first on PATH, so `kit`, `python` and `pip`
# are the course's whatever ~/.bashrc did.
if [ -f "$HOME/.bashrc" ]; then
    . "$HOME/.bashrc"
fi
if [ -n "${KIT_VENV:-}" ]; then
    export VIRTUAL_ENV="$KIT_VENV"
    export PATH="$KIT_VENV/bin:$PATH"
fi
