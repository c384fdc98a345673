"""kube-proxy's random endpoint choice, as its two data planes make it.

``iptables`` (kube-proxy's ``pkg/proxy/iptables/proxier.go``: ``writeServiceToEndpointRules``
and ``computeProbability``): one rule per endpoint in endpoint order; rule ``i`` of ``n``
matches with probability ``1/(n-i)``, written as a decimal with exactly ten digits (Go
``%0.10f``); the last rule is unconditional. iptables (``extensions/libxt_statistic.c``)
stores ``p_int = lround(p * 2**31)`` and Linux's ``xt_statistic`` (``statistic_mt`` in
``net/netfilter/xt_statistic.c``) matches when ``(get_random_u32() & 0x7FFFFFFF) <
p_int``, one fresh draw per rule reached. ::

    pick():
        for i in 0 .. n-2:
            if (u32() & 0x7FFFFFFF) < p_int(n - i): return endpoint i
        return endpoint n-1

``nftables`` (``writeServiceToEndpointRules`` in ``pkg/proxy/nftables/proxier.go``): one
``numgen random mod N`` verdict map; Linux (``nft_ng_random_gen`` in
``net/netfilter/nft_numgen.c``) computes ``reciprocal_scale(u32, N) = (u32 * N) >> 32``. ::

    pick(): return endpoint[(u32() * n) >> 32]

Both draw among the endpoints kube-proxy writes rules for: here the listed
backends with weight > 0, in list order. Weights beyond on/off and the IPVS
overload thresholds do not exist in these data planes and are ignored. The
rules are rewritten whenever the endpoint set changes (the ``changed`` hook
collects the endpoints' slots on every pool event). kube-proxy orders
endpoints by their ``"ip:port"`` string; give ``addresses=`` and new
backends are inserted in that order (without addresses, at the end).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .._jit import kernel
from .._rng import step
from .._table import BACKEND, account_at, collect_weighted
from .registry import register
from .weighted_random import RandomBase

# state layout: the generator (state[0:4], see RandomBase), the number of endpoints, the
# capacity cap, then a region of cap endpoint slots in rule order; iptables adds a region
# of cap + 1 values, p_int by remaining count (p_int(m) at ENDPOINTS + cap + m)
COUNT, CAP = 4, 5
ENDPOINTS = 6


@lru_cache(maxsize=None)
def probability_string(remaining: int) -> str:
    """Return the probability kube-proxy writes for a rule with ``remaining`` endpoints left.

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


@kernel(signature="schedule", refcount=False)
def iptables_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state``: generator, count, capacity, endpoint slots, then p_int by remaining count."""
    n = state[COUNT]
    p_int = ENDPOINTS + state[CAP] + n  # p_int(n - j) is state[p_int - j]
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    backend = -1
    for i in range(first, last):
        s = -1
        if n > 0:
            # One fresh draw per rule reached; the last rule is unconditional.
            j = 0
            while j < n - 1:
                u, s0, s1, s2, s3 = step(s0, s1, s2, s3)
                if (u & 0x7FFFFFFF) < state[p_int - j]:
                    break
                j += 1
            s = state[ENDPOINTS + j]
        backend = account_at(table, s, mode)
        out[i] = backend
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return backend


@kernel(signature="schedule", refcount=False)
def nftables_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state``: generator, count, capacity, endpoint slots."""
    n = state[COUNT]
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    backend = -1
    for i in range(first, last):
        s = -1
        if n > 0:
            u, s0, s1, s2, s3 = step(s0, s1, s2, s3)
            s = state[ENDPOINTS + ((u * n) >> 32)]
        backend = account_at(table, s, mode)
        out[i] = backend
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return backend


@kernel(signature="changed", refcount=False)
def endpoints_changed(table, state, fstate, event, where):
    """kube-proxy rewrites the rules: the endpoints are the backends with weight > 0 (any event)."""
    state[COUNT] = collect_weighted(table, state, ENDPOINTS)


class _KubeRandom(RandomBase):
    """The endpoint list both kube-proxy data planes draw from."""

    family = "kube-proxy"
    insertion = "address"
    _changed = endpoints_changed

    def _blank_state(self, capacity: int) -> np.ndarray:
        state = np.zeros(ENDPOINTS + capacity, dtype=np.int64)
        state[CAP] = capacity
        return state

    def _endpoints(self) -> np.ndarray:
        """Ids of the endpoints, in rule order."""
        n = int(self.state[COUNT])
        return self.pool.table[BACKEND, self.state[ENDPOINTS:ENDPOINTS + n]]


@register
class IptablesCascade(_KubeRandom):
    """kube-proxy iptables mode: the ``statistic --mode random`` cascade."""

    name = "iptables"
    summary = "kube-proxy iptables: cascade of 1/(n-i) rules, quantised to 2^-31"
    source = "kube-proxy pkg/proxy/iptables; Linux xt_statistic.c"
    scans_pool = True

    _schedule = iptables_schedule

    def _blank_state(self, capacity: int) -> np.ndarray:
        state = np.zeros(ENDPOINTS + 2 * capacity + 1, dtype=np.int64)
        state[CAP] = capacity
        state[ENDPOINTS + capacity:] = _p_ints(capacity)
        return state

    def rules(self) -> list[str]:
        """Return the probability of each rule as kube-proxy writes it ("" for the last)."""
        n = int(self.state[COUNT])
        return [probability_string(n - i) for i in range(n - 1)] + ([""] if n else [])

    def shares(self) -> np.ndarray:
        """Exact probability of each backend id under the quantised cascade."""
        return _shares_by_id(self, iptables_shares)


@register
class NftNumgen(_KubeRandom):
    """kube-proxy nftables mode: ``numgen random mod N`` verdict map."""

    name = "nftables"
    summary = "kube-proxy nftables: numgen random mod N, (u32*N)>>32"
    source = "kube-proxy pkg/proxy/nftables; Linux nft_numgen.c"

    _schedule = nftables_schedule

    def shares(self) -> np.ndarray:
        """Exact probability of each backend id under ``reciprocal_scale``."""
        return _shares_by_id(self, nftables_shares)


def _p_ints(capacity: int) -> np.ndarray:
    """``p_int`` by remaining count ``0 .. capacity`` (0 for none)."""
    return np.array([0] + [probability_int(m) for m in range(1, capacity + 1)], dtype=np.int64)


def _shares_by_id(scheduler: _KubeRandom, shares_of) -> np.ndarray:
    out = np.zeros(scheduler.pool.n_ids)
    endpoints = scheduler._endpoints()
    if len(endpoints):
        out[endpoints] = shares_of(len(endpoints))
    return out
