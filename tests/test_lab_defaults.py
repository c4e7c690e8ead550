"""The course's JupyterLab defaults: every server run from the kit's environment (lab.sh's, a
classroom Hub's students') shows no "Jupyter news" toast and checks for no update.

JupyterLab reads a package's defaults from ``<app settings>/overrides.d/*.json``; the kit's
file goes there from the wheel (pyproject's data-files) and from ``scripts/setup.sh`` (an
editable install skips data-files).  The browser test of a classroom Hub checks the toast itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "jupyter-config" / "lab" / "settings" / "overrides.d" / "pagealloc-kit.json"
NOTIFICATION = "@jupyterlab/apputils-extension:notification"


def test_the_defaults_turn_news_and_update_checks_off() -> None:
    settings = json.loads(SOURCE.read_text())
    assert settings == {NOTIFICATION: {"fetchNews": "false", "checkForUpdates": False}}


def test_jupyterlab_of_this_environment_reads_them() -> None:
    pytest.importorskip("jupyterlab", reason="the [course] extra is not installed")
    from jupyterlab.labapp import LabApp
    from jupyterlab_server.settings_utils import _get_overrides

    overrides, error = _get_overrides(LabApp().app_settings_dir)
    assert not error, error
    assert overrides.get(NOTIFICATION, {}) == {"fetchNews": "false", "checkForUpdates": False}


def test_the_values_are_valid_for_jupyterlabs_own_schema() -> None:
    pytest.importorskip("jupyterlab", reason="the [course] extra is not installed")
    from jupyterlab.labapp import LabApp

    schemas = Path(LabApp().schemas_dir)
    schema = json.loads((schemas / "@jupyterlab" / "apputils-extension"
                         / "notification.json").read_text())["properties"]
    for key, value in json.loads(SOURCE.read_text())[NOTIFICATION].items():
        assert key in schema, key
        spec = schema[key]
        assert ("enum" not in spec or value in spec["enum"]), (key, value, spec)
        assert {"string": str, "boolean": bool}[spec["type"]] is type(value), (key, spec)
