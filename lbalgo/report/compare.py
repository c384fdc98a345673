"""Run several schedulers on the same scenario and collect comparable rows.

Every scheduler sees the same pool weights and the same client keys (same
seed). Connections are scheduled one after another and never end (the
simulator, :func:`lbalgo.simulate`, replays lifetimes). Each row holds the connections per backend, the share deviation
against the weight share, Jain's index of the weight-normalised load and
the measured decisions per second of the compiled batch (measured after a
warm-up, so compilation is not counted).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Sequence

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

    @property
    def weight_shares(self) -> np.ndarray:
        """Each backend's share of the total weight."""
        return metrics.weight_shares(self.scenario.weights)

    def shares(self, row: Row) -> np.ndarray:
        """A row's share of connections per backend."""
        return metrics.shares(row.counts)

    def to_text(self) -> str:
        """A terminal table; ``*`` marks the best value of each summary column."""
        n = len(self.scenario.weights)
        # "Best" compares the values as printed, so rows that look equal are all marked.
        best_dev = min(f"{100 * r.max_deviation:.2f}%" for r in self.rows)
        best_jain = max(f"{r.jain:.5f}" for r in self.rows)
        best_rate = max(r.decisions_per_second for r in self.rows)
        head = ["algorithm"] + [f"b{i}" for i in range(n)] + ["max dev", "Jain", "dropped", "Mdec/s"]
        lines = [["weight %"] + [f"{100 * x:.2f}" for x in self.weight_shares] + ["", "", "", ""]]
        for r in self.rows:
            lines.append(
                [r.algorithm]
                + [f"{100 * x:.2f}" for x in self.shares(r)]
                + [_mark(f"{100 * r.max_deviation:.2f}%", f"{100 * r.max_deviation:.2f}%" == best_dev),
                   _mark(f"{r.jain:.5f}", f"{r.jain:.5f}" == best_jain),
                   f"{r.dropped}",
                   _mark(f"{r.decisions_per_second / 1e6:.1f}", r.decisions_per_second == best_rate)]
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
        return "\n".join(out) + "\n"

    def to_markdown(self, timing: bool = True) -> str:
        """A Markdown table with the same content as :meth:`to_text`."""
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
        return "\n".join(lines) + "\n"

    def to_dict(self, timing: bool = True) -> dict:
        """Plain data with stable keys (timings optional, since they vary run to run)."""
        sc = self.scenario
        return {
            "scenario": {"name": sc.name, "seed": sc.seed, "connections": sc.connections,
                         "weights": list(sc.weights),
                         "clients": {"distribution": sc.client_distribution, "count": sc.client_count,
                                     "exponent": sc.client_exponent}},
            "versions": self.versions,
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


def _mark(text: str, best: bool) -> str:
    return text + ("*" if best else " ")


def compare(scenario: scenario_mod.Scenario | None = None, algorithms: Sequence[str] | None = None) -> Comparison:
    """Run ``algorithms`` (default: the scenario's, else every registered one) on ``scenario``."""
    sc = scenario or scenario_mod.default()
    chosen = list(algorithms or sc.algorithms or names())
    classes = [get(a) for a in chosen]  # fails early on an unknown name
    keys = sc.client_keys()
    rows = []
    for cls in classes:
        cls(weights=list(sc.weights), seed=sc.seed).pick_many(keys[:1000])  # compile / load the cache
        s = cls(weights=list(sc.weights), seed=sc.seed)
        t0 = time.perf_counter()
        ids = s.pick_many(keys)
        seconds = time.perf_counter() - t0
        counts = metrics.counts(ids, len(sc.weights))
        rows.append(Row(
            algorithm=cls.name,
            counts=tuple(int(c) for c in counts),
            dropped=int((ids < 0).sum()),
            max_deviation=metrics.max_relative_deviation(counts, sc.weights),
            jain=metrics.jain_index(counts, sc.weights),
            seconds=seconds,
        ))
    return Comparison(sc, tuple(rows), _versions())


def _versions() -> dict[str, str]:
    import numba

    from .. import __version__
    return {"lbalgo": __version__, "numpy": np.__version__, "numba": numba.__version__}
