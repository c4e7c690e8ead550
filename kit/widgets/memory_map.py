"""Memory map: every page of a zone as a grid cell coloured by its state.

Free blocks are green, darker for higher orders; allocated blocks red; the pages an exact
allocation keeps purple, and the tail pages it gave back yellow (until they are allocated again
or their allocation is freed).  Each block is outlined so its boundaries, and therefore the
buddy structure, are visible.  Clicking a cell shows its pfn, block, order and owner.

A zone of a million pages cannot be sent to a browser page by page.  Above ``cell_budget`` cells
each cell covers 2**k pages and takes the colour of the state covering most of it, with the
fraction of free pages in the click text.  The per-cell counts are computed with numpy from the
blocks (not the pages), so an update costs O(blocks + cells): see bench/bench_memory_map.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from .. import events as ev
from ..events import Event
from ..zone import Zone
from ._base import ZoneListener
from .theme import Theme, get_theme

__all__ = ["MemoryMap", "PageSource"]

DEFAULT_CELL_BUDGET = 4096


class PageSource(Protocol):
    """What the map reads: a ``kit.Zone`` or ``kit.scenarios.EventModel``."""

    nr_pages: int
    start_pfn: int
    max_order: int

    def free_blocks(self) -> Iterator[tuple[int, int]]: ...
    def allocations(self) -> Iterator[tuple[int, int, int | None]]: ...
    def pcp_lists(self) -> dict[int, list[int]]: ...
    def block_at(self, pfn: int) -> tuple[str, int, int] | None: ...


class MemoryMap(ZoneListener, widgets.VBox):
    """The zone's pages as a bqplot grid, redrawn after each operation on the zone.

    ``pages_per_cell``, ``rows`` and ``columns`` give the layout; ``states`` is the grid of
    state codes last drawn (``state_names`` names them); ``describe_cell(row, column)`` is the
    text shown for a clicked cell; ``draw(source, highlight)`` draws any ``PageSource`` with
    highlighted (pfn, pages) ranges, which the player and the animator use.
    """

    def __init__(self, zone: Zone | None = None, *, presenter: bool | None = None,
                 cell_budget: int = DEFAULT_CELL_BUDGET, columns: int | None = None,
                 listen: bool = True) -> None:
        zone = zone if zone is not None else Zone(1024)
        self.theme = theme = get_theme(presenter)
        self.max_order = zone.max_order
        self.pages_per_cell = 1
        while -(-zone.nr_pages // self.pages_per_cell) > cell_budget:
            self.pages_per_cell *= 2
        self.cells = -(-zone.nr_pages // self.pages_per_cell)
        self.columns = columns or 1 << ((max(self.cells, 1) - 1).bit_length() + 1) // 2
        self.rows = -(-self.cells // self.columns)
        m = self.max_order
        self.ALLOCATED, self.EXACT, self.TRIMMED, self.PCP, self.OUTSIDE = range(m + 1, m + 6)
        self.state_names = [f"free, order {o}" for o in range(m + 1)] + [
            "allocated", "allocated (exact, kept)", "tail given back by an exact allocation",
            "on the per-CPU list", "outside the zone"]
        self.states = np.zeros((self.rows, self.columns), dtype=np.int16)
        self.free_fraction = np.zeros(self.rows * self.columns)
        self._owners: dict[int, int] = {}
        self._trimmed: dict[int, int] = {}  # tail pfn -> pfn of the exact allocation
        self._last_alloc = -1
        self._source: PageSource = zone
        self._build_marks(theme)
        self.info = widgets.HTML(theme.text("Point at a cell (or click it) to see its page frame."))
        self.legend = widgets.HTML(self._legend_html())
        super().__init__([self.figure, self.info, self.legend])
        self.grid.observe(self._on_select, "selected")
        if listen:
            self._listen(zone)
        else:
            self.zone, self._unsubscribe = zone, None
        self.draw(zone)

    # ----------------------------------------------------------------------------- building
    def _palette(self, theme: Theme) -> list[str]:
        """One colour per state code: greens for the free orders, then the other states."""
        low, high = np.array(_rgb(theme.free_low)), np.array(_rgb(theme.free_high))
        steps = max(self.max_order, 1)
        greens = ["#" + "".join(f"{int(round(c)):02x}" for c in low + (high - low) * o / steps)
                  for o in range(self.max_order + 1)]
        return greens + [theme.allocated, theme.exact, theme.trimmed, theme.pcp, theme.outside]

    def _build_marks(self, theme: Theme) -> None:
        self.palette = self._palette(theme)
        x_scale = bq.LinearScale(min=0, max=self.columns)
        y_scale = bq.LinearScale(min=0, max=self.rows, reverse=True)
        color_scale = bq.ColorScale(min=0, max=len(self.palette) - 1, colors=self.palette)
        self.grid = bq.GridHeatMap(
            color=self.states.astype(np.float32), row=np.arange(self.rows + 1, dtype=np.float32),
            column=np.arange(self.columns + 1, dtype=np.float32),
            scales={"row": y_scale, "column": x_scale, "color": color_scale},
            interactions={"click": "select"}, stroke="white" if self.cells <= 1024 else None,
            selected_style={"stroke": theme.highlight, "stroke-width": "3"},
        )
        self.outlines = bq.Lines(x=[], y=[], scales={"x": x_scale, "y": y_scale},
                                 colors=[theme.text_color], stroke_width=1.5 if
                                 theme.presenter else 1.0, interactions={})
        self.highlights = bq.Lines(x=[], y=[], scales={"x": x_scale, "y": y_scale},
                                   colors=[theme.highlight], stroke_width=3 * theme.stroke_width)
        # bqplot's grid sends no hover events, so an invisible square per cell, on top, gives
        # the tooltip: hovering one asks Python for ``describe_cell`` (see _on_hover).
        rows, cols = np.divmod(np.arange(self.rows * self.columns), self.columns)
        self.cell_tooltip = widgets.HTML(layout=widgets.Layout(padding="4px", max_width="420px"))
        self.hover = bq.Scatter(
            x=(cols + 0.5).astype(np.float32), y=(rows + 0.5).astype(np.float32),
            scales={"x": x_scale, "y": y_scale}, marker="square",
            default_size=max(int((340 / max(self.columns, self.rows)) ** 2), 9),
            colors=["transparent"], tooltip=self.cell_tooltip,
            enable_hover=True,
            interactions={"hover": "tooltip", "click": "select"},
        )
        self.hover.on_hover(self._on_hover)
        self.hover.on_element_click(self._on_click)
        per = "" if self.pages_per_cell == 1 else f" ({self.pages_per_cell} pages per cell)"
        self.figure = theme.style_figure(bq.Figure(
            marks=[self.grid, self.outlines, self.highlights, self.hover],
            title=f"Memory map: pfn {self._source.start_pfn}.."
                  f"{self._source.start_pfn + self._source.nr_pages - 1}{per}",
            padding_x=0, padding_y=0, animation_duration=0,
            fig_margin={"top": 50, "bottom": 10, "left": 10, "right": 10},
        ))
        self.figure.layout.height = "520px" if theme.presenter else "420px"
        self.figure.layout.width = self.figure.layout.height

    def _legend_html(self) -> str:
        names = self.state_names[:-1]
        shown = [0, self.max_order, *range(self.max_order + 1, len(names))]
        items = "".join(
            f'<span style="display:inline-block;width:1em;height:1em;background:'
            f'{self.palette[code]};border:1px solid #888;margin:0 4px 0 10px"></span>'
            f"{names[code]}" for code in shown)
        return self.theme.html(items)

    # ------------------------------------------------------------------------------ events
    def on_event(self, event: Event) -> None:
        """Remember tail pages given back by exact allocations (the zone forgets them)."""
        if event.kind == ev.ALLOC:
            self._last_alloc = event.pfn
            for pfn in range(event.pfn, event.pfn + (1 << event.order)):
                self._trimmed.pop(pfn, None)
        elif event.kind == ev.TRIM:
            self._trimmed[event.pfn] = self._last_alloc

    def refresh(self) -> None:
        """Redraw from the zone."""
        self.draw(self.zone)

    def reset(self) -> None:
        """Forget remembered tail pages (after a ``zone.restore``) and redraw."""
        self._trimmed.clear()
        self.refresh()

    # ----------------------------------------------------------------------------- drawing
    def draw(self, source: PageSource | None = None,
             highlight: Iterable[tuple[int, int]] = (),
             trimmed: dict[int, int] | None = None) -> None:
        """Draw ``source`` (default: the zone) and outline the highlighted (pfn, pages) ranges.

        ``trimmed`` (tail pfn -> owner) replaces the tails this map remembered from events.
        """
        source = self._source = source if source is not None else self.zone
        trimmed = self._trimmed if trimmed is None else trimmed
        starts, lengths, codes = self._blocks(source, trimmed)
        coverage = self._coverage(starts, lengths, codes)
        free_pages = coverage[: self.max_order + 1].sum(axis=0) + coverage[self.TRIMMED]
        self.free_fraction = free_pages / self.pages_per_cell
        self.states = coverage.argmax(axis=0).astype(np.int16).reshape(self.rows, self.columns)
        keep = lengths >= self.pages_per_cell
        outline_x, outline_y = self._rectangles(starts[keep], lengths[keep])
        high_x, high_y = self._rectangles(*self._offsets(highlight))
        with self.figure.hold_sync():
            self.grid.color = self.states.astype(np.float32)
            self.outlines.x, self.outlines.y = outline_x, outline_y
            self.highlights.x, self.highlights.y = high_x, high_y

    def _offsets(self, ranges: Iterable[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        pairs = [(pfn - self._source.start_pfn, pages) for pfn, pages in ranges]
        starts = np.array([p[0] for p in pairs], dtype=np.int64)
        return starts, np.array([p[1] for p in pairs], dtype=np.int64)

    def _blocks(self, source: PageSource,
                trimmed: dict[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every block as (page offset, pages, state code) arrays."""
        free = np.array(list(source.free_blocks()), dtype=np.int64).reshape(-1, 2)
        allocs = list(source.allocations())
        self._owners = {pfn: owner for pfn, _, owner in allocs if owner is not None}
        alloc = np.array([(pfn, order, self.ALLOCATED if owner is None else self.EXACT)
                          for pfn, order, owner in allocs], dtype=np.int64).reshape(-1, 3)
        pcp = np.array([(pfn, order, self.PCP) for order, pfns in source.pcp_lists().items()
                        for pfn in pfns], dtype=np.int64).reshape(-1, 3)
        live_owners = set(self._owners.values())
        tails = [pfn for pfn, owner in trimmed.items() if owner in live_owners]
        tail_rows = []
        for pfn in tails:  # a tail is drawn over the free block it merged into
            block = source.block_at(pfn)
            if block is not None and block[0] == "free":
                tail_rows.append((pfn, self.TRIMMED, block[2]))
        start = source.start_pfn
        starts = np.concatenate([free[:, 0], alloc[:, 0], pcp[:, 0]]) - start
        lengths = np.left_shift(1, np.concatenate([free[:, 1], alloc[:, 1], pcp[:, 1]]))
        codes = np.concatenate([free[:, 1], alloc[:, 2], pcp[:, 2]])
        padding = self.rows * self.columns * self.pages_per_cell - source.nr_pages
        extra_s, extra_l, extra_c = [], [], []
        if padding:
            extra_s, extra_l, extra_c = [source.nr_pages], [padding], [self.OUTSIDE]
        for pfn, code, order in tail_rows:
            extra_s += [pfn - start, pfn - start]
            extra_l += [1, -1]  # one page moves from its free order to "trimmed"
            extra_c += [code, order]
        return (np.concatenate([starts, np.array(extra_s, dtype=np.int64)]),
                np.concatenate([lengths, np.array(extra_l, dtype=np.int64)]),
                np.concatenate([codes, np.array(extra_c, dtype=np.int64)]))

    def _coverage(self, starts: np.ndarray, lengths: np.ndarray,
                  codes: np.ndarray) -> np.ndarray:
        """Pages of each state in each cell: an array (states, cells), O(blocks + cells).

        A block adds its pages to the first and last cell it touches directly and to the cells
        in between through a difference array (a cumulative sum), so a huge free block costs
        the same as a small one.  A negative length subtracts one page (trimmed tails).
        """
        p = self.pages_per_cell
        total = self.rows * self.columns
        nstates = len(self.state_names)
        sign = np.sign(lengths)
        size = np.abs(lengths)
        first = starts // p
        last = (starts + size - 1) // p
        same = first == last
        flat = np.zeros(nstates * (total + 1), dtype=np.int64)
        diff = np.zeros(nstates * (total + 1), dtype=np.int64)
        base = codes * (total + 1)
        np.add.at(flat, base[same] + first[same], (sign * size)[same])
        wide = ~same
        head = (first[wide] + 1) * p - starts[wide]
        tail = starts[wide] + size[wide] - last[wide] * p
        np.add.at(flat, base[wide] + first[wide], sign[wide] * head)
        np.add.at(flat, base[wide] + last[wide], sign[wide] * tail)
        np.add.at(diff, base[wide] + first[wide] + 1, sign[wide] * p)
        np.add.at(diff, base[wide] + last[wide], -sign[wide] * p)
        coverage = flat.reshape(nstates, total + 1) + np.cumsum(
            diff.reshape(nstates, total + 1), axis=1)
        return coverage[:, :total]

    def _rectangles(self, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, ...]:
        """Closed outlines (5 points each) around page ranges, vectorised with numpy.

        A range of cells in the row-major grid is at most three rectangles: the rest of its
        first row, a band of whole rows, and the start of its last row.  (Buddy blocks are
        aligned, so in practice each is one rectangle.)
        """
        p, width = self.pages_per_cell, self.columns
        first = starts // p
        length = np.maximum(lengths // p, 1)
        row, col = np.divmod(first, width)
        head = np.where((col > 0) | (length < width), np.minimum(length, width - col), 0)
        rest = length - head
        band_row = (first + head) // width
        bands, tail = np.divmod(rest, width)
        pieces = [  # (mask, x0, x1, y0, y1)
            (head > 0, col, col + head, row, row + 1),
            (bands > 0, 0 * col, 0 * col + width, band_row, band_row + bands),
            (tail > 0, 0 * col, tail, band_row + bands, band_row + bands + 1),
        ]
        boxes = np.concatenate([np.stack([x0[m], x1[m], y0[m], y1[m]], axis=1)
                                for m, x0, x1, y0, y1 in pieces]).astype(np.float32)
        xs = boxes[:, [0, 1, 1, 0, 0]]
        ys = boxes[:, [2, 2, 3, 3, 2]]
        return np.ascontiguousarray(xs), np.ascontiguousarray(ys)

    # ---------------------------------------------------------------------------- inspecting
    def _cell_of(self, content: dict) -> tuple[int, int] | None:
        index = content.get("data", {}).get("index", content.get("index"))
        if index is None:
            return None
        return divmod(int(index), self.columns)

    def _on_hover(self, _mark: bq.Scatter, content: dict) -> None:
        cell = self._cell_of(content)
        if cell is not None:
            self.cell_tooltip.value = self.theme.text(self.describe_cell(*cell))

    def _on_click(self, _mark: bq.Scatter, content: dict) -> None:
        cell = self._cell_of(content)
        if cell is not None:
            self.info.value = self.theme.text(self.describe_cell(*cell))

    def _on_select(self, change: dict) -> None:
        selected = change["new"]
        if selected is not None and len(selected):
            row, column = (int(v) for v in np.asarray(selected)[-1])
            self.info.value = self.theme.text(self.describe_cell(row, column))

    def describe_cell(self, row: int, column: int) -> str:
        """What a cell holds: pfn, state, block, order and owner (or, aggregated, a summary)."""
        cell = row * self.columns + column
        first = self._source.start_pfn + cell * self.pages_per_cell
        state = self.state_names[int(self.states.reshape(-1)[cell])]
        if cell >= self.cells:
            return "outside the zone"
        if self.pages_per_cell > 1:
            fraction = float(self.free_fraction[cell])
            return (f"pfns {first}..{first + self.pages_per_cell - 1}: mostly {state}; "
                    f"{fraction:.0%} free")
        block = self._source.block_at(first)
        if block is None:
            return f"pfn {first}: {state}"
        kind, head, order = block
        text = f"pfn {first}: {state}; {kind} order-{order} block at pfn {head}"
        owner = self._owners.get(first)
        if owner is not None:
            text += f"; owner: the exact allocation at pfn {owner}"
        return text


def _rgb(color: str) -> Sequence[int]:
    color = color.lstrip("#")
    return [int(color[i:i + 2], 16) for i in (0, 2, 4)]
