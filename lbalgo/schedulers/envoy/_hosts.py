"""Envoy's host set as kernels: the state layout, panic, the random source, slow start.

Every Envoy load balancer shares this model; the earliest-deadline-first
scheduler of round robin and least request is in :mod:`._edf`, the Python
base class and the option parsing in :mod:`._base`.

Envoy (v1.36, ``source/extensions/load_balancing_policies/common/load_balancer_impl.cc``)
sees a cluster as a priority set of host sets. lbalgo models one priority
(P=0) and no localities; a pool maps onto it like this::

    hosts()        the listed backends with an Envoy weight > 0, in list order
                   (Envoy weight: WEIGHT, or the saved weight of a failed backend;
                   weight 0 means "not an endpoint": Envoy endpoints weigh >= 1)
    unhealthy      backends that failed their health check (Pool.fail)
    excluded       backends set aside with exclude() (EDS DRAINING, or a host
                   waiting for its first health check): left out of the panic
                   arithmetic, still eligible in panic
    healthyHosts() hosts that are neither unhealthy nor excluded

    refresh():                          (LoadBalancerBase::recalculatePerPriorityState,
                                         recalculatePerPriorityPanic, isHostSetInPanic)
        count = |hosts| - |excluded|
        availability = min(100, 140 * |healthy| // count)    (0 if count == 0)
        panic = availability < 100 and 100 * |healthy| / count < panic_threshold
                (count == 0: healthy share 0; panic_threshold 0 and availability 0: no panic)

    source for a decision:              (ZoneAwareLoadBalancerBase::hostSourceToUse)
        panic: fail_traffic_on_panic ? nothing : hosts()
        else:  healthyHosts()

A refresh runs when the host set changes as Envoy sees it (a backend joins
or leaves, a weight, health or exclusion changes): lbalgo compares the new
host set with the last one, so an edit Envoy would not notice (a threshold,
a weight set to its own value) changes nothing, as in Envoy. ``refresh()``
forces one, as an EDS push of an unchanged host set does in Envoy's tests.

Random numbers: Envoy draws 64-bit values from ``Random::RandomGenerator``.
lbalgo draws them from a seeded generator (two xoshiro128** outputs,
:mod:`lbalgo._rng`) or, with ``random=[...]``, from a recorded stream that
repeats its last value once exhausted (gmock's ``WillRepeatedly``), so
Envoy's mocked-random tests replay draw for draw. Every decision draws
exactly what Envoy's draws: one value for the priority choice, then what the
policy needs.

State: one int64 ``state`` with the fields below and regions of ``CAP``
values each (region k starts at ``HEADER + k * CAP``), one float64 ``fstate``
with its fields and regions of ``CAP`` values (``FHEADER + k * CAP``).
"""

from __future__ import annotations

import math

import numpy as np

from ..._jit import kernel
from ..._rng import next_u32
from ..._table import (
    BACKEND,
    F_FAILED,
    FLAGS,
    LISTED,
    SAVED_WEIGHT,
    SLOT,
    WEIGHT,
)
from ..._table import (
    HEADER as T_HEADER,
)
from ._hash import NATIVE_U64

#: The Envoy release whose rules and tests lbalgo follows.
ENVOY_VERSION = "v1.36"

M32 = 0xFFFFFFFF
TWO32 = 1 << 32

