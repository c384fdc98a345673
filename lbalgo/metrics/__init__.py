"""Metrics: pure functions of arrays, usable without the simulator."""

from .fairness import counts, jain_index, max_relative_deviation, shares, weight_shares

__all__ = ["counts", "jain_index", "max_relative_deviation", "shares", "weight_shares"]
