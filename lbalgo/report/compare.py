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

The rows are :mod:`lbalgo.report.results`; :mod:`lbalgo.report.render`
writes them out. Every rendering takes ``timing``: with ``timing=False`` the
speed is left out and the output is byte-identical for the same scenario,
seed and install (``versions`` records lbalgo, NumPy and Numba).

``compare(progress=...)`` calls ``progress(index, total, algorithm)`` before
each algorithm (index counts from 1). A ``KeyboardInterrupt`` raised while
the algorithms run (from the callback or from Ctrl-C) stops the comparison:
the result holds the rows that finished and names the others in
:attr:`Comparison.missing`.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .. import metrics
from .. import scenario as scenario_mod
from ..schedulers.registry import get, names
from .plots import PLOT_MISSING, require_matplotlib
from .render import LATENCY_KEYS
from .results import CDF_PROBABILITIES, Comparison, PoolEvent, Row

#: Connections looked at on each side of a pool event for its disruption.
DISRUPTION_WINDOW_SHARE = 0.02


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
        self.added_ids = validate_events(sc.weights, self.events)
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
        """Return the :class:`Comparison` of the rows finished so far."""
        rows = tuple(self.rows)  # one snapshot: run() may append meanwhile
        sc, events = self.scenario, self.events
        missing = tuple(spec.label for spec in self.specs[len(rows):])
        ordered = sorted(zip(events, (e.action for e in sc.events)), key=lambda pair: float(pair[0].time))
        new_ids = iter(self.added_ids)  # an add event names the backend id it creates
        event_times = tuple(PoolEvent(float(ev.time), action,
                                      next(new_ids) if action == "add" else getattr(ev, "backend", None))
                            for ev, action in ordered)
        return Comparison(sc, rows, _versions(), missing, event_times)


def validate_events(weights: tuple[int, ...], events: list[Any]) -> list[int]:
    """Check pool events against the pool before anything runs; return the backend ids the adds create.

    Raises
    ------
    ScenarioError
        Naming the first event that cannot apply (an unknown backend id, ...).
    """
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
        """Return the expected connections per backend if each arrival went weight-proportionally."""
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
                    speeds=_arg(svc.speeds), lifecycle=svc.lifecycle, establish=svc.establish,
                    linger=svc.linger, sample_every=sample_every)


def _arg(value: Any) -> Any:
    """Pass a per-backend scenario value as simulate takes it (a tuple covers backends added by events)."""
    return list(value) if isinstance(value, tuple) else value


def _run(spec: scenario_mod.AlgorithmSpec, sc: scenario_mod.Scenario, generated: Any, events: list[Any],
         by_client: np.ndarray, checkpoint: Callable[[], None] = lambda: None) -> Row:
    """Warm up (compile or load the cache) on a slice, then replay the whole workload.

    ``checkpoint()`` is called between the steps (it raises ``KeyboardInterrupt`` after Ctrl-C).
    """
    from ..workloads import WorkloadArrays

    k = min(1000, len(generated))
    head = WorkloadArrays(generated.arrival[:k].copy(), generated.lifetime[:k].copy(),
                          generated.client[:k].copy(),
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


#: ``validate_events`` under its former name.
_validate_events = validate_events

# Comparison, Row, the quantile grid and the matplotlib guard are re-exported: they lived here before
# lbalgo.report.results, lbalgo.report.render and lbalgo.report.plots took them.
__all__ = ["CDF_PROBABILITIES", "Comparison", "ComparisonRun", "DISRUPTION_WINDOW_SHARE", "LATENCY_KEYS",
           "PLOT_MISSING", "PoolEvent", "Row", "compare", "require_matplotlib", "validate_events"]
