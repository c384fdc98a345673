"""Stickiness: how often a client's connection lands where its previous one did.

(This measures the affinity a scheduler gives; the ClientIP affinity layer
itself is :mod:`lbalgo.schedulers.affinity`.)

``affinity_hit_ratio(clients, backends)`` walks connections in the given
(arrival) order; for each client after its first scheduled connection it
counts a hit when the backend equals the backend of that client's previous
scheduled connection. The ratio is hits / (scheduled connections - distinct
clients). Dropped connections (backend -1) are skipped. SH and persistence
give 1.0 on a stable pool; random choice over ``n`` equal backends about ``1/n``.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgument


def affinity_hit_ratio(clients, backends, order=None) -> float:
    """Fraction of repeat connections that reached the client's previous backend (NaN: none).

    ``order``, optional, is ``np.argsort(clients, kind="stable")``: pass it when
    scoring several schedulers on the same clients, so the sort is done once.
    """
    c = np.asarray(clients)
    b = np.asarray(backends)
    if c.ndim != 1 or c.shape != b.shape:
        raise InvalidArgument("clients and backends must be 1-D arrays of one length")
    if order is None:
        order = np.argsort(c, kind="stable")  # per client, still in arrival order
    elif np.shape(order) != c.shape:
        raise InvalidArgument("order must be a permutation of the connections (np.argsort of clients)")
    cs, bs = c[order], b[order]
    keep = bs >= 0  # dropped connections are skipped; filtering keeps each client's arrival order
    cs, bs = cs[keep], bs[keep]
    repeat = cs[1:] == cs[:-1]
    n = int(repeat.sum())
    if n == 0:
        return float("nan")
    return float((bs[1:] == bs[:-1])[repeat].sum() / n)
