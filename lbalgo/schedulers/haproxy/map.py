"""haproxy-static-rr, and the server map of every ``hash-type map-based`` algorithm (``src/lb_map.c``).

The map has ``tot_weight`` slots: the eweights of the usable servers of the
group in use, where a map-based eweight is the weight divided by the gcd
of the configured weights (no scaling by 16: ``init_server_map`` leaves
``wdiv`` at 1)::

    recalc():
        group = active servers if any is usable, else backups
        score(s) = 0 for every server
        for o in 0 .. tot_weight - 1:
            if tot_weight == 1: map[o] = the first usable server of the group
            else: each usable server of the group, in config order, adds its
                  eweight to its score; map[o] = the first with the largest
                  (score + tot_weight) // tot_weight; its score -= tot_weight

    static-rr pick():
        idx = rr_idx (0 if out of range); walk the map from idx, wrapping,
        once round; take the first server below maxconn; rr_idx = after it
    map-based hash lookup(h): map[h mod tot_weight]

With the first usable backup alone in use (no allbackups), tot_weight is
that backup's eweight but every usable backup still adds to the scores, so
a later backup much heavier than the first can own slots: lbalgo keeps
that (with a first backup of eweight 1 the map is just that backup). The map is built
once per change (``recalc_server_map`` on every state change); static
algorithms refuse ``add server`` / ``del server``, so adding or removing a
backend is a new configuration here (gcd, ids and map from scratch, rr_idx
0). Weights 4, 3, 2 give the 9-slot map ``0 1 0 1 2 0 0 1 2``; the first
request always goes to the first declared server. Source:
``recalc_server_map``, ``init_server_map``, ``map_get_server_rr``,
``map_get_server_hash``, HAProxy 2.6.12.
"""

from __future__ import annotations

import numpy as np

from ..._jit import kernel
from ..._table import (
    BACKEND,
    EV_ADD,
    EV_DELETE,
    EV_RESIZE,
    F_OVERLOAD,
    FLAGS,
    SLOT,
    WEIGHT,
    account_at,
    listed,
)
from ..registry import register
from ._base import HAProxyScheduler
from ._servers import (
    ALGO,
    ID_BACKUP,
    ID_EW,
    ID_WSCORE,
    OVERFLOW,
    REGION_AT,
    REGION_LEN,
    SRV_ACT,
    SRV_UWGHT_MAX,
    TOT_USED,
    TOT_WEIGHT,
    WMULT,
    assign_ids,
    at,
    event_backend,
    is_full,
    next_eweight,
    recount,
)

# header fields (the map itself is the region)
RR_IDX = ALGO


@kernel(inline="always")
def cdiv(a, b):
    """C integer division (truncates toward zero) for ``b > 0``."""
    return a // b if a >= 0 else -((-a) // b)


@kernel
def recalc_map(table, state):
    """``recalc_server_map``: fill the region's first ``tot_weight`` values with backend ids."""
    tot = state[TOT_WEIGHT]
    if state[TOT_USED] == 0:
        return
    if tot > state[REGION_LEN]:
        state[OVERFLOW] = 1
        return
    state[OVERFLOW] = 0
    flag = 0 if state[SRV_ACT] else 1
    base = state[REGION_AT]
    for s in range(listed(table)):
        state[at(state, ID_WSCORE, table[BACKEND, s])] = 0
    for o in range(tot):
        best = -1
        top = 0
        for s in range(listed(table)):
            b = table[BACKEND, s]
            if state[at(state, ID_BACKUP, b)] != flag or state[at(state, ID_EW, b)] <= 0:
                continue
            if tot == 1:
                best = b
                break
            score = at(state, ID_WSCORE, b)
            state[score] += state[at(state, ID_EW, b)]
            v = cdiv(state[score] + tot, tot)
            if best < 0 or v > top:
                top = v
                best = b
        state[base + o] = best
        if best >= 0:
            state[at(state, ID_WSCORE, best)] -= tot


@kernel
def map_gcd(table):
    """``init_server_map``'s wmult: the gcd of the non-zero weights (capped at 256), 1 if none."""
    g = 0
    for s in range(listed(table)):
        a = min(table[WEIGHT, s], SRV_UWGHT_MAX)
        while a:
            g, a = a, g % a
    return g if g > 0 else 1


@kernel
def map_load(table, state, new_config):
    """Rebuild the eweights, counts and map; ``new_config``: a configuration load (gcd, ids, rr_idx 0)."""
    if new_config:
        state[WMULT] = map_gcd(table)
        state[RR_IDX] = 0
    assign_ids(table, state)
    for s in range(listed(table)):
        b = table[BACKEND, s]
        state[at(state, ID_EW, b)] = next_eweight(table, state, b)
    recount(table, state)
    recalc_map(table, state)


