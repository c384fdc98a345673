"""The metrics of one simulation, gathered in one dict (what :meth:`lbalgo.SimulationResult.metrics` returns).

The simulator produces a trace and counter samples; :mod:`lbalgo.metrics`
holds pure functions of such arrays. This module composes the two, so that
:mod:`lbalgo.sim` does not depend on :mod:`lbalgo.metrics`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import metrics

if TYPE_CHECKING:  # pragma: no cover
    from ..sim import SimulationResult


def simulation_metrics(sim: SimulationResult) -> dict[str, Any]:
    """Return fairness, drops, latency (queued service models) and affinity of ``sim``, as one dict.

    Fairness is measured on connection counts and on time-averaged open
    connections, against ``sim.weights`` (reference weights: under pool
    events these are only a guide). Keys: ``connections``, ``dropped``,
    ``drop_ratio``, ``events``, ``events_per_second`` and ``counts``; when
    connections were scheduled, ``shares``, ``max_relative_deviation``,
    ``jain``, ``cov``, ``max_over_mean``, ``chi2``, ``chi2_pvalue``, ``g``,
    ``g_pvalue``, ``mean_open``, ``open_jain`` and ``open_max_over_mean``;
    with counter samples, ``imbalance_max`` and ``imbalance_mean``; for the
    queued models ``sojourn`` (and ``wait`` for FIFO) percentiles; with more
    than one client, ``affinity_hit_ratio``.
    """
    counts = sim.counts()
    w = sim.weights
    out: dict[str, Any] = {
        "connections": len(sim.trace),
        "dropped": sim.drops,
        "drop_ratio": sim.drops / len(sim.trace) if len(sim.trace) else 0.0,
        "events": sim.events,
        "events_per_second": sim.events_per_second,
        "counts": counts,
    }
    if counts.sum() > 0 and w.sum() > 0:
        chi, p_chi = metrics.chi_square_test(counts, w)
        g, p_g = metrics.g_test(counts, w)
        opened = sim.mean_open()
        out.update({
            "shares": metrics.shares(counts),
            "max_relative_deviation": metrics.max_relative_deviation(counts, w),
            "jain": metrics.jain_index(counts, w),
            "cov": metrics.coefficient_of_variation(counts, w),
            "max_over_mean": metrics.max_over_mean(counts, w),
            "chi2": chi, "chi2_pvalue": p_chi, "g": g, "g_pvalue": p_g,
            "mean_open": opened,
            "open_jain": metrics.jain_index(opened, w),
            "open_max_over_mean": metrics.max_over_mean(opened, w),
        })
    if sim.samples_active is not None and len(sim.sample_times):
        active = sim.samples_active[:, : sim.n_backends]
        if w.sum() > 0:
            imb = metrics.imbalance_over_time(active, w)
            out["imbalance_max"] = float(imb.max())
            out["imbalance_mean"] = float(imb.mean())
    if sim.service != "infinite":
        out["sojourn"] = metrics.latency_percentiles(sim.trace.sojourn)
        if sim.service == "fifo":
            out["wait"] = metrics.latency_percentiles(sim.trace.wait)
    client = sim.trace.client
    if client.size and client.min() != client.max():
        out["affinity_hit_ratio"] = metrics.affinity_hit_ratio(client, sim.trace.backend)
    return out


__all__ = ["simulation_metrics"]
