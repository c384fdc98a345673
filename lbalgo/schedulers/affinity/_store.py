"""Storage of ClientIP affinity: the client table, the entry rows, the per-endpoint lists.

The persistence layer's state is one tuple of arrays, ``aff``; its members
are named by the index constants below (``aff[ROWS]`` is the entry rows)::

    aff[META]          int64[N_META]     fields: MODE, CAPACITY, EXPIRE_QUIESCENT,
                                         N_CLIENTS, BITS, FREE_ROW, ROWS_USED
    aff[TIMING]        float64[N_TIMING] fields: CLOCK, TIMEOUT
    aff[CLIENT_SLOTS]  int64[S, 2]       the client table
    aff[ROWS]          int64[R, 8]       the entry rows
    aff[ROW_TIMES]     float64[R, 8]     the same rows read as float64
    aff[LISTS]         int64[C, 3]       per backend id: its list of entries
    aff[RANK]          int64[C]          per backend id: its list position
    aff[V6FOLD]        int64[K]          the fold of each IPv6 client id

``CLIENT_SLOTS``, S a power of two
    Open addressing (linear probing) on the client identity:
    ``[s, KEY]`` is the client (-1: empty slot), ``[s, FIRST]`` its first
    entry row (-1: none). Clients are never deleted, so there are no
    tombstones; the Python side grows the table (rehash) before it is half
    full.
``ROWS`` and ``ROW_TIMES``
    One 64-byte row per (client, endpoint) entry: ``CLIENT``, ``BACKEND``,
    ``CLIENT_NEXT`` (the client's next row), ``LIST_PREV`` / ``LIST_NEXT``
    (the neighbours in the backend's list, oldest first), ``CONTROLLED``
    (ipvs: connections the template controls); then, read as float64,
    ``STAMP`` (iptables: the last ``--set``; nftables: the expiry; ipvs: the
    timer) and ``ROW_TIMEOUT`` (ipvs: the template's current timeout). One
    cache line per entry. Free rows are chained through ``CLIENT_NEXT``.
``LISTS``
    Per backend id: the ``HEAD`` (oldest), ``TAIL`` and ``LENGTH`` of its
    list: the xt_recent list or nft set of that endpoint (iptables,
    nftables), its templates (ipvs).
``RANK``
    List position of each endpoint (listed, weight > 0); BIG otherwise. The
    affinity rules are checked in this order.
``V6FOLD``
    Client identities >= 2**32 are IPv6 ids; the inner scheduler gets the
    32-bit fold of the address, the value IPVS hashes.

The rows' free list (:data:`ENTRY_ROWS`) and the clock (``aff[TIMING][CLOCK]``)
follow :mod:`.._keyed_cache`, whose Python side grows the tables and keeps
the clock for both this layer and lblc / lblcr.

Every kernel here is allocation-free (``refcount=False``).
"""

from __future__ import annotations

import numpy as np

from ..._hash import M32, hash_32
from ..._jit import kernel
from .._identity_keys import V6_BASE  # noqa: F401  (keys >= V6_BASE are IPv6 ids)
from .._keyed_cache import CLOCK, FreeList

# modes
IPTABLES, NFTABLES, IPVS = 0, 1, 2
# the members of the tuple ``aff``
META, TIMING, CLIENT_SLOTS, ROWS, ROW_TIMES, LISTS, RANK, V6FOLD = range(8)
N_AFF = 8
# aff[META] fields: the mode, the list / set capacity (0: none), the expire_quiescent_template
# sysctl, the distinct clients seen, log2 of the client table's size, the first free row, rows in use
MODE, CAPACITY, EXPIRE_QUIESCENT, N_CLIENTS, BITS, FREE_ROW, ROWS_USED = range(7)
N_META = 7
# aff[TIMING] fields: CLOCK (0, the keyed cache's field: the time of the latest call), then the
# affinity timeout (timeoutSeconds)
TIMEOUT = CLOCK + 1
N_TIMING = 2
# columns of aff[ROWS], then those read through aff[ROW_TIMES]
CLIENT, BACKEND, CLIENT_NEXT, LIST_PREV, LIST_NEXT, CONTROLLED = range(6)
STAMP, ROW_TIMEOUT = 6, 7
ROW_WIDTH = 8
# columns of aff[CLIENT_SLOTS] and of aff[LISTS]
KEY, FIRST = 0, 1
SLOT_WIDTH = 2
HEAD, TAIL, LENGTH = range(3)
LIST_WIDTH = 3
# the free list of aff[ROWS]
ENTRY_ROWS = FreeList(used=ROWS_USED, free=FREE_ROW, link=CLIENT_NEXT)

BIG = 1 << 62
STICKY = 60.0  # seconds: the template timeout after its timer fired while controlling connections


@kernel(refcount=False)
def find_slot(slots, client, bits):
    """Return the slot holding ``client``, or the empty slot where it would go."""
    mask = slots.shape[0] - 1
    s = hash_32((client ^ (client >> 32)) & M32, bits)
    while slots[s, KEY] != client and slots[s, KEY] >= 0:
        s = (s + 1) & mask
    return s


@kernel(refcount=False)
def slot_of(aff, client):
    """Return :func:`find_slot` of ``client`` in ``aff[CLIENT_SLOTS]``."""
    return find_slot(aff[CLIENT_SLOTS], client, aff[META][BITS])


