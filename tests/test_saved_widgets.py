"""Where a widget cannot be drawn (a stored lesson before Run All, a saved notebook opened
again), its place says "run this cell to use the widget" (issue 20.3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kit.widgets
from kit.widgets.saved import WIDGET_VIEW, drop_widget_views, pre_save_hook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


#: The classroom's Poll and Follow name themselves ("Poll('id')"): short lines, not dumps.
OWN_TEXT = {"Poll", "Follow"}


@pytest.mark.parametrize("name", sorted(set(kit.widgets.__all__) - OWN_TEXT))
def test_every_widget_says_run_this_cell_as_its_text(name):
    widget = getattr(kit.widgets, name)(*(("01-allocation-unit",) if name == "Quiz" else ()))
    try:
        bundle = widget._repr_mimebundle_()
        assert bundle["text/plain"] == f"{name}: run this cell to use the widget"
        assert WIDGET_VIEW in bundle  # live, the widget itself is drawn
    finally:
        widget.close()


def test_dropping_widget_views_keeps_text_and_other_outputs():
    notebook = {"cells": [
        {"cell_type": "markdown", "source": "x"},
        {"cell_type": "code", "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "hello\n"},
            {"output_type": "display_data", "data": {WIDGET_VIEW: {"model_id": "1"}}},
            {"output_type": "display_data", "data": {
                "text/plain": "Quiz: run this cell to use the widget",
                WIDGET_VIEW: {"model_id": "2"}}}]}]}
    assert drop_widget_views(notebook) == 2
    assert notebook["cells"][1]["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "hello\n"},
        {"output_type": "display_data",
         "data": {"text/plain": "Quiz: run this cell to use the widget"}}]
    pre_save_hook({"type": "file", "content": "not a notebook"})  # other files: untouched


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_lessons_hold_no_dead_widget_reference(path):
    for cell in json.loads(path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            assert WIDGET_VIEW not in data, path.name
            text = "".join(data.get("text/plain", ""))
            assert "children=" not in text, (path.name, text[:80])