@kernel
def map_changed_kernel(table, state, event, where):
    """EV_UPDATE: the server's new eweight and a new map; an add or a removal: a new configuration."""
    if event == EV_RESIZE:
        map_load(table, state, False)
        return
    if event == EV_ADD or event == EV_DELETE:
        if event == EV_DELETE:
            state[at(state, ID_EW, event_backend(table, event, where))] = 0
        map_load(table, state, True)
        return
    b = event_backend(table, event, where)
    if b < 0:
        return
    ew = next_eweight(table, state, b)
    if ew == state[at(state, ID_EW, b)]:
        return  # srv_lb_status_changed: nothing changed
    state[at(state, ID_EW, b)] = ew
    recount(table, state)
    recalc_map(table, state)


@kernel(inline="always")
def map_rr(table, state):
    """``map_get_server_rr`` (no server to avoid): a backend id or -1."""
    tot = state[TOT_WEIGHT]
    if tot == 0 or state[OVERFLOW]:
        return -1
    base = state[REGION_AT]
    idx = state[RR_IDX]
    if idx < 0 or idx >= tot:
        idx = 0
        state[RR_IDX] = 0
    start = idx
    while True:
        b = state[base + idx]
        idx += 1
        if not is_full(table, b):
            state[RR_IDX] = idx
            return b
        if idx == tot:
            idx = 0
        if idx == start:
            return -1


@kernel(inline="always")
def map_hash(state, h):
    """``map_get_server_hash``: the map slot ``h mod tot_weight`` (-1 with no server)."""
    tot = state[TOT_WEIGHT]
    if tot == 0 or state[OVERFLOW]:
        return -1
    return state[state[REGION_AT] + h % tot]


@kernel(signature="schedule", refcount=False)
def static_rr_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """:func:`map_rr` for a batch, its fields in locals; ``state``: the HAProxy layout, the map its region."""
    tot = state[TOT_WEIGHT]
    if state[OVERFLOW]:
        tot = 0
    base = state[REGION_AT]
    idx = state[RR_IDX]
    slot = table[SLOT]
    flags = table[FLAGS]
    backend = -1
    for i in range(first, last):
        s = -1
        if tot:
            if idx < 0 or idx >= tot:
                idx = 0
            start = idx
            while True:
                c = slot[state[base + idx]]
                idx += 1
                if not flags[c] & F_OVERLOAD:
                    s = c
                    break
                if idx == tot:
                    idx = 0
                if idx == start:
                    break
        backend = account_at(table, s, mode)
        out[i] = backend
    state[RR_IDX] = idx
    return backend


@kernel(signature="changed")
def static_rr_changed(table, state, fstate, event, where):
    """See :func:`map_changed_kernel`."""
    map_changed_kernel(table, state, event, where)


class MapBased(HAProxyScheduler):
    """Shared region sizing of the map-based algorithms."""

    map_based = True

    def _region_need(self) -> int:
        pool = getattr(self, "pool", None)
        if pool is None:
            return 0
        n = len(pool)
        weights = np.minimum(pool.table[WEIGHT, :n], SRV_UWGHT_MAX)
        if n == 0:
            return 0
        backup = np.array([self._backup[b] if b < len(self._backup) else 0
                           for b in pool.table[BACKEND, :n].tolist()], dtype=bool)
        # eweight = weight / wmult <= weight (a new configuration may lower wmult to 1).
        return int(max(weights[~backup].sum(), weights[backup].sum()))

    def _headroom(self) -> int:
        pool = self.pool
        top = int(np.minimum(pool.table[WEIGHT, : len(pool)], SRV_UWGHT_MAX).max(initial=1))
        return top * (pool.capacity - len(pool))


@register
class HAProxyStaticRR(MapBased):
    """HAProxy ``balance static-rr``: a walk over the score-built server map.

    Parameters
    ----------
    weights : sequence of int
        Server weights 0..256 in config order; see
        :class:`~lbalgo.schedulers.haproxy._base.HAProxyScheduler` for
        ``ids``, ``backup``, ``allbackups`` and ``maxconn``.
    """

    name = "haproxy-static-rr"
    summary = "static weighted round robin over a score-built map of sum(w)/gcd slots, first server first"
    source = "HAProxy 2.6 lb_map.c"

    _schedule = static_rr_schedule
    _changed = static_rr_changed

    @property
    def server_map(self) -> np.ndarray:
        """The server map: a backend id per slot (read-only copy)."""
        tot = int(self.state[TOT_WEIGHT])
        base = int(self.state[REGION_AT])
        return self.state[base: base + tot].copy()
