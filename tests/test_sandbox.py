"""The sandbox's file system: what a worker sees, wherever the kit is installed."""

from __future__ import annotations

from pathlib import Path

import pytest

import kit
from kit.grading.trusted.bwrap import (
    SANDBOX_HOME,
    Limits,
    Sandbox,
    SandboxUnavailable,
    Worker,
    open_sandbox,
)


def test_tmpfs_folders_are_mounted_before_the_read_only_binds() -> None:
    """A later tmpfs on /tmp would hide a kit or venv bound from under /tmp (a CI clone)."""
    command = Sandbox("/usr/bin/bwrap", None).command(3, Limits())
    kit_folder = str(Path(kit.__file__).resolve().parent)
    tmpfs = [i for i, arg in enumerate(command) if arg == "--tmpfs"]
    binds = [i for i, arg in enumerate(command) if arg == "--ro-bind"]
    writable = [i for i in tmpfs if not command[i + 1].startswith(kit_folder + "/")
                and command[i + 1] != "/dev/shm"]
    assert writable and binds and max(writable) < min(binds)
    # The empty folders hiding the grader's side of the kit come after the kit is bound.
    hiding = [i for i in tmpfs if i not in writable]
    assert hiding and min(hiding) > max(binds)
    for mount in tmpfs:  # no tmpfs hides a bind made before it
        under = [b for b in binds if command[b + 2].startswith(command[mount + 1] + "/")
                 or command[mount + 1] in ("/tmp", SANDBOX_HOME)]
        assert all(mount < b for b in under), command[mount + 1]
    # /dev/shm is its own sized tmpfs, mounted over the one --dev makes; the root goes read-only
    # once every mount is made.
    assert command.index("/dev/shm") > command.index("--dev")
    assert command.index("--remount-ro", command.index("/dev/shm")) > max(tmpfs + binds)


def test_a_worker_sees_the_kit_and_nothing_else_of_its_checkout() -> None:
    try:
        sandbox = open_sandbox()
    except SandboxUnavailable as exc:
        pytest.skip(f"no sandbox on this machine: {exc}")
    root = Path(kit.__file__).resolve().parent.parent
    worker = Worker(sandbox, Limits())
    try:
        source = (f"import os\nseen = sorted(os.listdir({str(root)!r}))\n"
                  "tmp = sorted(os.listdir('/tmp'))\nuid = os.getuid()\n"
                  "def look():\n    return seen, tmp, uid\n")
        assert worker.request({"op": "run", "cell": "a", "source": source}, 10)["ok"]
        reply = worker.request({"op": "call", "name": "look", "args": []}, 10)
    finally:
        worker.close()
    seen, tmp, uid = reply["value"]["t"]
    assert "kit" in seen and "solutions" not in seen and "tests" not in seen
    assert uid == 65534
    assert not [name for name in tmp if not str(root).startswith(f"/tmp/{name}")]
