"""How evenly load is spread, against what the weights ask for.

Formulas (``x_i`` = connections given to backend ``i``, ``w_i`` its weight,
``s_i = x_i / sum(x)``, ``t_i = w_i / sum(w)``):

- share deviation of backend ``i``: ``s_i / t_i - 1`` (0 = exactly its weight share);
- Jain's fairness index of the weight-normalised loads ``y_i = x_i / w_i``:
  ``(sum y)^2 / (n * sum y^2)``, 1 when every backend gets exactly its weight
  share, ``1/n`` when one backend gets everything (Jain, Chiu and Hawe, 1984).
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument


def counts(backend_ids: np.ndarray, n_backends: int) -> np.ndarray:
    """Count the connections per backend id in a trace of ids (``-1`` = dropped, ignored)."""
    ids = np.asarray(backend_ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise InvalidArgument("backend_ids must be a 1-D integer array")
    if ids.size and ids.max() >= n_backends:
        raise InvalidArgument(f"backend id {int(ids.max())} is out of range for {n_backends} backends")
    return np.bincount(ids[ids >= 0], minlength=n_backends).astype(np.int64)


def _as_loads(x: np.ndarray | list, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise InvalidArgument(f"{what} must be a non-empty 1-D array")
    if not np.isfinite(a).all() or (a < 0).any():
        raise InvalidArgument(f"{what} must be finite and >= 0")
    return a


def normalised_loads(loads: np.ndarray | list, weights: np.ndarray | list | None) -> np.ndarray:
    """Return the loads divided by the weights, backends of weight 0 left out (the loads without weights).

    This is the ``y_i = x_i / w_i`` every weight-aware metric here is built on.
    """
    x = _as_loads(loads, "loads")
    if weights is None:
        return x
    w = _as_loads(weights, "weights")
    if w.shape != x.shape:
        raise InvalidArgument(f"loads has {x.size} entries but weights has {w.size}")
    mask = w > 0
    if not mask.any():
        raise InvalidArgument("weights must not all be 0")
    return x[mask] / w[mask]


def shares(loads: np.ndarray | list) -> np.ndarray:
    """Each backend's fraction of the total load (all zeros if the total is 0)."""
    a = _as_loads(loads, "loads")
    total = a.sum()
    return a / total if total > 0 else np.zeros_like(a)


def weight_shares(weights: np.ndarray | list) -> np.ndarray:
    """Each backend's fraction of the total weight."""
    w = _as_loads(weights, "weights")
    if w.sum() == 0:
        raise InvalidArgument("weights must not all be 0")
    return w / w.sum()


def max_relative_deviation(loads: np.ndarray | list, weights: np.ndarray | list) -> float:
    """Largest ``|s_i / t_i - 1|`` over backends with weight > 0 (0 = perfect)."""
    s = shares(loads)
    t = weight_shares(weights)
    if s.shape != t.shape:
        raise InvalidArgument(f"loads has {s.size} entries but weights has {t.size}")
    mask = t > 0
    return float(np.max(np.abs(s[mask] / t[mask] - 1.0)))


def jain_index(loads: np.ndarray | list, weights: np.ndarray | list | None = None) -> float:
    """Jain's fairness index of the loads, normalised by weight when weights are given.

    Backends with weight 0 are left out. Returns a value in ``[1/n, 1]``; 1
    for all-zero loads (nothing is unfair about no load).
    """
    x = normalised_loads(loads, weights)
    total = x.sum()
    if total == 0:
        return 1.0
    x = x / x.max()  # scale first: the index is scale-invariant and this avoids overflow
    return float(x.sum() ** 2 / (x.size * np.square(x).sum()))
