"""Small SVG charts for the HTML reports: axes, lines, confidence bands, bars, without any plotting library.

A :class:`Panel` is one chart with linear or log axes (or categorical ones)
to which series are added; :meth:`Panel.render` returns an ``<svg>`` element
that is valid on its own (it carries its font) and inside an HTML page.
:func:`compose` lays several panels and a legend out in one standalone SVG
document (the sweep's ``plots/*.svg`` files).

Every mark drawn for a series carries ``data-s="<series>"`` so that the
report's script can highlight one series across all panels of a figure when
the pointer is on its legend entry. Coordinates are written with one decimal:
a 200-sample line costs about 2.5 kB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Callable, Iterable, Sequence

import numpy as np

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


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (1, 2 or 5 times a power of ten) covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten in ``[lo, hi]`` (with 2 and 5 times them when the range spans less than two decades)."""
    if lo <= 0 or hi <= lo:
        return []
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    mults = (1, 2, 5) if b - a <= 2 else (1,)
    return [
        m * 10.0**e
        for e in range(a, b + 1)
        for m in mults
        if lo * (1 - 1e-9) <= m * 10.0**e <= hi * (1 + 1e-9)
    ]


def format_tick(v: float, unit: str = "") -> str:
    """Format a tick label compactly: ``0.25``, ``1.5k``, ``20%`` (``unit="%"``: fractions), ``3 ms``."""
    if unit == "%":
        return f"{100 * v:.4g}%"
    if unit == "s":
        if abs(v) >= 100:
            return f"{v:,.0f} s"
        for suffix, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
            if abs(v) >= scale or suffix == "ns" or v == 0:
                return f"{v / scale:.3g} {suffix}" if v else "0"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    return f"{v:.4g}"


@dataclass
class Scale:
    """Maps data values in ``[lo, hi]`` to pixels in ``[a, b]`` (``log`` for a log10 axis)."""

    lo: float
    hi: float
    a: float
    b: float
    log: bool = False

    def __post_init__(self) -> None:
        if self.log:
            self.lo, self.hi = max(self.lo, 1e-300), max(self.hi, 1e-300)
        if not self.hi > self.lo:  # a flat domain: centre it
            pad = abs(self.lo) * 0.1 or 1.0
            self.lo, self.hi = (self.lo / 10, self.lo * 10) if self.log else (self.lo - pad, self.lo + pad)

    def __call__(self, v: float | np.ndarray) -> np.ndarray:
        """Pixel positions of the data values ``v``."""
        x = np.asarray(v, dtype=np.float64)
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.log10(np.maximum(x, self.lo * 1e-3))
            lo, hi = math.log10(self.lo), math.log10(self.hi)
        else:
            lo, hi = self.lo, self.hi
        return self.a + (x - lo) / (hi - lo) * (self.b - self.a)

    def ticks(self, n: int = 5) -> list[float]:
        """Tick values inside the domain."""
        return log_ticks(self.lo, self.hi) if self.log else nice_ticks(self.lo, self.hi, n)


def _points(xs: np.ndarray, ys: np.ndarray) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs.tolist(), ys.tolist()))


def _finite_runs(mask: np.ndarray) -> Iterable[tuple[int, int]]:
    """Start and end (exclusive) of each run of True in ``mask``."""
    if not mask.any():
        return
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    yield from zip(edges[::2].tolist(), edges[1::2].tolist())


def _attr(series: str | None) -> str:
    return f' data-s="{escape(series)}"' if series is not None else ""


def _tip(text: str | None) -> str:
    return f"<title>{escape(text)}</title>" if text else ""


