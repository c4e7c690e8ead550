"""Practice: predict a seeded allocator problem, check it at once, then see the solution.

The problems, their answers and the misconceptions named on a wrong answer come from
``kit.teaching.practice``; this widget only shows a problem, collects the reader's prediction in one
input per field, and on request the step-by-step solution beside a memory map of the zone as
the problem leaves it.  Nothing is revealed before the reader asks.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from kit.core.errors import KitError
from kit.core.zone import Zone
from kit.teaching import progress
from kit.teaching.practice import KINDS, LEVELS, Problem, Verdict, generate

from ._base import RunToUse, fitted, on_enter, show_error
from .memory_map import MemoryMap
from .theme import get_theme, slide_layout

__all__ = ["Practice"]


#: On a slide the problem's text runs in two columns in 20 px, so that the longest level-2
#: problem fits 1280x720 unscaled.
SLIDE_QUESTION_CSS = ("<style>.kit-slide-question pre { column-count: 2; column-gap: 40px; } "
                      ".kit-slide-question div, .kit-slide-question pre "
                      "{ font-size: 20px !important; line-height: 1.25 !important; }</style>")


class Practice(RunToUse, widgets.VBox):
    """One problem at a time: kind, level and seed pick it; "new problem" moves to the next seed.

    A ``zone`` given makes the problems follow its kernel version (``zone.preset``: where
    freed blocks go, what the per-CPU lists cache, how the exact allocator trims); they still
    run on small zones of their own, so the zone itself is never changed.
    ``problem`` is the current ``kit.teaching.practice.Problem``; ``inputs`` maps each field's key
    to its text box; ``check()`` grades what is typed (as the button or Enter does) and returns
    the verdict, keeping the right values back on the first wrong try (``tries`` counts them);
    ``reveal()`` shows the solution and, for problems on a zone, its memory map (``map``).
    """

    def __init__(self, zone: Zone | None = None, kind: str = "sequence", seed: int = 0,
                 level: int = 1, *, presenter: bool | None = None,
                 compact: bool | None = None) -> None:
        self.preset = zone.preset.name if zone is not None else None
        self.theme = theme = get_theme(presenter)
        #: The slide layout (``kit present --slides``): the problem and its solution only.
        self.compact = slide_layout(compact)
        self.kind = widgets.Dropdown(options=list(KINDS), value=kind, description="kind",
                                     layout=widgets.Layout(width="230px"))
        self.level = widgets.Dropdown(options=list(LEVELS), value=level, description="level",
                                      layout=widgets.Layout(width="160px"))
        self.seed = widgets.BoundedIntText(value=seed, min=0, max=10**9, description="seed",
                                           layout=widgets.Layout(width="200px"))
        self.new_button = widgets.Button(description="new problem", layout=fitted())
        self.check_button = widgets.Button(description="check my prediction",
                                           button_style="primary", layout=fitted())
        self.solution_button = widgets.Button(description="show the solution", layout=fitted())
        self.question = widgets.HTML()
        self.form = widgets.VBox()
        self.verdict = widgets.HTML()
        self.solution = widgets.HTML()
        self.error = widgets.HTML()
        self.map_box = widgets.VBox()
        self.inputs: dict[str, widgets.Text] = {}
        self.tries = 0
        self.map: MemoryMap | None = None
        self.problem: Problem | None = None
        theme.style_controls([self.kind, self.level, self.seed, self.new_button,
                              self.check_button, self.solution_button])
        if self.compact:
            # On a projector the room works the problem out loud (or in their own notebooks)
            # and the presenter shows the solution: the problem in two columns, no answer boxes.
            self.question.add_class("kit-slide-question")
            problem: list[widgets.Widget] = [self.question, widgets.HBox([self.solution_button])]
        else:
            problem = [self.question, self.form,
                       widgets.HBox([self.check_button, self.solution_button])]
        super().__init__([
            widgets.HBox([self.kind, self.level, self.seed, self.new_button],
                         layout=widgets.Layout(flex_flow="row wrap")),
            self.error, *problem, self.verdict, self.solution, self.map_box,
        ])
        theme.root(self)
        for control in (self.kind, self.level, self.seed):
            control.observe(lambda _change: self.load(), names="value")
        self.new_button.on_click(lambda _b: self.next_problem())
        self.check_button.on_click(lambda _b: self.check())
        self.solution_button.on_click(lambda _b: self.reveal())
        self.load()
        progress.record_lesson()

    def load(self) -> None:
        """Build the problem the controls name, with empty inputs and nothing revealed."""
        try:
            problem = generate(self.kind.value, self.seed.value, self.level.value, self.preset)
        except KitError as exc:
            show_error(self.error, self.theme, exc)
            return
        show_error(self.error, self.theme, None)
        self.problem = problem
        self.question.value = (SLIDE_QUESTION_CSS if self.compact else "") + self.theme.html(
            f"<b>{html.escape(problem.title)}</b> <i>({html.escape(problem.command)})</i>"
        ) + self.theme.text(problem.text, pre=True)
        self.inputs = {}
        rows = []
        for field in problem.fields:
            box = widgets.Text(placeholder=field.example,
                               layout=widgets.Layout(width="280px" if self.compact else "420px"))
            label = widgets.HTML(self.theme.text(field.label),
                                 layout=widgets.Layout(width="220px" if self.compact else "300px"))
            self.theme.style_controls([box])
            on_enter(box, self.check)  # Enter in any box checks, as the button does
            self.inputs[field.key] = box
            rows.append(widgets.HBox([label, box]))
        self.form.children = rows
        self.verdict.value = self.solution.value = ""
        self.tries = 0  # checks with something typed, on this problem
        self._drop_map()

    def next_problem(self) -> None:
        """Move to the next seed (what "new problem" does)."""
        self.seed.value += 1

    def check(self) -> Verdict | None:
        """Grade what the inputs hold and show, in words, what was right and what was wrong."""
        if self.problem is None:
            return None
        verdict = self.problem.check({key: box.value for key, box in self.inputs.items()})
        if any(box.value.strip() for box in self.inputs.values()):  # a real attempt
            progress.record_practice(self.kind.value, self.level.value, verdict.correct)
            self.tries += 1
        # the first wrong try keeps the answers back: another try, or "show the solution"
        answers = self.tries > 1 or bool(self.solution.value)
        lines = verdict.explain(answers).splitlines()
        if not verdict.correct and not answers:
            lines.append("Try again, or press \"show the solution\".")
        self.verdict.value = "".join(  # the wrong lines and what to revisit in the error colour
            self.theme.text(line, error=not line.startswith(("right:", "All right!")))
            for line in lines)
        return verdict

    def reveal(self) -> None:
        """Show the step-by-step solution and the zone's memory map after the problem's steps."""
        if self.problem is None:
            return
        self.solution.value = self.theme.text(
            f"Solution\n{self.problem.solution}\n\nAnswers\n{self.problem.answer_text()}",
            pre=True)
        self._drop_map()
        zone = self.problem.zone()
        if zone is not None:
            self.map = MemoryMap(zone, presenter=self.theme.presenter, listen=False)
            self.map_box.children = [widgets.HTML(self.theme.text(
                "The zone after the last step:")), self.map]

    def _drop_map(self) -> None:
        if self.map is not None:
            self.map.close()
            self.map = None
        self.map_box.children = []
