"""Load over time: open connections per backend at sample times, and imbalance.

``active_over_time(arrival, end, backend, n, times)[k, b]`` is the number of
connections ``i`` with ``backend[i] == b`` and ``arrival[i] <= times[k] <
end[i]`` (dropped connections, ``backend == -1``, are left out). It is computed
in O(connections + samples * backends) with two ``searchsorted`` calls and a
cumulative sum.

``imbalance_over_time(active, weights)[k]`` is ``max(y) / mean(y)`` of the
weight-normalised row ``y = active[k] / w`` (1 = even; 1 also when nothing is
open).
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument


def active_over_time(arrival, end, backend, n_backends: int, times) -> np.ndarray:
    """Open connections per backend at each sample time: int64[len(times), n_backends]."""
    a = np.asarray(arrival, dtype=np.float64)
    e = np.asarray(end, dtype=np.float64)
    b = np.asarray(backend)
    t = np.asarray(times, dtype=np.float64)
    if not (a.shape == e.shape == b.shape) or a.ndim != 1:
        raise InvalidArgument("arrival, end and backend must be 1-D arrays of one length")
    if t.ndim != 1 or (t.size > 1 and (np.diff(t) < 0).any()):
        raise InvalidArgument("times must be a non-decreasing 1-D array")
    if b.size and b.max() >= n_backends:
        raise InvalidArgument(f"backend id {int(b.max())} is out of range for {n_backends} backends")
    ok = b >= 0
    a, e, b = a[ok], e[ok], b[ok].astype(np.int64)
    first = np.searchsorted(t, a, side="left")  # first sample with t >= arrival
    stop = np.searchsorted(t, e, side="left")  # first sample with t >= end
    k = t.size
    delta = np.zeros((k + 1) * n_backends, dtype=np.int64)
    np.add.at(delta, first * n_backends + b, 1)
    np.add.at(delta, stop * n_backends + b, -1)
    return np.cumsum(delta.reshape(k + 1, n_backends), axis=0)[:k]


def imbalance_over_time(active, weights=None) -> np.ndarray:
    """``max / mean`` of each row of weight-normalised loads (backends of weight 0 left out)."""
    x = np.asarray(active, dtype=np.float64)
    if x.ndim != 2:
        raise InvalidArgument(f"active must be 2-D (samples x backends), got shape {x.shape}")
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (x.shape[1],):
            raise InvalidArgument(f"weights must have {x.shape[1]} entries, got shape {w.shape}")
        mask = w > 0
        if not mask.any():
            raise InvalidArgument("weights must not all be 0")
        x = x[:, mask] / w[mask]
    mean = x.mean(axis=1)
    out = np.ones(x.shape[0])
    nz = mean > 0
    out[nz] = x[nz].max(axis=1) / mean[nz]
    return out
