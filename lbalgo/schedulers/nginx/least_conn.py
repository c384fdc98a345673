"""nginx-least-conn: ``least_conn`` (``ngx_http_upstream_least_conn_module.c``).

::

    pick(now):
        single primary peer, no backup: as nginx-rr
        over the usable primary peers, in config order:
            best = the first peer with the smallest conns / weight, compared
                   without division: p beats best when p.conns * best.weight
                   < best.conns * p.weight
            many = another usable peer has the same ratio
        if many: a smooth-WRR pass over the tied peers only, from best on
                 (current_weight += effective_weight for each, the largest
                 wins, it gives back the total of the tied peers)
        if no usable primary: the same over the backup peers
        conns = the peer's requests in progress (active + inactive connections)

``weight`` is the configured weight (not the effective one), so with
weights 2, 1, 1 a weight-2 peer holding 2 requests ties with weight-1 peers
holding 1. The tie pass uses the same current/effective weights as nginx-rr:
three idle peers rotate ``0 1 2 0 ...``. Source:
``ngx_http_upstream_get_least_conn_peer`` in nginx 1.22.1.
"""

from __future__ import annotations

from ..._jit import kernel
from ..._table import account_at, listed
from ..registry import register
from ._base import NginxScheduler
from ._peers import (
    NBACK,
    conns,
    is_single,
    now_at,
    peer_rows,
    reload,
    seconds,
    single_peer,
    touch,
    usable,
)


@kernel(inline="always")
def least_conn_pass(table, p, n, group, now):
    """One least_conn pass over the usable peers of ``group``; the slot or -1."""
    best = -1
    many = False
    for s in range(n):
        if p.backup[s] != group or not usable(p, s, now):
            continue
        if best < 0:
            best = s
            many = False
        else:
            lhs = conns(table, s) * p.weight[best]
            rhs = conns(table, best) * p.weight[s]
            if lhs < rhs:
                best = s
                many = False
            elif lhs == rhs:
                many = True
    if best < 0:
        return -1
    if many:
        first = best
        total = 0
        for s in range(first, n):
            if p.backup[s] != group or p.weight[s] == 0:
                continue
            # The tie test comes before the jail test, as in nginx; both skip the peer.
            if conns(table, s) * p.weight[best] != conns(table, best) * p.weight[s]:
                continue
            if not usable(p, s, now):
                continue
            e = p.ew[s]
            p.cw[s] += e
            total += e
            if e < p.weight[s]:
                p.ew[s] = e + 1
            if p.cw[s] > p.cw[best]:
                best = s
        p.cw[best] -= total
    touch(p, best, now)
    return best


@kernel(signature="schedule", refcount=False)
def nginx_least_conn_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state``: the nginx peer layout of ``_peers``."""
    p = peer_rows(table, state)
    n = listed(table)
    now0 = seconds(times[0])
    backend = -1
    for i in range(first, last):
        now = now_at(times, i, now0)
        if is_single(state):
            s = single_peer(p, n)
        else:
            s = least_conn_pass(table, p, n, 0, now)
            if s < 0 and state[NBACK] > 0:
                s = least_conn_pass(table, p, n, 1, now)
        backend = account_at(table, s, mode)
        out[i] = backend
    return backend


@kernel(signature="changed")
def nginx_least_conn_changed(table, state, fstate, event, where):
    """Every edit is a reload."""
    reload(table, state, fstate)


@register
class NginxLeastConn(NginxScheduler):
    """nginx ``least_conn``: fewest requests per weight, ties by smooth WRR.

    Parameters
    ----------
    weights : sequence of int
        Peer weights in config order; see :class:`~lbalgo.schedulers.nginx._base.NginxScheduler`
        for ``down``, ``backup``, ``max_fails``, ``fail_timeout`` and ``max_conns``.
    """

    name = "nginx-least-conn"
    summary = "least conns/weight (cross-multiplied), ties by a smooth-WRR pass over the tied peers"
    source = "nginx 1.22 ngx_http_upstream_least_conn_module.c"
    accepts_backup = True
    scans_pool = True

    _schedule = nginx_least_conn_schedule
    _changed = nginx_least_conn_changed

