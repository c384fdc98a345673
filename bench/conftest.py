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
