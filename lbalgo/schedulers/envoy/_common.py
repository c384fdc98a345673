"""What every Envoy load balancer shares: the host set, panic, the random source.

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

Earliest deadline first (``source/common/upstream/edf_scheduler.h``): entries
``(deadline, order)``, the smallest first; a pick pops it, sets the
scheduler's time to its deadline and re-adds it with deadline
``time + 1 / weight`` and a fresh order number. ``createWithPicks`` builds a
scheduler as if ``seed mod 429496729`` picks had been made; see :func:`edf_build`.

State: one int64 ``state`` with the fields below and regions of ``CAP``
values each (region k starts at ``HEADER + k * CAP``), one float64 ``fstate``
with its fields and regions of ``CAP`` values (``FHEADER + k * CAP``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

from ... import _rng, _validate
from ..._jit import kernel
from ..._rng import next_u32
from ..._table import (
    BACKEND,
    EV_RESIZE,
    EV_UPDATE,
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
from ..base import Scheduler
from ._hash import NATIVE_U64

#: The Envoy release whose rules and tests lbalgo follows.
ENVOY_VERSION = "v1.36"
FAMILY = f"Envoy {ENVOY_VERSION}"

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
#: createWithPicks limits the emulated picks to this modulus (UINT32_MAX / 10).
PICKS_MODULUS = 429496729


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


# -- EDF scheduler ------------------------------------------------------------------------------------------
# Envoy's EdfScheduler is a priority queue of (deadline, order, host) holding exactly one entry per
# host between picks, and a pick pops the earliest entry and pushes it back with a later deadline.
# lbalgo keeps the entries at fixed leaves (leaf k: host k of the source) of a winner tree over
# (deadline, order): the earliest entry is at the root, and re-adding it replays one leaf-to-root
# path. The (deadline, order) order is total, so the picks are those of Envoy's heap. Each leaf also
# caches its step 1 / hostWeight with the Envoy weight and active count it was computed for, so that
# a pick usually divides nothing.
@kernel(inline="always")
def edf_regions(state, source):
    """Offsets of one source's EDF: leaf deadlines (fstate), orders, ids, the tree; its fields."""
    if source == 0:
        return (fat(state, F_DEADLINE_ALL), at(state, R_EDF_ORDER_ALL), at(state, R_EDF_ID_ALL),
                at(state, R_EDF_TREE_ALL), EDF_LEAVES_ALL, ORDER_ALL, TIME_ALL)
    return (fat(state, F_DEADLINE_H), at(state, R_EDF_ORDER_H), at(state, R_EDF_ID_H),
            at(state, R_EDF_TREE_H), EDF_LEAVES_HEALTHY, ORDER_HEALTHY, TIME_HEALTHY)


@kernel(inline="always")
def edf_step_regions(state, source):
    """Offsets of one source's cached steps ``1 / hostWeight`` (fstate) and their keys (weight, active)."""
    if source == 0:
        return fat(state, F_STEP_ALL), at(state, R_EDF_WEIGHT_ALL), at(state, R_EDF_ACTIVE_ALL)
    return fat(state, F_STEP_H), at(state, R_EDF_WEIGHT_H), at(state, R_EDF_ACTIVE_H)


@kernel(inline="always")
def _earlier(fstate, state, dl, order, a, b):
    """Return the leaf of ``a`` and ``b`` whose entry comes first: smaller deadline, then smaller order."""
    da = fstate[dl + a]
    db = fstate[dl + b]
    return a if da < db or (da == db and state[order + a] < state[order + b]) else b


@kernel(inline="always")
def edf_replay(state, fstate, dl, order, tree, leaves, leaf, deadline, number):
    """Give ``leaf`` the entry ``(deadline, number)``, replay its path; return the new root and its deadline.

    One branch per level: fast when the picks repeat a pattern the branch
    predictor learns (fixed weights repeat a period). Indexes are cast to
    unsigned (they are never negative): Numba then skips its wraparound
    arithmetic on every load.
    """
    fstate[np.uint64(dl + leaf)] = deadline
    state[np.uint64(order + leaf)] = number
    node = leaves + leaf
    win = leaf
    while node > 1:
        other = state[np.uint64(tree + (node ^ 1))]
        d = fstate[np.uint64(dl + other)]
        if d < deadline or (d == deadline and state[np.uint64(order + other)] < number):
            win = other
            deadline = d
            number = state[np.uint64(order + other)]
        node >>= 1
        state[np.uint64(tree + node)] = win
    return win, deadline


