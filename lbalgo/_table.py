"""The backend table: one int64 row per backend id, and the list order.

Every scheduler reads the same two arrays, like IPVS's ``struct ip_vs_dest``
list (``include/net/ip_vs.h``):

``table``  int64[capacity, N_FIELDS]
    One row per backend id (ids are never reused or renumbered). Columns are
    the ``WEIGHT`` … ``L_THRESHOLD`` constants below. One row is exactly one
    64-byte cache line, so a scan touches one line per backend.
``order``  int64[capacity + 1]
    ``order[0]`` is the number of listed backends ``n``; ``order[1..n]`` are
    their ids in list order. Position 0 doubles as the list head, which is
    where IPVS cursors rest ("head" in ``spec/ipvs.md``).

The kernels here are the one shared connection-accounting mechanism
(IPVS ``ip_vs_bind_dest`` / ``ip_vs_unbind_dest``, ``spec/ipvs.md`` §0.3 and
§0.4) and the list edits. Scheduling kernels only read the table.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel

# Columns of ``table``.
WEIGHT = 0
LAST_WEIGHT = 1  # latest non-zero weight (IPVS last_weight; only MH reads it)
ACTIVE = 2  # activeconns
INACTIVE = 3  # inactconns
PERSIST = 4  # persistconns (persistence templates)
FLAGS = 5
U_THRESHOLD = 6  # upper connection threshold, 0 = none
L_THRESHOLD = 7  # lower connection threshold, 0 = derived from the upper one
N_FIELDS = 8

# Bits of ``table[:, FLAGS]`` (values of include/uapi/linux/ip_vs.h).
F_AVAILABLE = 1  # linked in the list; cleared when the backend is removed
F_OVERLOAD = 2  # over its upper threshold; schedulers skip it

# Pool-change events passed to every scheduler's ``changed`` hook.
EV_RESIZE = 0  # the table was reallocated with more rows (Python side only)
EV_ADD = 1  # a backend was inserted at position ``pos``
EV_DELETE = 2  # the backend at position ``pos`` was unlinked
EV_UPDATE = 3  # the backend at position ``pos`` was edited (ipvsadm -e)


def new_table(capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Return an empty ``(table, order)`` pair with room for ``capacity`` ids."""
    table = np.zeros((capacity, N_FIELDS), dtype=np.int64)
    order = np.zeros(capacity + 1, dtype=np.int64)
    return table, order


@kernel(inline="always")
def _overload_after_bind(table, backend):
    """Set the overload flag once ``active + inactive`` reaches the upper threshold (§0.4)."""
    upper = table[backend, U_THRESHOLD]
    if upper != 0 and table[backend, ACTIVE] + table[backend, INACTIVE] >= upper:
        table[backend, FLAGS] |= F_OVERLOAD


@kernel(inline="always")
def _overload_after_unbind(table, backend):
    """Clear the overload flag as the kernel does: below the lower threshold if one is
    set, else below 3/4 of the upper one, else unconditionally (§0.4)."""
    total = table[backend, ACTIVE] + table[backend, INACTIVE]
    lower = table[backend, L_THRESHOLD]
    upper = table[backend, U_THRESHOLD]
    if lower != 0:
        if total < lower:
            table[backend, FLAGS] &= ~F_OVERLOAD
    elif upper != 0:
        if total * 4 < upper * 3:
            table[backend, FLAGS] &= ~F_OVERLOAD
    else:
        table[backend, FLAGS] &= ~F_OVERLOAD


@kernel(refcount=False)
def bind(table, backend, as_active):
    """Count one new connection on ``backend`` (IPVS ``ip_vs_bind_dest``)."""
    if as_active:
        table[backend, ACTIVE] += 1
    else:
        table[backend, INACTIVE] += 1
    _overload_after_bind(table, backend)


@kernel(refcount=False)
def unbind(table, backend, was_active):
    """End one connection on ``backend`` (IPVS ``ip_vs_unbind_dest``)."""
    if was_active:
        table[backend, ACTIVE] -= 1
    else:
        table[backend, INACTIVE] -= 1
    _overload_after_unbind(table, backend)


@kernel(refcount=False)
def bind_template(table, backend):
    """Count a persistence template on ``backend``: ``persistconns``, same overload rule."""
    table[backend, PERSIST] += 1
    _overload_after_bind(table, backend)


@kernel(refcount=False)
def unbind_template(table, backend):
    """Drop a persistence template from ``backend``: ``persistconns``, same overload rule."""
    table[backend, PERSIST] -= 1
    _overload_after_unbind(table, backend)


@kernel(refcount=False)
def list_insert(order, pos, backend):
    """Insert ``backend`` so that it sits at list position ``pos`` (1-based)."""
    n = order[0]
    for p in range(n, pos - 1, -1):
        order[p + 1] = order[p]
    order[pos] = backend
    order[0] = n + 1


@kernel(refcount=False)
def list_remove(order, pos):
    """Unlink the backend at list position ``pos`` (1-based)."""
    n = order[0]
    for p in range(pos, n):
        order[p] = order[p + 1]
    order[n] = 0
    order[0] = n - 1


@kernel(refcount=False)
def position_of(order, backend):
    """List position of ``backend``, or 0 when it is not listed."""
    for p in range(1, order[0] + 1):
        if order[p] == backend:
            return p
    return 0


@kernel(refcount=False)
def collect_weighted(table, order, out):
    """Write the ids of listed backends with weight > 0 to ``out``, in list order.

    Returns how many were written. ``out`` must hold ``order[0]`` ids.
    """
    k = 0
    for p in range(1, order[0] + 1):
        backend = order[p]
        if table[backend, WEIGHT] > 0:
            out[k] = backend
            k += 1
    return k


@kernel(refcount=False)
def gcd_and_max(table, order, column):
    """Greatest common divisor of the positive values of ``column`` over the listed
    backends (0 if none), and their maximum (0 if none): WRR's ``di`` / ``mw`` and
    MH's ``last_weight`` scaling."""
    g = 0
    largest = 0
    for p in range(1, order[0] + 1):
        w = table[order[p], column]
        if w > 0:
            a, b = w, g
            while b:
                a, b = b, a % b
            g = a
            if w > largest:
                largest = w
    return g, largest