@kernel(refcount=False)
def delete_row(aff, r):
    """Unlink row ``r`` from its client's chain and its backend's list; free it."""
    meta, slots, rows, lists = aff[META], aff[CLIENT_SLOTS], aff[ROWS], aff[LISTS]
    s = find_slot(slots, rows[r, CLIENT], meta[BITS])
    p = slots[s, FIRST]
    if p == r:
        slots[s, FIRST] = rows[r, CLIENT_NEXT]
    else:
        while rows[p, CLIENT_NEXT] != r:
            p = rows[p, CLIENT_NEXT]
        rows[p, CLIENT_NEXT] = rows[r, CLIENT_NEXT]
    b = rows[r, BACKEND]
    prev = rows[r, LIST_PREV]
    nxt = rows[r, LIST_NEXT]
    if prev >= 0:
        rows[prev, LIST_NEXT] = nxt
    else:
        lists[b, HEAD] = nxt
    if nxt >= 0:
        rows[nxt, LIST_PREV] = prev
    else:
        lists[b, TAIL] = prev
    lists[b, LENGTH] -= 1
    rows[r, CLIENT_NEXT] = meta[FREE_ROW]
    meta[FREE_ROW] = r
    meta[ROWS_USED] -= 1


@kernel(refcount=False)
def append_row(aff, b, r):
    """Link row ``r`` at the tail (newest end) of backend ``b``'s list."""
    rows, lists = aff[ROWS], aff[LISTS]
    tail = lists[b, TAIL]
    rows[r, LIST_PREV] = tail
    rows[r, LIST_NEXT] = -1
    if tail >= 0:
        rows[tail, LIST_NEXT] = r
    else:
        lists[b, HEAD] = r
    lists[b, TAIL] = r
    lists[b, LENGTH] += 1


@kernel(refcount=False)
def move_to_tail(aff, r):
    """Make row ``r`` the newest of its backend's list."""
    rows, lists = aff[ROWS], aff[LISTS]
    b = rows[r, BACKEND]
    if lists[b, TAIL] != r:
        prev = rows[r, LIST_PREV]
        nxt = rows[r, LIST_NEXT]
        if prev >= 0:
            rows[prev, LIST_NEXT] = nxt
        else:
            lists[b, HEAD] = nxt
        rows[nxt, LIST_PREV] = prev
        lists[b, LENGTH] -= 1
        append_row(aff, b, r)


@kernel(refcount=False)
def new_row(aff, s, client, b, t):
    """Add the entry (client, b) with time ``t``, the client being at slot ``s``; return its row.

    The entry becomes the newest of b's list and the first of the client's chain.
    """
    meta, slots, rows, row_times = aff[META], aff[CLIENT_SLOTS], aff[ROWS], aff[ROW_TIMES]
    if slots[s, KEY] != client:
        slots[s, KEY] = client
        slots[s, FIRST] = -1
        meta[N_CLIENTS] += 1
    r = meta[FREE_ROW]  # the Python side keeps rows free for every decision of a batch
    meta[FREE_ROW] = rows[r, CLIENT_NEXT]
    meta[ROWS_USED] += 1
    rows[r, CLIENT] = client
    rows[r, BACKEND] = b
    rows[r, CLIENT_NEXT] = slots[s, FIRST]
    rows[r, CONTROLLED] = 0
    row_times[r, STAMP] = t
    row_times[r, ROW_TIMEOUT] = 0.0
    slots[s, FIRST] = r
    append_row(aff, b, r)
    return r


@kernel(refcount=False)
def first_row(aff, s, client):
    """Return the first entry row of ``client`` at slot ``s`` (-1: none)."""
    slots = aff[CLIENT_SLOTS]
    return slots[s, FIRST] if slots[s, KEY] == client else -1


@kernel(refcount=False)
def row_of(aff, s, client, b):
    """Return the entry row of (client, b), or -1."""
    rows = aff[ROWS]
    r = first_row(aff, s, client)
    while r >= 0 and rows[r, BACKEND] != b:
        r = rows[r, CLIENT_NEXT]
    return r


@kernel(refcount=False)
def rehash(slots, new_slots, bits):
    """Insert every client of ``slots`` into the empty table ``new_slots``."""
    for s in range(slots.shape[0]):
        client = slots[s, KEY]
        if client >= 0:
            t = find_slot(new_slots, client, bits)
            new_slots[t, KEY] = client
            new_slots[t, FIRST] = slots[s, FIRST]


def copy_tables(aff: tuple) -> tuple:
    """Return an independent copy of the tables (``ROW_TIMES`` again a float64 view of the copy's rows)."""
    tables = [a.copy() for a in aff]
    tables[ROW_TIMES] = tables[ROWS].view(np.float64)
    return tuple(tables)


def minimal_tables() -> tuple:
    """Return the smallest valid tables (one row, one client slot, one list), each at its index.

    For a caller that must pass tables of the right types but never reads them: the event
    loop of a simulation without persistence.
    """
    tables: list = [None] * N_AFF
    tables[META] = np.zeros(N_META, dtype=np.int64)
    tables[TIMING] = np.zeros(N_TIMING, dtype=np.float64)
    tables[CLIENT_SLOTS] = np.full((2, SLOT_WIDTH), -1, dtype=np.int64)
    tables[ROWS] = np.zeros((1, ROW_WIDTH), dtype=np.int64)
    tables[ROW_TIMES] = tables[ROWS].view(np.float64)
    tables[LISTS] = np.zeros((1, LIST_WIDTH), dtype=np.int64)
    tables[RANK] = np.zeros(1, dtype=np.int64)
    tables[V6FOLD] = np.zeros(1, dtype=np.int64)
    return tuple(tables)
