"""Allocated and free stay apart for readers with red-green colour blindness (issue 20.7).

The palette is the kit's own (``Theme.map_palette``, ``Theme.strategy_colors``): each pair of
colours that must differ is compared under normal vision and under simulated protanopia and
deuteranopia (Machado et al. 2009, severity 1.0, linear RGB) with CIEDE2000.  The browser test
then shows lesson 3's Playground through the same simulation (an SVG colour-matrix filter) and
measures the legend's swatches in the screenshot.

Thresholds, in CIEDE2000 units (about 1 is the smallest difference a person sees side by side,
and map cells are small and apart): an allocated state against every free order at least
``APART_ALLOCATED``; every other pair that must differ at least ``APART``.  The old palette
(green free orders, red allocated) measured 9.0 for allocated against free order 8 under
deuteranopia and fails both.
"""

from __future__ import annotations

import itertools

import pytest
from colourvision import MACHADO, ciede2000, difference, hex_rgb, lab, simulate, svg_filter_matrix

from kit.widgets.theme import NORMAL, PRESENTER, Theme

VISIONS = (None, "protanopia", "deuteranopia")
APART_ALLOCATED = 30.0
APART = 10.0
APART_LINES = 15.0
MAX_ORDER = 10
#: State codes after the free orders, as ``MemoryMap.state_names`` orders them.
OTHER_STATES = ("allocated", "exact (kept)", "trimmed tail", "per-CPU", "outside", "taken")
ALLOCATED_STATES = ("allocated", "exact (kept)")


def named_palette(theme: Theme) -> dict[str, str]:
    palette = theme.map_palette(MAX_ORDER)
    names = [f"free order {order}" for order in range(MAX_ORDER + 1)] + list(OTHER_STATES)
    assert len(palette) == len(names)
    return dict(zip(names, palette, strict=True))


def too_close(theme: Theme) -> list[tuple[str, str, str, float]]:
    """(vision, colour, colour, CIEDE2000) of every pair that must differ and does not enough."""
    colours = named_palette(theme)
    free = [name for name in colours if name.startswith("free")]
    close = []
    for vision in VISIONS:
        seen = vision or "normal vision"
        for state in OTHER_STATES:
            need = APART_ALLOCATED if state in ALLOCATED_STATES else APART
            for order in free:
                distance = difference(colours[state], colours[order], vision)
                if distance < need:
                    close.append((seen, state, order, round(distance, 1)))
        for one, two in itertools.combinations(OTHER_STATES, 2):
            distance = difference(colours[one], colours[two], vision)
            if distance < APART:
                close.append((seen, one, two, round(distance, 1)))
        for one, two in itertools.combinations(theme.strategy_colors, 2):
            distance = difference(one, two, vision)
            if distance < APART_LINES:
                close.append((seen, one, two, round(distance, 1)))
    return close


@pytest.mark.parametrize("theme", [NORMAL, PRESENTER], ids=["normal", "presenter"])
def test_every_state_that_must_differ_does_under_colour_blindness(theme):
    assert too_close(theme) == []


def test_the_old_red_green_palette_fails_the_check():
    """The check can fail: the palette before issue 20.7 does."""
    from dataclasses import replace

    old = replace(NORMAL, free_low="#c6e9c0", free_high="#1b7a2f", allocated="#d62728",
                  strategy_colors=("#1f77b4", "#2ca02c", "#ff7f0e"))
    close = too_close(old)
    assert ("deuteranopia", "allocated", "free order 8", 9.0) in close
    assert any(pair[0] == "deuteranopia" and "#ff7f0e" in pair for pair in close)


def test_the_free_orders_darken_evenly_from_order_0():
    palette = NORMAL.map_palette(MAX_ORDER)
    assert palette[0] == NORMAL.free_low and palette[MAX_ORDER] == NORMAL.free_high
    lightness = [lab(hex_rgb(colour))[0] for colour in palette[:MAX_ORDER + 1]]
    assert lightness == sorted(lightness, reverse=True)


def test_ciede2000_matches_sharma_wu_dalal_reference_pairs():
    """Pairs 1, 7, 17 and 34 of the CIEDE2000 paper's test data (Sharma, Wu, Dalal 2005)."""
    pairs = [((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
             ((50, 0, 0), (50, -1, 2), 2.3669),
             ((50, 2.5, 0), (73, 25, -18), 27.1492),
             ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082)]
    for one, two, expected in pairs:
        assert ciede2000(one, two) == pytest.approx(expected, abs=1e-4)


def test_the_simulation_merges_red_and_green_but_keeps_blue_and_yellow():
    """Dichromats confuse a red and a green of equal lightness, not blue and yellow; the
    simulation keeps greys grey (each matrix row sums to 1)."""
    for deficiency, matrix in MACHADO.items():
        assert all(sum(row) == pytest.approx(1, abs=1e-3) for row in matrix)
        grey = simulate((0.5, 0.5, 0.5), deficiency)
        assert grey == pytest.approx((0.5, 0.5, 0.5), abs=2e-3)
        assert difference("#b8860b", "#6b8e23", deficiency) < 8 < difference(
            "#b8860b", "#6b8e23")
        assert difference("#0072b2", "#f0e442", deficiency) > 40
    assert svg_filter_matrix("deuteranopia").startswith("0.367322 0.860646 -0.227968 0 0 ")
