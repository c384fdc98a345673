"""Run several schedulers on the same scenario and collect comparable rows.

Every algorithm replays the same connections (same arrivals, lifetimes,
client and destination addresses, from the scenario's seed) through
:func:`lbalgo.simulate`, with the scenario's service model and pool events,
so connections end and counters move as in the real system. A row holds, per
algorithm (columns defined in ``docs/cli.md``):

- connections per backend, against the *target*: the share a perfectly
  weight-proportional scheduler would give each backend, following the
  weights through the pool events (``max_deviation``, ``jain``);
- ``load_max_over_mean``: time-averaged open connections per unit of
  time-averaged weight, busiest backend over the mean (1 = every backend as
  loaded as its weight);
- ``sticky``: the share of a client's repeat connections that reach the
  backend of its previous one (:func:`lbalgo.metrics.affinity_hit_ratio`);
- ``disruption`` per pool event (:func:`lbalgo.metrics.event_disruption`);
- ``latency`` percentiles of the time in the system (queued service models);
- ``dropped`` connections and, when timed, connections replayed per second
  of the compiled event loop (after a warm-up, so compilation is not counted).

Every rendering takes ``timing``: with ``timing=False`` the speed is left
out and the output is byte-identical for the same scenario, seed and install
(``versions`` records lbalgo, NumPy and Numba).

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
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import metrics, scenario as scenario_mod
from ..schedulers.registry import get, names

#: Probabilities at which each row keeps its latency quantiles (for the CDF plot).
CDF_PROBABILITIES = np.concatenate((np.linspace(0.0, 0.99, 397), 1.0 - np.logspace(-2, -4, 60)[1:], [1.0]))
#: Connections looked at on each side of a pool event for its disruption.
DISRUPTION_WINDOW_SHARE = 0.02
LATENCY_KEYS = ("mean", "p50", "p90", "p99", "p99.9")


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

    scenario: scenario_mod.Scenario
    rows: tuple[Row, ...]
    versions: dict[str, str] = field(default_factory=dict)
    #: Algorithms that were asked for but did not run (the comparison was interrupted).
    missing: tuple[str, ...] = ()
    #: Pool events as run, in time order: (time in seconds, action, backend id; for "add" the new id).
    event_times: tuple[tuple[float, str, int | None], ...] = ()

    @property
    def complete(self) -> bool:
        """Whether every requested algorithm ran (``False`` after an interruption)."""
        return not self.missing

    @property
    def queued(self) -> bool:
        """Whether the service model queues (latency is then reported)."""
        return self.scenario.service.model != "infinite"

    @property
    def n_backends(self) -> int:
        """Backend ids in the results (the pool's, plus those added by events)."""
        return len(self.rows[0].counts) if self.rows else len(self.scenario.weights)

    # -- tables --------------------------------------------------------------------------
    def _summary(self, timing: bool, markdown: bool) -> tuple[list[str], list[list[str]]]:
        """Header and cells of the summary table; ``*`` marks the best printed value per column."""
        cols: list[tuple[str, Callable[[Row], float], Callable[[float], str], str]] = [
            ("max dev", lambda r: r.max_deviation, _percent, "min"),
            ("Jain", lambda r: r.jain, lambda v: f"{v:.4f}", "max"),
            ("load max/mean", lambda r: r.load_max_over_mean, lambda v: f"{v:.3f}", "min"),
            ("sticky", lambda r: r.sticky, _percent, "max"),
        ]
        if self.scenario.events:
            cols.append(("moved", lambda r: r.moved, _percent, "min"))
        if self.queued:
            cols += [("p50", lambda r: r.latency["p50"], _duration, "min"),  # type: ignore[index]
                     ("p99", lambda r: r.latency["p99"], _duration, "min")]  # type: ignore[index]
        cols.append(("dropped", lambda r: r.dropped / max(r.connections, 1), _percent, "min"))
        if timing:
            cols.append(("Mconn/s", lambda r: r.connections_per_second / 1e6, lambda v: f"{v:.2f}", "max"))
        head = ["algorithm"] + [c[0] for c in cols]
        body = [[f"`{r.algorithm}`" if markdown else r.algorithm] for r in self.rows]
        for _, value, fmt, best in cols:
            values = [value(r) for r in self.rows]
            printed = [fmt(v) for v in values]
            finite = [(v, p) for v, p in zip(values, printed) if not math.isnan(v)]
            # "Best" compares the values as printed, so rows that look equal are all marked.
            top = (min if best == "min" else max)(finite, key=lambda vp: vp[0])[1] if finite else None
            for cells, p in zip(body, printed):
                cells.append(p + ("*" if p == top and len(self.rows) > 1 else (" " if not markdown else "")))
        return head, body

    def _shares_table(self, markdown: bool) -> tuple[list[str], list[list[str]]]:
        n = self.n_backends
        head = ["algorithm"] + [f"b{i}" for i in range(n)]
        target = self.rows[0].target_shares if self.rows else metrics.weight_shares(self.scenario.weights)
        body = [["*target*" if markdown else "target"] + [f"{100 * x:.2f}" for x in target]]
        for r in self.rows:
            body.append([f"`{r.algorithm}`" if markdown else r.algorithm] + [f"{100 * x:.2f}" for x in r.shares])
        return head, body

    def _title(self) -> str:
        sc = self.scenario
        return f"scenario {sc.name}: weights {list(sc.weights)}; {sc.describe()}"

    def _versions_line(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(self.versions.items()))

    def _events_line(self) -> str:
        if not self.event_times:
            return ""
        return "pool events: " + ", ".join(f"{a} b{b} at {t:,.1f} s" if b is not None else f"{a} at {t:,.1f} s"
                                           for t, a, b in self.event_times)

    def to_text(self, timing: bool = True) -> str:
        """Terminal tables: a summary (``*`` = best value per column), then shares per backend (%).

        ``timing=False`` leaves out the ``Mconn/s`` column (connections replayed per second).
        """
        out = [self._title()]
        if self.event_times:
            out.append(self._events_line())
        if self.versions:
            out.append(self._versions_line())
        out += ["", *_aligned(*self._summary(timing, False)), "", "share of connections per backend (%):",
                *_aligned(*self._shares_table(False)), "",
                "max dev: largest |share/target - 1|; Jain: fairness of connections per unit of target (1 = ideal);",
                "load max/mean: busiest backend's time-averaged open connections per weight over the mean;",
                "sticky: repeat connections that reached the client's previous backend"
                + ("; moved: returning clients sent elsewhere after a pool event" if self.scenario.events else "")
                + (";\np50/p99: time in the system (queue + service)" if self.queued else "")
                + "; * = best. Columns: docs/cli.md"]
        if self.missing:
            out.append(_interrupted_note(self))
        return "\n".join(out) + "\n"

    def to_markdown(self, timing: bool = True) -> str:
        """Markdown: the same two tables as :meth:`to_text` (``timing`` as there)."""
        sc = self.scenario
        lines = [f"### Scenario `{sc.name}`", "", f"Weights {list(sc.weights)}; {sc.describe()}."]
        if self.event_times:
            lines[-1] += " " + self._events_line()[0].upper() + self._events_line()[1:] + "."
        if self.versions:
            lines[-1] += f" Run with {self._versions_line()}."
        lines += ["", *_markdown(*self._summary(timing, True)), "", "Share of connections per backend (%):", "",
                  *_markdown(*self._shares_table(True))]
        if self.missing:
            lines += ["", _interrupted_note(self)]
        return "\n".join(lines) + "\n"

    # -- data ----------------------------------------------------------------------------
    def to_dict(self, timing: bool = True) -> dict:
        """Plain data with stable keys (documented in docs/cli.md; speed only with ``timing``).

        Keys: ``scenario`` (the whole scenario, defaults filled in),
        ``versions``, ``missing`` (algorithms not run after an interruption),
        ``events`` (``time`` in seconds, ``action``, ``backend``: for ``add``
        the id it creates) and
        ``results``: per algorithm ``algorithm``, ``scheduler``, ``counts``,
        ``target_shares``, ``dropped``, ``max_deviation``, ``jain``, ``cov``,
        ``chi2_pvalue``, ``load_max_over_mean``, ``sticky``, ``disruption`` (per event:
        ``time``, ``clients``, ``moved``, ``must_move``), ``latency`` (``mean``,
        ``p50``, ``p90``, ``p99``, ``p99.9`` in seconds, or ``null``) and,
        with ``timing``, ``connections_per_second``. Floats are rounded to 12
        significant digits; NaN is written as ``null``.
        """
        results = []
        for r in self.rows:
            item: dict[str, Any] = {
                "algorithm": r.algorithm, "scheduler": r.scheduler, "counts": list(r.counts),
                "target_shares": [_round(x) for x in r.target_shares], "dropped": r.dropped,
                "max_deviation": _round(r.max_deviation), "jain": _round(r.jain), "cov": _round(r.cov),
                "chi2_pvalue": _round(r.chi2_pvalue),
                "load_max_over_mean": _round(r.load_max_over_mean), "sticky": _round(r.sticky),
                "disruption": [{"time": _round(d.time), "clients": d.clients, "moved": _round(d.moved),
                                "must_move": _round(d.must_move)} for d in r.disruption],
                "latency": None if r.latency is None else {k: _round(r.latency[k]) for k in LATENCY_KEYS},
            }
            if timing:
                item["connections_per_second"] = round(r.connections_per_second)
            results.append(item)
        return {"scenario": self.scenario.to_dict(), "versions": dict(self.versions), "missing": list(self.missing),
                "events": [{"time": _round(t), "action": a, "backend": b} for t, a, b in self.event_times],
                "results": results}

    def to_json(self, timing: bool = True) -> str:
        """JSON of :meth:`to_dict` (keys sorted, two-space indent)."""
        return json.dumps(self.to_dict(timing), indent=2, sort_keys=True, allow_nan=False) + "\n"

    #: Columns of :meth:`to_csv`, in order (``connections_per_second`` only with ``timing``).
    CSV_COLUMNS = ("algorithm", "scheduler", "backend", "connections", "share", "target_share",
                   "relative_deviation", "dropped", "max_deviation", "jain", "cov", "chi2_pvalue",
                   "load_max_over_mean", "sticky", "moved", "latency_p50", "latency_p99", "connections_per_second")

    def to_csv(self, timing: bool = True) -> str:
        """CSV in long form: a header, then one row per algorithm and backend (see :attr:`CSV_COLUMNS`).

        ``backend`` is the backend id; ``connections`` those sent to it;
        ``share`` their fraction of the algorithm's scheduled connections;
        ``target_share`` the weight-proportional fraction;
        ``relative_deviation`` is ``share / target_share - 1`` (empty for a
        target of 0). The algorithm's summary repeats on each of its rows:
        ``dropped``, ``max_deviation``, ``jain``, ``cov``, ``chi2_pvalue``,
        ``load_max_over_mean``, ``sticky``, ``moved`` (mean over pool events; empty without events),
        ``latency_p50`` / ``latency_p99`` in seconds (empty for the infinite
        server) and, only when ``timing``, ``connections_per_second``.
        Floats have 12 significant digits; lines end with ``\\n``.
        """
        columns = self.CSV_COLUMNS if timing else self.CSV_COLUMNS[:-1]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in self.rows:
            lat = r.latency or {}
            summary = [r.dropped, _num(r.max_deviation), _num(r.jain), _num(r.cov), _num(r.chi2_pvalue),
                       _num(r.load_max_over_mean), _num(r.sticky),
                       _num(r.moved), _num(lat.get("p50", math.nan)), _num(lat.get("p99", math.nan))]
            summary += [round(r.connections_per_second)] if timing else []
            for b, (count, share, target) in enumerate(zip(r.counts, r.shares, r.target_shares)):
                deviation = _num(share / target - 1.0) if target > 0 else ""
                w.writerow([r.algorithm, r.scheduler, b, count, _num(share), _num(target), deviation] + summary)
        return buf.getvalue()

    def to_html(self, timing: bool = True) -> str:
        """One self-contained HTML page: sortable tables, column notes and SVG plots (:mod:`lbalgo.report.html`).

        The page loads nothing from the network; ``timing`` as in :meth:`to_text`.
        """
        from .html import comparison_html

        return comparison_html(self, timing)

    def to_pandas(self, timing: bool = True) -> Any:
        """One row per algorithm: ``algorithm``, ``scheduler``, ``family`` and every metric of
        :data:`lbalgo.report.tidy.METRICS` (a :class:`pandas.DataFrame`; needs pandas)."""
        from .tidy import comparison_columns, require_pandas

        return require_pandas().DataFrame(comparison_columns(self, timing))

    def plot(self, path: str | Path, kinds: Sequence[str] | None = None) -> list[str]:
        """Write a PNG report; return the sections drawn (see :mod:`lbalgo.report.plots`).

        Sections: ``shares`` (per backend, against the target), ``active``
        (open connections over time), ``latency`` (CDF; queued models only)
        and ``disruption`` (per pool event; only with events). Needs
        matplotlib (``pip install lbalgo[plot]``); raises :class:`RuntimeError`
        saying so when it is missing.
        """
        from .plots import plot_comparison

        return plot_comparison(self, path, kinds)


# -- formatting helpers -------------------------------------------------------------------
def _percent(v: float) -> str:
    return "-" if math.isnan(v) else f"{100 * v:.2f}%"


def _duration(v: float) -> str:
    if math.isnan(v):
        return "-"
    if abs(v) >= 100:
        return f"{v:.0f} s"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(v) >= scale or unit == "us":
            return f"{v / scale:.3g} {unit}"
    raise AssertionError  # pragma: no cover


def _round(x: float) -> float | None:
    """12 significant digits (stable across platforms' last-bit differences); NaN -> None."""
    x = float(x)
    return None if math.isnan(x) else float(f"{x:.12g}")


def _num(x: float) -> str:
    x = float(x)
    return "" if math.isnan(x) else repr(float(f"{x:.12g}"))


def _aligned(head: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(c) for c in col) for col in zip(head, *body)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [fmt(head), fmt(["-" * w for w in widths])] + [fmt(cells) for cells in body]


def _markdown(head: list[str], body: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(head) + " |", "|" + "|".join(":---" if i == 0 else "---:" for i in range(len(head))) + "|"]
            + ["| " + " | ".join(c.strip() for c in cells) + " |" for cells in body])


