"""The look of lbalgo's SVG charts: the series colours and the font.

Tableau 10 for up to ten series, a reordered Tableau 20 beyond
(:func:`palette`), and the font attributes every chart's ``<svg>`` element
carries, so that it renders the same on its own and inside an HTML page.
"""

from __future__ import annotations

__all__ = ["PALETTE_10", "PALETTE_20", "FONT", "palette"]

#: Tableau 10: distinct colours for up to ten series.
PALETTE_10 = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
#: Tableau 20 in an order that keeps neighbours apart, for more than ten series.
PALETTE_20 = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#59a14f",
    "#b07aa1",
    "#9c755f",
    "#76b7b2",
    "#edc948",
    "#ff9da7",
    "#79706e",
    "#a0cbe8",
    "#ffbe7d",
    "#ff9d9a",
    "#8cd17d",
    "#d4a6c8",
    "#d7b5a6",
    "#86bcb6",
    "#f1ce63",
    "#fabfd2",
    "#bab0ac",
)
FONT = 'font-family="system-ui,-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif" font-size="10"'


def palette(n: int) -> list[str]:
    """``n`` colours: Tableau 10 up to ten, Tableau 20 beyond (cycled past twenty)."""
    colors = PALETTE_10 if n <= 10 else PALETTE_20
    return [colors[i % len(colors)] for i in range(n)]
