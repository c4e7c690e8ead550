"""Follow the instructor: where the presenter is in the lesson, live, in every student's kernel.

``Follow("03-buddy-system", playground=pg)`` in a classroom Hub (``kit.classroom``): in the
instructor's kernel it is a section picker that publishes the lesson, the section and its
title to the classroom service, and with ``playground`` the calls that Playground makes; in a
student's kernel it is one toggle, "Follow the instructor", which while on long-polls the
service, scrolls the student's notebook to the instructor's section and makes the student's
own ``playground`` replay the instructor's calls on its own zone.  A student leaves by turning
it off; turning it on again (or a reconnect after the network dropped) catches up with the
newest position at once, since the service keeps it with a version number, and the calls are
replayed from the zone's start.  Outside a classroom Hub it says so and does nothing.

The scroll is a line of JavaScript shown in the widget's own output area: JupyterLab runs it
(outputs a kernel sends in this session are trusted) and it scrolls the notebook that holds the
widget to the heading whose text is the section's title.
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets

from ..classroom.client import ClassroomClient, ClassroomError
from ..classroom.follow import FollowState, heading_key, lesson_sections
from ..core.errors import KitError
from .playground import Playground
from .theme import get_theme

__all__ = ["Follow", "scroll_script"]


def scroll_script(title: str) -> str:
    """JavaScript that scrolls the notebook holding its output to the heading ``title``."""
    return (
        "(() => {const want = " + json.dumps(heading_key(title)) + ";"
        "const key = t => t.toLowerCase().replace(/[^0-9a-z]+/g, '');"
        "const root = (element.closest && element.closest('.jp-Notebook')) || document;"
        "const heading = [...root.querySelectorAll("
        "'.jp-MarkdownOutput h1, .jp-MarkdownOutput h2, .jp-MarkdownOutput h3')]"
        ".find(h => key(h.textContent) === want);"
        "if (heading) heading.scrollIntoView({block: 'start'});})()"
    )


class Follow(widgets.VBox):
    """Publish (instructor) or follow (student) the presenter's place in ``lesson``;
    ``sections`` are its section titles (default: the lesson notebook's headings);
    ``playground`` is the Playground whose calls are published (instructor) or replayed
    (student).  ``state`` is the last position published or received (a ``FollowState``)."""

    def __init__(self, lesson: str, *, sections: Sequence[str] | None = None,
                 client: ClassroomClient | None = None, presenter: bool | None = None,
                 wait: float = 25.0, playground: Playground | None = None) -> None:
        self.lesson = lesson
        self.sections = list(sections) if sections is not None else lesson_sections(lesson)
        self.client = ClassroomClient.from_env() if client is None else client
        self.playground = playground
        self._theme = get_theme(presenter)
        self._wait = wait
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        #: Held by a follow thread's writes (status, scroll, replay) and by leaving: a thread
        #: writes only while its ``stop`` is not set, so nothing shows "Following" after leave.
        self._writing = threading.Lock()
        self.version = 0
        self.position: dict[str, Any] = {}
        self.state = FollowState(lesson)
        self._shown_section: int | None = None  # where a follower's notebook last scrolled
        self.status = widgets.HTML()
        self.scroller = widgets.Output(layout={"height": "0px", "overflow": "hidden"})
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
            self.picker.observe(self._publish_section, names="value")
            if playground is not None:
                playground.on_call(self._publish_calls)
            self.children = (self.picker, self.status)
        else:
            self.toggle = widgets.ToggleButton(value=False, description="Follow the instructor",
                                               layout={"width": "auto"})
            self._theme.style_controls([self.toggle])
            self.toggle.observe(self._on_toggle, names="value")
            self.children = (self.toggle, self.status, self.scroller)

    def __repr__(self) -> str:
        return f"Follow({self.lesson!r})"

    def close(self) -> None:
        with self._writing:
            self._stop.set()
        super().close()

    # -- the instructor ---------------------------------------------------------------------

    def _publish_section(self, change: dict[str, Any]) -> None:
        if change["new"] is None:
            return
        index = change["new"]
        self.state = FollowState(self.lesson, index, self.sections[index], self.state.calls,
                                 self.state.complete)
        self._publish(f"Students who follow see section {index + 1}.")

    def _publish_calls(self, calls: list[tuple[Any, ...]]) -> None:
        self.state = self.state.with_calls(calls)
        where = "" if self.state.section is None else f"section {self.state.section + 1} and "
        self._publish(f"Students who follow see {where}the Playground's {len(calls)} "
                      f"call{'s' if len(calls) != 1 else ''}.")

    def _publish(self, message: str) -> None:
        assert self.client is not None
        try:
            self.version = self.client.publish(self.state.to_json())
        except ClassroomError as error:
            self.status.value = self._theme.text(str(error), error=True)
            return
        self.status.value = self._theme.text(message)

    # -- a student --------------------------------------------------------------------------

    def _on_toggle(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            with self._writing:  # after a write in progress; none after this one
                self._stop.set()
                self.status.value = self._theme.text("Not following.")
            return
        with self._writing:
            self._stop = threading.Event()
            self.version = 0  # catch up with the newest position at once
            self._shown_section = None
        self._worker = threading.Thread(target=self._follow, args=(self._stop,), daemon=True)
        self._worker.start()

    def _follow(self, stop: threading.Event) -> None:
        assert self.client is not None
        wait = 0.0  # the first answer at once, even when nothing is published yet
        while not stop.is_set():
            try:
                answer = self.client.follow(self.version, wait=wait)
            except ClassroomError as error:
                with self._writing:
                    if stop.is_set():
                        return
                    self.status.value = self._theme.text(f"Reconnecting ({error.reason})",
                                                         error=True)
                stop.wait(2.0)
                continue
            wait = self._wait  # then hold until the instructor moves
            if answer["version"] > self.version or not self.position:
                self._show(stop, answer["version"], answer["state"])

    def _show(self, stop: threading.Event, version: int, position: dict[str, Any]) -> None:
        """Show the instructor's ``position`` (and replay its calls), unless ``stop`` is set:
        a student who left (or left and came back, with a new thread) sees nothing of it."""
        try:
            state: FollowState | None = FollowState.from_json(position)
            problem = ""
        except KitError as error:
            state, problem = None, f"Cannot follow: {error}"
        with self._writing:
            if stop.is_set():
                return
            self.version, self.position = version, position
            if state is None:
                self.status.value = self._theme.text(problem, error=True)
                return
            self.state = state
            self.status.value = self._following(state)

    def _following(self, state: FollowState) -> str:
        """Scroll to ``state``'s section and replay its calls; the status line that says so."""
        if not state.lesson:
            return self._theme.text("Following: the instructor has not started.")
        where = (state.lesson if state.section is None
                 else f"section {state.section + 1}: {state.title}")
        if state.lesson != self.lesson and state.section is not None:
            where += f" of {state.lesson}"
        note = ""
        if state.lesson == self.lesson:
            if state.section is not None and state.section != self._shown_section:
                self._shown_section = state.section
                self.scroller.outputs = ({"output_type": "display_data", "metadata": {},
                                          "data": {"application/javascript":
                                                   scroll_script(state.title)}},)
            if self.playground is not None:
                note = self._replay(state)
        return self._theme.html(
            f"Following: the instructor is at <b>{html.escape(where)}</b>{note}")

    def _replay(self, state: FollowState) -> str:
        """The instructor's Playground calls, replayed on this student's Playground."""
        assert self.playground is not None
        if not state.complete:
            return html.escape("; the Playground has made more calls than can be mirrored: "
                               "reset it to follow again")
        try:
            self.playground.follow_calls(list(state.calls))
        except KitError as error:
            return html.escape(f"; the Playground could not replay a call: {error}")
        return ""
