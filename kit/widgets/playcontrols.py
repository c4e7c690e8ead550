"""Play, pause and stop buttons that say what they do, driving an ipywidgets ``Play``.

ipywidgets 8 draws ``Play`` as three bare icon buttons (play/pause, stop, repeat) with no text,
no tooltip and no aria-label: a screen reader announces "button, button, button" and a mouse
user has to guess.  ``PlayControls`` keeps the ``Play`` as the timer (it ticks in the browser,
so steps keep coming without a round trip per tick) but hides it, and shows two ordinary buttons
instead, each with an icon, a text label (its accessible name) and a tooltip.
"""

from __future__ import annotations

import ipywidgets as widgets

from ._base import fitted

__all__ = ["PlayControls", "labelled_button"]


def labelled_button(label: str, icon: str, tooltip: str) -> widgets.Button:
    """A button showing ``icon`` (a Font Awesome name) before its text ``label``: the text is
    what a screen reader announces and what Tab lands on, the tooltip says more."""
    return widgets.Button(description=label, icon=icon, tooltip=tooltip, layout=fitted())


class PlayControls(widgets.HBox):
    """"play"/"pause" and "stop" buttons for ``play`` (hidden, still the timer).

    ``what`` names what is played, for the tooltips ("the steps", "the changes").
    """

    def __init__(self, play: widgets.Play, what: str) -> None:
        self.play, self.what = play, what
        play.layout.display = "none"
        self.toggle = labelled_button("play", "play", "")
        self.stop = labelled_button("stop", "stop", f"stop and go back before {what}")
        super().__init__([self.toggle, self.stop, play])
        self.toggle.on_click(lambda _button: self._toggle())
        self.stop.on_click(lambda _button: self._stop())
        play.observe(lambda _change: self._show_state(), "playing")
        self._show_state()

    def _toggle(self) -> None:
        self.play.playing = not self.play.playing

    def _stop(self) -> None:
        self.play.playing = False
        self.play.value = self.play.min

    def _show_state(self) -> None:
        """The toggle offers what a press does next: pause while playing, play otherwise."""
        if self.play.playing:
            label, tooltip = "pause", f"pause {self.what} here"
        else:
            label, tooltip = "play", f"play {self.what}"
        with self.toggle.hold_sync():
            self.toggle.description = self.toggle.icon = label
            self.toggle.tooltip = tooltip