class Panel:
    """One chart.

    Parameters
    ----------
    x, y : tuple of float
        Data domains ``(lo, hi)``; ignored for a categorical axis.
    xcats, ycats : sequence of str, optional
        Category labels: the axis then has one slot per category, at
        positions ``0 .. n-1``.
    xlog, ylog : bool
        Log10 axes (for the latency CDF's time axis).
    xunit, yunit : str
        Tick label style: ``""`` plain, ``"%"`` fractions as percentages, ``"s"`` durations.
    width, height : int
        Size in pixels, margins included.
    """

    def __init__(
        self,
        *,
        title: str = "",
        xlabel: str = "",
        ylabel: str = "",
        x: tuple[float, float] = (0, 1),
        y: tuple[float, float] = (0, 1),
        xcats: Sequence[str] | None = None,
        ycats: Sequence[str] | None = None,
        xlog: bool = False,
        ylog: bool = False,
        xunit: str = "",
        yunit: str = "",
        width: int = 300,
        height: int = 200,
        left: int | None = None,
    ) -> None:
        self.width, self.height = width, height
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.xcats, self.ycats = (
            (list(xcats) if xcats is not None else None),
            (list(ycats) if ycats is not None else None),
        )
        self.xunit, self.yunit = xunit, yunit
        if left is None:
            left = (
                46 if self.ycats is None else min(170, 12 + 6 * max((len(c) for c in self.ycats), default=4))
            )
        self.left, self.right = left, 12
        self.top, self.bottom = (20 if title else 8), (34 if xlabel else 22)
        if self.xcats is not None:
            x, xlog = (-0.5, len(self.xcats) - 0.5), False
        if self.ycats is not None:
            y, ylog = (-0.5, len(self.ycats) - 0.5), False
        self.sx = Scale(float(x[0]), float(x[1]), self.left, width - self.right, xlog)
        # categorical y runs top to bottom; numeric y bottom to top
        if self.ycats is not None:
            self.sy = Scale(float(y[0]), float(y[1]), self.top, height - self.bottom)
        else:
            self.sy = Scale(float(y[0]), float(y[1]), height - self.bottom, self.top, ylog)
        self.items: list[str] = []

    # -- marks ---------------------------------------------------------------------------
    def line(
        self,
        xs: Sequence[float],
        ys: Sequence[float],
        color: str,
        *,
        series: str | None = None,
        width: float = 1.4,
        dash: str | None = None,
        tip: str | None = None,
    ) -> None:
        """Draw a polyline through the finite points (a NaN breaks it)."""
        x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        px, py = self.sx(x), self.sy(y)
        style = f' stroke-dasharray="{dash}"' if dash else ""
        for a, b in _finite_runs(ok):
            self.items.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="{width}"{style}{_attr(series)}'
                f' points="{_points(px[a:b], py[a:b])}">{_tip(tip)}</polyline>'
            )

    def band(
        self,
        xs: Sequence[float],
        lo: Sequence[float],
        hi: Sequence[float],
        color: str,
        *,
        series: str | None = None,
        opacity: float = 0.18,
    ) -> None:
        """Fill a band between ``lo`` and ``hi`` (a confidence interval), broken at NaN."""
        x = np.asarray(xs, dtype=np.float64)
        low, high = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(low) & np.isfinite(high)
        px, pl, ph = self.sx(x), self.sy(low), self.sy(high)
        for a, b in _finite_runs(ok):
            if b - a < 2:  # a single point: a vertical error bar
                self.items.append(
                    f'<line x1="{px[a]:.1f}" x2="{px[a]:.1f}" y1="{pl[a]:.1f}" y2="{ph[a]:.1f}" '
                    f'stroke="{color}" stroke-width="3" opacity="{opacity * 2:.2f}"{_attr(series)}/>'
                )
                continue
            pts = _points(np.concatenate((px[a:b], px[a:b][::-1])), np.concatenate((ph[a:b], pl[a:b][::-1])))
            self.items.append(
                f'<polygon fill="{color}" fill-opacity="{opacity}" stroke="none"{_attr(series)} '
                f'points="{pts}"/>'
            )

    def markers(
        self,
        xs: Sequence[float],
        ys: Sequence[float],
        color: str,
        *,
        series: str | None = None,
        radius: float = 2.2,
        tips: Sequence[str] | None = None,
    ) -> None:
        """Dots at the finite points (with an optional tooltip each)."""
        px, py = self.sx(np.asarray(xs, dtype=np.float64)), self.sy(np.asarray(ys, dtype=np.float64))
        for i, (a, b) in enumerate(zip(px.tolist(), py.tolist())):
            if math.isfinite(a) and math.isfinite(b):
                tip = _tip(tips[i]) if tips is not None else ""
                self.items.append(
                    f'<circle cx="{a:.1f}" cy="{b:.1f}" r="{radius}" fill="{color}"{_attr(series)}>'
                    f"{tip}</circle>"
                )

    def bars(
        self,
        positions: Sequence[float],
        values: Sequence[float],
        color: str | Sequence[str],
        *,
        width: float = 0.8,
        series: str | None = None,
        tips: Sequence[str] | None = None,
        horizontal: bool = False,
    ) -> None:
        """Bars from 0 to each value, ``width`` in data units (vertical, or ``horizontal``)."""
        colors = [color] * len(values) if isinstance(color, str) else list(color)
        for i, (p, v) in enumerate(zip(positions, values)):
            v = float(v)
            if not math.isfinite(v):
                continue
            tip = _tip(tips[i]) if tips is not None else ""
            if horizontal:
                y0, y1 = float(self.sy(p - width / 2)), float(self.sy(p + width / 2))
                x0, x1 = sorted((float(self.sx(0.0)), float(self.sx(v))))
            else:
                x0, x1 = float(self.sx(p - width / 2)), float(self.sx(p + width / 2))
                y0, y1 = sorted((float(self.sy(v)), float(self.sy(0.0))))
            self.items.append(
                f'<rect x="{min(x0, x1):.1f}" y="{min(y0, y1):.1f}" width="{abs(x1 - x0):.1f}" '
                f'height="{max(abs(y1 - y0), 0.5):.1f}" fill="{colors[i]}"{_attr(series)}>{tip}</rect>'
            )

    def ticks_at(
        self,
        positions: Sequence[float],
        values: Sequence[float],
        *,
        half: float = 0.45,
        color: str = "#111",
        horizontal: bool = False,
        width: float = 2.0,
    ) -> None:
        """Short segments across a bar slot at each value (targets: "what it should be")."""
        for p, v in zip(positions, values):
            v = float(v)
            if not math.isfinite(v):
                continue
            if horizontal:
                x, y0, y1 = float(self.sx(v)), float(self.sy(p - half)), float(self.sy(p + half))
                self.items.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0:.1f}" y2="{y1:.1f}" stroke="{color}" '
                    f'stroke-width="{width}"/>'
                )
            else:
                y, x0, x1 = float(self.sy(v)), float(self.sx(p - half)), float(self.sx(p + half))
                self.items.append(
                    f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" '
                    f'stroke-width="{width}"/>'
                )

    def vline(self, x: float, *, color: str = "#777", dash: str = "4 3", tip: str | None = None) -> None:
        """Draw a vertical line across the plot area at data ``x`` (pool events)."""
        px = float(self.sx(x))
        if self.left <= px <= self.width - self.right:
            self.items.append(
                f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{self.top}" y2="{self.height - self.bottom}" '
                f'stroke="{color}" stroke-dasharray="{dash}">{_tip(tip)}</line>'
            )

    def band_rows(self, rows: Sequence[int], color: str = "#f3f4f6") -> None:
        """Shade whole category rows (groups of a categorical y axis)."""
        for r in rows:
            y0, y1 = float(self.sy(r - 0.5)), float(self.sy(r + 0.5))
            self.items.append(
                f'<rect x="{self.left}" y="{y0:.1f}" width="{self.width - self.left - self.right}" '
                f'height="{y1 - y0:.1f}" fill="{color}"/>'
            )

    # -- axes ----------------------------------------------------------------------------
    def _axes(self) -> list[str]:
        out: list[str] = []
        x0, x1, y0, y1 = self.left, self.width - self.right, self.top, self.height - self.bottom
        grid = 'stroke="#e5e7eb" stroke-width="1"'
        if self.ycats is not None:
            for i, label in enumerate(self.ycats):
                y = float(self.sy(i))
                out.append(f'<text x="{x0 - 4}" y="{y + 3:.1f}" text-anchor="end">{escape(label)}</text>')
        else:
            for v in self.sy.ticks(4 if self.height < 170 else 5):
                y = float(self.sy(v))
                out.append(f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" {grid}/>')
                out.append(
                    f'<text x="{x0 - 4}" y="{y + 3:.1f}" text-anchor="end">'
                    f"{escape(format_tick(v, self.yunit))}</text>"
                )
        if self.xcats is not None:
            step = max(
                1,
                math.ceil(
                    len(self.xcats) * 7 * max((len(c) for c in self.xcats), default=1) / max(x1 - x0, 1)
                ),
            )
            for i, label in enumerate(self.xcats):
                if i % step == 0:
                    out.append(
                        f'<text x="{float(self.sx(i)):.1f}" y="{y1 + 12}" text-anchor="middle">'
                        f"{escape(label)}</text>"
                    )
        else:
            for v in self.sx.ticks(4 if self.width < 260 else 6):
                x = float(self.sx(v))
                out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0}" y2="{y1}" {grid}/>')
                out.append(
                    f'<text x="{x:.1f}" y="{y1 + 12}" text-anchor="middle">'
                    f"{escape(format_tick(v, self.xunit))}</text>"
                )
        out.append(
            f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" fill="none" stroke="#9ca3af"/>'
        )
        if self.title:
            out.append(
                f'<text x="4" y="{self.top - 7}" font-weight="600" font-size="11">{escape(self.title)}</text>'
            )
        if self.xlabel:
            out.append(
                f'<text x="{(x0 + x1) / 2:.1f}" y="{self.height - 4}" text-anchor="middle" fill="#4b5563">'
                f"{escape(self.xlabel)}</text>"
            )
        if self.ylabel:
            out.append(
                f'<text transform="translate(10 {(y0 + y1) / 2:.1f}) rotate(-90)" text-anchor="middle" '
                f'fill="#4b5563">{escape(self.ylabel)}</text>'
            )
        return out

    def render(self, label: str | None = None) -> str:
        """Return the panel as an ``<svg>`` element (``label`` for screen readers, default the title)."""
        axes = self._axes()
        # grid and labels under the marks, the frame and titles with them
        cut = len(axes) - 1 - bool(self.title) - bool(self.xlabel) - bool(self.ylabel)
        w, h = self.width - self.left - self.right, self.height - self.top - self.bottom
        # The marks go in a nested <svg> over the plot area, whose viewBox keeps the panel's coordinates:
        # it clips them to the area without a clipPath, so a page with many panels needs no unique ids
        area = (
            f'<svg x="{self.left}" y="{self.top}" width="{w}" height="{h}" '
            f'viewBox="{self.left} {self.top} {w} {h}" overflow="hidden">'
        )
        body = "".join(self.items)
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" role="img" '
            f'aria-label="{escape(label or self.title or "chart")}" {FONT} fill="#111827">'
            f'{"".join(axes[:cut])}{area}{body}</svg>'
            f"{''.join(axes[cut:])}</svg>"
        )


