"""Latency of queued connections: sojourn (``end - arrival``) and wait (``start - arrival``).

Percentiles use NumPy's default (linear interpolation between order
statistics); NaN entries (dropped connections) are ignored.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument

#: Percentiles reported by default.
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def latency_percentiles(latencies, percentiles=PERCENTILES) -> dict[str, float]:
    """``{"mean": …, "p50": …, "p90": …, …}`` of the finite latencies (NaN when there are none)."""
    x = np.asarray(latencies, dtype=np.float64)
    if x.ndim != 1:
        raise InvalidArgument("latencies must be a 1-D array")
    q = np.asarray(percentiles, dtype=np.float64)
    if q.ndim != 1 or ((q < 0) | (q > 100)).any():
        raise InvalidArgument("percentiles must be numbers in [0, 100]")
    x = x[np.isfinite(x)]
    out = {"mean": float(x.mean()) if x.size else float("nan")}
    values = np.percentile(x, q) if x.size else np.full(q.size, np.nan)
    for p, v in zip(q, values):
        out[f"p{p:g}"] = float(v)
    return out
