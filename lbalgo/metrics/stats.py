"""Dispersion of per-backend loads and goodness-of-fit against the weights.

With ``x_i`` the load of backend ``i`` (connections, mean open connections…),
``w_i`` its weight and ``y_i = x_i / w_i`` (backends with weight 0 left out,
or ``y = x`` without weights), ``ybar`` the mean of ``y``:

- coefficient of variation: ``std(y) / ybar`` (population std, ``ddof=0``; 0 = even);
- max over mean: ``max(y) / ybar`` (1 = even; how much more the busiest backend
  carries than its fair share);
- Pearson's chi-square and the G-test (log-likelihood ratio) of the counts
  ``x`` against expected counts ``E_i = sum(x) * w_i / sum(w)``, with
  ``n - 1`` degrees of freedom (``n`` = backends with weight > 0). The
  p-value is the probability of a deviation at least this large if picks
  were independent draws in proportion to the weights. Deterministic
  schedulers (RR, WRR) are far *more* even than that, so their p-values are
  close to 1.

SciPy is imported inside the functions so that ``import lbalgo`` stays fast.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument
from .fairness import _as_loads, normalised_loads


def coefficient_of_variation(loads, weights=None) -> float:
    """``std(y) / mean(y)`` of the (weight-normalised) loads; 0 when all loads are 0."""
    y = normalised_loads(loads, weights)
    mean = y.mean()
    return float(y.std() / mean) if mean > 0 else 0.0


def max_over_mean(loads, weights=None) -> float:
    """``max(y) / mean(y)`` of the (weight-normalised) loads; 1 when all loads are 0."""
    y = normalised_loads(loads, weights)
    mean = y.mean()
    return float(y.max() / mean) if mean > 0 else 1.0


def _expected(counts, weights) -> tuple[np.ndarray, np.ndarray, bool]:
    x = _as_loads(counts, "counts")
    w = _as_loads(weights, "weights")
    if w.shape != x.shape:
        raise InvalidArgument(f"counts has {x.size} entries but weights has {w.size}")
    if w.sum() == 0:
        raise InvalidArgument("weights must not all be 0")
    mask = w > 0
    impossible = bool((x[~mask] > 0).any())  # a count where the weight says never
    obs = x[mask]
    exp = obs.sum() * w[mask] / w[mask].sum()
    return obs, exp, impossible


def chi_square_test(counts, weights) -> tuple[float, float]:
    """Pearson's chi-square statistic and p-value of ``counts`` against ``weights``.

    A count on a weight-0 backend makes the hypothesis impossible: ``(inf, 0.0)``.
    With one backend of weight > 0 the test is trivial: ``(0.0, 1.0)``.
    """
    return _divergence(counts, weights, "pearson")


def g_test(counts, weights) -> tuple[float, float]:
    """G statistic (``2 sum x ln(x/E)``) and p-value of ``counts`` against ``weights``."""
    return _divergence(counts, weights, "log-likelihood")


def _divergence(counts, weights, kind: str) -> tuple[float, float]:
    obs, exp, impossible = _expected(counts, weights)
    if impossible:
        return float("inf"), 0.0
    if obs.size < 2 or obs.sum() == 0:
        return 0.0, 1.0
    from scipy import stats

    res = stats.power_divergence(obs, exp, lambda_=kind)
    return float(res.statistic), float(res.pvalue)
