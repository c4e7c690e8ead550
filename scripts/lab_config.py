"""JupyterLab settings for self-study (``scripts/lab.sh`` loads this file with ``--config``).

* The server's root is the whole course, so the lessons (``notebooks/``) and the exercises
  (``exercises/``) are both reachable, from the file browser and from the lessons' links.
* The file browser does not list what a student does not need: the kit's code, the tests, the
  scripts and the instructor's ``solutions/``.  Hiding is only from listings: a solution stays
  reachable on purpose (File > Open from Path..., ``solutions/01-orders.ipynb``).
* JupyterLab's terminal puts the course's venv first on PATH (``scripts/terminal.bashrc``), so
  ``kit practice`` works there; a login shell would reset PATH from /etc/profile.
"""

import os
import shutil

c = get_config()  # noqa: F821 - Jupyter defines get_config when it loads a config file

ROOT = os.environ.get("KIT_COURSE_ROOT") or os.path.dirname(os.path.dirname(__file__))

#: Listed in the file browser: notebooks/, exercises/, README.md and the progress file.
HIDDEN = ["solutions", "kit", "tests", "bench", "scripts", "pyproject.toml", "*.egg-info",
          "build", "dist"]

c.ServerApp.root_dir = ROOT
c.ContentsManager.hide_globs = ["__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~", *HIDDEN]

bash = shutil.which("bash")
if bash:
    c.ServerApp.terminado_settings = {
        "shell_command": [bash, "--rcfile", os.path.join(ROOT, "scripts", "terminal.bashrc"),
                          "-i"]}

# The address printed (and opened) is lesson 1's, also with --no-browser.
c.LabApp.default_url = "/lab/tree/notebooks/01-start-here.ipynb"

# Nothing needs the internet: no news feed, no update check.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"

# A saved notebook keeps of each widget only its text, "run this cell to use the widget":
# the widget reference it would keep points at nothing once the kernel is gone, which
# JupyterLab shows as "Error displaying widget: model not found".
c.ContentsManager.pre_save_hook = "kit.widgets.saved.pre_save_hook"
