"""Memory map: every page of a zone as a grid cell coloured by its state.

Free blocks are blue, darker for higher orders; allocated blocks vermillion; the pages an exact
allocation keeps brown, and the tail pages it gave back yellow (until they are allocated again
or their allocation is freed): colours a reader with red-green colour blindness tells apart.
Each block is outlined so its boundaries, and therefore the buddy structure, are visible.
Clicking a cell shows its pfn, block, order and owner.

A zone of a million pages cannot be sent to a browser page by page.  Above ``cell_budget`` cells
each cell covers 2**k pages and takes the colour of the state covering most of it, with the
fraction of free pages in the click text.

Two ways to compute the map (see bench/bench_memory_map.py for the costs):

* a full recompute (first draw, ``refresh``, ``reset``, ``draw`` of any ``PageSource``): the
  per-cell page counts are computed with numpy from the blocks (not the pages), O(blocks + cells);
* an incremental update after the events of the followed zone: the map keeps each page's state
  (one byte), each cell's page count per state, and the outlined block that starts in each cell;
  every event changes the counts of the pages it covers, and only the changed cells' colours are
  recomputed, O(pages touched).  A ``zone.restore`` (seen as the zone's lists being replaced) or
  a very long batch of events falls back to a full recompute.
"""

from __future__ import annotations

import itertools
import operator
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Protocol

import ipywidgets as widgets

from kit.core import events as ev
from kit.core.events import Event
from kit.core.zone import Zone

from ._base import Redraw, RunToUse, ZoneListener
from ._deferred import bq, np
from .theme import Theme, get_theme, rgb

__all__ = ["MemoryMap", "PageSource", "outline_boxes"]

DEFAULT_CELL_BUDGET = 4096
#: Events queued between two redraws beyond which a full recompute is cheaper.
DEFAULT_QUEUE_LIMIT = 20_000

# Queued actions (see MemoryMap.on_event): set a page range's state, read it from the zone, or
# read a tail page given back by an exact allocation (and the kept pages before it).
_SET, _WALK, _TRIM = range(3)
#: Pages moved by one batch's ``_SET`` actions beyond which they are replayed one by one
#: rather than reduced to each page's last state (see MemoryMap._set_final).
_COALESCE_LIMIT = 1 << 21
#: Events after which the block is on no list until a later event of the same operation.
_TO_LIMBO = frozenset({ev.TAKE, ev.FREE, ev.PCP_TAKE})


class PageSource(Protocol):
    """What the map reads: a ``kit.Zone`` or ``kit.teaching.scenarios.EventModel``."""

    nr_pages: int
    start_pfn: int
    max_order: int

    def free_blocks(self) -> Iterator[tuple[int, int]]: ...
    def allocations(self) -> Iterator[tuple[int, int, int | None]]: ...
    def pcp_lists(self) -> dict[int, list[int]]: ...
    def block_at(self, pfn: int) -> tuple[str, int, int] | None: ...