def _interrupted_note(c: Comparison) -> str:
    return (f"interrupted: {len(c.rows)} of {len(c.rows) + len(c.missing)} algorithms ran; "
            f"not run: {', '.join(c.missing)}")


PLOT_MISSING = "plotting needs matplotlib, which is not installed: pip install lbalgo[plot]"


def require_matplotlib() -> type:
    """Import matplotlib lazily; return ``matplotlib.figure.Figure`` or raise a clear RuntimeError."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise RuntimeError(PLOT_MISSING) from None
    return Figure


# -- running -----------------------------------------------------------------------------
def compare(scenario: scenario_mod.Scenario | None = None, algorithms: Sequence[str | dict] | None = None,
            progress: Callable[[int, int, str], None] | None = None) -> Comparison:
    """Run ``algorithms`` (default: the scenario's, else every registered one) on ``scenario``.

    ``algorithms`` are registered names, or dicts as the scenario file's
    ``algorithms`` tables (``{"name": "wrr", "incremental": True, "label": "wrr-inc"}``).
    ``progress(index, total, algorithm)``, if given, is called before each
    algorithm runs (``index`` from 1). A ``KeyboardInterrupt`` while the
    algorithms run (Ctrl-C, or raised by ``progress``) returns the rows that
    finished, with the rest listed in :attr:`Comparison.missing`, instead of
    propagating. In the main thread Ctrl-C is taken between the steps of an
    algorithm, never inside compiled code (see :class:`ComparisonRun`).
    """
    return ComparisonRun(scenario, algorithms).run(progress)


class ComparisonRun:
    """A comparison being run: its rows so far, and the :class:`Comparison` they make at any moment.

    ``ComparisonRun(scenario, algorithms)`` validates the scenario and draws
    the workload; :meth:`run` runs the algorithms one by one, appending to
    :attr:`rows`; :meth:`result` builds a :class:`Comparison` of the rows
    finished so far (the others in :attr:`Comparison.missing`), and may be
    called from another thread while :meth:`run` is busy: the command line
    renders it when Ctrl-C arrives.
    """

    def __init__(self, scenario: scenario_mod.Scenario | None = None,
                 algorithms: Sequence[str | dict] | None = None) -> None:
        sc = scenario or scenario_mod.default()
        if algorithms:
            sc = sc.with_algorithms(list(algorithms))  # fails early on an unknown name
        elif not sc.algorithms:
            sc = sc.with_algorithms(names())
        self.scenario = sc
        self.specs = sc.algorithms
        self.events = sc.sim_events()
        self.added_ids = _validate_events(sc.weights, self.events)
        self.generated = sc.workload().generate()
        self.by_client = np.argsort(self.generated.client, kind="stable")  # shared by every row's stickiness
        #: Rows of the algorithms that finished, in order (only ever appended to).
        self.rows: list[Row] = []
        self._stopped = False

    def stop(self) -> None:
        """Ask :meth:`run` (in another thread) to start no further algorithm."""
        self._stopped = True

    def run(self, progress: Callable[[int, int, str], None] | None = None) -> Comparison:
        """Run every algorithm not run yet; stop at a ``KeyboardInterrupt``; return :meth:`result`."""
        from .._interrupt import deferred_sigint

        specs = self.specs
        with deferred_sigint() as interrupt:
            try:
                for i in range(len(self.rows), len(specs)):
                    interrupt.checkpoint()
                    if self._stopped:
                        break
                    if progress is not None:
                        progress(i + 1, len(specs), specs[i].label)
                    row = _run(specs[i], self.scenario, self.generated, self.events, self.by_client,
                               interrupt.checkpoint)
                    self.rows.append(row)
                interrupt.clear()  # Ctrl-C during the last algorithm: the comparison is complete anyway
            except KeyboardInterrupt:
                interrupt.clear()
        return self.result()

    def result(self) -> Comparison:
        """The :class:`Comparison` of the rows finished so far."""
        rows = tuple(self.rows)  # one snapshot: run() may append meanwhile
        sc, events = self.scenario, self.events
        missing = tuple(spec.label for spec in self.specs[len(rows):])
        ordered = sorted(zip(events, (e.action for e in sc.events)), key=lambda pair: float(pair[0].time))
        new_ids = iter(self.added_ids)  # an add event names the backend id it creates
        event_times = tuple((float(ev.time), action,
                             next(new_ids) if action == "add" else getattr(ev, "backend", None))
                            for ev, action in ordered)
        return Comparison(sc, rows, _versions(), missing, event_times)


def _validate_events(weights: tuple[int, ...], events: list[Any]) -> list[int]:
    """Check the scenario's pool events against its pool before anything runs; the ids adds create."""
    from ..pool import Pool
    from ..sim.events import event_arrays

    try:
        arrays = event_arrays(Pool(list(weights)), events)
    except (TypeError, ValueError, LookupError) as e:
        raise scenario_mod.ScenarioError(str(e)) from None
    return [b for b, _, _, _ in arrays.added]


class _WeightTimeline:
    """The pool's weights between pool events (as the simulation applied them), for target shares."""

    def __init__(self, sim: Any, initial: tuple[int, ...]) -> None:
        log = sim.event_log
        self.n = sim.n_backends
        steps = log.listed_weights(np.array(initial, dtype=np.int64), self.n)
        self.times = np.asarray(log.time, dtype=np.float64)
        self.segments = [w.astype(np.float64) for _, w in steps]
        self.unavailable = [tuple(int(x) for x in np.flatnonzero(w == 0)) for _, w in steps[1:]]

    def mean_weights(self, horizon: float) -> np.ndarray:
        """Each backend's weight averaged over ``[0, horizon]`` (the reference for open connections)."""
        edges = np.clip(np.concatenate(([0.0], self.times, [horizon])), 0.0, horizon)
        out = np.zeros(self.n)
        for duration, w in zip(np.diff(edges), self.segments):
            out += duration * w
        return out / horizon if horizon > 0 else self.segments[0].copy()

    def target(self, arrival: np.ndarray) -> np.ndarray:
        """Expected connections per backend if each arrival went weight-proportionally."""
        bounds = np.searchsorted(arrival, self.times, side="left")
        per_segment = np.diff(np.concatenate(([0], bounds, [len(arrival)])))
        out = np.zeros(self.n)
        for count, w in zip(per_segment, self.segments):
            if w.sum() > 0:
                out += count * w / w.sum()
        return out


def _simulate(spec: scenario_mod.AlgorithmSpec, sc: scenario_mod.Scenario, generated: Any, events: list[Any],
              sample_every: float | None) -> Any:
    from ..sim import simulate

    cls = get(spec.name)
    kw: dict[str, Any] = {**cls.simulation_options, **dict(spec.options)}
    if sc.service.lifecycle == "tcp":
        kw.setdefault("new_conns", "inactive")
    s = cls(weights=list(sc.weights), seed=sc.seed if spec.seed is None else spec.seed, **kw)
    svc = sc.service
    return simulate(s, generated, events=events, service=svc.model, servers=_arg(svc.servers),
                    speeds=_arg(svc.speeds), lifecycle=svc.lifecycle, establish=svc.establish, linger=svc.linger,
                    sample_every=sample_every)


def _arg(value: Any) -> Any:
    """A per-backend scenario value as simulate takes it (a tuple covers the backends added by events too)."""
    return list(value) if isinstance(value, tuple) else value


def _run(spec: scenario_mod.AlgorithmSpec, sc: scenario_mod.Scenario, generated: Any, events: list[Any],
         by_client: np.ndarray, checkpoint: Callable[[], None] = lambda: None) -> Row:
    """Warm up (compile or load the cache) on a slice, then replay the whole workload.

    ``checkpoint()`` is called between the steps (it raises ``KeyboardInterrupt`` after Ctrl-C).
    """
    from ..workloads import Generated

    k = min(1000, len(generated))
    head = Generated(generated.arrival[:k].copy(), generated.lifetime[:k].copy(), generated.client[:k].copy(),
                     None if generated.destination is None else generated.destination[:k].copy())
    if sc.events and any(e.action == "add" for e in sc.events):
        events_warm = events  # per-backend arguments must cover added backends
    else:
        events_warm = []
    _simulate(spec, sc, head, events_warm, None)
    checkpoint()
    span = float(generated.arrival[-1]) if len(generated) else 1.0
    sim = _simulate(spec, sc, generated, events, span / sc.service.samples if span > 0 else None)
    checkpoint()
    timeline = _WeightTimeline(sim, sc.weights)

    tr = sim.trace
    counts = np.zeros(timeline.n, dtype=np.int64)
    c = sim.counts()
    counts[: len(c)] = c
    target = timeline.target(tr.arrival)
    ok = tr.backend >= 0
    horizon = float(np.nanmax(tr.end[ok])) if ok.any() else 0.0
    mean_open = np.zeros(timeline.n)
    mean_open[: sim.n_backends] = sim.mean_open()
    load = metrics.max_over_mean(mean_open, timeline.mean_weights(horizon)) if horizon > 0 else float("nan")
    window = max(100, int(DISRUPTION_WINDOW_SHARE * len(tr)))
    disruption = tuple(metrics.event_disruption(tr.arrival, tr.client, tr.backend, t, window, gone)
                       for t, gone in zip(timeline.times, timeline.unavailable))
    latency = quantiles = None
    if sc.service.model != "infinite":
        sojourn = tr.sojourn[tr.backend >= 0]
        latency = metrics.latency_percentiles(sojourn)
        quantiles = np.quantile(sojourn, CDF_PROBABILITIES) if sojourn.size else None
    scheduled = counts.sum()
    return Row(
        algorithm=spec.label, scheduler=spec.name, counts=tuple(int(x) for x in counts),
        target=tuple(float(x) for x in target), dropped=int(sim.drops),
        max_deviation=metrics.max_relative_deviation(counts, target) if scheduled else float("nan"),
        jain=metrics.jain_index(counts, target) if scheduled else float("nan"),
        cov=metrics.coefficient_of_variation(counts, target) if scheduled else float("nan"),
        chi2_pvalue=metrics.chi_square_test(counts, target)[1] if scheduled else float("nan"),
        load_max_over_mean=load, sticky=metrics.affinity_hit_ratio(tr.client, tr.backend, by_client),
        disruption=disruption, latency=latency, seconds=sim.seconds,
        sample_times=sim.sample_times, samples_active=_pad(sim.samples_active, timeline.n),
        latency_quantiles=quantiles,
    )


def _pad(samples: np.ndarray | None, n: int) -> np.ndarray:
    if samples is None:
        return np.zeros((0, n), dtype=np.int64)
    out = np.zeros((samples.shape[0], n), dtype=samples.dtype)
    out[:, : samples.shape[1]] = samples
    return out


def _versions() -> dict[str, str]:
    import numba

    from .. import __version__
    return {"lbalgo": __version__, "numpy": np.__version__, "numba": numba.__version__}


__all__ = ["Comparison", "ComparisonRun", "Row", "compare", "require_matplotlib", "PLOT_MISSING"]