@kernel(inline="always")
def _bits(x):
    """Return the bits of float64 ``x`` as an int64: for ``x >= 0`` (never NaN) they order as ``x`` does."""
    return np.float64(x).view(np.int64)


@kernel(refcount=False)
def _before(state, order, a, ka, b, kb):
    """Return -1 when leaf ``a``'s entry (deadline bits ``ka``) comes before leaf ``b``'s, else 0."""
    gap = ka - kb
    if gap == 0:  # equal deadlines (hosts of equal weight move in step): the smaller order
        gap = state[np.uint64(order + a)] - state[np.uint64(order + b)]
    return gap >> 63


@kernel(inline="always")
def edf_replay_flat(state, fstate, dl, order, tree, leaves, leaf, deadline, number):
    """:func:`edf_replay` with masks instead of branches, for picks without a pattern (least request).

    Deadlines are compared as integers (:func:`_bits`) and each level keeps
    the earlier entry with a mask, so no outcome is predicted (half would be
    mispredicted). Levels are taken two at a time: the earlier of the two
    siblings does not wait for the path's winner, which then meets one entry
    per two levels. At the bottom the sibling is ``leaf ^ 1`` (the tree's
    bottom row holds the leaves), and the new entry has the largest order:
    it wins only when strictly earlier, or against an empty leaf.
    """
    fstate[np.uint64(dl + leaf)] = deadline
    state[np.uint64(order + leaf)] = number
    key = _bits(deadline)
    node = leaves + leaf
    win = leaf
    if node > 1:
        other = leaf ^ 1
        gap = _bits(fstate[np.uint64(dl + other)]) - key
        m = (gap + ((state[np.uint64(order + other)] - number) >> 63)) >> 63
        win ^= (win ^ other) & m
        key += gap & m
        node >>= 1
        state[np.uint64(tree + node)] = win
    while node > 3:
        a = state[np.uint64(tree + (node ^ 1))]
        b = state[np.uint64(tree + ((node >> 1) ^ 1))]
        ka = _bits(fstate[np.uint64(dl + a)])
        kb = _bits(fstate[np.uint64(dl + b)])
        m = _before(state, order, b, kb, a, ka)  # the earlier sibling
        first = a ^ ((a ^ b) & m)
        kfirst = ka + ((kb - ka) & m)
        m = _before(state, order, a, ka, win, key)  # one level up (stored only)
        state[np.uint64(tree + (node >> 1))] = win ^ ((win ^ a) & m)
        m = _before(state, order, first, kfirst, win, key)  # two levels up
        win ^= (win ^ first) & m
        key += (kfirst - key) & m
        node >>= 2
        state[np.uint64(tree + node)] = win
    if node > 1:
        other = state[np.uint64(tree + (node ^ 1))]
        k = _bits(fstate[np.uint64(dl + other)])
        m = _before(state, order, other, k, win, key)
        win ^= (win ^ other) & m
        key += (k - key) & m
        state[np.uint64(tree + 1)] = win
    return win, np.int64(key).view(np.float64)


@kernel(inline="always")
def edf_top(state, fstate, source):
    """``pickAndAdd`` step one: the id of the earliest entry; the scheduler's time moves to its deadline."""
    dl, _, ids, tree, _, _, time = edf_regions(state, source)
    leaf = state[tree + 1]
    fstate[time] = fstate[dl + leaf]
    return state[ids + leaf]


@kernel(inline="always")
def edf_readd_top(state, fstate, source, weight):
    """``pickAndAdd`` step two: the earliest entry goes back with deadline time + 1 / weight, a new order."""
    dl, order, _, tree, leaves, number, time = edf_regions(state, source)
    edf_replay(state, fstate, dl, order, tree, state[leaves], state[tree + 1],
               fstate[time] + 1.0 / weight, state[number])
    state[number] += 1


