"""The kit as a package: the wheel installs the core with no third-party dependency.

Builds the sdist and the wheel (from the sdist, as ``python -m build`` does) out of a copy of
the sources, installs the wheel alone into a fresh virtual environment with no packages at all
(offline: ``--no-index --no-deps``), and uses the core's public API and the ``kit`` command
there, the way a course tool or a JupyterLite page would.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from kit.core.errors import InvalidArgument
from kit.core.extras import EXTRAS

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The built sdist and wheel (a copy of the sources is built, so the worktree stays clean)."""
    root = tmp_path_factory.mktemp("packaging")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "kit", src / "kit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "jupyter-config", src / "jupyter-config")  # pyproject's data-files
    out = root / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
        check=True, capture_output=True, text=True,
    )
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist, "root": root}


@pytest.fixture(scope="module")
def core_venv(dists: dict[str, Path]) -> Path:
    """A fresh virtual environment holding the wheel and nothing else; its bin/ folder."""
    venv = dists["root"] / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--disable-pip-version-check", "--no-index", "--no-deps", str(dists["wheel"])],
        check=True, capture_output=True, text=True,
    )
    return venv / "bin"


def wheel_metadata(wheel: Path) -> dict[str, list[str]]:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(zf.read(name).decode())
    return {key: message.get_all(key) or [] for key in ("Requires-Dist", "Provides-Extra")}


