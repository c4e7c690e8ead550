"""Every button of the kit's widgets says what it does in words (issue 20.7).

ipywidgets 8 renders a ``Button``'s description as its text (its accessible name) and its
``tooltip`` as the ``title`` attribute, and draws ``Play`` as three bare icon buttons with
neither: the widgets hide their ``Play`` behind ``PlayControls``.  The browser test
(``tests/browser/test_accessibility.py``) checks the names a screen reader gets.
"""

from __future__ import annotations

import re

import ipywidgets as widgets
import pytest

import kit
from kit.widgets import (
    ExactAllocationAnimator,
    FreeAreaChart,
    Playground,
    Practice,
    Predict,
    TracePlayer,
)
from kit.widgets.playcontrols import PlayControls

BUILDERS = {
    "Playground": lambda: Playground(kit.Zone(64)),
    "TracePlayer": TracePlayer,
    "ExactAllocationAnimator": lambda: ExactAllocationAnimator(size=132 * 1024),
    "FreeAreaChart": lambda: FreeAreaChart(kit.Zone(64)),
    "Practice": Practice,
    "Predict": Predict,
}
WORD = re.compile(r"[A-Za-z]{2,}")


def walk(widget: widgets.Widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_button_has_words_and_every_play_is_labelled(name):
    root = BUILDERS[name]()
    parts = list(walk(root))
    buttons = [w for w in parts if isinstance(w, widgets.Button | widgets.ToggleButton)]
    assert buttons, f"{name}: no button found"
    for button in buttons:
        assert WORD.search(button.description), f"{name}: a button without words: {button!r}"
    plays = [w for w in parts if isinstance(w, widgets.Play)]
    controlled = {id(w.play) for w in parts if isinstance(w, PlayControls)}
    for play in plays:
        assert play.layout.display == "none", f"{name}: ipywidgets' unlabelled Play shows"
        assert id(play) in controlled, f"{name}: a Play without labelled controls"


def test_play_controls_play_pause_and_stop():
    play = widgets.Play(value=3, min=0, max=10)
    controls = PlayControls(play, "the steps")
    toggle = controls.toggle
    assert (toggle.description, toggle.icon, toggle.tooltip) == ("play", "play", "play the steps")
    toggle.click()
    assert play.playing
    assert (toggle.description, toggle.icon) == ("pause", "pause")
    assert toggle.tooltip == "pause the steps here"
    toggle.click()
    assert not play.playing and play.value == 3 and toggle.description == "play"
    toggle.click()
    controls.stop.click()
    assert not play.playing and play.value == 0 and toggle.description == "play"
    assert "go back before the steps" in controls.stop.tooltip
    play.playing = True  # the browser's timer reaching the end sets it back: the label follows
    play.playing = False
    assert toggle.description == "play"


def test_enter_in_the_playgrounds_prediction_box_checks_it():
    """The frontend sends Enter as a "submit" event: it checks the guess and runs the call."""
    playground = Playground(kit.Zone(64), predict_first=True)
    assert playground.press("alloc_pages", 0) is not None
    playground.guess.value = "0"
    playground.guess._handle_string_msg(None, {"event": "submit"}, [])
    assert playground.pending is None and playground.verdict.value
    assert playground.history[0].title.startswith("alloc_pages(0) -> pfn ")