@kernel(refcount=False)
def edf_build(state, fstate, source, hosts_at, n, weights, picks):
    """``EdfScheduler::createWithPicks(hosts, weight, picks)``, up to its remaining picks.

    ``weights[k]`` is the weight of host k. Emulates ``floor(P * w_k / W)``
    picks per host at once (with the 1e-13 added to every weight so that
    weights that are multiples of each other stay exact), then returns how
    many picks remain; the caller performs them one by one with its own
    weight function (without the 1e-13), as Envoy does. Requires ``n >= 1``.
    """
    dl, order, ids, tree, leaves, number, time = edf_regions(state, source)
    picks = (picks & M32) % PICKS_MODULUS  # the seed is narrowed to the uint32 parameter
    width = 1
    while width < n:
        width *= 2
    state[leaves] = width
    total = 0.0
    for k in range(n):
        total += weights[k] + 1e-13
    fp = float(picks)
    done = 0
    max_time = 0.0
    for k in range(width):
        if k >= n:
            fstate[dl + k] = np.inf  # an empty leaf never wins
            state[order + k] = np.iinfo(np.int64).max
            state[ids + k] = -1
            continue
        w = weights[k] + 1e-13
        floor_picks = np.int64(w * fp / total)
        # Guard of the original: floating point may put floor(A*B) above A*B.
        if floor_picks > 0 and floor_picks / w >= fp / total:
            floor_picks -= 1
        pick_time = floor_picks / w
        fstate[dl + k] = (floor_picks + 1) / w
        state[order + k] = k
        state[ids + k] = state[hosts_at + k]
        if pick_time > max_time:
            max_time = pick_time
        done += floor_picks
    for k in range(width):
        state[tree + width + k] = k  # the tree's bottom row: the leaves themselves
    for i in range(width - 1, 0, -1):
        state[tree + i] = _earlier(fstate, state, dl, order, state[tree + 2 * i], state[tree + 2 * i + 1])
    fstate[time] = max_time
    state[number] = n
    return picks - done


# -- validation shared by the classes --------------------------------------------------------------
def percent(value: Any, what: str) -> int:
    """Return a percentage 0..100 as Envoy rounds it (``PROTOBUF_PERCENT_TO_ROUNDED_INTEGER``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number 0..100, got {value!r}")
    v = float(value)
    if not 0.0 <= v <= 100.0:
        raise ValueError(f"{what} must be in 0..100, got {value!r}")
    return int(math.floor(v + 0.5))


def flag(value: Any, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be True or False, got {value!r}")
    return bool(value)


def random_stream(values: Any) -> np.ndarray:
    """Return a recorded random stream (integers 0..2**64-1) as int64 bits, validated."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"random must be a sequence of integers 0..2**64-1, got {type(values).__name__}")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"random[{i}] must be an integer 0..2**64-1, got {v!r}")
        v = int(v)
        if not 0 <= v < 1 << 64:
            raise ValueError(f"random[{i}] = {v} is not a 64-bit unsigned value")
        out.append(v - (1 << 64) if v >= 1 << 63 else v)
    if not out:
        raise ValueError("random must hold at least one value (the last one repeats once it runs out)")
    return np.array(out, dtype=np.int64)


def slow_start_config(config: Any) -> tuple[float, float, float]:
    """``(window seconds, aggression, min weight share)`` from ``slow_start=`` (None: off)."""
    if config is None:
        return 0.0, 1.0, 0.1
    if not isinstance(config, dict):
        raise TypeError("slow_start must be a dict such as {'window': 60, 'aggression': 1.0, "
                        f"'min_weight_percent': 10}}, got {type(config).__name__}")
    unknown = set(config) - {"window", "aggression", "min_weight_percent"}
    if unknown:
        raise ValueError(f"slow_start: unknown key {sorted(unknown)[0]!r} "
                         "(known: window, aggression, min_weight_percent)")
    if "window" not in config:
        raise ValueError("slow_start needs 'window' (seconds, > 0)")
    window = config["window"]
    if isinstance(window, bool) or not isinstance(window, numbers.Real) or not 0 < float(window) < 1e9:
        raise ValueError(f"slow_start window must be a duration in seconds > 0, got {window!r}")
    aggression = config.get("aggression", 1.0)
    if isinstance(aggression, bool) or not isinstance(aggression, numbers.Real) \
            or not math.isfinite(float(aggression)) or float(aggression) <= 0:
        raise ValueError(f"slow_start aggression must be a number > 0, got {aggression!r}")
    minimum = config.get("min_weight_percent", 10)
    if isinstance(minimum, bool) or not isinstance(minimum, numbers.Real) or not 0 <= float(minimum) <= 100:
        raise ValueError(f"slow_start min_weight_percent must be in 0..100, got {minimum!r}")
    return float(window), float(aggression), float(minimum) / 100.0


