"""Storage of ClientIP affinity: the client table, the entry rows, the per-endpoint lists.

State (the tuple the pick kernel receives) is ``(inner_state, aff)`` with
``aff = (meta, fmeta, slots, ent, entf, blist, rank, v6fold)``:

``slots``  int64[S, 2], S a power of two
    Open addressing (linear probing) on the client identity: ``slots[s, 0]``
    is the client (-1: empty slot), ``slots[s, 1]`` its first entry row (-1: none).
    Clients are never deleted, so no tombstones; the Python side grows the
    table (rehash) before it is half full.
``ent`` int64[R, 8] and ``entf``, a float64 view of the same rows
    One 64-byte row per (client, endpoint) entry: client, backend, next row
    of the same client, previous / next row in the backend's list (oldest
    first), controlled connections (ipvs); then, read through ``entf``, the
    time (iptables: last ``--set``; nftables: expiry; ipvs: timer) and the
    current timeout (ipvs). One cache line per entry. Free rows are chained
    through the client-chain column.
``blist`` int64[C, 3]
    Per backend id: the head (oldest), tail and length of its list.
``rank`` int64[C]
    List position of each endpoint (listed, weight > 0); BIG otherwise. The
    affinity rules are checked in this order.
``v6fold`` int64[K]
    Client identities >= 2**32 are IPv6 ids; the inner scheduler gets the
    32-bit fold of the address, the value IPVS hashes.

Every kernel here is allocation-free (``refcount=False``) and keeps loops
free of early returns.
"""

from __future__ import annotations

from ..._hash import M32, hash_32
from ..._jit import kernel
from .._identity_keys import V6_BASE  # noqa: F401  (keys >= V6_BASE are IPv6 ids)

# modes
IPTABLES, NFTABLES, IPVS = 0, 1, 2
# meta slots
MODE, CAPACITY, EQT, N_CLIENTS, BITS, FREE, USED = range(7)
N_META = 7
# fmeta slots
CLOCK, TIMEOUT = range(2)
N_FMETA = 2
# ent columns / entf columns / blist columns
CLIENT, BACKEND, CNEXT, LPREV, LNEXT, NCTL = range(6)
STAMP, TMO = 6, 7  # float64 columns, through entf
N_ENT = 8
KEY, FIRST = 0, 1  # slots columns
HEAD, TAIL, COUNT = range(3)

BIG = 1 << 62
STICKY = 60.0  # seconds: the template timeout after its timer fired while controlling connections


@kernel(refcount=False)
def find_slot(slots, client, bits):
    """Slot holding ``client``, or the empty slot where it would go."""
    mask = slots.shape[0] - 1
    s = hash_32((client ^ (client >> 32)) & M32, bits)
    while slots[s, KEY] != client and slots[s, KEY] >= 0:
        s = (s + 1) & mask
    return s


@kernel(refcount=False)
def slot_of(aff, client):
    """``find_slot`` in the affinity state."""
    return find_slot(aff[2], client, aff[0][BITS])


@kernel(refcount=False)
def delete_row(aff, r):
    """Unlink row ``r`` from its client's chain and its backend's list; free it."""
    meta, slots, ent, blist = aff[0], aff[2], aff[3], aff[5]
    s = find_slot(slots, ent[r, CLIENT], meta[BITS])
    p = slots[s, FIRST]
    if p == r:
        slots[s, FIRST] = ent[r, CNEXT]
    else:
        while ent[p, CNEXT] != r:
            p = ent[p, CNEXT]
        ent[p, CNEXT] = ent[r, CNEXT]
    b = ent[r, BACKEND]
    prev = ent[r, LPREV]
    nxt = ent[r, LNEXT]
    if prev >= 0:
        ent[prev, LNEXT] = nxt
    else:
        blist[b, HEAD] = nxt
    if nxt >= 0:
        ent[nxt, LPREV] = prev
    else:
        blist[b, TAIL] = prev
    blist[b, COUNT] -= 1
    ent[r, CNEXT] = meta[FREE]
    meta[FREE] = r
    meta[USED] -= 1


@kernel(refcount=False)
def append_row(aff, b, r):
    """Link row ``r`` at the tail (newest end) of backend ``b``'s list."""
    ent, blist = aff[3], aff[5]
    tail = blist[b, TAIL]
    ent[r, LPREV] = tail
    ent[r, LNEXT] = -1
    if tail >= 0:
        ent[tail, LNEXT] = r
    else:
        blist[b, HEAD] = r
    blist[b, TAIL] = r
    blist[b, COUNT] += 1


@kernel(refcount=False)
def move_to_tail(aff, r):
    """Make row ``r`` the newest of its backend's list."""
    ent, blist = aff[3], aff[5]
    b = ent[r, BACKEND]
    if blist[b, TAIL] != r:
        prev = ent[r, LPREV]
        nxt = ent[r, LNEXT]
        if prev >= 0:
            ent[prev, LNEXT] = nxt
        else:
            blist[b, HEAD] = nxt
        ent[nxt, LPREV] = prev
        blist[b, COUNT] -= 1
        append_row(aff, b, r)


@kernel(refcount=False)
def new_row(aff, s, client, b, t):
    """Add an entry (client, b) with time ``t`` (client at slot ``s``): newest in b's list, first in its chain."""
    meta, slots, ent, entf = aff[0], aff[2], aff[3], aff[4]
    if slots[s, KEY] != client:
        slots[s, KEY] = client
        slots[s, FIRST] = -1
        meta[N_CLIENTS] += 1
    r = meta[FREE]  # the Python side keeps rows free for every decision of a batch
    meta[FREE] = ent[r, CNEXT]
    meta[USED] += 1
    ent[r, CLIENT] = client
    ent[r, BACKEND] = b
    ent[r, CNEXT] = slots[s, FIRST]
    ent[r, NCTL] = 0
    entf[r, STAMP] = t
    entf[r, TMO] = 0.0
    slots[s, FIRST] = r
    append_row(aff, b, r)
    return r


@kernel(refcount=False)
def first_row(aff, s, client):
    """First entry row of ``client`` at slot ``s`` (-1: none)."""
    slots = aff[2]
    return slots[s, FIRST] if slots[s, KEY] == client else -1


@kernel(refcount=False)
def row_of(aff, s, client, b):
    """The entry row of (client, b), or -1."""
    ent = aff[3]
    r = first_row(aff, s, client)
    while r >= 0 and ent[r, BACKEND] != b:
        r = ent[r, CNEXT]
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
