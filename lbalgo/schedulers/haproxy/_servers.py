"""The HAProxy 2.6 server model shared by every ``balance`` algorithm (``src/backend.c``, ``src/server.c``).

A backend is a ``server`` line, in config order. lbalgo maps its keywords::

    weight N    the pool weight, 0..256; 0 takes the server out (not usable)
    id N        ids=[...]: the numeric id (puid); default 1, 2, ... in config
                order, skipping explicit ones (``check_config_validity``)
    backup      backup=[...]; with allbackups=True all usable backups share
                the load when no active server is usable, else only the first
    maxconn N   the pool's thresholds with upper = lower = N: a server at
                maxconn is full (served = active + inactive connections)

Weights are scaled: ``eweight = ceil(uweight * wdiv / wmult)``. The dynamic
algorithms (roundrobin, leastconn, first, random, ``hash-type consistent``)
set wdiv = 16 (BE_WEIGHT_SCALE) and wmult = 1, so eweight = 16 * weight.
The map-based ones (static-rr, ``hash-type map-based``) set wmult to the
gcd of the configured weights and leave wdiv at 1 (``init_server_map`` never
sets it): eweight = weight / gcd, and the map has sum(weight) / gcd slots.

Bookkeeping, after every change (``recount_servers``, ``update_backend_weight``)::

    srv_act, tot_wact = usable active servers and their eweights
    srv_bck, tot_wbck = the same for backups
    fbck = the first usable backup in config order (unless allbackups)
    if srv_act:  tot_weight, tot_used = tot_wact, srv_act
    elif fbck:   tot_weight, tot_used = fbck's eweight, 1
    else:        tot_weight, tot_used = tot_wbck, srv_bck

Pool edits are HAProxy's runtime API: ``set_weight`` is ``set weight``
(0: the server goes down, back to >0: up), ``add_backend`` is ``add server``
then ``enable server`` (the new server gets the smallest free id),
``remove_backend`` is ``disable server`` then ``del server``. The map-based
algorithms accept no ``add``/``del server``: there an add or a removal is a
new configuration (ids and wmult recomputed, state from scratch).

State layout (int64): a header, per-id rows, then the algorithm's region
(the server map, the consistent-hash ring).

This module holds that layout and the kernels every algorithm shares; the
Python base class, ``HAProxyScheduler``, and its option parsing are in
:mod:`~lbalgo.schedulers.haproxy._base`.
"""

from __future__ import annotations

from ..._jit import kernel
from ..._table import (
    ACTIVE,
    BACKEND,
    EV_ADD,
    EV_DELETE,
    F_OVERLOAD,
    FLAGS,
    INACTIVE,
    LISTED,
    SLOT,
    WEIGHT,
    listed,
)
from ..._table import HEADER as T_HEADER

BE_WEIGHT_SCALE = 16
SRV_UWGHT_MAX = 256
SRV_EWGHT_MAX = 4096

# header fields
CAP = 0
ALLBACKUPS = 1
SRV_ACT, SRV_BCK, TOT_WACT, TOT_WBCK, FBCK, TOT_WEIGHT, TOT_USED = 2, 3, 4, 5, 6, 7, 8
WMULT = 9  # 1, or the gcd of the configured weights (map-based)
SEQ = 10  # insertion counter: equal tree keys keep insertion order
REGION_AT = 11
REGION_LEN = 12
OVERFLOW = 13  # the region was too small for the last rebuild (a simulation past reserve())
WDIV = 14  # lbprm.wdiv: 16 for the dynamic algorithms, 1 for the map-based ones (init_server_map leaves it)
ALGO = 16  # first header field an algorithm may use (up to HEADER)
HEADER = 64

# per-id rows
(ID_BACKUP, ID_PUID, ID_EXPLICIT, ID_EW, ID_UW, ID_TREE, ID_LINKED, ID_KEY, ID_SEQ, ID_NPOS, ID_LPOS,
 ID_RWEIGHT, ID_NEXT_FULL, ID_NODES_NOW, ID_NODES_TOT, ID_ALLOC_PUID, ID_FIRST_TOT, ID_WSCORE, ID_PRIO,
 ID_POS, ID_STEP, ID_REM) = range(22)
N_ID_ROWS = 22
# ID_TREE values: the tree a server belongs to (HAProxy's lb_tree); ID_LINKED says whether it is in it now
NO_TREE, CURR, T0, T1 = 0, 1, 2, 3


