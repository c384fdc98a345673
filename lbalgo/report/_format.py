"""Number formats and text lines shared by the renderers (:mod:`.render`, :mod:`.html`).

Numbers written as data (JSON, CSV) keep 12 significant digits, which is
stable across platforms' last-bit differences; NaN becomes ``null`` in JSON
and an empty cell in CSV. Numbers written for people (text, Markdown) are
percentages and durations with a unit.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .results import Comparison


def percent(v: float) -> str:
    """Format a share as a percentage with two decimals (``-`` for NaN)."""
    return "-" if math.isnan(v) else f"{100 * v:.2f}%"


def duration(v: float) -> str:
    """Format seconds with three significant digits in s, ms or us (``-`` for NaN)."""
    if math.isnan(v):
        return "-"
    if abs(v) >= 100:
        return f"{v:.0f} s"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(v) >= scale or unit == "us":
            return f"{v / scale:.3g} {unit}"
    raise AssertionError  # pragma: no cover


def rounded(x: float) -> float | None:
    """Round to 12 significant digits for JSON; NaN becomes ``None``."""
    x = float(x)
    return None if math.isnan(x) else float(f"{x:.12g}")


def csv_number(x: float) -> str:
    """Write a CSV cell with 12 significant digits; NaN becomes an empty cell."""
    x = float(x)
    return "" if math.isnan(x) else repr(float(f"{x:.12g}"))


def aligned(head: list[str], body: list[list[str]]) -> list[str]:
    """Lay out a table for the terminal: the first column left-aligned, the others right-aligned."""
    widths = [max(len(c) for c in col) for col in zip(head, *body)]

    def fmt(cells: list[str]) -> str:
        padded = (c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        return "  ".join(padded).rstrip()

    return [fmt(head), fmt(["-" * w for w in widths])] + [fmt(cells) for cells in body]


def markdown_table(head: list[str], body: list[list[str]]) -> list[str]:
    """Lay out a Markdown table: the first column left-aligned, the others right-aligned."""
    rule = "|" + "|".join(":---" if i == 0 else "---:" for i in range(len(head))) + "|"
    return (["| " + " | ".join(head) + " |", rule]
            + ["| " + " | ".join(c.strip() for c in cells) + " |" for cells in body])


def title_line(c: Comparison) -> str:
    """Return the first line of the text report: the scenario's name, weights and description."""
    sc = c.scenario
    return f"scenario {sc.name}: weights {list(sc.weights)}; {sc.describe()}"


def versions_line(c: Comparison) -> str:
    """List the versions the comparison ran with (``lbalgo 0.1.0, numba ..., numpy ...``)."""
    return ", ".join(f"{k} {v}" for k, v in sorted(c.versions.items()))


def events_line(c: Comparison) -> str:
    """List the pool events as run (``pool events: fail b1 at 3.3 s, ...``); empty without events."""
    if not c.event_times:
        return ""
    return "pool events: " + ", ".join(f"{a} b{b} at {t:,.1f} s" if b is not None else f"{a} at {t:,.1f} s"
                                       for t, a, b in c.event_times)


def interrupted_note(c: Comparison) -> str:
    """Say how many algorithms ran and which did not (for an interrupted comparison)."""
    return (f"interrupted: {len(c.rows)} of {len(c.rows) + len(c.missing)} algorithms ran; "
            f"not run: {', '.join(c.missing)}")
