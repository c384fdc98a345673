"""Metrics: pure functions of arrays, usable without the simulator."""

from .disruption import Disruption, EventDisruption, disruption, event_disruption
from .fairness import counts, jain_index, max_relative_deviation, shares, weight_shares
from .latency import latency_percentiles
from .series import active_over_time, imbalance_over_time
from .stats import chi_square_test, coefficient_of_variation, g_test, max_over_mean
from .stickiness import affinity_hit_ratio

__all__ = ["counts", "jain_index", "max_relative_deviation", "shares", "weight_shares",
           "Disruption", "disruption", "EventDisruption", "event_disruption",
           "affinity_hit_ratio", "latency_percentiles", "active_over_time", "imbalance_over_time",
           "chi_square_test", "coefficient_of_variation", "g_test", "max_over_mean"]
