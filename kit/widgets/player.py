"""Step-through player: walk a recorded trace event by event, forwards and backwards.

An allocation is a burst of steps (take, split, split, put, ...) that a live view shows only
as a before and after.  The player replays a trace one event at a time with the block each step
touches outlined, so a student sees every split and every merge happen.  The state between two
events is rebuilt from the events (``kit.teaching.scenarios.EventModel``), with a checkpoint every
``CHECKPOINT`` steps (fewer for very long traces) so that stepping back is as quick as
stepping forward.
"""

from __future__ import annotations

import ipywidgets as widgets

from kit.core import events as ev
from kit.core.events import Event
from kit.core.zone import Zone
from kit.teaching.scenarios import SCENARIOS, EventModel, Scenario, Step, record_scenario

from ._base import FRAME, Redraw, RunToUse, beside
from .free_area import FreeAreaView
from .memory_map import MemoryMap
from .playcontrols import PlayControls, labelled_button
from .theme import get_theme

__all__ = ["TracePlayer"]

#: Side by side while the page is wide enough, one under the other when not.
_WRAP = widgets.Layout(flex_flow="row wrap")
CHECKPOINT = 64
#: A replay longer than this (at the chosen speed) starts paused: nobody watches 2 minutes
#: of steps by default, and a paused player invites stepping through at one's own pace.
AUTOPLAY_SECONDS = 10
MAX_CHECKPOINTS = 256
ZONE_TRACE = "this zone's trace"


def highlight_ranges(event: Event) -> list[tuple[int, int]]:
    """The (pfn, pages) ranges a step touches: both halves of a split, both buddies of a merge."""
    pages = 1 << event.order
    if event.kind in (ev.SPLIT, ev.MERGE) and event.other is not None:
        return [(event.pfn, pages), (event.other, pages)]
    return [(event.pfn, pages)]