class EnvoyBase(Scheduler):
    """Shared by the Envoy schedulers: host set, panic, exclusion, the random source, relayout.

    Subclasses set ``_int_regions`` / ``_float_regions`` (how many CAP-sized
    regions they use) and may add regions of their own after those
    (:meth:`_extra_layout`).
    """

    family = FAMILY
    insertion = "tail"
    randomized = True

    _int_regions = HOST_REGIONS
    _float_regions = 1
    #: ``(first region, regions)`` of each block of per-id or per-leaf values, copied whole on a resize.
    _int_blocks: tuple[tuple[int, int], ...] = tuple((k, 1) for k in range(HOST_REGIONS))
    _float_blocks: tuple[tuple[int, int], ...] = ((0, 1),)

    def __init__(self, weights=None, *, panic_threshold: float = 50, fail_traffic_on_panic: bool = False,
                 random: Sequence[int] | None = None, **options: Any) -> None:
        self.panic_threshold = percent(panic_threshold, "panic_threshold")
        self.fail_traffic_on_panic = flag(fail_traffic_on_panic, "fail_traffic_on_panic")
        self._random = None if random is None else random_stream(random)
        super().__init__(weights, **options)

    # -- layout -----------------------------------------------------------------------------------
    def _extra_int(self, capacity: int) -> int:
        """Values the subclass lays out after the CAP regions (before the random stream)."""
        return 0

    def _blank(self, capacity: int, stream_len: int) -> tuple[np.ndarray, np.ndarray]:
        size = HEADER + self._int_regions * capacity + self._extra_int(capacity) + stream_len
        state = np.zeros(size, dtype=np.int64)
        fstate = np.zeros(FHEADER + self._float_regions * capacity, dtype=np.float64)
        state[CAP] = capacity
        fstate[FHEADER: FHEADER + capacity] = np.nan  # F_PASS_TIME: not seen healthy yet
        return state, fstate

    def _configure(self, state: np.ndarray, fstate: np.ndarray) -> None:
        """Set the subclass's option fields (called on every fresh layout)."""
        state[PANIC_THRESHOLD] = self.panic_threshold
        state[FAIL_ON_PANIC] = self.fail_traffic_on_panic

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        capacity = self.pool.capacity
        stream = self._random
        state, fstate = self._blank(capacity, 0 if stream is None else len(stream))
        self._configure(state, fstate)
        if stream is None:
            state[0:4] = _rng.new_state(self.seed)
        else:
            state[RNG_MODE] = 1
            state[RNG_LEN] = len(stream)
            state[RNG_AT] = len(state) - len(stream)
            state[len(state) - len(stream):] = stream
        self._fill_new(state, fstate)
        state[FORCE] = 1
        self._changed.entry(self.pool.table, state, fstate, EV_RESIZE, 0)
        return state, fstate

    def _fill_new(self, state: np.ndarray, fstate: np.ndarray) -> None:
        """Fill per-id data of a fresh state (host keys of hash policies)."""

    def _resized_state(self, capacity: int) -> tuple[np.ndarray, np.ndarray]:
        old, fold = self.state, self.fstate
        cap = int(old[CAP])
        stream_len = int(old[RNG_LEN]) if old[RNG_MODE] else 0
        state, fstate = self._blank(capacity, stream_len)
        state[:HEADER] = old[:HEADER]
        state[CAP] = capacity
        fstate[:FHEADER] = fold[:FHEADER]
        for k, count in self._int_blocks:
            state[HEADER + k * capacity: HEADER + k * capacity + count * cap] = \
                old[HEADER + k * cap: HEADER + (k + count) * cap]
        for k, count in self._float_blocks:
            fstate[FHEADER + k * capacity: FHEADER + k * capacity + count * cap] = \
                fold[FHEADER + k * cap: FHEADER + (k + count) * cap]
        self._copy_extra(old, state, cap, capacity)
        if stream_len:
            state[RNG_AT] = len(state) - stream_len
            state[len(state) - stream_len:] = old[int(old[RNG_AT]): int(old[RNG_AT]) + stream_len]
        return state, fstate

    def _copy_extra(self, old: np.ndarray, new: np.ndarray, old_cap: int, new_cap: int) -> None:
        """Copy the subclass's own values into a larger layout."""

    # -- the random source -------------------------------------------------------------------------
    def inject_random(self, values: Sequence[int]) -> None:
        """Replace the random source by a recorded stream of 64-bit values (Envoy's mocked ``random()``).

        Draws take the values in order; once they run out the last one
        repeats. Use it between decisions to replay a test that sets new
        expectations (``EXPECT_CALL(random_, random()).WillOnce(...)``).
        """
        stream = random_stream(values)
        old = self.state
        keep = len(old) - (int(old[RNG_LEN]) if old[RNG_MODE] else 0)
        state = np.zeros(keep + len(stream), dtype=np.int64)
        state[:keep] = old[:keep]
        state[RNG_MODE] = 1
        state[RNG_POS] = 0
        state[RNG_LEN] = len(stream)
        state[RNG_AT] = keep
        state[keep:] = stream
        self.state = state

    # -- Envoy's host states -------------------------------------------------------------------------
    def exclude(self, backend: int, excluded: bool = True) -> None:
        """Exclude a backend from load balancing (or include it again with ``excluded=False``).

        Envoy excludes hosts draining in EDS or waiting for their first
        health check: they count in neither the healthy share nor the total
        of the panic threshold, and receive traffic only in panic.
        """
        b = self.pool.check_id(backend)
        flag(excluded, "excluded")
        self.state[HEADER + R_EXCLUDED * int(self.state[CAP]) + b] = 1 if excluded else 0
        self._changed.entry(self.pool.table, self.state, self.fstate, EV_UPDATE, 0)

    @property
    def excluded(self) -> np.ndarray:
        """True per backend id for the backends :meth:`exclude` set aside."""
        cap = int(self.state[CAP])
        return self.state[HEADER + R_EXCLUDED * cap: HEADER + R_EXCLUDED * cap + self.pool.n_ids] != 0

    def refresh(self, now: float | None = None) -> None:
        """Rebuild as Envoy does on a host-set update with nothing changed (its tests' ``runCallbacks``).

        ``now`` (seconds) moves the scheduler's clock first: slow start
        measures from it. Without it the clock stays at the latest decision.
        """
        if now is not None:
            t = _validate.time(now)
            self.fstate[CLOCK] = t
        self.state[FORCE] = 1
        self._changed.entry(self.pool.table, self.state, self.fstate, EV_UPDATE, 0)

    @property
    def in_panic(self) -> bool:
        """Whether the host set is in panic (below the panic threshold): every host is eligible."""
        return bool(self.state[PANIC])

    def _ids(self, region: int, count: int) -> list[int]:
        start = HEADER + region * int(self.state[CAP])
        return self.state[start: start + int(self.state[count])].tolist()

    @property
    def hosts(self) -> list[int]:
        """Backend ids of Envoy's ``hosts()``, in list order."""
        return self._ids(R_ALL, N_ALL)

    @property
    def healthy_hosts(self) -> list[int]:
        """Backend ids of Envoy's ``healthyHosts()``, in list order."""
        return self._ids(R_HEALTHY, N_HEALTHY)

    def _why_none(self) -> str:
        if self.state[PANIC] and self.state[FAIL_ON_PANIC]:
            return "the host set is in panic and fail_traffic_on_panic is set"
        if not self.state[N_ALL]:
            return "no backend has a weight > 0"
        return "no healthy backend and panic mode is off (panic_threshold 0)"

