"""``kit execute`` re-runs notebooks in place with fresh outputs."""

import json

import nbformat

from kit.cli import main


def test_execute_stores_fresh_outputs(tmp_path, capsys):
    cell = nbformat.v4.new_code_cell("import kit\nkit.get_order(4097)")
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="stale\n")]
    path = tmp_path / "lesson.ipynb"
    nbformat.write(nb, path)
    assert main(["execute", str(path)]) == 0
    assert f"executed {path}" in capsys.readouterr().out
    outputs = json.loads(path.read_text())["cells"][0]["outputs"]
    assert ["".join(o["data"]["text/plain"]) for o in outputs] == ["1"]


def test_execute_refuses_a_file_that_is_not_a_notebook(tmp_path, capsys):
    path = tmp_path / "notes.ipynb"
    path.write_text("not json")
    assert main(["execute", str(path)]) == 2
    assert "is not JSON" in capsys.readouterr().err
