"""The kernels of Envoy's EDF load balancers: round robin and least request.

Both are ``EdfLoadBalancerBase`` (``source/extensions/load_balancing_policies/
common/load_balancer_impl.cc``): on every refresh each host source (all hosts,
healthy hosts) gets a scheduler of its own::

    refresh(now):                                  (EdfLoadBalancerBase::refresh)
        for source in (all hosts, healthy hosts):
            round robin only: its index starts at seed_ the first time it is seen
            if every Envoy weight in the source is equal and no host is in slow start:
                no EDF (the unweighted pick below)
            elif the source has at most one host: no EDF
            else: EDF = createWithPicks(hosts, hostWeight, seed_)

    pick(now):                                     (EdfLoadBalancerBase::chooseHostOnce)
        draw one random value (the priority choice; one priority here)
        source = healthy hosts, or all hosts in panic (nothing with fail_traffic_on_panic)
        EDF: host = earliest deadline; re-add it with hostWeight(host) at `now`
        else: the policy's unweighted pick

``seed_`` is the generator's first draw, made when the balancer is built.
``hostWeight`` is the Envoy weight for round robin and
``weight / (active + 1) ** active_request_bias`` for least request, times
slow start's factor while a host is in its window.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ... import _validate
from ..._jit import kernel
from ..._table import ACTIVE, F_FAILED, FLAGS, SLOT, account, item
from ._common import (
    BIAS,
    CAP,
    CHOICES,
    CLOCK,
    EDF_ALL,
    EDF_HEALTHY,
    EDF_REGIONS,
    F_REGIONS,
    FHEADER,
    FULL_SCAN,
    HEADER,
    HOST_REGIONS,
    N_ALL,
    N_HEALTHY,
    R_ALL,
    R_EXCLUDED,
    R_HEALTHY,
    RR_ALL,
    RR_HEALTHY,
    SEED,
    SEEDED,
    SS_AGGRESSION,
    SS_MIN_WEIGHT,
    SS_WINDOW,
    EnvoyBase,
    at,
    collect_hosts,
    draw,
    edf_build,
    edf_readd_top,
    edf_top,
    envoy_weight,
    in_slow_start,
    slow_start_config,
    slow_start_factor,
    source_of,
    umod,
)


@kernel(inline="always")
def host_weight(table, state, fstate, b, now):
    """Envoy's ``hostWeight(host)`` of backend id ``b`` at time ``now``."""
    s = table[SLOT, b]
    w = float(envoy_weight(table, s))
    if state[CHOICES] > 0:
        # LeastRequestLoadBalancer::hostWeight: weight / (active + 1) ^ bias.
        bias = fstate[BIAS]
        requests = float(table[ACTIVE, s] + 1)
        if bias == 1.0:
            w = w / requests
        elif bias != 0.0:
            w = w / requests ** bias
    if in_slow_start(fstate, now):
        healthy = not table[FLAGS, s] & F_FAILED and state[at(state, R_EXCLUDED) + b] == 0
        w *= slow_start_factor(state, fstate, b, healthy, now)
    return w


@kernel(signature="changed")
def edf_lb_changed(table, state, fstate, event, where):
    """Refresh when the host set changed: both sources' schedulers, as ``refresh(priority)`` does."""
    now = fstate[CLOCK]
    if state[SEEDED] == 0:
        state[SEED] = draw(state)  # EdfLoadBalancerBase's constructor: seed_(random_.random())
        state[RR_ALL] = state[SEED]
        state[RR_HEALTHY] = state[SEED]
        state[SEEDED] = 1
    if not collect_hosts(table, state, fstate, now):
        return
    slow = in_slow_start(fstate, now)
    for source in range(2):
        hosts = at(state, R_ALL) if source == 0 else at(state, R_HEALTHY)
        n = state[N_ALL] if source == 0 else state[N_HEALTHY]
        flag = EDF_ALL if source == 0 else EDF_HEALTHY
        equal = True
        for k in range(1, n):
            first = envoy_weight(table, table[SLOT, state[hosts]])
            if envoy_weight(table, table[SLOT, state[hosts + k]]) != first:
                equal = False
                break
        if (equal and not slow) or n <= 1:
            state[flag] = 0
            continue
        state[flag] = 1
        weights = np.empty(n, dtype=np.float64)
        for k in range(n):
            weights[k] = host_weight(table, state, fstate, state[hosts + k], now)
        remaining = edf_build(state, fstate, source, hosts, n, weights, state[SEED])
        for _ in range(remaining):
            b = edf_top(state, fstate, source)
            edf_readd_top(state, fstate, source, host_weight(table, state, fstate, b, now))


@kernel(inline="always")
def edf_choice(table, state, fstate, source, now):
    """Return the EDF pick of ``source``: the earliest entry, re-added with its weight now."""
    b = edf_top(state, fstate, source)
    edf_readd_top(state, fstate, source, host_weight(table, state, fstate, b, now))
    return b