# -- state fields (int64) -------------------------------------------------------------------------
# state[0:4] is the xoshiro128** generator (lbalgo._rng works on it in place)
RNG_MODE, RNG_POS, RNG_LEN, RNG_AT = 4, 5, 6, 7
CAP = 8
PANIC_THRESHOLD, FAIL_ON_PANIC, PANIC = 9, 10, 11
N_ALL, N_HEALTHY = 12, 13
SEED, SEEDED = 14, 15
RR_ALL, RR_HEALTHY = 16, 17  # round-robin index per host source (Envoy: rr_indexes_)
EDF_ALL, EDF_HEALTHY = 18, 19  # 1: that source uses its EDF scheduler
EDF_LEAVES_ALL, EDF_LEAVES_HEALTHY = 20, 21  # leaves of each EDF winner tree (a power of two)
ORDER_ALL, ORDER_HEALTHY = 22, 23  # next order number of each EDF scheduler
SNAP_N, FORCE, REFRESHES = 24, 25, 26
CHOICES, FULL_SCAN, BIAS_SET = 27, 28, 29  # least request
HASH_FUNCTION, USE_HOSTNAME, TABLE_SIZE, RING_N = 30, 31, 32, 33  # ring hash / maglev
RING_AT, TABLE_AT, KEYS_AT, KEY_POLICY = 34, 35, 36, 37
MIN_RING, MAX_RING = 38, 39
BUCKET_BITS, BUCKET_AT = 40, 41  # ring hash: the index over the ring (2**BUCKET_BITS buckets)
HEADER = 44

# int64 regions of CAP values: region k starts at HEADER + k * CAP
R_EXCLUDED, R_ALL, R_HEALTHY, R_SNAP_IDS, R_SNAP_W, R_SNAP_ST = 0, 1, 2, 3, 4, 5
# EDF (round robin, least request): per source, 2 * CAP leaves of (order, id) and a tree of 2 * (2 * CAP),
# and per leaf the Envoy weight and active count its cached step 1 / hostWeight was computed for
R_EDF_ORDER_ALL, R_EDF_ID_ALL, R_EDF_ORDER_H, R_EDF_ID_H = 6, 8, 10, 12
R_EDF_TREE_ALL, R_EDF_TREE_H = 14, 18
R_EDF_WEIGHT_ALL, R_EDF_ACTIVE_ALL, R_EDF_WEIGHT_H, R_EDF_ACTIVE_H = 22, 24, 26, 28
R_KEYLEN = 6  # hash policies reuse region 6 for the key length of each id (-1: default key)
HOST_REGIONS = 6
EDF_REGIONS = 30

# -- fstate fields (float64) ----------------------------------------------------------------------
CLOCK, TIME_ALL, TIME_HEALTHY, BIAS = 0, 1, 2, 3
SS_WINDOW, SS_AGGRESSION, SS_MIN_WEIGHT, LATEST_ADDED = 4, 5, 6, 7
FHEADER = 8
# float64 regions of CAP values
F_PASS_TIME, F_DEADLINE_ALL, F_DEADLINE_H = 0, 1, 3  # a deadline per leaf: 2 * CAP each
F_STEP_ALL, F_STEP_H = 5, 7  # a cached step 1 / hostWeight per leaf: 2 * CAP each
F_REGIONS = 9

# statuses in the host-set snapshot
ST_FAILED, ST_EXCLUDED = 1, 2
#: Envoy's default overprovisioning factor (HostSetImpl: 140, i.e. 1.4).
OVERPROVISIONING = 140


# -- layout helpers ----------------------------------------------------------------------------------
@kernel(inline="always")
def at(state, k):
    """Start of int64 region ``k`` (CAP values)."""
    return HEADER + k * state[CAP]


@kernel(inline="always")
def fat(state, k):
    """Start of float64 region ``k`` (CAP values) in ``fstate``."""
    return FHEADER + k * state[CAP]


# -- the random source --------------------------------------------------------------------------------
@kernel(inline="always")
def draw(state):
    """One 64-bit random value (Envoy ``random_.random()``) as int64 bits; advances the source."""
    if state[RNG_MODE] == 0:
        hi = next_u32(state)
        lo = next_u32(state)
        return (hi << 32) | lo
    pos = state[RNG_POS]
    if pos < state[RNG_LEN]:
        state[RNG_POS] = pos + 1
    else:
        pos = state[RNG_LEN] - 1  # exhausted: the last value repeats
    return state[state[RNG_AT] + pos]


@kernel(inline="always")
def umod(x, n):
    """``x mod n`` for the unsigned 64-bit value with the bits of int64 ``x``, ``1 <= n < 2**31``.

    Compiled: one unsigned division. As plain Python the value is split in
    32-bit halves, so no NumPy scalar ever wraps.
    """
    if NATIVE_U64:
        return np.int64(np.uint64(x) % np.uint64(n))
    hi = (x >> 32) & M32
    lo = x & M32
    return ((hi % n) * (TWO32 % n) + lo) % n


