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
from ..._rng import step
from ..._table import ACTIVE, F_FAILED, FLAGS, SLOT, account, account_at, item
from ._base import EnvoyBase, slow_start_config
from ._edf import (
    edf_build,
    edf_readd_top,
    edf_regions,
    edf_replay,
    edf_replay_flat,
    edf_step_regions,
    edf_top,
)
from ._hosts import (
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
    RNG_LEN,
    RNG_MODE,
    RNG_POS,
    RR_ALL,
    RR_HEALTHY,
    SEED,
    SEEDED,
    SS_AGGRESSION,
    SS_MIN_WEIGHT,
    SS_WINDOW,
    at,
    collect_hosts,
    draw,
    envoy_weight,
    in_slow_start,
    slow_start_factor,
    source_of,
    umod,
)


@kernel(refcount=False)
def request_weight(w, active, bias):
    """``LeastRequestLoadBalancer::hostWeight`` without slow start: ``w / (active + 1) ** bias``."""
    requests = float(active + 1)
    if bias == 1.0:
        w = w / requests
    elif bias != 0.0:
        w = w / requests ** bias
    return w


@kernel(refcount=False)
def remember_step(state, fstate, steps, weights, actives, leaf, w, active, bias):
    """Cache EDF leaf ``leaf``'s step ``1 / hostWeight`` for Envoy weight ``w`` and ``active`` requests.

    Nothing to do when the cache holds that weight and count already. The
    weight is part of the key because a weight may change in place without a
    host-set update (Envoy's ``Host::weight``), and a re-added host then uses
    the new one. Round robin (and bias 0) passes ``active = 0``: the step is
    ``1 / w``, the step :func:`edf_lb_changed` caches for every leaf.
    """
    if state[np.uint64(weights + leaf)] != w or state[np.uint64(actives + leaf)] != active:
        state[np.uint64(weights + leaf)] = w
        state[np.uint64(actives + leaf)] = active
        fstate[np.uint64(steps + leaf)] = 1.0 / request_weight(float(w), active, bias)


@kernel(refcount=False)
def host_weight(table, state, fstate, b, now):
    """Envoy's ``hostWeight(host)`` of backend id ``b`` at time ``now``."""
    s = table[SLOT, b]
    w = float(envoy_weight(table, s))
    if state[CHOICES] > 0:
        w = request_weight(w, table[ACTIVE, s], fstate[BIAS])
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
        # each leaf's step for its Envoy weight and no active request: 1 / weight for every bias
        step_at, weight_at, active_at = edf_step_regions(state, source)
        for k in range(n):
            w = envoy_weight(table, table[SLOT, state[hosts + k]])
            state[weight_at + k] = w
            state[active_at + k] = 0
            fstate[step_at + k] = 1.0 / float(w)


@kernel(inline="always")
def priority_draw(recorded, pos, end, s0, s1, s2, s3):
    """:func:`draw` on a random source held in locals; returns ``(pos, s0, s1, s2, s3)`` after it.

    ``hostSourceToUse``'s ``random()``, whose value one priority never needs:
    the batch loops keep the generator words (or the position in a recorded
    stream) in locals and store them once.
    """
    if recorded:
        if pos < end:
            pos += 1
    else:
        _, s0, s1, s2, s3 = step(s0, s1, s2, s3)
        _, s0, s1, s2, s3 = step(s0, s1, s2, s3)
    return pos, s0, s1, s2, s3


@kernel(refcount=False)
def edf_rr_schedule(table, state, fstate, times, out, first, last, mode, source):
    """Round robin's EDF picks from ``source`` for connections ``first .. last-1``; return the last backend.

    ``pickAndAdd`` with ``hostWeight`` = the Envoy weight: each leaf's step
    ``1 / weight`` is computed when the scheduler is built, and again only if
    the weight changes in place (:func:`remember_step`); slow start computes
    it per pick while a host is in its window. Fixed weights repeat a period
    of picks, which the branch predictor learns, so the replay branches
    (:func:`edf_replay`). The root, its deadline and the random source stay
    in locals for the whole batch.
    """
    dl, order, ids, tree, leaves_at, number_at, time_at = edf_regions(state, source)
    steps, weights, actives = edf_step_regions(state, source)
    slot = table[SLOT]
    leaves = state[leaves_at]
    number = state[number_at]
    leaf = state[tree + 1]
    deadline = fstate[dl + leaf]
    slow = fstate[SS_WINDOW] > 0.0
    recorded = state[RNG_MODE] != 0
    pos, end = state[RNG_POS], state[RNG_LEN]
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    now = fstate[CLOCK]
    time = fstate[time_at]
    every = 1 if times.shape[0] > 1 else 0  # one time for all connections, or one each
    backend = -1
    for i in range(first, last):
        now = times[np.uint64(i * every)]
        pos, s0, s1, s2, s3 = priority_draw(recorded, pos, end, s0, s1, s2, s3)
        picked = leaf
        time = deadline  # the scheduler's time moves to the picked deadline
        b = state[np.uint64(ids + picked)]
        s = slot[np.uint64(b)]
        if slow and in_slow_start(fstate, now):
            gap = 1.0 / host_weight(table, state, fstate, b, now)
        else:
            remember_step(state, fstate, steps, weights, actives, picked, envoy_weight(table, s), 0, 0.0)
            gap = fstate[np.uint64(steps + picked)]
        leaf, deadline = edf_replay(state, fstate, dl, order, tree, leaves, picked, time + gap, number)
        number += 1
        backend = account_at(table, s, mode)
        out[np.uint64(i)] = backend
    fstate[time_at] = time
    fstate[CLOCK] = now
    state[number_at] = number
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    state[RNG_POS] = pos
    return backend


