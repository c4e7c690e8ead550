"""The slide mode publishes its slide: students who follow the instructor go where it is.

``kit present LESSON --slides`` names the lesson notebook in the kernel's environment
(``KIT_SLIDES_LESSON``), and importing ``kit.widgets`` there registers the comm target
``kit.slides``.  When the kernel also has a classroom (``KIT_CLASSROOM_URL`` and a Hub token:
the presenter was started from the instructor's server on the classroom Hub, or with a token
of theirs), the slide page's script opens a comm to it once the lesson has run and sends the
id of a cell on each slide it shows.  ``SlidePublisher`` turns that cell into its lesson section
(``kit.classroom.follow.section_of_cell``) and publishes it with the classroom client, as the
``Follow`` picker does, keeping the Playground calls last published for the same lesson.

Publishing runs on a thread of its own, newest slide only: a slow or unreachable service never
holds up the kernel that drives the slides' widgets.  Only an instructor publishes (the service
refuses anyone else; a student's token is not even tried twice).  Without a classroom the
target closes the page's comm at once, and outside slide mode nothing registers: the slides
work as they always did.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..classroom.client import ClassroomClient
from ..classroom.follow import SLIDES_LESSON_VARIABLE, FollowState, lesson_cells, section_of_cell
from ..core.errors import KitError

__all__ = ["COMM_TARGET", "SlidePublisher", "listen_to_slides"]

#: The comm target the slide page opens (kit/cli/presenter/voila/templates/slides).
COMM_TARGET = "kit.slides"


class SlidePublisher:
    """Publishes the section of each slide shown, for the lesson ``notebook``, through
    ``client``.  ``published`` is the last state the service took (``None`` before any)."""

    def __init__(self, notebook: str | Path, client: ClassroomClient) -> None:
        self.lesson = Path(notebook).stem
        self.cells = lesson_cells(notebook)
        self.client = client
        self.published: FollowState | None = None
        self.error = ""  # why the last publish failed ("" when it did not)
        self._instructor: bool | None = None  # asked once the service answers
        self._wanted: tuple[int, str] | None = None
        self._changed = threading.Condition()
        threading.Thread(target=self._run, name="kit-slide-publisher", daemon=True).start()

    def __repr__(self) -> str:
        return f"SlidePublisher({self.lesson!r})"

    def show_cell(self, cell_id: str) -> None:
        """The slide page shows the slide holding the cell ``cell_id``: publish its section
        (a cell above the first heading, or unknown, changes nothing)."""
        section = section_of_cell(self.cells, cell_id)
        if section is None:
            return
        with self._changed:
            self._wanted = section
            self._changed.notify()

    def opened(self, comm: Any, _open_msg: Mapping[str, Any]) -> None:
        """The comm target's handler: the slide page has connected."""
        comm.on_msg(self._received)

    def _received(self, msg: Mapping[str, Any]) -> None:
        """A message of the page: ``{"cell": id}``; anything else is ignored."""
        data = msg.get("content", {}).get("data") if isinstance(msg, Mapping) else None
        if isinstance(data, Mapping) and isinstance(data.get("cell"), str):
            self.show_cell(data["cell"])

    def _run(self) -> None:
        # done: the section the service has; failed: one that could not be published (tried
        # again only once another slide is shown, not in a loop against a service that is down)
        done: tuple[int, str] | None = None
        failed: tuple[int, str] | None = None
        while True:
            with self._changed:
                self._changed.wait_for(
                    lambda: self._wanted not in (None, done, failed))  # noqa: B023
                wanted = self._wanted
            assert wanted is not None
            if self._publish(*wanted):
                done, failed = wanted, None
            elif self._instructor is False:
                return  # a student's token: the service would refuse every slide
            else:
                failed = wanted

    def _publish(self, index: int, title: str) -> bool:
        try:
            if self._instructor is None:
                self._instructor = bool(self.client.me()["instructor"])
            if not self._instructor:
                self.error = "only an instructor publishes where the slides are"
                return False
            last = FollowState.from_json(self.client.follow(0)["state"])
            calls = last.calls if last.lesson == self.lesson else ()
            state = FollowState(self.lesson, index, title, calls,
                                last.complete if calls else True)
            self.client.publish(state.to_json())
        except (KitError, KeyError, TypeError, ValueError) as error:  # ValueError: not JSON
            self.error = str(error)
            return False
        self.error = ""
        self.published = state
        return True


def listen_to_slides(environ: Mapping[str, str] | None = None) -> SlidePublisher | None:
    """In a slide-mode kernel, register the ``kit.slides`` comm target: with a classroom it
    publishes each slide's section (the publisher is returned), without one it closes the
    page's comm at once (nothing is sent, no error).  Anywhere else do nothing."""
    environ = os.environ if environ is None else environ
    notebook = environ.get(SLIDES_LESSON_VARIABLE, "")
    if not notebook:
        return None
    client = ClassroomClient.from_env(environ)
    publisher = None
    if client is not None:
        try:
            publisher = SlidePublisher(notebook, client)
        except KitError:
            pass  # the lesson cannot be read: the slides show, nothing is published
    import comm  # ipywidgets' own dependency: the kernel's comm manager

    comm.get_comm_manager().register_target(
        COMM_TARGET, publisher.opened if publisher is not None else _decline)
    return publisher


def _decline(channel: Any, _open_msg: Mapping[str, Any]) -> None:
    """No classroom: the slide page's script stops sending when its comm closes."""
    channel.close()
