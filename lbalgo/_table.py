"""The backend table: one int64 array, one row per field, one column per list slot.

Every scheduler reads the same array, like the list of ``struct ip_vs_dest``
an IPVS service holds (``include/net/ip_vs.h``)::

    table = int64[N_ROWS, capacity]

    rows indexed by slot s          WEIGHT, LAST_WEIGHT, ACTIVE, INACTIVE, PERSIST,
                                    FLAGS, U_THRESHOLD, L_THRESHOLD, SAVED_WEIGHT,
                                    BACKEND (the id of the backend at slot s)
    row indexed by backend id b     SLOT (the slot of backend b)
    header row                      HEADER: LISTED (backends in the list), IDS (ids handed out)

Slots ``0 .. LISTED-1`` are the listed backends *in list order*, the order the
modelled system walks them and breaks ties in. Slots ``LISTED .. IDS-1`` hold
removed backends, whose connections may still drain. Keeping the fields of
the listed backends contiguous and in list order is what lets a least-
connection scan run at memory speed: it reads four dense rows front to back.
Backend ids are stable (never reused nor renumbered); an edit that moves
backends between slots rewrites their ``SLOT`` entries.

The kernels here are the one implementation of every pool edit (add,
remove, weight, thresholds, fail, recover) and of the connection accounting
(IPVS ``ip_vs_bind_dest`` / ``ip_vs_unbind_dest``, see
``docs/algorithms/connection.md``). :class:`lbalgo.Pool` and the simulator's
event loop both call them; schedulers only read the table.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel

# Rows indexed by slot.
WEIGHT = 0
LAST_WEIGHT = 1  # latest non-zero weight (IPVS last_weight; MH builds its table from it)
ACTIVE = 2  # activeconns
INACTIVE = 3  # inactconns
PERSIST = 4  # persistconns (persistence templates)
FLAGS = 5
U_THRESHOLD = 6  # upper connection threshold, 0 = none
L_THRESHOLD = 7  # lower connection threshold, 0 = derived from the upper one
SAVED_WEIGHT = 8  # the weight a failed backend had, restored when it recovers
BACKEND = 9  # the id of the backend at this slot
N_SLOT_ROWS = 10
# Row indexed by backend id.
SLOT = 10
# Header row and its columns.
HEADER = 11
LISTED = 0
IDS = 1
N_ROWS = 12

# Bits of the FLAGS row (the first two are the values of include/uapi/linux/ip_vs.h).
F_AVAILABLE = 1  # in the list; cleared when the backend is removed
F_OVERLOAD = 2  # over its upper threshold; schedulers skip it
F_FAILED = 4  # failed a health check: weight 0 until it recovers (SAVED_WEIGHT holds the old one)

# Events passed to every scheduler's ``changed`` hook, with what ``where`` means.
EV_RESIZE = 0  # the table was reallocated with more columns (Python side only)
EV_ADD = 1  # a backend was inserted at slot ``where``
EV_DELETE = 2  # the backend at slot ``where`` was unlinked
EV_UPDATE = 3  # the backend at slot ``where`` was edited (ipvsadm -e)
EV_COUNTERS = 4  # the counters of backend id ``where`` moved (only for schedulers that watch them)

# How a scheduled connection is counted (the ``mode`` of a schedule call).
LOOKUP = 0  # not at all: a pure lookup (sh/dh/mh lookup_many)
COUNT_ACTIVE = 1  # as an active connection (an established TCP connection)
COUNT_INACTIVE = 2  # as an inactive one (IPVS: SYN received, or UDP)

MIN_CAPACITY = 8


def new_table(capacity: int) -> np.ndarray:
    """Return an empty table with room for ``capacity`` backend ids."""
    return np.zeros((N_ROWS, max(MIN_CAPACITY, capacity)), dtype=np.int64)


def grown(table: np.ndarray, capacity: int) -> np.ndarray:
    """Return a copy of ``table`` with room for ``capacity`` ids (the same table if it has room)."""
    if capacity <= table.shape[1]:
        return table
    bigger = new_table(capacity)
    bigger[:, : table.shape[1]] = table
    return bigger


# -- reading ------------------------------------------------------------------------------------
@kernel(inline="always")
def listed(table):
    """Return the number of listed backends (the list's length)."""
    return table[HEADER, LISTED]


@kernel(inline="always")
def usable(table, s):
    """Whether the backend at slot ``s`` takes new connections: weight > 0 and not overloaded."""
    return table[WEIGHT, s] > 0 and not table[FLAGS, s] & F_OVERLOAD


@kernel(inline="always")
def overhead(table, s):
    """IPVS ``ip_vs_dest_conn_overhead``: an active connection weighs 256 inactive ones."""
    return (table[ACTIVE, s] << 8) + table[INACTIVE, s]


@kernel(inline="always")
def item(values, i):
    """``values[i]``, or ``values[0]`` for every ``i`` when ``values`` holds one value (a broadcast)."""
    return values[i if values.shape[0] > 1 else 0]


# -- connection accounting ----------------------------------------------------------------------
@kernel(inline="always")
def _overload_after_bind(table, s):
    """Set the overload flag once ``active + inactive`` reaches the upper threshold."""
    upper = table[U_THRESHOLD, s]
    if upper != 0 and table[ACTIVE, s] + table[INACTIVE, s] >= upper:
        table[FLAGS, s] |= F_OVERLOAD


@kernel(inline="always")
def _overload_after_unbind(table, s):
    """Clear the overload flag as IPVS does.

    Clear it below the lower threshold if one is set, else below 3/4 of the upper one,
    else unconditionally.
    """
    total = table[ACTIVE, s] + table[INACTIVE, s]
    lower = table[L_THRESHOLD, s]
    upper = table[U_THRESHOLD, s]
    if lower != 0:
        if total < lower:
            table[FLAGS, s] &= ~F_OVERLOAD
    elif upper != 0:
        if total * 4 < upper * 3:
            table[FLAGS, s] &= ~F_OVERLOAD
    else:
        table[FLAGS, s] &= ~F_OVERLOAD


@kernel(inline="always")
def bind(table, backend, active):
    """Count one new connection on ``backend`` (IPVS ``ip_vs_bind_dest``)."""
    _bind_at(table, table[SLOT, backend], active)


@kernel(inline="always")
def _bind_at(table, s, active):
    """Count one new connection on the backend at slot ``s``."""
    if active:
        table[ACTIVE, s] += 1
    else:
        table[INACTIVE, s] += 1
    _overload_after_bind(table, s)


@kernel(inline="always")
def account(table, backend, mode):
    """Count a scheduled connection as ``mode`` says (nothing for -1 or LOOKUP); return ``backend``."""
    if backend >= 0 and mode != LOOKUP:
        _bind_at(table, table[SLOT, backend], mode == COUNT_ACTIVE)
    return backend


@kernel(inline="always")
def account_at(table, s, mode):
    """:func:`account` for the backend at slot ``s`` (-1: none); return its id (or -1)."""
    backend = -1
    if s >= 0:
        backend = table[BACKEND, s]
        if mode != LOOKUP:
            _bind_at(table, s, mode == COUNT_ACTIVE)
    return backend


@kernel(refcount=False)
def unbind(table, backend, active):
    """End one connection on ``backend`` (IPVS ``ip_vs_unbind_dest``)."""
    s = table[SLOT, backend]
    if active:
        table[ACTIVE, s] -= 1
    else:
        table[INACTIVE, s] -= 1
    _overload_after_unbind(table, s)


@kernel(refcount=False)
def activate(table, backend):
    """Move one connection from inactive to active (TCP reached ESTABLISHED)."""
    s = table[SLOT, backend]
    table[INACTIVE, s] -= 1
    table[ACTIVE, s] += 1


@kernel(refcount=False)
def deactivate(table, backend):
    """Move one connection from active to inactive (TCP FIN or RST)."""
    s = table[SLOT, backend]
    table[ACTIVE, s] -= 1
    table[INACTIVE, s] += 1


@kernel(refcount=False)
def bind_template(table, backend):
    """Count a persistence template on ``backend``: ``persistconns``, same overload rule."""
    s = table[SLOT, backend]
    table[PERSIST, s] += 1
    _overload_after_bind(table, s)


@kernel(refcount=False)
def unbind_template(table, backend):
    """Drop a persistence template from ``backend``: ``persistconns``, same overload rule."""
    s = table[SLOT, backend]
    table[PERSIST, s] -= 1
    _overload_after_unbind(table, s)


# -- pool edits (each returns the slot the scheduler's changed hook is told about) ---------------
@kernel(refcount=False)
def insert_backend(table, slot, weight, upper, lower):
    """Add a backend (the next id) at list slot ``slot`` (0..LISTED); return its id.

    Backends at ``slot`` and after it, removed ones included, move one slot up.
    The caller makes sure the table has room for one more id.
    """
    ids = table[HEADER, IDS]
    for row in range(N_SLOT_ROWS):
        for s in range(ids, slot, -1):
            table[row, s] = table[row, s - 1]
        table[row, slot] = 0
    backend = ids
    table[WEIGHT, slot] = weight
    table[LAST_WEIGHT, slot] = weight
    table[U_THRESHOLD, slot] = upper
    table[L_THRESHOLD, slot] = lower
    table[FLAGS, slot] = F_AVAILABLE
    table[BACKEND, slot] = backend
    for s in range(slot, ids + 1):
        table[SLOT, table[BACKEND, s]] = s
    table[HEADER, IDS] = ids + 1
    table[HEADER, LISTED] += 1
    return backend


@kernel(refcount=False)
def remove_backend(table, backend):
    """Unlink a listed backend; return the slot it had. Its counters stay (connections drain).

    It moves to the first slot after the list; the backends after it move one slot down.
    """
    slot = table[SLOT, backend]
    last = table[HEADER, LISTED] - 1
    for row in range(N_SLOT_ROWS):
        kept = table[row, slot]
        for s in range(slot, last):
            table[row, s] = table[row, s + 1]
        table[row, last] = kept
    for s in range(slot, last + 1):
        table[SLOT, table[BACKEND, s]] = s
    table[FLAGS, last] &= ~(F_AVAILABLE | F_FAILED)
    table[HEADER, LISTED] = last
    return slot


@kernel(refcount=False)
def set_weight(table, backend, weight):
    """Set a listed backend's weight (``ipvsadm -e``; 0 quiesces it); return its slot."""
    s = table[SLOT, backend]
    table[WEIGHT, s] = weight
    if weight != 0:
        table[LAST_WEIGHT, s] = weight
    return s


@kernel(refcount=False)
def set_thresholds(table, backend, upper, lower):
    """Set a listed backend's connection thresholds (``ipvsadm -e -x -y``); return its slot.

    As in IPVS, the overload flag is cleared when the new upper threshold is
    0 or larger than the old one.
    """
    s = table[SLOT, backend]
    old = table[U_THRESHOLD, s]
    table[U_THRESHOLD, s] = upper
    table[L_THRESHOLD, s] = lower
    if upper == 0 or upper > old:
        table[FLAGS, s] &= ~F_OVERLOAD
    return s


@kernel(refcount=False)
def fail_backend(table, backend):
    """Fail a backend's health check and return its slot.

    Its weight becomes 0; the old weight is kept for :func:`recover_backend`.
    """
    s = table[SLOT, backend]
    table[SAVED_WEIGHT, s] = table[WEIGHT, s]
    table[FLAGS, s] |= F_FAILED
    set_weight(table, backend, 0)
    return s


@kernel(refcount=False)
def recover_backend(table, backend):
    """Pass a backend's health check again and return its slot.

    The weight it had when it failed comes back.
    """
    s = table[SLOT, backend]
    table[FLAGS, s] &= ~F_FAILED
    set_weight(table, backend, table[SAVED_WEIGHT, s])
    return s


# -- derived values ---------------------------------------------------------------------------------
@kernel(refcount=False)
def gcd_and_max(table, row):
    """Return the greatest common divisor and the maximum of the positive values of ``row``.

    Both are taken over the listed backends, each 0 if there are none: WRR's
    ``di`` / ``mw`` and MH's ``last_weight`` scaling.
    """
    g = 0
    largest = 0
    for s in range(table[HEADER, LISTED]):
        w = table[row, s]
        if w > 0:
            a, b = w, g
            while b:
                a, b = b, a % b
            g = a
            if w > largest:
                largest = w
    return g, largest


@kernel(refcount=False)
def collect_weighted(table, out, start):
    """Write the slots of the listed backends with weight > 0, in list order, to ``out[start:]``.

    Return how many: the candidates of random, iptables and nftables. ``out`` must
    have room for ``LISTED`` values from ``start``.
    """
    weight = table[WEIGHT]
    k = 0
    for s in range(table[HEADER, LISTED]):
        if weight[s] > 0:
            out[start + k] = s
            k += 1
    return k
