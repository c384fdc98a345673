"""One SVG chart: a :class:`Panel` with its axes, to which marks are added.

A panel has linear, log or categorical axes; lines, confidence bands,
markers, bars, target ticks and vertical event lines are added as marks, and
:meth:`Panel.render` returns an ``<svg>`` element that is valid on its own (it
carries its font) and inside an HTML page. Every mark drawn for a series
carries ``data-s="<series>"``, so that the report's script can highlight one
series across all panels of a figure when the pointer is on its legend entry.
Coordinates are written with one decimal: a 200-sample line costs about
2.5 kB.
"""

from __future__ import annotations

import math
from html import escape
from typing import Iterable, Sequence

import numpy as np

from .svg_axes import Scale, format_tick
from .svg_style import FONT

__all__ = ["Panel"]


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
