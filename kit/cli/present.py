"""``kit present LESSON``: serve one lesson with Voila for a projector, code hidden, offline.

The lesson runs live (widgets respond) but shows no code, in the kit's ``presenter`` template:
Voila's lab template without its CDN links, with large type and high contrast.  The server
listens on loopback only, and ``KIT_PRESENTER=1`` tells the widgets to start in presenter style.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from kit.classroom.follow import SLIDES_LESSON_VARIABLE
from kit.core.errors import InvalidArgument

#: Folder holding ``voila/templates/presenter``; put on JUPYTER_PATH so Voila finds the template.
TEMPLATE_ROOT = Path(__file__).resolve().parent / "presenter"
DEFAULT_NOTEBOOKS = Path("notebooks")


def find_lesson(lesson: str, notebooks: Path = DEFAULT_NOTEBOOKS) -> Path:
    """A lesson by path, by number ("3", "03") or by name prefix ("03-buddy")."""
    path = Path(lesson)
    if path.suffix == ".ipynb":
        if not path.is_file():
            raise InvalidArgument(f"no notebook at {path}")
        return path
    prefix = lesson.zfill(2) if lesson.isdigit() else lesson
    matches = sorted(notebooks.glob(f"{prefix}*.ipynb"))
    if len(matches) != 1:
        available = ", ".join(p.stem for p in sorted(notebooks.glob("*.ipynb"))) or "none"
        what = "no lesson" if not matches else "more than one lesson"
        raise InvalidArgument(
            f"{what} matches {lesson!r} in {notebooks}/; lessons: {available}"
        )
    return matches[0]


#: A presenter page left open but idle (a closed laptop lid, a forgotten tab) keeps a kernel of
#: ~100 MiB: Voila culls kernels idle this long, checking every CULL_INTERVAL seconds.
CULL_IDLE_SECONDS = 600
CULL_INTERVAL = 60


def voila_command(notebook: Path, port: int, *, slides: bool = False) -> list[str]:
    """The Voila command line that serves ``notebook`` with the presenter template (or, with
    ``slides``, the slide mode built on it: one section per screen)."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        f"--template={'slides' if slides else 'presenter'}",
        "--theme=light",
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--VoilaConfiguration.show_tracebacks=False",
        f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_SECONDS}",
        f"--MappingKernelManager.cull_interval={CULL_INTERVAL}",
    ]


def voila_environment(base: dict[str, str] | None = None, *, slides: bool = False,
                      notebook: Path | None = None) -> dict[str, str]:
    """The environment for Voila: the template on JUPYTER_PATH, presenter style on, and in
    slide mode the widgets' compact layouts (``KIT_SLIDES=1``: a Playground that fits 720p)
    and the lesson ``notebook`` (``KIT_SLIDES_LESSON``: in a classroom Hub the kernel
    publishes each slide's section to the students who follow)."""
    env = dict(os.environ if base is None else base)
    paths = [str(TEMPLATE_ROOT)] + [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_PATH"] = os.pathsep.join(paths)
    env["KIT_PRESENTER"] = "1"
    env.pop("KIT_SLIDES", None)
    env.pop(SLIDES_LESSON_VARIABLE, None)
    if slides:
        env["KIT_SLIDES"] = "1"
        if notebook is not None:
            env[SLIDES_LESSON_VARIABLE] = str(notebook.resolve())
    return env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("lesson", help='lesson number ("3"), name ("03-buddy") or .ipynb path')
    parser.add_argument("--port", type=int, default=8866, help="port on 127.0.0.1 (8866)")
    parser.add_argument(
        "--notebooks", type=Path, default=DEFAULT_NOTEBOOKS, help="lesson folder (notebooks/)"
    )
    parser.add_argument(
        "--slides", action="store_true",
        help="slide mode: one section per screen, arrow keys, 's' for the speaker notes")


def run(args: argparse.Namespace) -> int:
    notebook = find_lesson(args.lesson, args.notebooks)
    print(f"Presenting {notebook} at http://127.0.0.1:{args.port}/ (Ctrl+C to stop)", flush=True)
    try:
        return subprocess.call(voila_command(notebook, args.port, slides=args.slides),
                               env=voila_environment(slides=args.slides, notebook=notebook))
    except KeyboardInterrupt:
        return 0