@kernel(refcount=False)
def edf_lr_schedule(table, state, fstate, times, out, first, last, mode, source):
    """Least request's EDF picks from ``source`` for connections ``first .. last-1``; return the last backend.

    ``pickAndAdd`` with ``hostWeight = weight / (active + 1) ** bias``. Each
    leaf caches its step ``1 / hostWeight`` for one weight and active count
    (:func:`remember_step`): once a connection is counted, the step for the
    host's new count is computed, off the path to the next pick, which then
    only reads it; a pick that finds another count (a connection ended in
    between) computes it then. The same arithmetic gives the same bits. With
    bias 0 the steps are fixed, as for round robin. The picks follow no
    period, so the replay keeps the earlier entry with masks instead of
    branches (:func:`edf_replay_flat`).
    """
    dl, order, ids, tree, leaves_at, number_at, time_at = edf_regions(state, source)
    steps, weights, actives = edf_step_regions(state, source)
    slot = table[SLOT]
    active_row = table[ACTIVE]
    leaves = state[leaves_at]
    number = state[number_at]
    leaf = state[tree + 1]
    deadline = fstate[dl + leaf]
    bias = fstate[BIAS]
    requests = bias != 0.0  # the weight depends on the active count
    slow = fstate[SS_WINDOW] > 0.0
    recorded = state[RNG_MODE] != 0
    pos, end = state[RNG_POS], state[RNG_LEN]
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    now = fstate[CLOCK]
    time = fstate[time_at]
    every = 1 if times.shape[0] > 1 else 0  # one time for all connections, or one each
    backend = -1
    for i in range(first, last):
        now = times[np.uint64(i * every)]
        pos, s0, s1, s2, s3 = priority_draw(recorded, pos, end, s0, s1, s2, s3)
        picked = leaf
        time = deadline  # the scheduler's time moves to the picked deadline
        b = state[np.uint64(ids + picked)]
        s = slot[np.uint64(b)]
        w = envoy_weight(table, s)
        if slow and in_slow_start(fstate, now):
            gap = 1.0 / host_weight(table, state, fstate, b, now)
        else:
            active = active_row[np.uint64(s)] if requests else 0
            remember_step(state, fstate, steps, weights, actives, picked, w, active, bias)
            gap = fstate[np.uint64(steps + picked)]
        leaf, deadline = edf_replay_flat(state, fstate, dl, order, tree, leaves, picked, time + gap, number)
        number += 1
        backend = account_at(table, s, mode)
        if requests:  # the next pick of this host most likely sees this weight and count
            remember_step(state, fstate, steps, weights, actives, picked, w, active_row[np.uint64(s)], bias)
        out[np.uint64(i)] = backend
    fstate[time_at] = time
    fstate[CLOCK] = now
    state[number_at] = number
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    state[RNG_POS] = pos
    return backend


@kernel(signature="schedule", refcount=False)
def rr_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Envoy round robin: EDF when weights differ, else ``hosts[index++ mod n]`` per source."""
    # the source, its size and its kind change only in edf_lb_changed: once per batch
    source = source_of(state)
    n = 0
    if source >= 0:
        n = state[N_ALL] if source == 0 else state[N_HEALTHY]
        if n > 0 and state[EDF_ALL if source == 0 else EDF_HEALTHY]:
            return edf_rr_schedule(table, state, fstate, times, out, first, last, mode, source)
    backend = -1
    for i in range(first, last):
        fstate[CLOCK] = item(times, i)
        draw(state)  # the priority choice
        b = -1
        if n > 0:
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
    source = source_of(state)
    n = 0
    if source >= 0:
        n = state[N_ALL] if source == 0 else state[N_HEALTHY]
        if n > 0 and state[EDF_ALL if source == 0 else EDF_HEALTHY]:
            return edf_lr_schedule(table, state, fstate, times, out, first, last, mode, source)
    backend = -1
    for i in range(first, last):
        fstate[CLOCK] = item(times, i)
        draw(state)  # the priority choice
        b = -1
        if n > 0:
            hosts = at(state, R_ALL) if source == 0 else at(state, R_HEALTHY)
            b = lr_unweighted(table, state, hosts, n)
        backend = account(table, b, mode)
        out[i] = backend
    return backend


class EdfBalancer(EnvoyBase):
    """Shared by round robin and least request: the EDF regions and slow start."""

    _int_regions = EDF_REGIONS
    _float_regions = F_REGIONS
    # the EDF leaves, cached steps and their keys (2 regions each) and trees (4 regions) are each one block
    _int_blocks = tuple((k, 1) for k in range(HOST_REGIONS)) + (
        (6, 2), (8, 2), (10, 2), (12, 2), (14, 4), (18, 4), (22, 2), (24, 2), (26, 2), (28, 2))
    _float_blocks = ((0, 1), (1, 2), (3, 2), (5, 2), (7, 2))

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
