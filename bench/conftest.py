import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mixed_weights(n, seed=1):
    """n weights between 1 and 10, reproducible."""
    return np.random.default_rng(seed).integers(1, 11, size=n).tolist()


def hit_spread(ids, n):
    """Relative standard deviation of hits per backend (Envoy's computeHitStats)."""
    counts = np.bincount(ids[ids >= 0], minlength=n)
    return float(counts.std() / counts.mean()) if counts.mean() else 0.0


def ns_per(benchmark, n, stat="min"):
    """Nanoseconds per item of the measured call (``None`` under --benchmark-disable)."""
    stats = getattr(benchmark, "stats", None)
    if not stats:
        return None
    return getattr(stats.stats, stat) / n * 1e9


_PAIRS: dict = {}


def paired(key, impl, value, info, ratios):
    """Remember ``value`` (ns per decision, or events/s) of ``impl`` in comparison ``key``; record ratios.

    ``ratios`` holds ``(name, numerator impl, denominator impl)``. Once both
    sides of a ratio have been measured in this run (in either order), its
    value is written to the ``extra_info`` of every measured side of it
    (pytest-benchmark serializes ``extra_info`` at the end of the session,
    so a side measured earlier gets it too). Returns ``info``.
    """
    sides = _PAIRS.setdefault(key, {})
    sides[impl] = (value, info)
    for name, num, den in ratios:
        if num in sides and den in sides and sides[num][0] and sides[den][0]:
            r = sides[num][0] / sides[den][0]
            sides[num][1][name] = r
            sides[den][1][name] = r
    return info
