"""Run several schedulers on the same scenario and collect comparable rows.

Every scheduler sees the same pool weights and the same client keys (same
seed). Connections are scheduled one after another and never end (the
simulator, :func:`lbalgo.simulate`, replays lifetimes). Each row holds the
connections per backend, the share deviation against the weight share,
Jain's index of the weight-normalised load and the measured decisions per
second of the compiled batch (measured after a warm-up, so compilation is
not counted). The renderings and their columns are described in docs/cli.md.

Every rendering takes ``timing``: with ``timing=False`` the decisions per
second are left out, and the output is byte-identical for the same scenario,
seed and install (the ``versions`` are those of the installed packages).

``compare(progress=...)`` calls ``progress(index, total, algorithm)`` before
each algorithm (index counts from 1). A ``KeyboardInterrupt`` raised while
the algorithms run (from the callback or from Ctrl-C) stops the comparison:
the result holds the rows that finished and names the others in
:attr:`Comparison.missing`.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .. import metrics, scenario as scenario_mod
from ..schedulers.registry import get, names


@dataclass(frozen=True)
class Row:
    """Results of one scheduler."""

    algorithm: str
    counts: tuple[int, ...]
    dropped: int
    max_deviation: float
    jain: float
    seconds: float

    @property
    def decisions_per_second(self) -> float:
        """New connections scheduled per second of compiled batch time."""
        total = sum(self.counts) + self.dropped
        return total / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class Comparison:
    """A scenario and one :class:`Row` per scheduler."""

    scenario: scenario_mod.Scenario
    rows: tuple[Row, ...]
    versions: dict[str, str] = field(default_factory=dict)
    #: Algorithms that were asked for but did not run (the comparison was interrupted).
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether every requested algorithm ran (``False`` after an interruption)."""
        return not self.missing

    @property
    def weight_shares(self) -> np.ndarray:
        """Each backend's share of the total weight."""
        return metrics.weight_shares(self.scenario.weights)

    def shares(self, row: Row) -> np.ndarray:
        """A row's share of connections per backend."""
        return metrics.shares(row.counts)

    def to_text(self, timing: bool = True) -> str:
        """A terminal table; ``*`` marks the best value of each summary column.

        ``timing=False`` leaves out the ``Mdec/s`` column (decisions per second).
        """
        n = len(self.scenario.weights)
        # "Best" compares the values as printed, so rows that look equal are all marked.
        # (Percentages are compared as numbers: "10.00%" < "9.00%" as strings.)
        best_dev = min((round(100 * r.max_deviation, 2) for r in self.rows), default=None)
        best_jain = max((f"{r.jain:.5f}" for r in self.rows), default=None)
        best_rate = max((r.decisions_per_second for r in self.rows), default=None)
        head = ["algorithm"] + [f"b{i}" for i in range(n)] + ["max dev", "Jain", "dropped"]
        head += ["Mdec/s"] if timing else []
        lines = [["weight %"] + [f"{100 * x:.2f}" for x in self.weight_shares] + [""] * (len(head) - n - 1)]
        for r in self.rows:
            lines.append(
                [r.algorithm]
                + [f"{100 * x:.2f}" for x in self.shares(r)]
                + [_mark(f"{100 * r.max_deviation:.2f}%", round(100 * r.max_deviation, 2) == best_dev),
                   _mark(f"{r.jain:.5f}", f"{r.jain:.5f}" == best_jain),
                   f"{r.dropped}"]
                + ([_mark(f"{r.decisions_per_second / 1e6:.1f}", r.decisions_per_second == best_rate)]
                   if timing else [])
            )
        widths = [max(len(c) for c in col) for col in zip(head, *lines)]
        fmt = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
        sc = self.scenario
        title = (f"scenario {sc.name}: {sc.connections:,} connections, {sc.client_count:,} "
                 f"{sc.client_distribution} clients, seed {sc.seed}; share of connections per backend (%)")
        out = [title, fmt(head), fmt(["-" * w for w in widths])] + [fmt(line) for line in lines]
        out.append("max dev: largest |share/weight share - 1|; Jain: fairness of load per unit weight "
                   "(1 = proportional); * = best")
        out.append("Connections are scheduled and never end here, so counters only grow: lc/wlc/sed/nq balance "
                   "totals and ovf fills up;\nreplay lifetimes with lbalgo.simulate to compare them under churn.")
        if self.missing:
            out.append(_interrupted_note(self))
        return "\n".join(out) + "\n"

    def to_markdown(self, timing: bool = True) -> str:
        """A Markdown table with the same content as :meth:`to_text` (``timing`` as there)."""
        n = len(self.scenario.weights)
        head = ["algorithm"] + [f"b{i} %" for i in range(n)] + ["max dev %", "Jain", "dropped"]
        head += ["Mdecisions/s"] if timing else []
        rows = [["*weight share*"] + [f"{100 * x:.2f}" for x in self.weight_shares] + [""] * (len(head) - n - 1)]
        for r in self.rows:
            rows.append([f"`{r.algorithm}`"] + [f"{100 * x:.2f}" for x in self.shares(r)]
                        + [f"{100 * r.max_deviation:.2f}", f"{r.jain:.5f}", str(r.dropped)]
                        + ([f"{r.decisions_per_second / 1e6:.1f}"] if timing else []))
        sc = self.scenario
        lines = [f"### Scenario `{sc.name}`", "",
                 f"{sc.connections:,} connections from {sc.client_count:,} {sc.client_distribution} clients, "
                 f"weights {list(sc.weights)}, seed {sc.seed}.", "",
                 "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        if self.missing:
            lines += ["", _interrupted_note(self)]
        return "\n".join(lines) + "\n"

    def to_dict(self, timing: bool = True) -> dict:
        """Plain data with stable keys (timings optional, since they vary run to run).

        Keys: ``scenario`` (``name``, ``seed``, ``connections``, ``weights``,
        ``clients``: ``distribution``, ``count``, ``exponent``), ``versions``,
        ``missing`` (algorithms not run after an interruption; normally ``[]``)
        and ``results``: one entry per algorithm with ``algorithm``, ``counts``
        (connections per backend), ``dropped``, ``max_deviation``, ``jain`` and,
        when ``timing``, ``decisions_per_second``.
        """
        sc = self.scenario
        return {
            "scenario": {"name": sc.name, "seed": sc.seed, "connections": sc.connections,
                         "weights": list(sc.weights),
                         "clients": {"distribution": sc.client_distribution, "count": sc.client_count,
                                     "exponent": sc.client_exponent}},
            "versions": self.versions,
            "missing": list(self.missing),
            "results": [
                {"algorithm": r.algorithm, "counts": list(r.counts), "dropped": r.dropped,
                 "max_deviation": round(r.max_deviation, 12), "jain": round(r.jain, 12),
                 **({"decisions_per_second": round(r.decisions_per_second)} if timing else {})}
                for r in self.rows
            ],
        }

    def to_json(self, timing: bool = True) -> str:
        """JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict(timing), indent=2, sort_keys=True) + "\n"

    #: Columns of :meth:`to_csv`, in order (``decisions_per_second`` only with ``timing``).
    CSV_COLUMNS = ("algorithm", "backend", "weight", "weight_share", "connections", "share",
                   "relative_deviation", "dropped", "max_deviation", "jain", "decisions_per_second")

    def to_csv(self, timing: bool = True) -> str:
        """CSV in long form: a header, then one row per algorithm and backend.

        The columns are fixed whatever the number of backends (see
        :attr:`CSV_COLUMNS`): ``algorithm``; ``backend`` (index 0..n-1);
        ``weight``; ``weight_share`` (fraction of the total weight);
        ``connections`` (scheduled to that backend); ``share`` (fraction of the
        algorithm's connections); ``relative_deviation`` (``share /
        weight_share - 1``, empty for weight 0); then the algorithm's summary,
        repeated on each of its rows: ``dropped``, ``max_deviation``, ``jain``
        and, only when ``timing``, ``decisions_per_second``. Fractions are
        rounded to 12 digits, as in :meth:`to_json`. Rows follow the order of
        the algorithms, then of the backends; lines end with ``\\n``.
        """
        columns = self.CSV_COLUMNS if timing else self.CSV_COLUMNS[:-1]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        weights = self.scenario.weights
        targets = self.weight_shares
        for r in self.rows:
            summary = [r.dropped, _num(r.max_deviation), _num(r.jain)]
            summary += [round(r.decisions_per_second)] if timing else []
            cells = zip(weights, targets, r.counts, self.shares(r))
            for b, (weight, target, count, share) in enumerate(cells):
                deviation = _num(share / target - 1.0) if target > 0 else ""
                w.writerow([r.algorithm, b, weight, _num(target), count, _num(share), deviation] + summary)
        return buf.getvalue()

    def plot(self, path: str | Path) -> None:
        """Write a PNG bar chart: per algorithm, each backend's share of connections.

        One panel per algorithm; bars are the backends' shares of connections
        and black ticks their weight shares (where a proportional scheduler
        would land). Needs matplotlib (``pip install lbalgo[plot]``); raises
        :class:`RuntimeError` saying so when it is missing. Uses no pyplot
        state, so it is safe in notebooks and threads.
        """
        Figure = require_matplotlib()
        n_alg = max(len(self.rows), 1)
        ncols = min(4, n_alg)
        nrows = -(-n_alg // ncols)
        fig = Figure(figsize=(3.2 * ncols, 2.4 * nrows + 0.6), layout="constrained")
        axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False).ravel()
        x = np.arange(len(self.scenario.weights))
        targets = 100 * self.weight_shares
        for ax, r in zip(axes, self.rows):
            ax.bar(x, 100 * self.shares(r), color="tab:blue", label="share of connections")
            ax.scatter(x, targets, marker="_", s=300, color="black", zorder=3, label="weight share")
            ax.set_title(f"{r.algorithm}  (max dev {100 * r.max_deviation:.1f}%)", fontsize=9)
            ax.set_xticks(x, [f"b{i}" for i in x], fontsize=7)
        for ax in axes[len(self.rows):]:
            ax.set_visible(False)
        for ax in axes[::ncols]:
            ax.set_ylabel("%")
        if self.rows:
            axes[0].legend(fontsize=7)
        sc = self.scenario
        fig.suptitle(f"scenario {sc.name}: {sc.connections:,} connections, weights {list(sc.weights)}, "
                     f"seed {sc.seed}", fontsize=10)
        fig.savefig(path, format="png", dpi=100)


PLOT_MISSING = "plotting needs matplotlib, which is not installed: pip install lbalgo[plot]"


def require_matplotlib() -> type:
    """Import matplotlib lazily; return ``matplotlib.figure.Figure`` or raise a clear RuntimeError."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise RuntimeError(PLOT_MISSING) from None
    return Figure


def _num(x: float) -> str:
    return repr(round(float(x), 12))


def _interrupted_note(c: Comparison) -> str:
    return (f"interrupted: {len(c.rows)} of {len(c.rows) + len(c.missing)} algorithms ran; "
            f"not run: {', '.join(c.missing)}")


def _mark(text: str, best: bool) -> str:
    return text + ("*" if best else " ")


def compare(scenario: scenario_mod.Scenario | None = None, algorithms: Sequence[str] | None = None,
            progress: Callable[[int, int, str], None] | None = None) -> Comparison:
    """Run ``algorithms`` (default: the scenario's, else every registered one) on ``scenario``.

    ``progress(index, total, algorithm)``, if given, is called before each
    algorithm runs (``index`` from 1). A ``KeyboardInterrupt`` while the
    algorithms run returns the rows that finished, with the rest listed in
    :attr:`Comparison.missing`, instead of propagating.
    """
    sc = scenario or scenario_mod.default()
    chosen = list(algorithms or sc.algorithms or names())
    classes = [get(a) for a in chosen]  # fails early on an unknown name
    keys = sc.client_keys()
    rows: list[Row] = []
    try:
        for i, cls in enumerate(classes, 1):
            if progress is not None:
                progress(i, len(classes), cls.name)
            rows.append(_run(cls, sc, keys))
    except KeyboardInterrupt:
        pass
    missing = tuple(cls.name for cls in classes[len(rows):])
    return Comparison(sc, tuple(rows), _versions(), missing)


def _run(cls: type, sc: scenario_mod.Scenario, keys: np.ndarray) -> Row:
    """Warm up (compile or load the cache), then time one batch of ``keys``."""
    cls(weights=list(sc.weights), seed=sc.seed).pick_many(keys[:1000])  # compile / load the cache
    s = cls(weights=list(sc.weights), seed=sc.seed)
    t0 = time.perf_counter()
    ids = s.pick_many(keys)
    seconds = time.perf_counter() - t0
    counts = metrics.counts(ids, len(sc.weights))
    return Row(
        algorithm=cls.name,
        counts=tuple(int(c) for c in counts),
        dropped=int((ids < 0).sum()),
        max_deviation=metrics.max_relative_deviation(counts, sc.weights),
        jain=metrics.jain_index(counts, sc.weights),
        seconds=seconds,
    )


def _versions() -> dict[str, str]:
    import numba

    from .. import __version__
    return {"lbalgo": __version__, "numpy": np.__version__, "numba": numba.__version__}
