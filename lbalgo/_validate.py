"""Input validation shared by the pool, the schedulers and the CLI.

Everything here runs in Python before a kernel is called; kernels trust
their inputs.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

import numpy as np

#: Largest weight lbalgo accepts. IPVS stores weights in an int and rejects
#: negatives (``ip_vs_add_dest``: ERANGE); ipvsadm, keepalived and kube-proxy
#: use 0..65535. nginx accepts ``weight=1..`` (no 0), HAProxy 0..256.
MAX_WEIGHT = 65535


def weight(value: Any, what: str = "weight") -> int:
    """Return ``value`` as an int weight in 0..MAX_WEIGHT, or raise."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an integer, got the bool {value!r}")
    if isinstance(value, numbers.Integral):
        w = int(value)
    elif isinstance(value, numbers.Real):
        f = float(value)
        if math.isnan(f):
            raise ValueError(f"{what} must be an integer, got NaN")
        raise TypeError(f"{what} must be an integer, got the float {value!r}")
    else:
        raise TypeError(f"{what} must be an integer, got {type(value).__name__} {value!r}")
    if w < 0:
        raise ValueError(f"{what} must be >= 0 (0 quiesces the backend), got {w}")
    if w > MAX_WEIGHT:
        raise ValueError(f"{what} must be <= {MAX_WEIGHT}, got {w}")
    return w


def weights(values: Any, what: str = "weights") -> np.ndarray:
    """Return ``values`` (a 1-D sequence or array) as an int64 array of weights."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Iterable, np.ndarray)):
        raise TypeError(f"{what} must be a 1-D sequence of integers, got {type(values).__name__}")
    arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}")
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        if values.size and (values.min() < 0 or values.max() > MAX_WEIGHT):
            bad = int(values[(values < 0) | (values > MAX_WEIGHT)][0])
            weight(bad, f"{what}[{int(np.flatnonzero(values == bad)[0])}]")
        return values.astype(np.int64)
    return np.array([weight(v, f"{what}[{i}]") for i, v in enumerate(arr.tolist())], dtype=np.int64)


def threshold(value: Any, what: str) -> int:
    """Return a connection threshold (0 = none) as an int, or raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    v = int(value)
    if v < 0 or v > 2**31 - 1:
        raise ValueError(f"{what} must be in 0..{2**31 - 1} (0 = no threshold), got {v}")
    return v


def seed(value: Any) -> int:
    """Return a seed as a non-negative int (``None`` means 0), or raise."""
    if value is None:
        return 0
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"seed must be an integer or None, got {value!r}")
    v = int(value)
    if v < 0:
        raise ValueError(f"seed must be >= 0, got {v}")
    return v


def count(value: Any, what: str = "count") -> int:
    """Return a non-negative int count, or raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be a non-negative integer, got {value!r}")
    v = int(value)
    if v < 0:
        raise ValueError(f"{what} must be >= 0, got {v}")
    return v


def time(value: Any, what: str = "now") -> float:
    """Return a finite time in seconds as a float, or raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number of seconds, got {value!r}")
    t = float(value)
    if not math.isfinite(t):
        raise ValueError(f"{what} must be finite, got {t}")
    return t
