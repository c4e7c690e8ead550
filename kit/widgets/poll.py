"""A lesson's concept question as a live poll of the room (peer instruction), or a self-check.

In a classroom Hub (the kernel's environment names the classroom service, see
``kit.classroom.client``) ``Poll("03-head-or-tail")`` sends the student's choice to the service
and shows the poll's state: waiting for the instructor, round 1 open (vote alone, change it until
the round closes), discuss with a neighbour, round 2 open, done (then the usual feedback on the
choice).  The same cell in the instructor's kernel is the presenter's panel: open and close
rounds, show round 1 to the students or not, answered/present, both rounds' histograms and
suggested pairs of students who answered differently.  Anywhere else (a laptop, nbval, an
unreachable service) it is exactly the ``Quiz`` of that question.

The widget asks the service once when it is shown (which also warms the service's token cache,
so that the first vote of a round is fast) and then every ``refresh`` seconds from a background
thread, until it is closed.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as widgets

from ..classroom.client import ClassroomClient, ClassroomError
from .quiz import Quiz

__all__ = ["Poll"]


class Poll(Quiz):
    """A bank question that runs as a live two-round poll in a classroom Hub, a ``Quiz``
    elsewhere; ``client=`` gives the service (default: the kernel's environment)."""

    def __init__(self, question_id: str, *, client: ClassroomClient | None = None,
                 seed: int | None = None, presenter: bool | None = None,
                 refresh: float = 2.0) -> None:
        super().__init__(question_id, seed=seed, presenter=presenter)
        self.client = ClassroomClient.from_env() if client is None else client
        self.live = False
        self.instructor = False
        self.state: dict[str, Any] = {}
        self.results: dict[str, Any] = {}
        self._syncing = False
        self._stop = threading.Event()
        self.status = widgets.HTML()
        self.histograms = widgets.HTML()
        if self.client is None:
            return
        try:
            self.instructor = bool(self.client.me()["instructor"])
        except ClassroomError as error:
            self.status.value = self._theme.text(
                f"Live poll unavailable ({error.reason}): answer it as a self-check.")
            self.children = (*self.children, self.status)
            return
        self.live = True
        if self.instructor:
            self._build_presenter()
        else:
            self.children = (*self.children[:2], self.status, self.histograms, self.feedback)
        self.refresh()
        if refresh > 0:
            threading.Thread(target=self._poll_loop, args=(refresh,), daemon=True).start()

    def __repr__(self) -> str:
        return f"Poll({self.question.id!r})"

    def close(self) -> None:
        self._stop.set()
        super().close()

    # -- the presenter's panel ----------------------------------------------------------------

    def _build_presenter(self) -> None:
        self.action = widgets.Button(description="Open round 1", layout={"width": "auto"})
        self.show_first = widgets.Checkbox(value=False, description="students see round 1",
                                           indent=False, layout={"width": "auto"})
        self.pairs_button = widgets.Button(description="Suggest pairs", layout={"width": "auto"})
        self.reset_button = widgets.Button(description="Reset", layout={"width": "auto"})
        self.pairs = widgets.HTML()
        controls = [self.action, self.show_first, self.pairs_button, self.reset_button]
        self._theme.style_controls(controls)
        self.action.on_click(lambda _: self._act(self._next_action))
        self.pairs_button.on_click(lambda _: self._show_pairs())
        self.reset_button.on_click(lambda _: self._act(self.client.reset))  # type: ignore
        self.show_first.observe(self._on_show_first, names="value")
        row = widgets.HBox(controls, layout={"flex_flow": "row wrap"})
        self.children = (self.children[0], row, self.status, self.histograms, self.pairs)

    def _next_action(self, poll_id: str) -> Any:
        assert self.client is not None
        if self.state.get("open_round"):
            return self.client.close_round(poll_id)
        return self.client.open_round(poll_id)

    def _act(self, action: Any) -> None:
        try:
            action(self.question.id)
        except ClassroomError as error:
            self.status.value = self._theme.text(str(error), error=True)
            return
        self.refresh()

    def _on_show_first(self, change: dict[str, Any]) -> None:
        if self._syncing or not self.state.get("rounds"):
            return
        assert self.client is not None
        self._act(lambda poll_id: self.client.reveal(poll_id, 1, change["new"]))  # type: ignore

    def _show_pairs(self) -> None:
        pairs, alone = self.results.get("pairs", []), self.results.get("unpaired", [])
        if not pairs and not alone:
            self.pairs.value = self._theme.text("No round-1 votes yet.")
            return
        text = "; ".join(f"{a} + {b}" for a, b in pairs)
        if alone:
            text += f" — join a pair: {', '.join(alone)}"
        self.pairs.value = self._theme.html(f"<b>Discuss in pairs:</b> {html.escape(text)}")

    # -- the student's side -------------------------------------------------------------------

    def _on_choice(self, change: dict) -> None:
        if not self.live:
            super()._on_choice(change)
            return
        if self._syncing or change["new"] is None:
            return
        if not self.state.get("open_round"):
            if self._finished():
                super()._on_choice(change)
            return
        assert self.client is not None
        try:
            self.client.vote(self.question.id, self.question.texts.index(change["new"]))
        except ClassroomError as error:
            self.status.value = self._theme.text(f"Your vote was not counted: {error.reason}",
                                                 error=True)
            return
        self.refresh()

    def _finished(self) -> bool:
        rounds = self.state.get("rounds", [])
        return len(rounds) >= 2 and not rounds[-1]["open"]

    # -- both ---------------------------------------------------------------------------------

    def _poll_loop(self, every: float) -> None:
        while not self._stop.wait(every):
            self.refresh()

    def refresh(self) -> None:
        """Ask the service for the poll's state and redraw."""
        assert self.client is not None
        try:
            self.state = self.client.poll(self.question.id)
            if self.instructor:
                self.results = self.client.results(self.question.id)
        except ClassroomError as error:
            self.status.value = self._theme.text(f"Classroom service: {error.reason}",
                                                 error=True)
            return
        self._syncing = True
        try:
            self._draw()
        finally:
            self._syncing = False

    def _draw(self) -> None:
        rounds = self.state.get("rounds", [])
        current = self.state.get("open_round")
        if self.instructor:
            self._draw_presenter(rounds, current)
        else:
            self._draw_student(rounds, current)
        self.histograms.value = self._histograms_html()

    def _draw_presenter(self, rounds: list[dict[str, Any]], current: int | None) -> None:
        self.action.description = (f"Close round {current}" if current
                                   else f"Open round {len(rounds) + 1}")
        self.action.disabled = not current and len(rounds) >= 2
        self.show_first.value = bool(rounds and rounds[0]["reveal"])
        answered = [r["answered"] for r in self.results.get("rounds", [])]
        counts = " · ".join(f"round {i}: {n} answered" for i, n in enumerate(answered, 1))
        self.status.value = self._theme.text(
            f"{counts or 'not opened yet'} · {self.results.get('present', 0)} present"
            + (f" · round {current} open" if current else ""))

    def _draw_student(self, rounds: list[dict[str, Any]], current: int | None) -> None:
        mine = self.state.get("my_votes", {})
        if current:
            self.choices.disabled = False
            chosen = mine.get(str(current))
            self.choices.value = (None if chosen is None else self.question.texts[chosen])
            message = (f"Round {current} is open: " + ("vote alone." if current == 1 else
                       "vote again after your discussion.")
                       + (" You can change your vote until it closes." if chosen is not None
                          else ""))
        elif self._finished():
            self.choices.disabled = False
            message = "The poll is over: pick a choice to read why it is right or wrong."
        else:
            self.choices.disabled = True
            message = ("Round 1 is closed: discuss with a neighbour who answered differently."
                       if rounds else "Wait for the instructor to open this poll.")
        self.status.value = self._theme.text(message)

    def _histograms_html(self) -> str:
        shown = (self.results.get("rounds", []) if self.instructor else
                 [{"number": int(n), "histogram": h}
                  for n, h in sorted(self.state.get("histograms", {}).items())])
        if not shown:
            return ""
        done = self._finished()
        parts = []
        for entry in shown:
            counts = entry["histogram"]
            total = sum(counts) or 1
            rows = []
            for position, (text, count) in enumerate(zip(self.question.texts, counts,
                                                         strict=True)):
                mark = " ✔" if done and position == self.question.answer else ""
                width = round(100 * count / total)
                rows.append(
                    f"<tr><td style='padding-right:12px'>{html.escape(text)}{mark}</td>"
                    f"<td style='width:60%'><div style='background:#4a78b5;height:1em;"
                    f"width:{width}%'></div></td><td style='padding-left:8px'>{count}</td></tr>")
            parts.append(f"<b>Round {entry['number']}</b><table style='width:100%'>"
                         f"{''.join(rows)}</table>")
        return self._theme.html("".join(parts))
