"""The results of a comparison: one :class:`Row` per algorithm, gathered in a :class:`Comparison`.

These are plain data. :mod:`lbalgo.report.compare` fills them in,
:mod:`lbalgo.report.render` writes them out (the ``to_*`` methods and
:meth:`Comparison.plot` call it). Each row keeps its latency quantiles at
:data:`CDF_PROBABILITIES` (also :attr:`Comparison.cdf_probabilities`), which
the latency plots draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

import numpy as np

from .. import metrics
from . import render

if TYPE_CHECKING:  # pragma: no cover
    from ..scenario import Scenario

#: Probabilities at which each row keeps its latency quantiles (for the CDF plot).
CDF_PROBABILITIES = np.concatenate((np.linspace(0.0, 0.99, 397), 1.0 - np.logspace(-2, -4, 60)[1:], [1.0]))


class PoolEvent(NamedTuple):
    """A pool event as run: when, what, and to which backend.

    A tuple ``(time, action, backend)``, so it unpacks and compares like one.
    """

    #: Seconds from the start of the run.
    time: float
    #: The scenario's action: add, remove, weight, quiesce, fail, recover or thresholds.
    action: str
    #: The backend id the event applies to; for ``add``, the id it creates.
    backend: int | None


@dataclass(frozen=True, eq=False)
class Row:
    """Results of one algorithm (a label, a scheduler name and its options)."""

    algorithm: str
    scheduler: str
    counts: tuple[int, ...]
    target: tuple[float, ...]
    dropped: int
    max_deviation: float
    jain: float
    cov: float
    chi2_pvalue: float
    load_max_over_mean: float
    sticky: float
    disruption: tuple[metrics.EventDisruption, ...]
    latency: dict[str, float] | None
    seconds: float
    # Kept for the plots (not rendered in the tables):
    sample_times: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    samples_active: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), repr=False)
    latency_quantiles: np.ndarray | None = field(default=None, repr=False)

    @property
    def connections(self) -> int:
        """Connections offered (scheduled + dropped)."""
        return sum(self.counts) + self.dropped

    @property
    def connections_per_second(self) -> float:
        """Connections replayed per second of compiled event-loop time."""
        return self.connections / self.seconds if self.seconds > 0 else float("inf")

    @property
    def shares(self) -> np.ndarray:
        """Each backend's share of the scheduled connections."""
        return metrics.shares(self.counts)

    @property
    def target_shares(self) -> np.ndarray:
        """Each backend's share under a perfectly weight-proportional scheduler."""
        return metrics.shares(self.target)

    @property
    def moved(self) -> float:
        """Mean share of returning clients moved by the pool events (NaN without events)."""
        values = [d.moved for d in self.disruption if not math.isnan(d.moved)]
        return float(np.mean(values)) if values else float("nan")


@dataclass(frozen=True, eq=False)
class Comparison:
    """A scenario and one :class:`Row` per algorithm."""

    scenario: Scenario
    rows: tuple[Row, ...]
    versions: dict[str, str] = field(default_factory=dict)
    #: Algorithms that were asked for but did not run (the comparison was interrupted).
    missing: tuple[str, ...] = ()
    #: Pool events as run, in time order (:class:`PoolEvent`: time in seconds, action, backend id).
    event_times: tuple[PoolEvent, ...] = ()

    #: Columns of :meth:`to_csv`, in order (``connections_per_second`` only with ``timing``).
    CSV_COLUMNS = render.CSV_COLUMNS

    @property
    def complete(self) -> bool:
        """Whether every requested algorithm ran (``False`` after an interruption)."""
        return not self.missing

    @property
    def queued(self) -> bool:
        """Whether the service model queues (latency is then reported)."""
        return self.scenario.service.model != "infinite"

    @property
    def cdf_probabilities(self) -> np.ndarray:
        """Probabilities at which each row's ``latency_quantiles`` are taken (:data:`CDF_PROBABILITIES`)."""
        return CDF_PROBABILITIES

    @property
    def n_backends(self) -> int:
        """Backend ids in the results (the pool's, plus those added by events)."""
        return len(self.rows[0].counts) if self.rows else len(self.scenario.weights)

    # -- renderings (lbalgo.report.render) ----------------------------------------------------
    def to_text(self, timing: bool = True) -> str:
        """Render terminal tables: a summary (``*`` = best value per column), then shares per backend (%).

        ``timing=False`` leaves out the ``Mconn/s`` column (connections replayed per second).
        """
        return render.to_text(self, timing)

    def to_markdown(self, timing: bool = True) -> str:
        """Render Markdown: the same two tables as :meth:`to_text` (``timing`` as there)."""
        return render.to_markdown(self, timing)

    def to_dict(self, timing: bool = True) -> dict:
        """Return plain data with stable keys (see :func:`lbalgo.report.render.to_dict` and docs/cli.md)."""
        return render.to_dict(self, timing)

    def to_json(self, timing: bool = True) -> str:
        """Render :meth:`to_dict` as JSON (keys sorted, two-space indent)."""
        return render.to_json(self, timing)

    def to_csv(self, timing: bool = True) -> str:
        """Render CSV in long form, one row per algorithm and backend (:func:`.render.to_csv`)."""
        return render.to_csv(self, timing)

    def to_html(self, timing: bool = True) -> str:
        """Render one self-contained HTML page: sortable tables, column notes and SVG plots.

        The page loads nothing from the network (:mod:`lbalgo.report.html`);
        ``timing`` as in :meth:`to_text`.
        """
        return render.to_html(self, timing)

    def to_pandas(self, timing: bool = True) -> Any:
        """Return a :class:`pandas.DataFrame` with one row per algorithm (needs pandas).

        Columns: ``algorithm``, ``scheduler``, ``family`` and every metric of
        :data:`lbalgo.report.tidy.METRICS`.
        """
        return render.to_pandas(self, timing)

    def plot(self, path: str | Path, kinds: Sequence[str] | None = None) -> list[str]:
        """Write a PNG report; return the sections drawn (see :mod:`lbalgo.report.plots`).

        Sections: ``shares`` (per backend, against the target), ``active``
        (open connections over time), ``latency`` (CDF; queued models only)
        and ``disruption`` (per pool event; only with events). Needs
        matplotlib (``pip install lbalgo[plot]``); raises :class:`RuntimeError`
        saying so when it is missing.
        """
        return render.plot(self, path, kinds)


__all__ = ["CDF_PROBABILITIES", "Comparison", "PoolEvent", "Row"]
