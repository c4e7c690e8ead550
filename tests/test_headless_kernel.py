"""The suite's headless ``python3`` kernel (the root conftest.py's ``TEST_JUPYTER_PATH``) is
ipykernel's own launch, without debugpy, with the history in memory and an exit that skips only
the interpreter's teardown, and nothing else.

nbval's and nbgrader's kernels use it; if ipykernel ever loaded debugpy another way, or the
kernel's ``sys.path``, ``argv`` or language differed from the installed kernel's, a notebook could
run differently under the tests than for a student, and this fails.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbgrader_course import TEST_JUPYTER_PATH, nbgrader_environment

SPEC = TEST_JUPYTER_PATH / "kernels" / "python3" / "kernel.json"


def installed_spec() -> Any:
    """The ``python3`` kernelspec a student's JupyterLab starts (the venv's, else ipykernel's)."""
    return KernelSpecManager().get_kernel_spec("python3")


def test_the_spec_is_the_installed_launch_but_for_debugpy_and_the_history() -> None:
    ours, theirs = json.loads(SPEC.read_text("utf-8")), installed_spec()
    assert (ours["display_name"], ours["language"]) == (theirs.display_name, theirs.language)
    assert theirs.argv[1:3] == ["-m", "ipykernel_launcher"]
    launch = "runpy.run_module('ipykernel_launcher', run_name='__main__', alter_sys=True)"
    assert ours["argv"][:2] == [theirs.argv[0], "-c"] and launch in ours["argv"][2]
    assert ours["argv"][3:] == [*theirs.argv[3:], "--HistoryManager.enabled=False"]


def test_nbval_starts_the_headless_kernel() -> None:
    import nbval.kernel  # swapped by the root conftest.py when pytest starts

    manager = nbval.kernel.KernelManager(  # as nbval.kernel.start_new_kernel makes it
        kernel_name="python3", kernel_spec_manager=nbval.kernel.NbvalKernelspecManager())
    assert manager.kernel_spec.resource_dir == str(SPEC.parent)


#: What each kernel reports of itself: where it imports from, how Python runs, what it skips;
#: and a file its atexit handler writes, left open for the exit to close.
PROBE = ("import atexit, json, sys; print(json.dumps([sys.path, sys.argv[0], list(sys.flags), "
         "sys.modules.get('debugpy') is not None, get_ipython().history_manager.enabled]))\n"
         "exited = open('exited.txt', 'w')\n"
         "atexit.register(lambda: print('atexit ran', file=exited))")


def run_probe(specs: KernelSpecManager, folder: Path) -> tuple[Any, list[Any], int | None]:
    """Start ``python3`` from ``specs`` in ``folder`` and shut it down as nbval and nbgrader do:
    its kernel_info, what PROBE prints and its exit status."""
    # a kernel asked to shut down is given a minute (not 5 s) to exit on its own, even on a
    # loaded machine: its exit status is then its own, not the SIGTERM that follows the wait
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=specs, transport="ipc",
                            ip=str(folder / "k"), shutdown_wait_time=60)
    manager.start_kernel(cwd=str(folder))
    process = manager.provisioner.process  # type: ignore[union-attr]
    client = manager.client()
    client.start_channels()
    try:
        # ready as nbclient waits: a kernel_info reply alone does not mean the IOPub socket is
        # subscribed, and what the kernel publishes before it is lost (the probe's output and
        # its idle status: a fresh-clone run waited out the whole timeout once)
        client.wait_for_ready(timeout=60)
        info = client.kernel_info(reply=True, timeout=60)["content"]
        printed: list[str] = []
        client.execute_interactive(PROBE, timeout=60, output_hook=lambda msg: printed.append(
            msg["content"].get("text", "")))
    finally:
        client.stop_channels()
        manager.shutdown_kernel()
    return info, json.loads("".join(printed)), process.wait(timeout=30)


def test_nbgrader_starts_the_headless_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_PATH", nbgrader_environment()["JUPYTER_PATH"])
    assert KernelSpecManager().get_kernel_spec("python3").resource_dir == str(SPEC.parent)


def test_the_kernel_runs_like_the_installed_one_without_debugpy(tmp_path: Path) -> None:
    ours = KernelSpecManager()
    ours.kernel_dirs = [str(TEST_JUPYTER_PATH / "kernels")]
    (tmp_path / "ours").mkdir()
    (tmp_path / "theirs").mkdir()
    with ThreadPoolExecutor(2) as pool:  # both kernels start at once
        mine = pool.submit(run_probe, ours, tmp_path / "ours")
        installed = pool.submit(run_probe, KernelSpecManager(), tmp_path / "theirs")
        (info, probe, status), (their_info, their_probe, their_status) = (
            mine.result(), installed.result())
    assert status == their_status == 0
    for folder in ("ours", "theirs"):  # atexit ran, and what it wrote reached the file
        assert (tmp_path / folder / "exited.txt").read_text() == "atexit ran\n"
    assert probe[:3] == their_probe[:3]  # sys.path, the launcher as __main__, Python's flags
    assert Path(probe[1]).name == "ipykernel_launcher.py"
    assert their_probe[3:] == [True, True]  # the installed kernel loads debugpy, keeps history
    assert probe[3:] == [False, False]
    assert info["language_info"] == their_info["language_info"]
    assert "debugger" in their_info["supported_features"]
    assert info["supported_features"] == [feature for feature in their_info["supported_features"]
                                           if feature != "debugger"]
