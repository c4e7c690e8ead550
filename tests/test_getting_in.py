"""Getting in (issue 20.1): from `bash scripts/lab.sh` a student reaches every lesson and
exercise, starts on lesson 1, finds `kit` in JupyterLab's terminal, and each lesson leads on.

The links are checked in the notebooks; the server is started by the real ``scripts/lab.sh``
on loopback and asked through its REST API and a terminal's websocket what a student's
browser would ask.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "notebooks").glob("*.ipynb"))
EXERCISES = sorted((REPO / "exercises").glob("*.ipynb"))
LINK = re.compile(r"\]\(([^)#\s]+\.ipynb)(?:#[^)]*)?\)")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def links(text: str, base: Path) -> set[Path]:
    """The notebooks a markdown text links to, resolved from ``base``'s folder."""
    return {(base.parent / target).resolve() for target in LINK.findall(text)}


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_each_lesson_says_how_to_start_and_ends_with_where_next(lesson):
    first, last = cells(lesson)[0], cells(lesson)[-1]
    assert "**How to start:**" in "".join(first["source"])
    assert "Run All Cells" in "".join(first["source"])
    text = "".join(last["source"])
    assert last["cell_type"] == "markdown" and text.startswith("## Where next")
    targets = links(text, lesson)
    assert targets and all(target.exists() for target in targets), targets
    index = LESSONS.index(lesson)
    if index + 1 < len(LESSONS):
        assert LESSONS[index + 1].resolve() in targets, "no link to the next lesson"
    if index > 0:  # lesson 1 teaches nothing to exercise yet
        assert any(target.parent.name == "exercises" for target in targets), text


def test_every_exercise_notebook_is_linked_from_a_lesson_end():
    linked = set()
    for lesson in LESSONS:
        linked |= links("".join(cells(lesson)[-1]["source"]), lesson)
    assert {path.resolve() for path in EXERCISES} <= linked


def test_the_course_map_links_every_lesson_and_exercise():
    start = LESSONS[0]
    course_map = next("".join(c["source"]) for c in cells(start)
                      if "".join(c["source"]).startswith("## The course map"))
    targets = links(course_map, start)
    assert {p.resolve() for p in LESSONS[1:] + EXERCISES} <= targets | {start.resolve()}
    assert all(target.exists() for target in targets)


# ------------------------------------------------------------------------- the real lab.sh
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``bash scripts/lab.sh --no-browser`` on loopback; yields (base url, token, log path)."""
    port, token = free_port(), secrets.token_hex(8)
    state = tmp_path_factory.mktemp("lab-sh")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces")}
    log = state / "lab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["bash", str(REPO / "scripts" / "lab.sh"), "--no-browser", f"--port={port}",
             "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={token}"],
            cwd=state, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        yield base, token, log
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=15)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue


def api(lab, path: str) -> tuple[int, dict]:
    base, token, _ = lab
    try:
        with urllib.request.urlopen(f"{base}/api/contents/{path}?token={token}&content=1") as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as error:
        return error.code, {}


def test_lab_serves_lessons_and_exercises_and_keeps_solutions_out_of_the_way(lab):
    status, root = api(lab, "")
    listed = {item["name"] for item in root["content"]}
    assert {"notebooks", "exercises"} <= listed
    assert not listed & {"solutions", "kit", "tests", "scripts"}, listed
    for path in ("notebooks/01-start-here.ipynb", "exercises/01-orders.ipynb"):
        assert api(lab, path)[0] == 200, path
    assert api(lab, "solutions/01-orders.ipynb")[0] == 200  # reachable on purpose


def test_lab_opens_lesson_one(lab):
    _, _, log = lab
    deadline = time.monotonic() + 30
    while "/lab/tree/notebooks/01-start-here.ipynb" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)


def test_kit_runs_in_jupyterlabs_terminal(lab):
    from tornado.websocket import websocket_connect

    base, token, _ = lab
    request = urllib.request.Request(f"{base}/api/terminals?token={token}", method="POST",
                                     data=b"")
    with urllib.request.urlopen(request) as response:
        name = json.load(response)["name"]

    async def ask() -> str:
        ws_url = base.replace("http", "ws") + f"/terminals/websocket/{name}?token={token}"
        socket_ = await websocket_connect(ws_url)
        await socket_.write_message(json.dumps(
            ["stdin", "kit --help >/dev/null && echo KIT-''RUNS || echo KIT-''MISSING\r"]))
        output = ""
        while "KIT-RUNS" not in output and "KIT-MISSING" not in output:
            kind, *data = json.loads(await asyncio.wait_for(socket_.read_message(), 30))
            if kind == "stdout":
                output += data[0]
        socket_.close()
        return output

    try:
        assert "KIT-RUNS" in asyncio.run(ask())
    finally:
        urllib.request.urlopen(urllib.request.Request(
            f"{base}/api/terminals/{name}?token={token}", method="DELETE"))


def test_a_saved_notebook_keeps_of_a_widget_only_its_run_this_cell_line(lab, tmp_path):
    """JupyterLab's save goes through the course's pre-save hook: reopened, the widget's place
    shows "run this cell to use the widget", not "Error displaying widget: model not found"."""
    base, token, _ = lab
    output = {"output_type": "display_data", "metadata": {}, "data": {
        "text/plain": "Predict: run this cell to use the widget",
        "application/vnd.jupyter.widget-view+json": {
            "model_id": "0" * 32, "version_major": 2, "version_minor": 0}}}
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": "a", "metadata": {}, "execution_count": 1,
         "source": "Predict(...)", "outputs": [output]}]}
    path = "notebooks/zz-saved-by-the-test.ipynb"
    body = json.dumps({"type": "notebook", "format": "json", "content": notebook}).encode()
    request = urllib.request.Request(f"{base}/api/contents/{path}?token={token}", data=body,
                                     method="PUT", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).close()
    try:
        saved = json.loads((REPO / path).read_text())
        data = saved["cells"][0]["outputs"][0]["data"]
        assert list(data) == ["text/plain"]
        assert "".join(data["text/plain"]) == "Predict: run this cell to use the widget"
    finally:
        (REPO / path).unlink()
