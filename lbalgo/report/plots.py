"""PNG plots of a :class:`~lbalgo.report.results.Comparison` (matplotlib, an optional extra).

One PNG, one section per kind, stacked top to bottom:

``shares``
    one small panel per algorithm: bars are each backend's share of
    connections, black ticks its target share (weight-proportional, through
    the pool events).
``active``
    one small panel per algorithm: open connections per backend over time
    (the pool's counters, sampled ``service.samples`` times); dashed lines
    mark pool events.
``latency``
    the CDF of the time in the system, one line per algorithm, log time axis
    (queued service models only).
``disruption``
    per pool event, the share of returning clients each algorithm moved;
    black ticks the share that had to move (only with pool events).

matplotlib is imported only here, when a plot is drawn (:func:`require_matplotlib`),
through the object-oriented API (no pyplot state), so plotting is safe in
notebooks and threads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .results import Comparison

KINDS = ("shares", "active", "latency", "disruption")
PLOT_MISSING = "plotting needs matplotlib, which is not installed: pip install lbalgo[plot]"


def require_matplotlib() -> type:
    """Import matplotlib and return ``matplotlib.figure.Figure``.

    Raises
    ------
    RuntimeError
        Saying how to install matplotlib (:data:`PLOT_MISSING`) when it is missing.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise RuntimeError(PLOT_MISSING) from None
    return Figure


def available_kinds(c: Comparison) -> list[str]:
    """Return the sections that make sense for this comparison, in order."""
    return [k for k in KINDS if (k != "latency" or c.queued) and (k != "disruption" or c.event_times)]


def plot_comparison(c: Comparison, path: str | Path, kinds: Sequence[str] | None = None) -> list[str]:
    """Draw ``kinds`` (default: every available section) of ``c`` into the PNG ``path``; return the kinds."""
    Figure = require_matplotlib()
    possible = available_kinds(c)
    chosen = list(possible if kinds is None else kinds)
    for k in chosen:
        if k not in KINDS:
            raise ValueError(f"unknown plot {k!r}; choose from {', '.join(KINDS)}")
        if k not in possible:
            why = "needs a queued service model (fifo or ps)" if k == "latency" else "needs pool events"
            raise ValueError(f"the {k} plot {why}")
    if not chosen:
        raise ValueError("nothing to plot")
    if not c.rows:
        raise ValueError("the comparison has no results to plot")
    n_alg = len(c.rows)
    ncols = min(6, n_alg)
    grid_rows = -(-n_alg // ncols)
    heights = {"shares": 2.1 * grid_rows + 0.5, "active": 2.1 * grid_rows + 0.5, "latency": 4.0,
               "disruption": 3.4}
    fig = Figure(figsize=(2.9 * ncols + 1.0, sum(heights[k] for k in chosen) + 0.6), layout="constrained")
    subfigs = fig.subfigures(len(chosen), 1, height_ratios=[heights[k] for k in chosen], squeeze=False)
    draw = {"shares": _shares, "active": _active, "latency": _latency, "disruption": _disruption}
    for sub, kind in zip(subfigs.ravel(), chosen):
        draw[kind](c, sub, ncols)
    sc = c.scenario
    fig.suptitle(f"scenario {sc.name}: weights {list(sc.weights)}, {sc.connections:,} connections, "
                 f"seed {sc.seed}", fontsize=11)
    fig.savefig(path, format="png", dpi=90)
    return chosen


def _grid(sub: Any, c: Comparison, ncols: int, sharey: bool) -> list[Any]:
    n_alg = len(c.rows)
    axes = sub.subplots(-(-n_alg // ncols), ncols, sharey=sharey, squeeze=False).ravel()
    for ax in axes[n_alg:]:
        ax.set_visible(False)
    return list(axes[:n_alg])


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab20" if n > 10 else "tab10"]
    return [cmap(i % cmap.N) for i in range(n)]


def _shares(c: Comparison, sub: Any, ncols: int) -> None:
    sub.suptitle("share of connections per backend (bars) and target share (ticks), %", fontsize=10)
    x = np.arange(c.n_backends)
    for ax, r in zip(_grid(sub, c, ncols, sharey=True), c.rows):
        ax.bar(x, 100 * r.shares, color="tab:blue")
        ax.scatter(x, 100 * r.target_shares, marker="_", s=200, color="black", zorder=3)
        ax.set_title(f"{r.algorithm} (max dev {100 * r.max_deviation:.1f}%)", fontsize=8)
        ax.set_xticks(x, [f"b{i}" for i in x], fontsize=6)
        ax.tick_params(axis="y", labelsize=7)


def _active(c: Comparison, sub: Any, ncols: int) -> None:
    sub.suptitle("open connections per backend over time (dashed: pool events)", fontsize=10)
    colors = _colors(c.n_backends)
    for ax, r in zip(_grid(sub, c, ncols, sharey=False), c.rows):
        for b in range(r.samples_active.shape[1]):
            ax.plot(r.sample_times, r.samples_active[:, b], color=colors[b], linewidth=0.8, label=f"b{b}")
        for t, _, _ in c.event_times:
            ax.axvline(t, color="gray", linestyle="--", linewidth=0.7)
        ax.set_title(r.algorithm, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_xlabel("time (s)", fontsize=7)
    if c.rows:
        sub.axes[0].legend(fontsize=5, ncols=2, loc="upper left")


def _latency(c: Comparison, sub: Any, ncols: int) -> None:
    ax = sub.subplots()
    for r, color in zip(c.rows, _colors(len(c.rows))):
        q = r.latency_quantiles
        if q is None:
            continue
        ax.plot(np.maximum(q, 1e-9), c.cdf_probabilities, color=color, linewidth=1.2, label=r.algorithm)
    ax.set_xscale("log")
    ax.set_xlabel("time in the system (s, log scale)")
    ax.set_ylabel("fraction of connections")
    ax.set_ylim(0, 1)
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=7, ncols=1 + len(c.rows) // 12, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("latency CDF (queue + service)", fontsize=10)


def _disruption(c: Comparison, sub: Any, ncols: int) -> None:
    ax = sub.subplots()
    n_ev, n_alg = len(c.event_times), len(c.rows)
    width = 0.8 / n_alg
    for i, (r, color) in enumerate(zip(c.rows, _colors(n_alg))):
        x = np.arange(n_ev) + (i - (n_alg - 1) / 2) * width
        moved = [100 * d.moved for d in r.disruption]
        ax.bar(x, np.nan_to_num(moved), width=width, color=color, label=r.algorithm)
        must = [100 * d.must_move for d in r.disruption]
        ax.scatter(x, np.nan_to_num(must), marker="_", s=40, color="black", zorder=3)
    ax.set_xticks(np.arange(n_ev), [f"{a} b{b}\nat {t:,.0f} s" if b is not None else f"{a}\nat {t:,.0f} s"
                                    for t, a, b in c.event_times], fontsize=8)
    ax.set_ylabel("returning clients moved (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, ncols=1 + n_alg // 12, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("disruption after pool events (bars: moved; ticks: had to move)", fontsize=10)
