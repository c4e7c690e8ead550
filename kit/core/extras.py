"""The kit's optional layers and the pip extras that install them.

``pip install pagealloc-kit`` installs the core alone (the allocator, metrics, ``/proc``
parsing, traces), which needs nothing beyond the standard library, so a homework checker or a
JupyterLite page can use the simulator without a hundred Jupyter packages.  Each layer on top
names its extra here, so that a missing package is reported as the one command that fixes it
rather than as a ``ModuleNotFoundError`` deep inside a widget or a notebook runner.
"""

from __future__ import annotations

import importlib.util

from .errors import InvalidArgument, KitError

#: extra -> the modules it must make importable (each one's distribution has the same name).
#: pyproject.toml's ``[project.optional-dependencies]`` lists the same packages (a test checks).
EXTRAS: dict[str, tuple[str, ...]] = {
    "widgets": ("ipywidgets", "bqplot", "numpy"),
    "course": ("ipywidgets", "bqplot", "numpy", "jupyterlab", "voila"),
    "grading": ("nbformat", "nbclient", "ipykernel", "nbval", "pytest"),
    "classroom": ("jupyterhub", "tornado", "sqlalchemy"),
}


class MissingExtra(KitError, ImportError):
    """A layer of the kit was used without the optional packages its extra installs."""


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (empty when it is installed)."""
    if extra not in EXTRAS:
        raise InvalidArgument(f"no extra named {extra!r}; extras: {', '.join(EXTRAS)}")
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require_extra(extra: str, layer: str) -> None:
    """Raise ``MissingExtra`` naming the pip command when ``layer`` lacks its ``extra``."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtra(
            f"{layer} needs the [{extra}] extra of pagealloc-kit, which is not installed "
            f"(missing: {', '.join(missing)}): pip install 'pagealloc-kit[{extra}]'"
        )
