"""Input validation shared by the pool, the schedulers and the CLI.

Everything here runs in Python before a kernel is called; kernels trust
their inputs. Errors are :class:`~lbalgo.errors.InvalidArgument` (a
``ValueError``) or :class:`~lbalgo.errors.InvalidArgumentType` (a
``TypeError``), naming the argument.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Mapping

import numpy as np

from .errors import InvalidArgument, InvalidArgumentType, short

#: Largest weight lbalgo accepts. IPVS stores weights in an int and rejects
#: negatives (``ip_vs_add_dest``: ERANGE); ipvsadm, keepalived and kube-proxy
#: use 0..65535. nginx accepts ``weight=1..`` (no 0), HAProxy 0..256.
MAX_WEIGHT = 65535


def weight(value: Any, what: str = "weight") -> int:
    """Return ``value`` as an int weight in 0..MAX_WEIGHT, or raise."""
    if isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentType(f"{what} must be an integer, got the bool {short(value)}")
    if isinstance(value, numbers.Integral):
        w = int(value)
    elif isinstance(value, numbers.Real):
        try:
            f = float(value)
        except (OverflowError, ValueError):
            f = math.inf
        if math.isnan(f):
            raise InvalidArgument(f"{what} must be an integer, got NaN")
        raise InvalidArgumentType(f"{what} must be an integer, got the float {short(value)}")
    else:
        raise InvalidArgumentType(f"{what} must be an integer, got {type(value).__name__} {short(value)}")
    if w < 0:
        raise InvalidArgument(f"{what} must be >= 0 (0 quiesces the backend), got {short(w)}")
    if w > MAX_WEIGHT:
        raise InvalidArgument(f"{what} must be <= {MAX_WEIGHT}, got {short(w)}")
    return w


_CONTAINERS = (list, tuple, dict, set, frozenset, np.ndarray, range)


def flat(values: Any, what: str, rows: bool = False) -> Any:
    """``values`` if it is an array, or a sequence of scalars (``rows``: of flat sequences); else raise.

    Called before ``numpy.asarray`` on user sequences: NumPy's shape discovery
    takes time exponential in the depth of nested lists that share their
    items (``[x, x]`` nested 30 times), and a flat check costs one pass.
    """
    if isinstance(values, np.ndarray):
        return values
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, range)):
        raise InvalidArgumentType(f"{what} must be a 1-D sequence or array, got {type(values).__name__}")
    # One pass over the element types at C speed; the item by item check (for its message) only
    # when some element is a container: keeps a batch of 100,000 strings at ~2 ms, not ~50.
    if not any(issubclass(kind, _CONTAINERS) for kind in set(map(type, values))):
        return values
    for i, v in enumerate(values):
        if isinstance(v, _CONTAINERS) and not isinstance(v, np.ndarray):
            if not rows or not isinstance(v, (list, tuple)) or any(isinstance(x, _CONTAINERS) for x in v):
                raise InvalidArgument(f"{what} must be 1-D{' (or rows of numbers)' if rows else ''}: "
                                      f"{what}[{i}] is {short(v)}")
        elif isinstance(v, np.ndarray) and v.ndim > (1 if rows else 0):
            raise InvalidArgument(f"{what} must be 1-D: {what}[{i}] is an array of shape {v.shape}")
    return values


def weights(values: Any, what: str = "weights") -> np.ndarray:
    """Return ``values`` (a 1-D sequence or array) as an int64 array of weights."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Iterable, np.ndarray)):
        raise InvalidArgumentType(f"{what} must be a 1-D sequence of integers, got {type(values).__name__}")
    flat(values, what)
    try:
        arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    except (ValueError, TypeError, RecursionError) as e:  # ragged
        raise InvalidArgument(f"{what} must be a 1-D sequence of integers "
                              f"({' '.join(str(e).split())[:80]})") from None
    if arr.ndim != 1:
        raise InvalidArgument(f"{what} must be 1-D, got shape {arr.shape}")
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        if values.size and (values.min() < 0 or values.max() > MAX_WEIGHT):
            bad = int(values[(values < 0) | (values > MAX_WEIGHT)][0])
            weight(bad, f"{what}[{int(np.flatnonzero(values == bad)[0])}]")
        return values.astype(np.int64)
    return np.array([weight(v, f"{what}[{i}]") for i, v in enumerate(arr.tolist())], dtype=np.int64)


def threshold(value: Any, what: str) -> int:
    """Return a connection threshold (0 = none) as an int, or raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentType(f"{what} must be an integer, got {short(value)}")
    v = int(value)
    if v < 0 or v > 2**31 - 1:
        raise InvalidArgument(f"{what} must be in 0..{2**31 - 1} (0 = no threshold), got {short(v)}")
    return v


#: Largest seed: the schedulers' generators take 64 bits, and a larger seed would wrap onto a smaller one.
MAX_SEED = 2**64 - 1


def seed(value: Any) -> int:
    """Return a seed as an int in 0..MAX_SEED (``None`` means 0), or raise."""
    if value is None:
        return 0
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentType(f"seed must be an integer or None, got {short(value)}")
    v = int(value)
    if v < 0 or v > MAX_SEED:
        raise InvalidArgument(f"seed must be in 0..2**64-1, got {short(v)}")
    return v


def count(value: Any, what: str = "count") -> int:
    """Return a non-negative int count, or raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentType(f"{what} must be a non-negative integer, got {short(value)}")
    v = int(value)
    if v < 0:
        raise InvalidArgument(f"{what} must be >= 0, got {short(v)}")
    return v


def positive_count(value: Any, what: str = "count") -> int:
    """Return an int count of at least 1, or raise."""
    v = count(value, what)
    if v < 1:
        raise InvalidArgument(f"{what} must be a positive integer (>= 1), got {v}")
    return v


def time(value: Any, what: str = "now") -> float:
    """Return a finite time in seconds as a float, or raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidArgumentType(f"{what} must be a number of seconds, got {short(value)}")
    try:
        t = float(value)
    except (OverflowError, ValueError):
        t = math.inf
    if not math.isfinite(t):
        raise InvalidArgument(f"{what} must be finite, got {short(value)}")
    return t


def key_batch(keys: Any, what: str = "keys") -> Any:
    """Return ``keys`` if it can be a batch of keys (one per connection), or raise.

    A single string or bytes object would be read character by character, and
    a mapping or a set has no order: each is refused with a message naming
    ``what``. Arrays and other sequences are returned unchanged for the
    scheduler's own conversion.
    """
    if isinstance(keys, np.ndarray):
        return keys
    if isinstance(keys, (str, bytes, bytearray, memoryview)):
        raise InvalidArgumentType(f"{what} must be a sequence of keys (addresses) or an integer array, "
                                  "got one "
                                  f"{type(keys).__name__} {short(keys)}; pick(key=...) takes a single key")
    if isinstance(keys, (Mapping, set, frozenset)) or not isinstance(keys, Iterable):
        raise InvalidArgumentType(f"{what} must be a sequence of keys (addresses) or an integer array, "
                                  f"got {type(keys).__name__}")
    if isinstance(keys, (list, tuple)):
        flat(keys, what, rows=True)  # IPv6 addresses may come as rows of four words
    return keys
