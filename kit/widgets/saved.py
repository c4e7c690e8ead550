"""What a saved notebook keeps of a widget: the one line saying how to get it back.

A widget lives in the kernel; a notebook file holds only a reference to it (the output's
``application/vnd.jupyter.widget-view+json``) and its text form.  Opened again (after a reload,
a save, or from the repository before *Run All*), the reference points at nothing: JupyterLab
shows "Error displaying widget: model not found" where it trusts the notebook and the text
form elsewhere.  So the kit's widgets give a text form that says what to do (``RunToUse``), and
the course drops the dead references wherever a notebook is written: when JupyterLab saves one
(``pre_save_hook``, set by ``scripts/lab_config.py``) and when ``kit execute`` stores a lesson.
The widget on screen is untouched: only the file loses the reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["WIDGET_VIEW", "drop_widget_views", "pre_save_hook"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def drop_widget_views(notebook: Mapping[str, Any]) -> int:
    """Remove the widget references from a notebook's outputs (a dict, as stored); an output
    left with no data at all is removed too.  Returns how many references were removed."""
    dropped = 0
    for cell in notebook.get("cells", []):
        outputs = cell.get("outputs")
        if not outputs:
            continue
        kept = []
        for output in outputs:
            data = output.get("data")
            if isinstance(data, dict) and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                dropped += 1
                if not data:
                    continue
            kept.append(output)
        cell["outputs"] = kept
    return dropped


def pre_save_hook(model: Mapping[str, Any], **_kwargs: Any) -> None:
    """Jupyter server's ``FileContentsManager.pre_save_hook``: drop widget references from a
    notebook before it is written (the browser keeps showing the live widgets)."""
    if model.get("type") == "notebook" and isinstance(model.get("content"), Mapping):
        drop_widget_views(model["content"])
