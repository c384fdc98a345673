"""kube-proxy's random endpoint choice, as its two data planes make it.

``iptables`` (``spec/kube-proxy.md`` §1.2–§1.3): one rule per endpoint in
endpoint order; rule ``i`` of ``n`` matches with probability ``1/(n-i)``,
written as a decimal with exactly ten digits (Go ``%0.10f``); the last rule
is unconditional. iptables stores ``p_int = lround(p * 2**31)`` and the
kernel's ``xt_statistic`` matches when ``(get_random_u32() & 0x7FFFFFFF) <
p_int``, one fresh draw per rule reached. ::

    pick():
        for i in 0 .. n-2:
            if (u32() & 0x7FFFFFFF) < p_int(n - i): return endpoint i
        return endpoint n-1

``nftables`` (§2.2): one ``numgen random mod N`` verdict map; the kernel
computes ``reciprocal_scale(u32, N) = (u32 * N) >> 32``. ::

    pick(): return endpoint[(u32() * n) >> 32]

Both draw among the endpoints kube-proxy writes rules for: here the listed
backends with weight > 0, in list order. Weights beyond on/off and the IPVS
overload thresholds do not exist in these data planes and are ignored. The
rules are rewritten whenever the endpoint set changes. kube-proxy orders
endpoints by their ``"ip:port"`` string; give ``addresses=`` and new
backends are inserted in that order (without addresses, at the end).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .. import _rng
from .._rng import below, next_u32
from .._jit import kernel
from .._table import collect_weighted
from .base import schedule_batch, schedule_one
from .random import RandomBase
from .registry import register


@lru_cache(maxsize=None)
def probability_string(remaining: int) -> str:
    """The probability kube-proxy writes for a rule with ``remaining`` endpoints left.

    ``1/remaining`` with exactly ten decimals (Go ``%0.10f``, correctly
    rounded like Python's ``format``).
    """
    if remaining < 1:
        raise ValueError(f"remaining must be >= 1, got {remaining}")
    return f"{1.0 / remaining:.10f}"


@lru_cache(maxsize=None)
def probability_int(remaining: int) -> int:
    """``p_int`` as iptables stores it: ``lround(float(string) * 2**31)``."""
    x = float(probability_string(remaining)) * 2147483648.0
    return math.floor(x + 0.5)  # exact: x has a fine enough ulp; C lround rounds half away from 0


def iptables_shares(n: int) -> list[float]:
    """Exact share of each of ``n`` endpoints under the quantised cascade."""
    shares = []
    reach = 1.0
    for i in range(n - 1):
        q = probability_int(n - i) / 2147483648.0
        shares.append(reach * q)
        reach *= 1.0 - q
    if n:
        shares.append(reach)
    return shares


def nftables_shares(n: int) -> list[float]:
    """Exact share of each of ``n`` endpoints under ``numgen random mod n``."""
    # Index i owns the u32 values r with floor(r * n / 2**32) == i.
    bounds = [-(-(i * 2**32) // n) for i in range(n + 1)]  # ceil(i * 2**32 / n)
    return [(bounds[i + 1] - bounds[i]) / 2**32 for i in range(n)]


@kernel(refcount=False)
def iptables_pick(table, order, state, key, now):
    """``state`` = (rng, candidates, p_int by remaining count, meta[count])."""
    rng, candidates, p_int, meta = state
    n = meta[0]
    if n == 0:
        return -1
    for i in range(n - 1):
        if (next_u32(rng) & 0x7FFFFFFF) < p_int[n - i]:
            return candidates[i]
    return candidates[n - 1]


@kernel(refcount=False)
def nftables_pick(table, order, state, key, now):
    """``state`` = (rng, candidates, meta[count])."""
    rng, candidates, meta = state
    n = meta[0]
    if n == 0:
        return -1
    return candidates[(next_u32(rng) * n) >> 32]


@kernel
def endpoints_changed(table, order, state, event, pos):
    """kube-proxy rewrites the rules: the endpoints are the backends with weight > 0."""
    candidates = state[1]
    meta = state[len(state) - 1]
    meta[0] = collect_weighted(table, order, candidates)


@kernel(refcount=False)
def _iptables_one(table, order, state, key, now, as_active):
    return schedule_one(iptables_pick, table, order, state, key, now, as_active)


@kernel(refcount=False)
def _iptables_batch(table, order, state, keys, times, now, as_active, out):
    schedule_batch(iptables_pick, table, order, state, keys, times, now, as_active, out)


@kernel(refcount=False)
def _nftables_one(table, order, state, key, now, as_active):
    return schedule_one(nftables_pick, table, order, state, key, now, as_active)


@kernel(refcount=False)
def _nftables_batch(table, order, state, keys, times, now, as_active, out):
    schedule_batch(nftables_pick, table, order, state, keys, times, now, as_active, out)


@register
class IptablesCascade(RandomBase):
    """kube-proxy iptables mode: the ``statistic --mode random`` cascade."""

    name = "iptables"
    summary = "kube-proxy iptables: cascade of 1/(n-i) rules, quantised to 2^-31"
    source = "kube-proxy pkg/proxy/iptables; Linux xt_statistic.c"
    insertion = "address"

    _pick = iptables_pick
    _changed = endpoints_changed
    _schedule_one = _iptables_one
    _schedule_batch = _iptables_batch

    def _sized_arrays(self, capacity: int) -> tuple[np.ndarray, ...]:
        p_int = np.array([0] + [probability_int(m) for m in range(1, capacity + 1)], dtype=np.int64)
        return np.zeros(capacity, np.int64), p_int, np.zeros(1, np.int64)

    def rules(self) -> list[str]:
        """The probability of each rule as kube-proxy writes it ("" for the last)."""
        n = int(self.state[-1][0])
        return [probability_string(n - i) for i in range(n - 1)] + ([""] if n else [])

    def shares(self) -> np.ndarray:
        """Exact probability of each backend id under the quantised cascade."""
        return _shares_by_id(self, iptables_shares)


@register
class NftNumgen(RandomBase):
    """kube-proxy nftables mode: ``numgen random mod N`` verdict map."""

    name = "nftables"
    summary = "kube-proxy nftables: numgen random mod N, (u32*N)>>32"
    source = "kube-proxy pkg/proxy/nftables; Linux nft_numgen.c"
    insertion = "address"

    _pick = nftables_pick
    _changed = endpoints_changed
    _schedule_one = _nftables_one
    _schedule_batch = _nftables_batch

    def _sized_arrays(self, capacity: int) -> tuple[np.ndarray, ...]:
        return np.zeros(capacity, np.int64), np.zeros(1, np.int64)

    def shares(self) -> np.ndarray:
        """Exact probability of each backend id under ``reciprocal_scale``."""
        return _shares_by_id(self, nftables_shares)


def _shares_by_id(scheduler: RandomBase, shares_of) -> np.ndarray:
    n = int(scheduler.state[-1][0])
    out = np.zeros(scheduler.pool.n_ids)
    out[scheduler.state[1][:n]] = shares_of(n)
    return out