@kernel(inline="always")
def at(state, row, b):
    """Index of per-id field ``row`` of backend id ``b``."""
    return HEADER + row * state[CAP] + b


@kernel(inline="always")
def row(state, r):
    """Return a view of per-id row ``r``."""
    cap = state[CAP]
    return state[HEADER + r * cap: HEADER + (r + 1) * cap]


@kernel(inline="always")
def is_listed(table, b):
    """Whether backend id ``b`` is in the pool's list."""
    return table[SLOT, b] < table[T_HEADER, LISTED]


@kernel(inline="always")
def next_eweight(table, state, b):
    """``server_recalc_eweight``: ``ceil(uweight * 16 / wmult)`` (0 for a removed server)."""
    if not is_listed(table, b):
        return 0
    uw = min(table[WEIGHT, table[SLOT, b]], SRV_UWGHT_MAX)
    wmult = state[WMULT]
    return (uw * state[WDIV] + wmult - 1) // wmult


@kernel(inline="always")
def is_full(table, b):
    """At ``maxconn`` (the pool's overload flag, thresholds upper = lower = maxconn)."""
    return table[FLAGS, table[SLOT, b]] & F_OVERLOAD != 0


@kernel(inline="always")
def served(table, b):
    """``srv->served``: the requests the server is serving (active + inactive connections)."""
    s = table[SLOT, b]
    return table[ACTIVE, s] + table[INACTIVE, s]


@kernel(inline="always")
def usable_now(state, b):
    """``srv_currently_usable``: committed eweight > 0."""
    return state[at(state, ID_EW, b)] > 0


@kernel
def recount(table, state):
    """``recount_servers`` + ``update_backend_weight`` from the committed eweights."""
    act = 0
    bck = 0
    wact = 0
    wbck = 0
    fbck = -1
    all_bk = state[ALLBACKUPS]
    for s in range(listed(table)):
        b = table[BACKEND, s]
        ew = state[at(state, ID_EW, b)]
        if ew <= 0:
            continue
        if state[at(state, ID_BACKUP, b)]:
            if bck == 0 and not all_bk:
                fbck = b
            bck += 1
            wbck += ew
        else:
            act += 1
            wact += ew
    state[SRV_ACT] = act
    state[SRV_BCK] = bck
    state[TOT_WACT] = wact
    state[TOT_WBCK] = wbck
    state[FBCK] = fbck
    if act:
        state[TOT_WEIGHT] = wact
        state[TOT_USED] = act
    elif fbck >= 0:
        state[TOT_WEIGHT] = state[at(state, ID_EW, fbck)]
        state[TOT_USED] = 1
    else:
        state[TOT_WEIGHT] = wbck
        state[TOT_USED] = bck


@kernel
def id_taken(table, state, puid, skip):
    """Whether a listed server other than id ``skip`` has numeric id ``puid``."""
    for s in range(listed(table)):
        b = table[BACKEND, s]
        if b != skip and state[at(state, ID_PUID, b)] == puid:
            return True
    return False


@kernel
def assign_ids(table, state):
    """Numeric ids as ``check_config_validity`` gives them: explicit ones, then 1, 2, ... skipping those."""
    for s in range(listed(table)):
        b = table[BACKEND, s]
        state[at(state, ID_PUID, b)] = state[at(state, ID_EXPLICIT, b)]
    next_id = 1
    for s in range(listed(table)):
        b = table[BACKEND, s]
        if state[at(state, ID_PUID, b)] == 0:
            while id_taken(table, state, next_id, b):
                next_id += 1
            state[at(state, ID_PUID, b)] = next_id
        next_id += 1


@kernel
def added_id(table, state, b):
    """Return the id ``add server`` gives: the explicit one, else the smallest free."""
    puid = state[at(state, ID_EXPLICIT, b)]
    if puid == 0:
        puid = 1
        while id_taken(table, state, puid, b):
            puid += 1
    state[at(state, ID_PUID, b)] = puid


@kernel
def event_backend(table, event, where):
    """Return the backend id an event is about: at slot ``where``, or the one just unlinked (EV_DELETE)."""
    if event == EV_DELETE:
        return table[BACKEND, table[T_HEADER, LISTED]]
    if event == EV_ADD or where < table[T_HEADER, LISTED]:
        return table[BACKEND, where]
    return -1


@kernel
def next_seq(state):
    """Return the next insertion number (tree order among equal keys)."""
    q = state[SEQ]
    state[SEQ] = q + 1
    return q
