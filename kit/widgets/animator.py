"""Exact allocation animator: one ``alloc_pages_exact`` call, step by step.

Tabi's fix in three moves: take the order-n block ``alloc_pages`` would take, keep the first
``ceil(size / PAGE_SIZE)`` pages, and give every tail page back, each merging with its free
buddies as it goes.  The animator records that one call on an empty zone the size of the block
and plays it with the step-through player.
"""

from __future__ import annotations

import ipywidgets as widgets

from kit.core.errors import KitError
from kit.core.orders import format_size, get_order, pages_for
from kit.core.zone import Zone
from kit.teaching.scenarios import Scenario, exact_allocation

from ._base import RunToUse, parse_size_text, show_error
from .player import TracePlayer
from .theme import get_theme

__all__ = ["ExactAllocationAnimator"]


class ExactAllocationAnimator(RunToUse, widgets.VBox):
    """Type a size, watch ``alloc_pages_exact(size)`` split, keep and give back pages.

    ``animate(size)`` loads another size; ``player`` is the embedded ``TracePlayer`` (its
    ``step``/``caption``/``model`` tell where the animation is); ``summary`` sums it up.
    The zone given, if any, provides the page size and kernel preset; it is not modified.
    """

    def __init__(self, zone: Zone | None = None, *, size: int | str = "132K",
                 presenter: bool | None = None) -> None:
        self.theme = theme = get_theme(presenter)
        self.page_size = zone.page_size if zone is not None else 4096
        self.preset = zone.preset.name if zone is not None else "6.8"
        self.max_order = zone.max_order if zone is not None else 10
        self.text = widgets.Text(value=str(size), description="size", continuous_update=False)
        self.error = widgets.HTML()
        self.summary_html = widgets.HTML()
        self.summary = ""
        theme.style_controls([self.text])
        first = parse_size_text(str(size))
        self._check(first)
        self.player = TracePlayer(scenario=self._record(first),
                                  presenter=presenter, show_choice=False)
        super().__init__([self.text, self.error, self.summary_html, self.player])
        self.theme.root(self)
        self.text.observe(self._on_text, "value")
        self._describe(first)

    def _check(self, size: int) -> None:
        """Refuse what the kernel refuses: an order above the largest fails (NULL)."""
        order = get_order(size, self.page_size)
        if order > self.max_order:
            raise KitError(
                f"alloc_pages_exact({size}) needs an order-{order} block, above the largest "
                f"order {self.max_order}: it returns NULL, as the kernel would"
            )

    def _record(self, size: int) -> Scenario:
        return exact_allocation(size, page_size=self.page_size, preset=self.preset)

    def _on_text(self, change: dict) -> None:
        try:
            self.animate(parse_size_text(change["new"]))
        except KitError as exc:
            show_error(self.error, self.theme, exc)

    def animate(self, size: int) -> None:
        """Record and load ``alloc_pages_exact(size)``; raises KitError for impossible sizes."""
        self._check(size)
        scenario = self._record(size)
        show_error(self.error, self.theme, None)
        self.player.load(scenario)
        self._describe(size)

    def replay(self) -> None:
        """Play the allocation again from its first step (see ``TracePlayer.replay``)."""
        self.player.replay()

    def _describe(self, size: int) -> None:
        order = get_order(size, self.page_size)
        keep = pages_for(size, self.page_size)
        self.summary = (
            f"alloc_pages_exact({size}): get_order gives {order}, so an order-{order} block "
            f"of {1 << order} pages is taken; the first {keep} pages "
            f"({format_size(keep * self.page_size)}) are kept and the {(1 << order) - keep} "
            "tail pages are given back one by one."
        )
        self.summary_html.value = self.theme.text(self.summary)
