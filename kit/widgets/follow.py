"""Follow the instructor: where the presenter is in the lesson, live, in every student's kernel.

``Follow("03-buddy-system")`` in a classroom Hub (``kit.classroom``): in the instructor's kernel
it is a section picker that publishes the lesson, the section and its title to the classroom
service; in a student's kernel it is one toggle, "Follow the instructor", which while on
long-polls the service and shows where the instructor is (the title to scroll to).  A student
leaves by turning it off; turning it on again (or a reconnect after the network dropped) catches
up with the newest position at once, since the service keeps it with a version number.
Outside a classroom Hub it says so and does nothing.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets

from ..classroom.client import ClassroomClient, ClassroomError
from ..classroom.follow import lesson_sections
from .theme import get_theme

__all__ = ["Follow"]


class Follow(widgets.VBox):
    """Publish (instructor) or follow (student) the presenter's place in ``lesson``;
    ``sections`` are its section titles (default: the lesson notebook's headings)."""

    def __init__(self, lesson: str, *, sections: Sequence[str] | None = None,
                 client: ClassroomClient | None = None, presenter: bool | None = None,
                 wait: float = 25.0) -> None:
        self.lesson = lesson
        self.sections = list(sections) if sections is not None else lesson_sections(lesson)
        self.client = ClassroomClient.from_env() if client is None else client
        self._theme = get_theme(presenter)
        self._wait = wait
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.version = 0
        self.position: dict[str, Any] = {}
        self.status = widgets.HTML()
        super().__init__([self.status])
        self._theme.root(self)
        if self.client is None:
            self.status.value = self._theme.text(
                "Following the instructor works in a classroom Hub (kit.classroom).")
            return
        try:
            self.instructor = bool(self.client.me()["instructor"])
        except ClassroomError as error:
            self.status.value = self._theme.text(f"Classroom unavailable: {error.reason}")
            return
        if self.instructor:
            self.picker = widgets.Dropdown(
                options=[(f"{i + 1}. {title}", i) for i, title in enumerate(self.sections)],
                value=None, description="Presenting:", layout={"width": "auto"})
            self._theme.style_controls([self.picker])
            self.picker.observe(self._publish, names="value")
            self.children = (self.picker, self.status)
        else:
            self.toggle = widgets.ToggleButton(value=False, description="Follow the instructor",
                                               layout={"width": "auto"})
            self._theme.style_controls([self.toggle])
            self.toggle.observe(self._on_toggle, names="value")
            self.children = (self.toggle, self.status)

    def __repr__(self) -> str:
        return f"Follow({self.lesson!r})"

    def close(self) -> None:
        self._stop.set()
        super().close()

    # -- the instructor ---------------------------------------------------------------------

    def _publish(self, change: dict[str, Any]) -> None:
        if change["new"] is None:
            return
        assert self.client is not None
        index = change["new"]
        state = {"lesson": self.lesson, "section": index, "title": self.sections[index]}
        try:
            self.version = self.client.publish(state)
        except ClassroomError as error:
            self.status.value = self._theme.text(str(error), error=True)
            return
        self.status.value = self._theme.text(f"Students who follow see section {index + 1}.")

    # -- a student --------------------------------------------------------------------------

    def _on_toggle(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            self._stop.set()
            self.status.value = self._theme.text("Not following.")
            return
        self._stop = threading.Event()
        self.version = 0  # catch up with the newest position at once
        self._worker = threading.Thread(target=self._follow, args=(self._stop,), daemon=True)
        self._worker.start()

    def _follow(self, stop: threading.Event) -> None:
        assert self.client is not None
        while not stop.is_set():
            try:
                answer = self.client.follow(self.version, wait=self._wait)
            except ClassroomError as error:
                self.status.value = self._theme.text(f"Reconnecting ({error.reason})",
                                                     error=True)
                stop.wait(2.0)
                continue
            if stop.is_set():
                return
            if answer["version"] > self.version or not self.position:
                self.version = answer["version"]
                self.position = answer["state"]
                self._show()

    def _show(self) -> None:
        state = self.position
        if not state:
            self.status.value = self._theme.text("Following: the instructor has not started.")
            return
        where = f"section {state.get('section', 0) + 1}: {state.get('title', '')}"
        if state.get("lesson") != self.lesson:
            where += f" of {state.get('lesson')}"
        self.status.value = self._theme.html(
            f"Following: the instructor is at <b>{html.escape(where)}</b>")