def run_in(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a program of the fresh environment outside the repository (so ``kit`` is the wheel's)."""
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PYTHONNOUSERSITE": "1"}
    return subprocess.run([str(bin_dir / args[0]), *args[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_wheel_requires_nothing_outside_its_extras(dists: dict[str, Path]) -> None:
    meta = wheel_metadata(dists["wheel"])
    assert meta["Requires-Dist"], "the extras should declare requirements"
    unconditional = [r for r in meta["Requires-Dist"] if "extra ==" not in r]
    assert unconditional == [], f"the core must install no dependency: {unconditional}"
    assert set(meta["Provides-Extra"]) == {"widgets", "course", "grading", "classroom", "dev"}


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_each_extra_installs_the_modules_kit_extras_checks(
    dists: dict[str, Path], extra: str
) -> None:
    """kit.core.extras tells users which extra to install; the wheel must agree with it."""
    requires = wheel_metadata(dists["wheel"])["Requires-Dist"]

    def names(which: str) -> set[str]:
        found = set()
        for req in requires:
            if f'extra == "{which}"' not in req:
                continue
            name = req.split(";")[0].strip()
            base = re.split(r"[\[<>=!~ ]", name)[0]  # the name before [extras] or a version
            if base == "pagealloc-kit":  # an extra that pulls in other extras
                for inner in name.split("[")[1].rstrip("]").split(","):
                    found |= names(inner.strip())
            else:
                found.add(base)
        return found

    assert set(EXTRAS[extra]) <= names(extra)


def test_dev_extra_installs_every_layer(dists: dict[str, Path]) -> None:
    """``scripts/setup.sh`` installs ``.[dev]``: it must bring every layer along."""
    dev = [r for r in wheel_metadata(dists["wheel"])["Requires-Dist"] if 'extra == "dev"' in r]
    self_refs = [r.split(";")[0] for r in dev if r.startswith("pagealloc-kit[")]
    assert len(self_refs) == 1
    layers = set(self_refs[0].split("[")[1].split("]")[0].split(","))
    assert {"course", "grading"} <= layers  # course includes widgets


def test_distributions_carry_the_package_data(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as zf:
        in_wheel = set(zf.namelist())
    with tarfile.open(dists["sdist"]) as tf:
        in_sdist = {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}
    for needed in ("kit/py.typed", "kit/core/data/buddyinfo-x86_64-3.5GiB.txt", "kit/core/zone.py",
                   "kit/cli/presenter/voila/templates/presenter/conf.json",
                   "kit/core/data/trace-6.18-x86_64/trace.txt.gz",
                   "kit/core/data/trace-6.18-x86_64/zoneinfo-before.txt"):
        assert needed in in_wheel, needed
        assert needed in in_sdist, needed
    assert {"pyproject.toml", "README.md"} <= in_sdist
    # The course's JupyterLab defaults (no news toast) land in share/jupyter of the venv or image.
    overrides = "share/jupyter/lab/settings/overrides.d/pagealloc-kit.json"
    assert any(name.endswith(".data/data/" + overrides) for name in in_wheel), sorted(in_wheel)[:5]
    assert "jupyter-config/lab/settings/overrides.d/pagealloc-kit.json" in in_sdist


CORE_SCRIPT = textwrap.dedent(
    """
    import importlib
    import importlib.util
    import pkgutil
    import kit
    from kit.core.extras import MissingExtra
    from kit.core.samples import sample_path

    # Nothing third-party is installed, so every import above came from the wheel alone.
    assert importlib.util.find_spec("ipywidgets") is None
    assert kit.__file__.startswith(r"{venv}"), kit.__file__
    # Every module of the core and of the teaching logic imports, and so does the command line.
    import kit.teaching
    names = [f"{{package.__name__}}.{{m.name}}" for package in (kit.core, kit.teaching)
             for m in pkgutil.iter_modules(package.__path__) if m.name[0] != "_"]
    assert {{"kit.core.zone", "kit.core.metrics", "kit.core.procfs", "kit.core.trace",
             "kit.core.replay", "kit.teaching.practice"}} <= set(names), names
    for name in [*names, "kit.cli"]:
        importlib.import_module(name)

    zone = kit.Zone(1024)
    addr = zone.get_free_pages(2)
    zone.free_pages(addr, 2)
    exact = zone.alloc_pages_exact(33 * 4096)
    assert zone.nr_free()[0] == 1, zone.nr_free()
    zone.free_pages_exact(exact, 33 * 4096)
    assert zone.nr_free() == [0] * 10 + [1]
    print(zone.format_buddyinfo())
    again = kit.replay(zone.trace.to_text())
    assert again.nr_free() == zone.nr_free()
    try:
        zone.free_pages(addr, 2)
    except kit.BadPageState as exc:
        print("BadPageState:", exc)
    print(kit.get_order(135168), kit.page_align(4097), kit.wastage(5 * 4096, "alloc_pages").wasted)
    text = open(sample_path("buddyinfo")).read()
    print(len(kit.parse_buddyinfo(text)), "zones in the sample")
    kit.run_workload(kit.Zone(4096), seed=1, steps=200)
    try:
        import kit.widgets  # the layer itself says which extra it needs
    except MissingExtra as exc:
        print("MissingExtra:", exc)
    """
)


def test_core_api_runs_from_the_wheel_alone(core_venv: Path, tmp_path: Path) -> None:
    script = CORE_SCRIPT.format(venv=core_venv.parent)
    result = run_in(core_venv, "python", "-c", script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == kit_buddyinfo_line_of_a_whole_zone()
    assert lines[1].startswith("BadPageState: Bad page state")
    assert lines[2] == "6 8192 12288"
    assert lines[3] == "3 zones in the sample"
    assert lines[4].startswith("MissingExtra: kit.widgets needs the [widgets] extra")
    assert "pip install 'pagealloc-kit[widgets]'" in lines[4]


def kit_buddyinfo_line_of_a_whole_zone() -> str:
    import kit

    return kit.Zone(1024).format_buddyinfo()


def test_kit_command_from_the_wheel_alone(core_venv: Path, tmp_path: Path) -> None:
    help_text = run_in(core_venv, "kit", "--help", cwd=tmp_path)
    assert help_text.returncode == 0, help_text.stderr
    for command in ("buddyinfo", "execute", "grade", "present", "release"):
        assert command in help_text.stdout

    sample = REPO / "kit" / "core" / "data" / "buddyinfo-x86_64-3.5GiB.txt"
    table = run_in(core_venv, "kit", "buddyinfo", str(sample), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["node", "zone", "o0"]
    assert table.stdout.splitlines()[1].split()[:2] == ["0", "DMA"]

    grade = run_in(core_venv, "kit", "grade", "submitted", "--out", "grades", cwd=tmp_path)
    assert grade.returncode == 2
    assert "kit grade needs the [grading] extra" in grade.stderr
    assert "pip install 'pagealloc-kit[grading]'" in grade.stderr
    assert "Traceback" not in grade.stderr

    present = run_in(core_venv, "kit", "present", "3", cwd=tmp_path)
    assert present.returncode == 2
    assert "pip install 'pagealloc-kit[course]'" in present.stderr


def test_installed_extras_pass_and_a_missing_one_names_its_pip_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    from kit import cli
    from kit.core import extras

    for extra in EXTRAS:  # scripts/setup.sh installs every layer
        extras.require_extra(extra, "this test")
    with pytest.raises(InvalidArgument, match="no extra named 'gui'"):
        extras.missing_modules("gui")

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, *a: None if name == "nbclient" else real_find_spec(name, *a),
    )
    assert extras.missing_modules("grading") == ["nbclient"]
    assert cli.main(["release", "--check"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: kit release needs the [grading] extra of pagealloc-kit, which is not installed "
        "(missing: nbclient): pip install 'pagealloc-kit[grading]'\n"
    )
