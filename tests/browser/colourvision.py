"""Colour-vision deficiency simulation and colour difference, for the palette tests.

Dichromacy is simulated with the matrices of Machado, Oliveira and Fernandes (2009), "A
Physiologically-based Model for Simulation of Color Vision Deficiency" (IEEE TVCG 15(6)), at
severity 1.0 (protanopia, deuteranopia), applied to linear RGB as the paper specifies.  Colour
difference is CIEDE2000 (Sharma, Wu and Dalal's formulation) on CIELAB under D65.

The same matrices drive the SVG ``feColorMatrix`` filter of the browser test (SVG filters work
in linear RGB by default, ``color-interpolation-filters: linearRGB``), so what the test measures
and what the screenshot shows are one simulation.
"""

from __future__ import annotations

import math

Matrix = tuple[tuple[float, float, float], ...]

#: Machado et al. (2009), severity 1.0, linear RGB.
MACHADO: dict[str, Matrix] = {
    "protanopia": ((0.152286, 1.052583, -0.204868),
                   (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968),
                     (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
}


def hex_rgb(color: str) -> tuple[float, float, float]:
    """'#d55e00' -> sRGB components in 0..1."""
    color = color.lstrip("#")
    if len(color) != 6:
        raise ValueError(f"not a #rrggbb colour: {color!r}")
    r, g, b = (int(color[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return r, g, b


def to_linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def to_srgb(c: float) -> float:
    c = min(max(c, 0.0), 1.0)
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


def simulate(rgb: tuple[float, float, float], deficiency: str) -> tuple[float, float, float]:
    """The sRGB colour a dichromat sees for sRGB ``rgb`` (components 0..1)."""
    linear = [to_linear(c) for c in rgb]
    matrix = MACHADO[deficiency]
    out = [sum(m * c for m, c in zip(row, linear, strict=True)) for row in matrix]
    r, g, b = (to_srgb(c) for c in out)
    return r, g, b


def lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    """CIELAB (D65) of an sRGB colour."""
    r, g, b = (to_linear(c) for c in rgb)
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def ciede2000(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    """CIEDE2000 colour difference (kL = kC = kH = 1)."""
    l1, a1, b1 = lab1
    l2, a2, b2 = lab2
    c_bar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_bar ** 7 / (c_bar ** 7 + 25 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360
    h2p = math.degrees(math.atan2(b2, a2p)) % 360
    dlp, dcp = l2 - l1, c2p - c1p
    if c1p * c2p == 0:
        dhp = 0.0
    elif abs(h2p - h1p) <= 180:
        dhp = h2p - h1p
    elif h2p - h1p > 180:
        dhp = h2p - h1p - 360
    else:
        dhp = h2p - h1p + 360
    dhp_big = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dhp / 2))
    lp_bar, cp_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        hp_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        hp_bar = (h1p + h2p) / 2
    elif h1p + h2p < 360:
        hp_bar = (h1p + h2p + 360) / 2
    else:
        hp_bar = (h1p + h2p - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(hp_bar - 30)) + 0.24 * math.cos(math.radians(2 * hp_bar))
         + 0.32 * math.cos(math.radians(3 * hp_bar + 6))
         - 0.20 * math.cos(math.radians(4 * hp_bar - 63)))
    d_theta = 30 * math.exp(-(((hp_bar - 275) / 25) ** 2))
    r_c = 2 * math.sqrt(cp_bar ** 7 / (cp_bar ** 7 + 25 ** 7))
    s_l = 1 + 0.015 * (lp_bar - 50) ** 2 / math.sqrt(20 + (lp_bar - 50) ** 2)
    s_c = 1 + 0.045 * cp_bar
    s_h = 1 + 0.015 * cp_bar * t
    r_t = -math.sin(math.radians(2 * d_theta)) * r_c
    return math.sqrt((dlp / s_l) ** 2 + (dcp / s_c) ** 2 + (dhp_big / s_h) ** 2
                     + r_t * (dcp / s_c) * (dhp_big / s_h))


def difference(color1: str, color2: str, deficiency: str | None = None) -> float:
    """CIEDE2000 between two #rrggbb colours as seen normally or with ``deficiency``."""
    rgb1, rgb2 = hex_rgb(color1), hex_rgb(color2)
    if deficiency is not None:
        rgb1, rgb2 = simulate(rgb1, deficiency), simulate(rgb2, deficiency)
    return ciede2000(lab(rgb1), lab(rgb2))


def svg_filter_matrix(deficiency: str) -> str:
    """The ``values`` of an SVG ``feColorMatrix type="matrix"`` simulating ``deficiency``."""
    rows = [" ".join(f"{v:.6f}" for v in row) + " 0 0" for row in MACHADO[deficiency]]
    return " ".join([*rows, "0 0 0 1 0"])
