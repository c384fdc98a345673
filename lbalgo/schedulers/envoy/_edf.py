"""Envoy's earliest-deadline-first scheduler as kernels (round robin, least request).

Earliest deadline first (``source/common/upstream/edf_scheduler.h``): entries
``(deadline, order)``, the smallest first; a pick pops it, sets the
scheduler's time to its deadline and re-adds it with deadline
``time + 1 / weight`` and a fresh order number. ``createWithPicks`` builds a
scheduler as if ``seed mod 429496729`` picks had been made; see :func:`edf_build`.

The entries live in the EDF regions of the host-set state
(:mod:`._hosts`); the balancers that pick from them are in :mod:`._edf_lb`.
"""

from __future__ import annotations

import numpy as np

from ..._jit import kernel
from ._hosts import (
    EDF_LEAVES_ALL,
    EDF_LEAVES_HEALTHY,
    F_DEADLINE_ALL,
    F_DEADLINE_H,
    F_STEP_ALL,
    F_STEP_H,
    M32,
    ORDER_ALL,
    ORDER_HEALTHY,
    R_EDF_ACTIVE_ALL,
    R_EDF_ACTIVE_H,
    R_EDF_ID_ALL,
    R_EDF_ID_H,
    R_EDF_ORDER_ALL,
    R_EDF_ORDER_H,
    R_EDF_TREE_ALL,
    R_EDF_TREE_H,
    R_EDF_WEIGHT_ALL,
    R_EDF_WEIGHT_H,
    TIME_ALL,
    TIME_HEALTHY,
    at,
    fat,
)

#: createWithPicks limits the emulated picks to this modulus (UINT32_MAX / 10).
PICKS_MODULUS = 429496729


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