def legend_svg(
    entries: Sequence[tuple[str, str]], width: int, *, columns: int | None = None
) -> tuple[str, int]:
    """Lay out a legend of ``(label, colour)`` swatches in rows; return the SVG fragment and its height."""
    if not entries:
        return "", 0
    longest = max(len(label) for label, _ in entries)
    cell = min(max(60, 12 + 6.2 * longest), width)
    cols = columns or max(1, int(width // cell))
    out = []
    for i, (label, color) in enumerate(entries):
        x, y = (i % cols) * cell, (i // cols) * 16
        out.append(
            f'<rect x="{x:.1f}" y="{y + 3}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14:.1f}" y="{y + 12}">{escape(label)}</text>'
        )
    return "".join(out), 16 * (-(-len(entries) // cols)) + 4


def compose(
    panels: Sequence[Panel], *, columns: int, title: str = "", legend: Sequence[tuple[str, str]] = ()
) -> str:
    """One standalone SVG document: a title, a legend, then the panels in a grid of ``columns``."""
    if not panels:
        raise ValueError("nothing to compose")
    cw, ch = max(p.width for p in panels), max(p.height for p in panels)
    width = cw * min(columns, len(panels))
    y = 22 if title else 4
    parts = [f'<text x="4" y="15" font-size="13" font-weight="600">{escape(title)}</text>'] if title else []
    fragment, height = legend_svg(legend, width - 8)
    if fragment:
        parts.append(f'<g transform="translate(4 {y})">{fragment}</g>')
        y += height
    for i, p in enumerate(panels):
        row, col = divmod(i, columns)
        parts.append(f'<g transform="translate({col * cw} {y + row * ch})">{p.render()}</g>')
    total = y + ch * (-(-len(panels) // columns))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {total}" width="{width}" height="{total}" {FONT} fill="#111827">'
        f'<rect width="100%" height="100%" fill="#fff"/>{"".join(parts)}</svg>\n'
    )


def padded(
    values: Iterable[float],
    *,
    include_zero: bool = False,
    pad: float = 0.06,
    floor: float | None = None,
    ceiling: float | None = None,
) -> tuple[float, float]:
    """Return a domain ``(lo, hi)`` around the finite ``values``, with a margin (and 0 if asked)."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (0.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    if include_zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    span = hi - lo or abs(hi) or 1.0
    lo, hi = lo - (0 if include_zero and lo == 0 else pad * span), hi + pad * span
    if floor is not None:
        lo = max(lo, floor)
    if ceiling is not None:
        hi = min(hi, ceiling)
    return lo, hi


def by_groups(items: Sequence[str], key: Callable[[str], str]) -> dict[str, list[str]]:
    """Items grouped by ``key``, groups in order of first appearance."""
    groups: dict[str, list[str]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


__all__ = [
    "Panel",
    "Scale",
    "compose",
    "legend_svg",
    "palette",
    "padded",
    "nice_ticks",
    "log_ticks",
    "format_tick",
    "by_groups",
    "PALETTE_10",
    "PALETTE_20",
]