@kernel(signature="schedule", refcount=False)
def rr_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Envoy round robin: EDF when weights differ, else ``hosts[index++ mod n]`` per source."""
    backend = -1
    for i in range(first, last):
        now = item(times, i)
        fstate[CLOCK] = now
        draw(state)  # hostSourceToUse(context, random(false)): the priority choice
        source = source_of(state)
        b = -1
        if source >= 0:
            n = state[N_ALL] if source == 0 else state[N_HEALTHY]
            if n > 0:
                if state[EDF_ALL if source == 0 else EDF_HEALTHY]:
                    b = edf_choice(table, state, fstate, source, now)
                else:
                    index = RR_ALL if source == 0 else RR_HEALTHY
                    hosts = at(state, R_ALL) if source == 0 else at(state, R_HEALTHY)
                    b = state[hosts + umod(state[index], n)]
                    state[index] += 1
        backend = account(table, b, mode)
        out[i] = backend
    return backend


@kernel(inline="always")
def _requests(table, b):
    return table[ACTIVE, table[SLOT, b]]


@kernel(inline="always")
def lr_unweighted(table, state, hosts, n):
    """``unweightedHostPick``: N_CHOICES (P2C by default) or FULL_SCAN with reservoir-sampled ties."""
    candidate = -1
    if state[FULL_SCAN]:
        tied = 0
        for k in range(n):
            b = state[hosts + k]
            if candidate < 0:
                tied = 1
                candidate = b
                continue
            sampled = _requests(table, b)
            current = _requests(table, candidate)
            if sampled < current:
                tied = 1
                candidate = b
            elif sampled == current:
                tied += 1
                if umod(draw(state), tied) == 0:
                    candidate = b
    else:
        for _ in range(state[CHOICES]):
            b = state[hosts + umod(draw(state), n)]
            if candidate < 0:
                candidate = b
            elif _requests(table, b) < _requests(table, candidate):
                candidate = b
    return candidate


@kernel(signature="schedule", refcount=False)
def lr_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Envoy least request: EDF over ``weight / (active + 1) ** bias`` when weights differ, else P2C."""
    backend = -1
    for i in range(first, last):
        now = item(times, i)
        fstate[CLOCK] = now
        draw(state)  # the priority choice
        source = source_of(state)
        b = -1
        if source >= 0:
            n = state[N_ALL] if source == 0 else state[N_HEALTHY]
            if n > 0:
                if state[EDF_ALL if source == 0 else EDF_HEALTHY]:
                    b = edf_choice(table, state, fstate, source, now)
                else:
                    hosts = at(state, R_ALL) if source == 0 else at(state, R_HEALTHY)
                    b = lr_unweighted(table, state, hosts, n)
        backend = account(table, b, mode)
        out[i] = backend
    return backend


class EdfBalancer(EnvoyBase):
    """Shared by round robin and least request: the EDF regions and slow start."""

    _int_regions = EDF_REGIONS
    _float_regions = F_REGIONS
    # the EDF leaves (2 regions) and trees (4 regions) are each one block
    _int_blocks = tuple((k, 1) for k in range(HOST_REGIONS)) + (
        (6, 2), (8, 2), (10, 2), (12, 2), (14, 4), (18, 4))
    _float_blocks = ((0, 1), (1, 2), (3, 2))

    def __init__(self, weights=None, *, slow_start: dict | None = None, **options) -> None:
        self.slow_start = None if slow_start is None else dict(slow_start)
        self._slow = slow_start_config(slow_start)
        super().__init__(weights, **options)

    def _configure(self, state: np.ndarray, fstate: np.ndarray) -> None:
        super()._configure(state, fstate)
        fstate[SS_WINDOW], fstate[SS_AGGRESSION], fstate[SS_MIN_WEIGHT] = self._slow

    @property
    def seed_value(self) -> int:
        """Envoy's ``seed_``: the first 64-bit draw, made when the balancer was built."""
        return int(self.state[SEED]) & 0xFFFFFFFFFFFFFFFF

    @property
    def uses_edf(self) -> tuple[bool, bool]:
        """Whether the (all hosts, healthy hosts) sources pick by EDF (weights differ, or slow start)."""
        return bool(self.state[EDF_ALL]), bool(self.state[EDF_HEALTHY])


def edf_picks(weights: Sequence[float], count: int, prepicks: int = 0) -> list[int]:
    """Run the EDF scheduler alone: ``count`` picks over entries ``0..n-1`` of fixed ``weights``.

    Built by ``createWithPicks(entries, weight, prepicks)`` (``prepicks = 0``
    is the same as adding the entries one after the other); each pick
    re-adds its entry with the same weight. This is Envoy's
    ``EdfScheduler`` as ``edf_scheduler_test.cc`` drives it.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or not len(w) or not np.isfinite(w).all() or (w <= 0).any():
        raise ValueError("weights must be a non-empty 1-D sequence of finite numbers > 0")
    count = _validate.count(count, "count")
    prepicks = _validate.count(prepicks, "prepicks")
    n = len(w)
    state = np.zeros(HEADER + EDF_REGIONS * n, dtype=np.int64)
    fstate = np.zeros(FHEADER + F_REGIONS * n, dtype=np.float64)
    state[CAP] = n
    hosts = HEADER + R_ALL * n
    state[hosts: hosts + n] = np.arange(n)
    out = np.empty(count, dtype=np.int64)
    _edf_run(state, fstate, w, prepicks, out)
    return out.tolist()


@kernel
def _edf_run(state, fstate, weights, prepicks, out):
    """Build with createWithPicks, finish its remaining picks, then record ``len(out)`` picks."""
    n = len(weights)
    remaining = edf_build(state, fstate, 0, at(state, R_ALL), n, weights, prepicks)
    for _ in range(remaining):
        b = edf_top(state, fstate, 0)
        edf_readd_top(state, fstate, 0, weights[b])
    for i in range(len(out)):
        b = edf_top(state, fstate, 0)
        edf_readd_top(state, fstate, 0, weights[b])
        out[i] = b