@kernel(inline="always")
def reciprocal(n):
    """``floor((2**64 - 1) / n)`` as int64 bits, the constant :func:`umod_by` needs (``2 <= n < 2**31``)."""
    return np.int64(np.uint64(0xFFFFFFFFFFFFFFFF) // np.uint64(n))


@kernel(inline="always")
def umod_by(x, n, r):
    """:func:`umod` of ``x`` by ``n`` with ``r = reciprocal(n)``: multiplies instead of a division.

    Barrett reduction: ``q`` = the high 64 bits of ``x * r`` (four 32-bit
    products) is ``floor(x / n)`` or one less, since ``x * (n * r) / 2**64 >
    x - n`` for every 64-bit ``x``; so ``x - q * n`` is in ``[0, 2n)`` and
    one subtraction finishes it. Exact for every ``x`` and ``2 <= n < 2**31``
    (``tests/test_envoy_umod.py``). As plain Python it is :func:`umod`.
    """
    if not NATIVE_U64:
        return umod(x, n)
    xl = x & M32
    xh = (x >> 32) & M32
    rl = r & M32
    rh = (r >> 32) & M32
    ll = np.uint64(xl * rl)
    lh = np.uint64(xl * rh)
    hl = np.uint64(xh * rl)
    mid = (ll >> np.uint64(32)) + (lh & np.uint64(0xFFFFFFFF)) + (hl & np.uint64(0xFFFFFFFF))
    q = np.uint64(xh * rh) + (lh >> np.uint64(32)) + (hl >> np.uint64(32)) + (mid >> np.uint64(32))
    un = np.uint64(n)
    rem = np.uint64(x) - q * un
    if rem >= un:
        rem -= un
    return np.int64(rem)


# -- the host set -----------------------------------------------------------------------------------------
@kernel(inline="always")
def envoy_weight(table, s):
    """Envoy weight of the backend at slot ``s``: its weight, or the one it had when its check failed."""
    if table[FLAGS, s] & F_FAILED:
        return table[SAVED_WEIGHT, s]
    return table[WEIGHT, s]


@kernel(inline="always")
def status_of(table, state, s):
    """Snapshot status bits of slot ``s``: ST_FAILED | ST_EXCLUDED."""
    st = 0
    if table[FLAGS, s] & F_FAILED:
        st |= ST_FAILED
    if state[at(state, R_EXCLUDED) + table[BACKEND, s]]:
        st |= ST_EXCLUDED
    return st


@kernel
def host_set_changed(table, state):
    """Whether the host set (members in order, weights, statuses) differs from the last snapshot."""
    n = table[T_HEADER, LISTED]
    ids = at(state, R_SNAP_IDS)
    ws = at(state, R_SNAP_W)
    sts = at(state, R_SNAP_ST)
    k = 0
    for s in range(n):
        w = envoy_weight(table, s)
        if w <= 0:
            continue
        if k >= state[SNAP_N]:
            return True
        if (state[ids + k] != table[BACKEND, s] or state[ws + k] != w
                or state[sts + k] != status_of(table, state, s)):
            return True
        k += 1
    return k != state[SNAP_N]


@kernel
def collect_hosts(table, state, fstate, now):
    """Refresh the host lists, the snapshot, slow start's pass times and the panic flag.

    Returns True when something changed (or a refresh was forced).
    """
    changed = state[FORCE] != 0 or host_set_changed(table, state)
    state[FORCE] = 0
    if not changed:
        return False
    n = table[T_HEADER, LISTED]
    all_at = at(state, R_ALL)
    healthy_at = at(state, R_HEALTHY)
    ids = at(state, R_SNAP_IDS)
    ws = at(state, R_SNAP_W)
    sts = at(state, R_SNAP_ST)
    pass_at = fat(state, F_PASS_TIME)
    old_n = state[SNAP_N]
    n_all = 0
    n_healthy = 0
    n_excluded = 0
    for s in range(n):
        w = envoy_weight(table, s)
        if w <= 0:
            continue
        b = table[BACKEND, s]
        st = status_of(table, state, s)
        if st & ST_EXCLUDED:
            n_excluded += 1
        if st == 0:
            state[healthy_at + n_healthy] = b
            n_healthy += 1
            # A host that passes its check again starts slow start anew (the health
            # checker sets lastHcPassTime on the transition to healthy).
            was = -1
            for j in range(old_n):
                if state[ids + j] == b:
                    was = state[sts + j]
                    break
            if was > 0 and was & ST_FAILED:
                fstate[pass_at + b] = now
        state[all_at + n_all] = b
        n_all += 1
    # snapshot (after the transition check above read the old one)
    for k in range(n_all):
        b = state[all_at + k]
        s = table[SLOT, b]
        state[ids + k] = b
        state[ws + k] = envoy_weight(table, s)
        state[sts + k] = status_of(table, state, s)
    state[SNAP_N] = n_all
    state[N_ALL] = n_all
    state[N_HEALTHY] = n_healthy
    state[REFRESHES] += 1
    if fstate[SS_WINDOW] > 0.0:
        slow_start_stamp(state, fstate, now)
    # panic (one priority; weighted priority health off)
    count = n_all - n_excluded
    availability = 0
    healthy_pct = 0.0
    if count > 0:
        availability = OVERPROVISIONING * n_healthy // count
        if availability > 100:
            availability = 100
        healthy_pct = 100.0 * n_healthy / count
    threshold = state[PANIC_THRESHOLD]
    panic = 0
    if not (threshold == 0 and availability == 0) and availability < 100:
        if healthy_pct < threshold:
            panic = 1
    state[PANIC] = panic
    return True


@kernel(inline="always")
def source_of(state):
    """Return the host source of a decision: 0 = all hosts (panic), 1 = healthy hosts, -1 = nothing."""
    if state[PANIC]:
        return -1 if state[FAIL_ON_PANIC] else 0
    return 1


# -- slow start (EdfLoadBalancerBase) ---------------------------------------------------------------------
@kernel(inline="always")
def millis(seconds):
    """Whole milliseconds of a duration (``duration_cast<milliseconds>`` truncates)."""
    return math.floor(seconds * 1000.0 + 1e-6)


@kernel
def slow_start_stamp(state, fstate, now):
    """``recalculateHostsInSlowStart`` over the healthy hosts: first sightings start their window."""
    pass_at = fat(state, F_PASS_TIME)
    healthy_at = at(state, R_HEALTHY)
    window = millis(fstate[SS_WINDOW])
    for k in range(state[N_HEALTHY]):
        b = state[healthy_at + k]
        t = fstate[pass_at + b]
        if math.isnan(t):
            t = now
            fstate[pass_at + b] = now
        if t > fstate[LATEST_ADDED] and millis(now - t) <= window:
            fstate[LATEST_ADDED] = t


@kernel(inline="always")
def in_slow_start(fstate, now):
    """``!noHostsAreInSlowStart()``: slow start on and a host joined within the window."""
    return fstate[SS_WINDOW] > 0.0 and millis(now - fstate[LATEST_ADDED]) <= millis(fstate[SS_WINDOW])


@kernel(refcount=False)
def slow_start_factor(state, fstate, b, healthy, now):
    """``applySlowStartFactor`` as a factor for backend id ``b`` (1.0 when it does not apply)."""
    t = fstate[fat(state, F_PASS_TIME) + b]
    if math.isnan(t) or not healthy:
        return 1.0
    d = millis(now - t)
    window = millis(fstate[SS_WINDOW])
    if d >= window:
        return 1.0
    aggression = fstate[SS_AGGRESSION]
    time_factor = max(1.0, float(d)) / window
    if not (aggression == 1.0 or time_factor == 1.0):
        time_factor = time_factor ** (1.0 / aggression)
    return max(time_factor, fstate[SS_MIN_WEIGHT])
