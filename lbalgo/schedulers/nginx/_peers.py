"""The nginx 1.22 peer model shared by every ``upstream`` balancer (``ngx_http_upstream_round_robin.c``).

A backend is an nginx *peer* (one address of a ``server`` line), in config
order. lbalgo maps the peer parameters onto the pool::

    weight=N          the pool weight (nginx: 1..)
    down              weight 0; the peer keeps its last weight in total_weight
                      (ip_hash, hash) and on the ketama ring
    backup            backup=[...]: tried only when no primary peer is usable
                      (rr and least_conn; nginx refuses it for the hash balancers)
    max_conns=N       the pool's thresholds with upper = lower = N: usable
                      while conns < N, conns = active + inactive connections
    max_fails, fail_timeout   per-peer failure jail (below)

A peer is *usable* (``ngx_http_upstream_get_peer`` and every balancer) when
it is not down, not jailed and below ``max_conns``::

    jailed = max_fails > 0 and fails >= max_fails and now - checked <= fail_timeout

with ``now`` in whole seconds (``ngx_time()``: lbalgo takes ``floor(now)``).

Failures (``ngx_http_upstream_free_round_robin_peer``) come from
``release(b, failed=True, now=t)``::

    fails += 1; accessed = checked = t
    if max_fails: effective_weight -= weight // max_fails (not below 0)
    (a successful release: if accessed < checked: fails = 0)

and an upstream with exactly one primary peer and no backup (``single``)
records no failure at all. ``checked`` is also set to ``now`` when a peer is
chosen more than ``fail_timeout`` seconds after the last check.

Smooth weighted round robin (``ngx_http_upstream_get_peer``), one pass over
a peer list (primary, or backup)::

    best = none; total = 0
    for each usable peer p, in config order:
        p.current_weight += p.effective_weight; total += p.effective_weight
        if p.effective_weight < p.weight: p.effective_weight += 1
        if best is none or p.current_weight > best.current_weight: best = p
    if best: best.current_weight -= total

nginx builds this state when it loads its configuration, and open-source
nginx cannot change a peer without a reload, which starts over. lbalgo does
the same: every pool edit (add, remove, weight, ``down``, ``max_conns``)
is a reload: current_weight = 0, effective_weight = weight, fails = 0.

State layout (int64): a header, per-id configuration rows (what a reload
keeps), per-slot runtime rows (what it resets), then the balancer's own
region (the ketama ring, the random ranges).

This module holds that layout and the kernels every balancer shares; the
Python base class, ``NginxScheduler``, and its option parsing are in
:mod:`~lbalgo.schedulers.nginx._base`.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..._jit import kernel
from ..._table import (
    ACTIVE,
    BACKEND,
    F_OVERLOAD,
    FLAGS,
    INACTIVE,
    LAST_WEIGHT,
    LISTED,
    SLOT,
    U_THRESHOLD,
    WEIGHT,
)
from ..._table import HEADER as T_HEADER

# header fields
CAP = 0  # width of every per-id and per-slot row
NPRIM = 1  # primary peers (listed, not backup; down ones included)
NBACK = 2  # backup peers
TOTAL_W = 3  # sum of the primary peers' config weights (down included): ip_hash, hash, random
EXTRA_AT = 4  # where the balancer's own region starts
EXTRA_LEN = 5  # and its length
CLEAN = 6  # 1: no backup, no max_conns and no failure since the reload (see swrr_clean)
LIVE_TOTAL = 7  # sum of the weights of the primary peers that are not down
DIRECT = 9  # 1: total_weight <= BUCKETS * cap, and bucket w is the owner of residue w
ALGO = 10  # first header field a balancer may use for itself (up to HEADER)
HEADER = 64
# fstate fields
INV_TOTAL = 0  # 1 / total_weight, for fast_mod
N_FSTATE = 2

# per-id configuration rows
ID_BACKUP, ID_MAX_FAILS, ID_FAIL_TIMEOUT, ID_SERVER_REG, ID_SERVER_GROUP = range(5)
N_ID_ROWS = 5
# per-slot runtime rows (S_CUM: configured weights of the primary peers before this one; S_BUCKETS:
# BUCKETS rows, the owner of residue floor(k * total / (BUCKETS * cap)) for bucket k, see walk)
(S_CW, S_EW, S_FAILS, S_ACCESSED, S_CHECKED, S_BACKUP, S_MAX_FAILS, S_FAIL_TIMEOUT, S_CUM,
 S_BUCKETS) = range(10)
BUCKETS = 4
N_SLOT_ROWS = 9 + BUCKETS

#: The rows a decision reads, as views taken once per batch (weight and flags are the table's).
Peers = namedtuple("Peers", "weight flags cw ew fails checked backup max_fails fail_timeout cum buckets")


@kernel(inline="always")
def id_row(state, row):
    """Return the start of per-id configuration row ``row``."""
    return HEADER + row * state[CAP]


@kernel(inline="always")
def slot_row(state, row):
    """Return the start of per-slot runtime row ``row``."""
    return HEADER + (N_ID_ROWS + row) * state[CAP]


@kernel(inline="always")
def srow(state, row, rows):
    """Return a view of ``rows`` per-slot runtime rows from ``row`` on."""
    start = slot_row(state, row)
    return state[start: start + rows * state[CAP]]


@kernel(inline="always")
def peer_rows(table, state):
    """:data:`Peers` views of the table and the state."""
    return Peers(table[WEIGHT], table[FLAGS], srow(state, S_CW, 1), srow(state, S_EW, 1),
                 srow(state, S_FAILS, 1), srow(state, S_CHECKED, 1), srow(state, S_BACKUP, 1),
                 srow(state, S_MAX_FAILS, 1), srow(state, S_FAIL_TIMEOUT, 1), srow(state, S_CUM, 1),
                 srow(state, S_BUCKETS, BUCKETS))


@kernel(inline="always")
def seconds(t):
    """``ngx_time()`` for a time in seconds: the whole seconds."""
    return np.int64(np.floor(t))


@kernel(inline="always")
def now_at(times, i, now0):
    """``seconds(times[i])``, or ``now0`` (computed once) when one time applies to the whole batch."""
    if times.shape[0] > 1:
        return seconds(times[i])
    return now0


@kernel(inline="always")
def usable(p, s, now):
    """Whether the peer at slot ``s`` is usable: not down, not jailed, below max_conns."""
    if p.weight[s] == 0 or p.flags[s] & F_OVERLOAD:
        return False
    f = p.fails[s]
    if f and p.max_fails[s] and f >= p.max_fails[s] and now - p.checked[s] <= p.fail_timeout[s]:
        return False
    return True


@kernel(inline="always")
def touch(p, s, now):
    """Mark peer ``s`` chosen: ``checked = now`` once ``fail_timeout`` has passed since the last check."""
    if now - p.checked[s] > p.fail_timeout[s]:
        p.checked[s] = now


@kernel(inline="always")
def swrr_pass(p, n, group, now):
    """One smooth-WRR pass over the usable peers of ``group`` (0 primary, 1 backup); the slot or -1."""
    best = -1
    best_cw = 0
    total = 0
    for s in range(n):
        if p.backup[s] != group or not usable(p, s, now):
            continue
        e = p.ew[s]
        c = p.cw[s] + e
        p.cw[s] = c
        total += e
        if e < p.weight[s]:
            p.ew[s] = e + 1
        # Strict: a later peer replaces the best only with a larger current weight.
        if best < 0 or c > best_cw:
            best = s
            best_cw = c
    if best >= 0:
        p.cw[best] = best_cw - total
        touch(p, best, now)
    return best


@kernel(inline="always")
def swrr_clean(p, n, total, now):
    """:func:`swrr_pass` over the primary peers when no peer can be skipped but a ``down`` one.

    With no backup, no max_conns and no failure since the reload, every peer
    that is not down is usable and its effective weight is its weight, so a
    pass adds each weight to its current weight. A down peer keeps current
    weight 0 while the live ones sum to 0 after every pass, so it can never
    beat the best live peer (whose current weight is > 0 after the adds):
    adding its weight (0) to it changes nothing. ``total`` is the live total.
    """
    best = 0
    best_cw = p.cw[0] + p.weight[0]
    p.cw[0] = best_cw
    for s in range(1, n):
        c = p.cw[s] + p.weight[s]
        p.cw[s] = c
        if c > best_cw:
            best = s
            best_cw = c
    p.cw[best] = best_cw - total
    touch(p, best, now)
    return best


@kernel(inline="always")
def single_peer(p, n):
    """``peers->single``: the one primary peer if it is not down and below max_conns, else -1.

    nginx skips the failure jail for a single peer.
    """
    for s in range(n):
        if p.backup[s] == 0:
            if p.weight[s] == 0 or p.flags[s] & F_OVERLOAD:
                return -1
            return s
    return -1


@kernel(inline="always")
def is_single(state):
    """Exactly one primary peer and no backup peer (``peers->single``)."""
    return state[NPRIM] == 1 and state[NBACK] == 0


@kernel(inline="always")
def rr_peer(p, state, n, now):
    """``ngx_http_upstream_get_round_robin_peer`` for a fresh request: the slot or -1."""
    if is_single(state):
        return single_peer(p, n)
    if state[CLEAN]:
        if state[LIVE_TOTAL] == 0:
            return -1
        return swrr_clean(p, n, state[LIVE_TOTAL], now)
    s = swrr_pass(p, n, 0, now)
    if s < 0 and state[NBACK] > 0:
        s = swrr_pass(p, n, 1, now)
    return s


@kernel(inline="always")
def search(cum, nprim, w):
    """Return the last peer whose prefix sum is <= ``w``, by binary search (``peek_random_peer``'s loop)."""
    lo = 0
    hi = nprim
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if w < cum[mid]:
            hi = mid
        else:
            lo = mid
    return lo


@kernel(inline="always")
def walk(p, nprim, w, total, inv, direct):
    """Return the primary peer whose block of configured-weight residues holds ``w`` (0 <= w < total).

    nginx walks the list subtracting weights; with the prefix sums in ``cum``
    that is the last peer whose prefix sum is <= w (hash balancers have no
    backup peers, so primaries are slots 0 .. nprim-1). Bucket
    ``q = floor(w * B / total)`` (B = len(buckets)) holds the owner of
    residue ``floor(q * total / B) <= w``: start there and step forward.
    With ``direct`` (total <= B) bucket w holds the owner of w itself.
    """
    if direct:
        return p.buckets[w]
    nb = p.buckets.shape[0]
    x = w * nb
    q = int(x * inv)
    r = x - q * total  # exact floor division by total (see fast_mod)
    if r < 0:
        q -= 1
    elif r >= total:
        q += 1
    s = p.buckets[q]
    while s + 1 < nprim and p.cum[s + 1] <= w:
        s += 1
    return s


@kernel(inline="always")
def conns(table, s):
    """``peer->conns``: the requests the peer is serving (active + inactive connections)."""
    return table[ACTIVE, s] + table[INACTIVE, s]


@kernel
def reload(table, state, fstate):
    """Apply a configuration (re)load: rebuild the per-slot rows from the table and per-id rows."""
    cap = state[CAP]
    n = table[T_HEADER, LISTED]
    nprim = 0
    nback = 0
    total = 0
    live = 0
    limits = 0
    for s in range(cap):
        for r in range(N_SLOT_ROWS):
            state[slot_row(state, r) + s] = 0
    for s in range(n):
        b = table[BACKEND, s]
        backup = state[id_row(state, ID_BACKUP) + b]
        state[slot_row(state, S_EW) + s] = table[WEIGHT, s]
        state[slot_row(state, S_BACKUP) + s] = backup
        state[slot_row(state, S_MAX_FAILS) + s] = state[id_row(state, ID_MAX_FAILS) + b]
        state[slot_row(state, S_FAIL_TIMEOUT) + s] = state[id_row(state, ID_FAIL_TIMEOUT) + b]
        if table[U_THRESHOLD, s] != 0 or table[FLAGS, s] & F_OVERLOAD:
            limits += 1
        if backup:
            nback += 1
        else:
            state[slot_row(state, S_CUM) + nprim] = total
            nprim += 1
            total += table[LAST_WEIGHT, s]
            live += table[WEIGHT, s]
    state[NPRIM] = nprim
    state[NBACK] = nback
    state[TOTAL_W] = total
    state[LIVE_TOTAL] = live
    state[CLEAN] = 1 if nback == 0 and limits == 0 else 0
    fstate[INV_TOTAL] = 1.0 / total if total else 0.0
    state[DIRECT] = 0
    if total:
        cum = state[slot_row(state, S_CUM): slot_row(state, S_CUM) + cap]
        nb = BUCKETS * cap
        if total <= nb:
            state[DIRECT] = 1
            for k in range(total):
                state[slot_row(state, S_BUCKETS) + k] = search(cum, nprim, k)
        else:
            for k in range(nb):
                state[slot_row(state, S_BUCKETS) + k] = search(cum, nprim, (k * total) // nb)


@kernel
def free_peer(table, state, backend, failed, now):
    """``ngx_http_upstream_free_round_robin_peer`` after ``pool.release``: failure bookkeeping."""
    s = table[SLOT, backend]
    if s >= table[T_HEADER, LISTED] or is_single(state):
        return
    fails = slot_row(state, S_FAILS) + s
    accessed = slot_row(state, S_ACCESSED) + s
    checked = slot_row(state, S_CHECKED) + s
    if failed:
        state[CLEAN] = 0
        state[fails] += 1
        state[accessed] = now
        state[checked] = now
        max_fails = state[slot_row(state, S_MAX_FAILS) + s]
        if max_fails:
            ew = slot_row(state, S_EW) + s
            state[ew] -= table[WEIGHT, s] // max_fails
            if state[ew] < 0:
                state[ew] = 0
    elif state[accessed] < state[checked]:
        state[fails] = 0