class MemoryMap(RunToUse, ZoneListener, widgets.VBox):
    """The zone's pages as a bqplot grid, redrawn after each operation on the zone.

    ``pages_per_cell``, ``rows`` and ``columns`` give the layout; ``states`` is the grid of
    state codes last drawn (``state_names`` names them); ``describe_cell(row, column)`` is the
    text shown for a clicked cell; ``draw(source, highlight)`` draws any ``PageSource`` with
    highlighted (pfn, pages) ranges, which the player and the animator use.

    Following its zone, the map applies each operation's events to the pages they cover
    (``on_event``, then one ``_update`` per batch); ``draw``, ``refresh`` and ``reset`` recompute
    everything.  More than ``queue_limit`` events in one batch also recompute everything.
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
            "on the per-CPU list", "outside the zone",
            "taken off the free lists, not yet handed out (between two steps of a call)"]
        #: A page on no list, between two events of one operation: the step-through player
        #: shows it; a map following a zone never does once the operation has ended.
        self.NONE = len(self.state_names) - 1
        self.states = np.zeros((self.rows, self.columns), dtype=np.int16)
        self.free_fraction = np.zeros(self.rows * self.columns)
        self.queue_limit = DEFAULT_QUEUE_LIMIT
        self._owners: dict[int, int] = {}  # pfn -> its exact allocation, for kept pages
        self._owner_pages: dict[int, int] = {}  # exact allocation -> pages it still keeps
        self._trimmed: dict[int, int] = {}  # tail pfn -> pfn of the exact allocation
        self._tails_of: dict[int, set[int]] = {}  # the same, by exact allocation
        self._tail_dirty: set[int] = set()
        self._last_alloc = -1
        self._live = False  # the incremental state below follows the zone
        self._queue: list[tuple[int, int, int, int]] = []
        self._rewalk: list[tuple[int, int]] = []
        self._counts = np.zeros((self.rows * self.columns, self.NONE + 1), dtype=np.int64)
        self._source: PageSource = zone
        self._build_marks(theme)
        # text as wide as the map, so that the map and a chart beside it fit side by side
        beside = widgets.Layout(max_width=self.figure.layout.width)
        self.info = widgets.HTML(theme.text("Point at a cell (or click it) to see its page frame."),
                                 layout=beside)
        self.legend = widgets.HTML(self._legend_html(), layout=beside)
        super().__init__([self.figure, self.info, self.legend])
        self.theme.root(self)
        self.grid.observe(self._on_select, "selected")
        if listen:
            self._listen(zone)
        else:
            self.zone, self._unsubscribe = zone, None
        self.draw(zone)

    # ----------------------------------------------------------------------------- building
    def _build_marks(self, theme: Theme) -> None:
        self.palette = theme.map_palette(self.max_order)
        x_scale = bq.LinearScale(min=0, max=self.columns)
        y_scale = bq.LinearScale(min=0, max=self.rows, reverse=True)
        color_scale = bq.ColorScale(min=0, max=len(self.palette) - 1, colors=self.palette)
        self.grid = bq.GridHeatMap(
            color=self.states.astype(np.float32), row=np.arange(self.rows + 1, dtype=np.float32),
            column=np.arange(self.columns + 1, dtype=np.float32),
            scales={"row": y_scale, "column": x_scale, "color": color_scale},
            interactions={"click": "select"},
            stroke=theme.cell_stroke if self.cells <= 1024 else None,
            selected_style={"stroke": theme.highlight, "stroke-width": "3"},
        )
        #: The page ranges the outlines mark was last drawn from, and the data it was given.
        self._outline_ranges: tuple[np.ndarray, np.ndarray, object] | None = None
        self.outlines = bq.Lines(x=[], y=[], scales={"x": x_scale, "y": y_scale},
                                 colors=[theme.outline], stroke_width=1.5 if
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
        """A key to every colour the map uses: one swatch per free order (numbered), the
        other states, and the outlines."""
        def swatch(color: str, label: str = "", border: str = "#888") -> str:
            text = "#fff" if label and _dark(color) else "#000"
            return (f'<span style="display:inline-block;min-width:1.4em;height:1.4em;'
                    f"line-height:1.4em;text-align:center;background:{color};color:{text};"
                    f'border:1px solid {border};margin:0 1px">{label}</span>')

        orders = "".join(swatch(self.palette[o], str(o)) for o in range(self.max_order + 1))
        items = [f"free block of order {orders}"]
        items += [f"{swatch(self.palette[code])} {self.state_names[code]}"
                  for code in range(self.max_order + 1, self.NONE + 1)]
        # on a cell's colour, as on the map: a dark outline alone vanishes on a dark page
        items.append(f"{swatch(self.palette[0], border=self.theme.outline)} outline: one "
                     "block (buddy boundaries)")
        items.append(f"{swatch('transparent', border=self.theme.highlight)} thick outline: "
                     "what the current step touched (player)")
        cell = "" if self.pages_per_cell == 1 else (
            f"<br>Each cell is {self.pages_per_cell} pages, coloured by the state covering most "
            "of them.")
        entries = "".join(f'<span style="display:inline-block;margin:2px 14px 2px 0">{item}'
                          "</span>" for item in items)
        return self.theme.html(entries + cell)

    # ------------------------------------------------------------------------------ events
    def _listen(self, zone: Zone) -> None:
        """Follow the zone: events update the map incrementally (``_update``), not ``refresh``."""
        super()._listen(zone)
        self._redraw = Redraw(self._update)

    def on_event(self, event: Event) -> None:
        """Note what the event changes; the coalesced redraw (``_update``) applies it.

        Tail pages given back by exact allocations are remembered here (the zone forgets them).
        Every event that moves pages between states queues one action on its page range:
        ``_SET`` when the event says the pages' new state (a block taken from or put on a list,
        merged, freed, on or off a per-CPU list), ``_WALK`` when it is read from the zone at
        redraw time (allocations, whose exact owners the zone sets after the event).
        """
        kind, pfn, order = event.kind, event.pfn, event.order
        if kind == ev.ALLOC:
            self._last_alloc = pfn
            if self._trimmed:
                end = pfn + (1 << order)
                pages = (range(pfn, end) if end - pfn <= len(self._trimmed) else
                         [p for p in self._trimmed if pfn <= p < end])
                for page in pages:
                    owner = self._trimmed.pop(page, None)
                    if owner is not None:
                        self._tails_of.get(owner, set()).discard(page)
                        self._tail_dirty.add(page)
        elif kind == ev.TRIM:
            old = self._trimmed.get(pfn)
            if old is not None:
                self._tails_of.get(old, set()).discard(pfn)
            self._trimmed[pfn] = self._last_alloc
            self._tails_of.setdefault(self._last_alloc, set()).add(pfn)
            self._tail_dirty.add(pfn)
        if not self._live:
            return
        queue = self._queue
        offset = pfn - self.zone.start_pfn
        if kind in _TO_LIMBO:  # the block is on no list until a later event puts it somewhere
            queue.append((_SET, offset, 1 << order, self.NONE))
        elif kind == ev.PUT:
            queue.append((_SET, offset, 1 << order, order))
        elif kind == ev.MERGE and event.other is not None:
            queue.append((_SET, min(offset, event.other - self.zone.start_pfn), 2 << order,
                          self.NONE))
        elif kind == ev.PCP_PUT:
            queue.append((_SET, offset, 1 << order, self.PCP))
        elif kind in (ev.ALLOC, ev.SPLIT_PAGE):
            queue.append((_WALK, offset, 1 << order, 1))
        elif kind == ev.TRIM:
            queue.append((_TRIM, offset, 1, 0))
        if len(queue) > self.queue_limit:  # cheaper to recompute everything at the redraw
            self._live = False
            queue.clear()

    def refresh(self) -> None:
        """Redraw from the zone (a full recompute)."""
        self.draw(self.zone)

    def reset(self) -> None:
        """Forget remembered tail pages (after a ``zone.restore``) and redraw."""
        self._trimmed.clear()
        self._tails_of.clear()
        self.refresh()

    # ----------------------------------------------------------------------------- drawing
    def draw(self, source: PageSource | None = None,
             highlight: Iterable[tuple[int, int]] = (),
             trimmed: dict[int, int] | None = None) -> None:
        """Draw ``source`` (default: the zone) and outline the highlighted (pfn, pages) ranges.

        ``trimmed`` (tail pfn -> owner) replaces the tails this map remembered from events.
        This is a full recompute, O(blocks + cells); drawing the followed zone itself (no
        ``trimmed``) also rebuilds the per-page state the incremental updates start from.
        """
        source = self._source = source if source is not None else self.zone
        live = source is self.zone and trimmed is None
        trimmed = self._trimmed if trimmed is None else trimmed
        blocks, tails = self._blocks(source, trimmed)
        starts, lengths, codes = blocks
        tail_starts = tails[0]
        counts = self._coverage(
            np.concatenate([starts, tail_starts, tail_starts]),
            np.concatenate([lengths, np.ones_like(tail_starts), -np.ones_like(tail_starts)]),
            np.concatenate([codes, np.full_like(tail_starts, self.TRIMMED), tails[1]]))
        counts = np.vstack([counts, self.pages_per_cell - counts.sum(axis=0)]).T
        self._counts = np.ascontiguousarray(counts, dtype=np.int64)
        self._live = live and getattr(self, "_unsubscribe", None) is not None
        self._queue.clear()
        self._rewalk = []
        self._tail_dirty.clear()
        if self._live:
            self._build_pages(starts, lengths, codes)
        outline = lengths >= self.pages_per_cell
        outline_starts, outline_lengths = starts[outline], lengths[outline]
        if self.pages_per_cell == 1:
            outline_starts = np.concatenate([outline_starts, tail_starts])
            outline_lengths = np.concatenate([outline_lengths, np.ones_like(tail_starts)])
        states, free = self._cell_states(self._counts)
        self._show(states, free, _sorted_ranges(outline_starts, outline_lengths),
                   self._rectangles(*self._offsets(highlight)))

    def _show(self, states: np.ndarray, free: np.ndarray,
              outlines: tuple[np.ndarray, np.ndarray] | None,
              highlights: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Set the marks' data; ``None`` (or unchanged data) sends nothing for that mark."""
        states = states.reshape(self.rows, self.columns)
        changed = not _same(self.grid.color, states.astype(np.float32))
        self.states, self.free_fraction = states, free
        if outlines is not None and self._drew_outlines(*outlines):
            outlines = None  # most events change no outline: no rectangles worked out again
        if outlines is not None:
            ranges = outlines
            outline_x, outline_y = (_path(a) for a in self._rectangles(*outlines))
            if _same(self.outlines.x, outline_x) and _same(self.outlines.y, outline_y):
                outlines = None
                self._outline_ranges = (*ranges, self.outlines.x)
        # one message per mark (a figure's hold_sync does not hold its marks' traits)
        if changed:
            self.grid.color = self.states.astype(np.float32)
        if outlines is not None:
            with self.outlines.hold_sync():
                self.outlines.x, self.outlines.y = outline_x, outline_y
            self._outline_ranges = (*ranges, self.outlines.x)
        if highlights is not None:
            with self.highlights.hold_sync():
                self.highlights.x, self.highlights.y = (_path(a) for a in highlights)

    def _drew_outlines(self, starts: np.ndarray, lengths: np.ndarray) -> bool:
        """Whether the outlines mark still shows the outlines of these page ranges (the ranges
        it was last drawn from, and nothing has set its data since)."""
        drawn = self._outline_ranges
        return (drawn is not None and self.outlines.x is drawn[2]
                and np.array_equal(starts, drawn[0]) and np.array_equal(lengths, drawn[1]))

    def _cell_states(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each cell's state (the one covering most pages) and free fraction, from its counts."""
        m = self.max_order
        states = counts[:, :self.NONE + 1].argmax(axis=1).astype(np.int16)
        free = (counts[:, :m + 1].sum(axis=1) + counts[:, self.TRIMMED]) / self.pages_per_cell
        return states, free

    def _offsets(self, ranges: Iterable[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        pairs = [(pfn - self._source.start_pfn, pages) for pfn, pages in ranges]
        starts = np.array([p[0] for p in pairs], dtype=np.int64)
        return starts, np.array([p[1] for p in pairs], dtype=np.int64)

    def _blocks(self, source: PageSource, trimmed: dict[int, int]
                ) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, np.ndarray]]:
        """Every block as (page offset, pages, state code) arrays, the padding included; and
        the tail pages drawn as given back, as (page offset, free order of their block).

        Python runs once per block only to list them (the source's iterators); each tail is
        matched to the free block that holds it by one binary search over all of them (asking
        the source's ``block_at`` for each tail cost more than the rest of a redraw)."""
        start = source.start_pfn
        free = np.array(list(source.free_blocks()), dtype=np.int64).reshape(-1, 2)
        allocs = list(source.allocations())
        pfns, orders, owners = zip(*allocs, strict=True) if allocs else ((), (), ())
        self._owners = {pfn: owner for pfn, owner in zip(pfns, owners, strict=True)
                        if owner is not None}
        exact = np.fromiter(map(operator.is_not, owners, itertools.repeat(None)), dtype=bool,
                            count=len(allocs))
        alloc_starts = np.array(pfns, dtype=np.int64) - start
        alloc_orders = np.array(orders, dtype=np.int64)
        pcp = np.array([(pfn, order) for order, pfns in source.pcp_lists().items()
                        for pfn in pfns], dtype=np.int64).reshape(-1, 2)
        self._owner_pages = dict(Counter(self._owners.values()))
        free_starts, free_orders = free[:, 0] - start, free[:, 1]
        tail_array = self._tails_on_free_blocks(
            np.array([pfn for pfn, owner in trimmed.items() if owner in self._owner_pages],
                     dtype=np.int64) - start, free_starts, free_orders)
        starts = np.concatenate([free_starts, alloc_starts, pcp[:, 0] - start])
        lengths = np.left_shift(1, np.concatenate([free_orders, alloc_orders, pcp[:, 1]]))
        codes = np.concatenate([free_orders, np.where(exact, self.EXACT, self.ALLOCATED),
                                np.full(len(pcp), self.PCP)])
        padding = self.rows * self.columns * self.pages_per_cell - source.nr_pages
        if padding:
            starts = np.append(starts, source.nr_pages)
            lengths = np.append(lengths, padding)
            codes = np.append(codes, self.OUTSIDE)
        return (starts, lengths, codes), tail_array

    @staticmethod
    def _tails_on_free_blocks(tails: np.ndarray, free_starts: np.ndarray,
                              free_orders: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The tails (page offsets) that lie in a free block, with that block's order: a
        tail is drawn over the free block it merged into, not while it is allocated or on a
        per-CPU list.  (Free blocks never overlap, so the one starting last at or before a
        tail is the only one that can hold it.)"""
        if not len(tails) or not len(free_starts):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        by_start = np.argsort(free_starts)
        before = np.searchsorted(free_starts, tails, side="right", sorter=by_start) - 1
        block = by_start[np.maximum(before, 0)]
        held = (before >= 0) & (tails < free_starts[block] + (1 << free_orders[block]))
        return tails[held], free_orders[block[held]]

    def _coverage(self, starts: np.ndarray, lengths: np.ndarray,
                  codes: np.ndarray) -> np.ndarray:
        """Pages of each state in each cell: an array (states, cells), O(blocks + cells).

        A block adds its pages to the first and last cell it touches directly and to the cells
        in between through a difference array (a cumulative sum), so a huge free block costs
        the same as a small one.  A negative length subtracts one page (trimmed tails).
        """
        p = self.pages_per_cell
        total = self.rows * self.columns
        nstates = self.NONE  # the pages of no block (NONE) are what is left of each cell
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

    # ------------------------------------------------------------------ incremental updates
    def _build_pages(self, starts: np.ndarray, lengths: np.ndarray, codes: np.ndarray) -> None:
        """The per-page state the incremental updates keep: O(pages) numpy, O(blocks) Python.

        ``_base`` is each page's state code without the given-back overlay (``NONE``: on no
        list, between two events of one operation), ``_tail_live`` marks the given-back tail
        pages whose exact allocation is live, and ``_outline_start``/``_outline_len`` the one
        outlined block (``pages_per_cell`` pages or more) that can start in each cell.
        """
        total = self.rows * self.columns * self.pages_per_cell
        order = np.argsort(starts)
        starts, lengths, codes = starts[order], lengths[order], codes[order]
        ends = starts + lengths
        gaps = np.concatenate([starts, [total]]) - np.concatenate([[0], ends])
        if (gaps >= 0).all():  # the blocks tile the zone, with gaps between two events
            seg_len = np.empty(2 * len(starts) + 1, dtype=np.int64)
            seg_code = np.full(2 * len(starts) + 1, self.NONE, dtype=np.int8)
            seg_len[0::2], seg_len[1::2], seg_code[1::2] = gaps, lengths, codes
            self._base = np.repeat(seg_code, seg_len)
        else:  # pragma: no cover - only a source whose blocks overlap
            self._base = np.full(total, self.NONE, dtype=np.int8)
            for s, n, c in zip(starts, lengths, codes, strict=True):
                self._base[s:s + n] = c
        # every remembered tail whose exact allocation is live, drawn or not (it may be on a
        # per-CPU list now, and drawn as given back once it is on the buddy lists again)
        self._tail_live = np.zeros(total, dtype=bool)
        self._tails_of = {}
        first = self.zone.start_pfn
        for pfn, owner in self._trimmed.items():
            self._tails_of.setdefault(owner, set()).add(pfn)
            if owner in self._owner_pages and 0 <= pfn - first < total:
                self._tail_live[pfn - first] = True
        cells = self.rows * self.columns
        self._outline_start = np.full(cells, -1, dtype=np.int64)
        self._outline_len = np.zeros(cells, dtype=np.int64)
        wide = lengths >= self.pages_per_cell
        self._outline_start[starts[wide] // self.pages_per_cell] = starts[wide]
        self._outline_len[starts[wide] // self.pages_per_cell] = lengths[wide]
        self._zone_generation = self.zone.generation

    def _update(self) -> None:
        """The coalesced redraw after zone events: apply the queued actions, O(pages touched).

        Falls back to a full ``refresh`` when the map is not showing the followed zone, when
        too many events were queued, after a ``zone.restore`` nobody announced, or when the
        exact allocations changed with no event to say so (``make_alloc_exact`` of a whole
        block, which gives nothing back).
        """
        zone = self.zone
        if not self._live or zone.generation != self._zone_generation:
            self.refresh()
            return
        try:
            self._apply()
        except Exception:  # pragma: no cover - never leave a wrong picture: start afresh
            self._live = False
            self.refresh()
            return
        if len(zone.exact_owners()) != len(self._owners):
            self.refresh()

    def _apply(self) -> None:
        """Apply the queued actions and send the changed cells (see ``_update``)."""
        zone = self.zone
        self._changed: list[tuple[int, int]] = []
        self._touched: dict[int, bool] = {}
        queue, self._queue = self._queue, []
        rewalk, self._rewalk = self._rewalk, []
        self._walked: list[tuple[int, int]] = []
        start = zone.start_pfn
        # Every _SET first, then every walk: a walk reads the zone as it is now, so nothing may
        # overwrite what it read (a page taken in this batch from a block walked again would
        # otherwise stay "on no list").
        self._set_final([item for item in queue if item[0] == _SET])
        for offset, pages in rewalk:  # allocations split or given owners after their event
            self._walk_once(offset, offset + pages)
        for action, offset, pages, _code in queue:
            if action == _SET:
                continue
            if action == _WALK:
                self._walk_once(offset, offset + pages)
                self._rewalk.append((offset, pages))
            else:  # _TRIM: the kept pages of the exact allocation were split and owned
                owner = zone.exact_owners().get(start + offset - 1)
                if owner is not None and self._owners.get(start + offset - 1) != owner:
                    self._walk_once(owner - start, offset + 1)
                else:
                    self._walk_once(offset, offset + 1)
        self._recheck_stray()
        self._update_tails()
        if not self._changed:
            return
        cells = self.rows * self.columns
        first = np.array([s for s, _ in self._changed], dtype=np.int64) // self.pages_per_cell
        last = np.array([e - 1 for _, e in self._changed], dtype=np.int64) // self.pages_per_cell
        marks = np.zeros(cells + 1, dtype=np.int64)
        np.add.at(marks, first, 1)
        np.add.at(marks, last + 1, -1)
        dirty = np.flatnonzero(np.cumsum(marks[:cells]) > 0)
        states, free = self.states.reshape(-1).copy(), self.free_fraction.copy()
        states[dirty], free[dirty] = self._cell_states(self._counts[dirty])
        self._show(states, free, self._live_outlines())

    def _set_final(self, sets: list[tuple[int, int, int, int]]) -> None:
        """Apply ``_SET`` actions, each page once, in the state the last one covering it set.

        An operation moves the same pages many times (a tail page given back is put, merged,
        merged again...); only where each page ends up matters.  The walks (which read the
        zone as it is now) come after, so their pages end up as the zone says whatever the
        order.  Pages are sorted by (page, action) with numpy: one ``_set`` per run of pages
        left by the same action, instead of one per action.
        """
        if len(sets) < 2:
            for _action, offset, pages, code in sets:
                self._set(offset, offset + pages, code)
            return
        table = np.array(sets, dtype=np.int64)
        starts, lengths, codes = table[:, 1], table[:, 2], table[:, 3]
        total = int(lengths.sum())
        if total > _COALESCE_LIMIT:  # expanding to pages would cost more than replaying
            for offset, pages, code in zip(starts.tolist(), lengths.tolist(), codes.tolist(),
                                           strict=True):
                self._set(offset, offset + pages, code)
            return
        action = np.repeat(np.arange(len(sets)), lengths)
        pages = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
        order = np.lexsort((action, pages))
        pages, action = pages[order], action[order]
        last = np.append(pages[1:] != pages[:-1], True)  # the last action on each page
        pages, action = pages[last], action[last]
        breaks = np.flatnonzero((pages[1:] != pages[:-1] + 1) | (action[1:] != action[:-1])) + 1
        run_starts = np.concatenate([[0], breaks])
        run_ends = np.concatenate([breaks, [len(pages)]])
        for first, end, which in zip(pages[run_starts].tolist(), (pages[run_ends - 1] + 1).tolist(),
                                     action[run_starts].tolist(), strict=True):
            self._set(first, end, int(codes[which]))

    def _live_outlines(self) -> tuple[np.ndarray, np.ndarray]:
        cells = np.flatnonzero(self._outline_start >= 0)
        starts, lengths = self._outline_start[cells], self._outline_len[cells]
        if self.pages_per_cell == 1:
            tails = np.flatnonzero(self._tail_live & (self._base <= self.max_order))
            starts = np.concatenate([starts, tails])
            lengths = np.concatenate([lengths, np.ones_like(tails)])
        return _sorted_ranges(starts, lengths)

    def _set(self, start: int, end: int, code: int) -> None:
        """Pages ``start:end`` (offsets) are now in state ``code``: one block, or NONE."""
        if end - start == 1:
            self._set_page(start, code)
            return
        base, p, m = self._base, self.pages_per_cell, self.max_order
        old = base[start:end]
        if code != self.EXACT and (old == self.EXACT).any():
            first = self.zone.start_pfn + start
            for page in np.flatnonzero(old == self.EXACT).tolist():
                self._disown(first + page)
        tails = self._tail_live[start:end]
        c0, c1 = start // p, (end - 1) // p
        local = (np.arange(start, end) // p - c0) * (self.NONE + 1)
        width = (c1 - c0 + 1) * (self.NONE + 1)
        shown = np.where(tails & (old <= m), self.TRIMMED, old)
        delta = -np.bincount(local + shown, minlength=width)
        base[start:end] = code
        if code <= m and tails.any():
            delta += np.bincount(local + np.where(tails, self.TRIMMED, code), minlength=width)
        elif c0 == c1:
            delta[code] += end - start
        else:
            delta += np.bincount(local + code, minlength=width)
        self._counts[c0:c1 + 1] += delta.reshape(c1 - c0 + 1, self.NONE + 1)
        outlined = self._outline_start[c0:c1 + 1]
        inside = (outlined >= start) & (outlined < end)
        outlined[inside] = -1
        if end - start >= p and code != self.NONE:
            self._outline_start[c0], self._outline_len[c0] = start, end - start
        self._changed.append((start, end))

    def _set_page(self, page: int, code: int) -> None:
        """``_set`` of one page with scalar operations: an exact allocation gives back and
        frees hundreds of single pages, where numpy's per-call overhead would dominate."""
        base, m = self._base, self.max_order
        old = int(base[page])
        if old == self.EXACT and code != self.EXACT:
            self._disown(self.zone.start_pfn + page)
        tail = bool(self._tail_live[page])
        cell = page // self.pages_per_cell
        counts = self._counts
        counts[cell, self.TRIMMED if tail and old <= m else old] -= 1
        counts[cell, self.TRIMMED if tail and code <= m else code] += 1
        base[page] = code
        outlines = self._outline_start
        if outlines[cell] == page:
            outlines[cell] = -1
        if self.pages_per_cell == 1 and code != self.NONE:
            outlines[cell], self._outline_len[cell] = page, 1
        self._changed.append((page, page + 1))

    def _recheck_stray(self) -> None:
        """Read again from the zone the changed pages left on no list (``NONE``).

        Between two events of one call a taken block is on no list, and the map shows it so;
        every such event (take, free, per-CPU take, merge) is followed in the same call by one
        that places its pages (a put, a per-CPU put, an allocation), so a call the zone
        completes never needs this (tests/test_memory_map_incremental.py checks it with the
        recheck off).  A call an exception cuts short between the zone's step and the map
        hearing of it (an interrupt: an observer that raises does not, the zone completes the
        call and every observer hears every event) loses that event: its pages would stay
        painted on no list although the zone has them in a block.  The zone's word wins.
        O(pages changed): a range with numpy, a single page (most of them: an exact allocation
        gives its tail back page by page) with one scalar test.
        """
        base, first, none = self._base, self.zone.start_pfn, self.NONE
        stray: set[int] = set()
        for start, end in self._changed:
            if end - start == 1:
                if base[start] == none:
                    stray.add(start)
            else:
                stray.update((start + np.flatnonzero(base[start:end] == none)).tolist())
        for page in sorted(stray):
            if base[page] == none and self.zone.block_at(first + page) is not None:
                self._walk(page, page + 1)

    def _walk_once(self, start: int, end: int) -> None:
        """``_walk`` unless this redraw already read those pages: a walk reads the zone as it
        is now, so reading the same pages twice (an allocation, then its split) changes
        nothing."""
        if any(first <= start and end <= last for first, last in self._walked):
            return
        self._walk(start, end)
        self._walked.append((start, end))

    def _walk(self, start: int, end: int) -> None:
        """Read pages ``start:end`` (offsets, widened to whole blocks) from the zone."""
        zone, first = self.zone, self.zone.start_pfn
        owners = zone.exact_owners()
        page = start
        while page < end:
            block = self.zone.block_at(first + page)
            if block is None:
                self._set(page, page + 1, self.NONE)
                page += 1
                continue
            kind, head, order = block
            head -= first
            owner = owners.get(first + head) if kind == "allocated" else None
            code = (order if kind == "free" else self.PCP if kind == "pcp" else
                    self.ALLOCATED if owner is None else self.EXACT)
            self._set(head, head + (1 << order), code)
            if owner is not None and self._owners.get(first + head) != owner:
                self._disown(first + head)
                self._own(first + head, owner)
            page = head + (1 << order)

    def _own(self, pfn: int, owner: int) -> None:
        self._touched.setdefault(owner, owner in self._owner_pages)
        self._owners[pfn] = owner
        self._owner_pages[owner] = self._owner_pages.get(owner, 0) + 1

    def _disown(self, pfn: int) -> None:
        owner = self._owners.pop(pfn, None)
        if owner is None:
            return
        self._touched.setdefault(owner, True)
        self._owner_pages[owner] -= 1
        if not self._owner_pages[owner]:
            del self._owner_pages[owner]

    def _update_tails(self) -> None:
        """Tail pages whose given-back overlay may have changed: remembered or forgotten by
        events, or whose exact allocation was freed (or allocated again)."""
        dirty = self._tail_dirty
        for owner, was_live in self._touched.items():
            if (owner in self._owner_pages) != was_live:
                dirty.update(self._tails_of.get(owner, ()))
        if not dirty:
            return
        first, m, p = self.zone.start_pfn, self.max_order, self.pages_per_cell
        for pfn in dirty:
            offset = pfn - first
            if not 0 <= offset < len(self._base):
                continue
            live = self._trimmed.get(pfn, -1) in self._owner_pages
            if live == bool(self._tail_live[offset]):
                continue
            self._tail_live[offset] = live
            code = int(self._base[offset])
            if code <= m:
                step = 1 if live else -1
                self._counts[offset // p, code] -= step
                self._counts[offset // p, self.TRIMMED] += step
                self._changed.append((offset, offset + 1))
        dirty.clear()

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


def _dark(color: str) -> bool:
    """Whether white text reads better than black on this colour (its luminance)."""
    r, g, b = rgb(color)
    return 0.299 * r + 0.587 * g + 0.114 * b < 128


def _sorted_ranges(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Page ranges in a canonical order (by start, then length), so two draws compare equal."""
    order = np.lexsort((lengths, starts))
    return starts[order], lengths[order]


def _same(current: object, new: np.ndarray) -> bool:
    """Whether a mark's current data already equals ``new`` (then nothing needs sending)."""
    # (bqplot keeps the data of a single line as 1-D: compare the values, not the shapes)
    return (isinstance(current, np.ndarray) and current.size == new.size
            and np.array_equal(current.reshape(-1), new.reshape(-1), equal_nan=True))


def _path(corners: np.ndarray) -> np.ndarray:
    """Closed outlines (one row of 5 corners each) as one line broken by NaN gaps.

    bqplot draws a 2-D ``Lines`` as one SVG path per row, with a label each: a thousand
    outlines took the browser a quarter of a second to redraw.  One path with gaps (bqplot
    leaves NaN points undrawn) is drawn at once.
    """
    gaps = np.full((len(corners), 1), np.nan, dtype=np.float32)
    return np.hstack([corners.astype(np.float32), gaps]).reshape(-1)


def outline_boxes(mark: bq.Lines) -> tuple[np.ndarray, np.ndarray]:
    """The outlines a map's ``outlines`` or ``highlights`` mark draws, one row of 5 corners
    (x, then y) per rectangle."""
    return tuple(np.asarray(values, dtype=np.float32).reshape(-1, 6)[:, :5]
                 for values in (mark.x, mark.y))