class TracePlayer(RunToUse, widgets.VBox):
    """Play, pause and step through a scenario's events, with speed and scenario choice.

    ``step`` (the slider's value, 0 = before the first event) selects the moment shown;
    ``steps`` lists the events; ``model`` is the rebuilt state at ``step``; ``caption`` says what
    the current step did.  ``load(scenario)`` plays another ``Scenario`` or named scenario.
    """

    def __init__(self, zone: Zone | None = None, *, scenario: str | Scenario | None = None,
                 presenter: bool | None = None, show_choice: bool = True) -> None:
        self.theme = theme = get_theme(presenter)
        self._scenarios: dict[str, Scenario | None] = dict.fromkeys(SCENARIOS)
        if zone is not None and zone.trace is not None:
            self._scenarios[ZONE_TRACE] = Scenario(
                ZONE_TRACE, "the operations recorded on the zone given to the player",
                dict(zone.trace.config), tuple(zone.trace.operations))
        if isinstance(scenario, Scenario):
            self._scenarios[scenario.name] = scenario
            first = scenario.name
        else:
            first = scenario or (ZONE_TRACE if ZONE_TRACE in self._scenarios
                                 else next(iter(SCENARIOS)))
        self.choice = widgets.Dropdown(options=list(self._scenarios), value=first,
                                       description="scenario",
                                       layout=widgets.Layout(width="460px"))
        self.play = widgets.Play(value=0, min=0, max=1, step=1, interval=400,
                                 description="play")
        self.slider = widgets.IntSlider(value=0, min=0, max=1, description="step",
                                        layout=widgets.Layout(width="60%"))
        self.controls = PlayControls(self.play, "the steps")
        self.back_button = labelled_button("step back", "step-backward", "undo the last step")
        self.forward_button = labelled_button("step forward", "step-forward",
                                              "apply the next step")
        self.replay_button = labelled_button("replay", "repeat",
                                             "go back before the first step and play again")
        self.speed = widgets.IntSlider(value=400, min=50, max=2000, step=50,
                                       description="ms per step",
                                       tooltip="speed: milliseconds per step (lower is faster)")
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        widgets.jslink((self.play, "max"), (self.slider, "max"))
        widgets.dlink((self.speed, "value"), (self.play, "interval"))
        self.description = widgets.HTML()
        self.caption_html = widgets.HTML()
        self.free_area = FreeAreaView(theme)
        self.map_box = widgets.Box()
        controls = [self.choice, self.slider, self.controls.toggle, self.controls.stop,
                    self.back_button, self.forward_button, self.replay_button, self.speed]
        theme.style_controls(controls)
        top = [self.choice] if show_choice else []
        super().__init__(top + [
            self.description,
            widgets.HBox([self.controls, self.slider]),
            widgets.HBox([self.back_button, self.forward_button, self.replay_button, self.speed],
                         layout=_WRAP),
            self.caption_html, widgets.HBox([self.map_box, beside(self.free_area)], layout=_WRAP),
        ])
        self.theme.root(self)
        self.back_button.on_click(lambda _b: self.step_by(-1))
        self.forward_button.on_click(lambda _b: self.step_by(1))
        self.replay_button.on_click(lambda _b: self.replay())
        self.slider.observe(lambda change: self.show(change["new"]), "value")
        self.play.observe(lambda change: self.show(change["new"]), "value")
        self.choice.observe(lambda change: self.load(change["new"]), "value")
        self._redraw = Redraw(self._draw, min_interval=FRAME)
        self.load(first)

    # ------------------------------------------------------------------------------ loading
    def load(self, scenario: str | Scenario) -> None:
        """Play a named scenario (recorded now, deterministically) or a given one."""
        if isinstance(scenario, Scenario):
            self._scenarios[scenario.name] = scenario
            name = scenario.name
        else:
            name = scenario
        recorded = self._scenarios.get(name)
        if recorded is None:
            recorded = self._scenarios[name] = record_scenario(name)
        self.scenario = recorded
        self.steps: list[Step] = recorded.steps()
        start = EventModel(recorded.config)
        # At most MAX_CHECKPOINTS copies of the state, however long the trace.
        self._every = max(CHECKPOINT, -(-len(self.steps) // MAX_CHECKPOINTS))
        self._checkpoints = [start]
        model = start.copy()
        for index, step in enumerate(self.steps, start=1):
            model.apply(step.event, step.operation)
            if index % self._every == 0:
                self._checkpoints.append(model.copy())
        self.map = MemoryMap(Zone(**recorded.config, record=False),  # type: ignore[arg-type]
                             presenter=self.theme.presenter, listen=False)
        self.map_box.children = [self.map]
        self.description.value = self.theme.text(f"{recorded.name}: {recorded.description}")
        if self.choice.value != name:
            if name not in self.choice.options:
                self.choice.options = [*self.choice.options, name]
            self.choice.value = name
        self.play.playing = False
        self.play.max = self.slider.max = max(len(self.steps), 1)
        self.slider.value = self.play.value = 0
        self.show(0, force=True)

    # ------------------------------------------------------------------------------ stepping
    def step_by(self, delta: int) -> None:
        """Step forward (+1) or back (-1), staying inside the trace."""
        self.slider.value = min(max(self.slider.value + delta, 0), len(self.steps))

    def replay(self) -> None:
        """Go back before the first step and play the whole trace again (after Run All a
        player may already stand at its end: this lets the change be watched); a trace longer
        than ``AUTOPLAY_SECONDS`` at the chosen speed waits, paused, for "play"."""
        self.play.playing = False
        self.slider.value = self.play.value = 0
        self.play.playing = self.seconds <= AUTOPLAY_SECONDS

    @property
    def seconds(self) -> float:
        """How long playing the whole trace takes at the chosen speed."""
        return len(self.steps) * self.speed.value / 1000

    @property
    def step(self) -> int:
        """The moment shown: the number of events applied."""
        return self._step

    def model_at(self, step: int) -> EventModel:
        """The zone's bookkeeping after ``step`` events (from the nearest checkpoint)."""
        step = min(max(step, 0), len(self.steps))
        model = self._checkpoints[step // self._every].copy()
        for item in self.steps[step - step % self._every:step]:
            model.apply(item.event, item.operation)
        return model

    def show(self, step: int, *, force: bool = False) -> None:
        """Draw the state after ``step`` events, outlining what the last one touched.

        The Play button and the slider are linked in the browser and both report the new
        step; the second report finds the step already drawn and returns at once.  Inside a
        kernel the drawing waits for the current message to be handled and happens at most
        once per animation frame (``FRAME``), showing the latest step asked for.
        """
        self._wanted = min(max(int(step), 0), len(self.steps))
        if self._wanted == getattr(self, "_step", None) and not force:
            return
        self._redraw.notify()

    def _draw(self) -> None:
        """Draw the step ``show`` asked for last."""
        step = self._wanted
        self._step = step
        if self.slider.value != step:
            self.slider.value = step
        self.model = self.model_at(step)
        if step == 0:
            self.caption = f"before the first step ({len(self.steps)} steps in all)"
            if self.seconds > AUTOPLAY_SECONDS:
                self.caption += (f": about {self.seconds:.0f} s at {self.speed.value} ms per "
                                 "step; press play, or step through at your own pace")
            highlight, order = [], None
        else:
            item = self.steps[step - 1]
            self.caption = (f"step {step}/{len(self.steps)}, in "
                            f"{item.operation.to_text()}: {item.event.describe()}")
            highlight, order = highlight_ranges(item.event), item.event.order
        self.caption_html.value = self.theme.text(self.caption)
        self.map.draw(self.model, highlight, trimmed=self.model.trimmed)
        self.free_area.show(self.model.nr_free(), highlight=order)
