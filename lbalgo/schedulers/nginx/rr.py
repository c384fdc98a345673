"""nginx-rr: nginx's default balancer, smooth weighted round robin (``ngx_http_upstream_round_robin.c``).

::

    pick(now):
        if one primary peer and no backup (single):
            it, unless down or at max_conns (its failures are ignored)
        best = swrr pass over the usable primary peers      (see nginx/_peers.py)
        if none and there are backup peers: swrr pass over the usable backups
        if none: nothing (nginx answers 502)

    swrr pass: each usable peer adds its effective_weight to its
    current_weight; the largest current_weight wins (ties: the earlier peer)
    and gives back the pass total. effective_weight, lowered by failures,
    climbs back by 1 per pass that sees the peer.

Weights 5, 1, 1 give ``0 0 1 0 2 0 0``; 4, 3, 2 give ``0 1 2 0 1 0 2 1 0``:
each period of sum(w) picks spreads every peer's share out as evenly as
possible. Any pool edit is a reload (state back to zero). Source:
``ngx_http_upstream_get_round_robin_peer``, ``ngx_http_upstream_get_peer``,
``ngx_http_upstream_free_round_robin_peer`` in nginx 1.22.1.
"""

from __future__ import annotations

from ..._jit import kernel
from ..._table import account_at, listed
from ..registry import register
from ._base import NginxScheduler
from ._peers import now_at, peer_rows, reload, rr_peer, seconds


@kernel(signature="schedule", refcount=False)
def nginx_rr_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state``: the nginx peer layout of ``_peers``."""
    p = peer_rows(table, state)
    n = listed(table)
    now0 = seconds(times[0])
    backend = -1
    for i in range(first, last):
        s = rr_peer(p, state, n, now_at(times, i, now0))
        backend = account_at(table, s, mode)
        out[i] = backend
    return backend


@kernel(signature="changed")
def nginx_rr_changed(table, state, fstate, event, where):
    """Every edit is a reload."""
    reload(table, state, fstate)


@register
class NginxRR(NginxScheduler):
    """nginx smooth weighted round robin (the ``upstream`` default).

    Parameters
    ----------
    weights : sequence of int
        Peer weights in config order; see :class:`~lbalgo.schedulers.nginx._base.NginxScheduler`
        for ``down``, ``backup``, ``max_fails``, ``fail_timeout`` and ``max_conns``.
    """

    name = "nginx-rr"
    summary = "smooth weighted round robin: current += effective, largest wins, minus the total"
    source = "nginx 1.22 ngx_http_upstream_round_robin.c"
    accepts_backup = True

    _schedule = nginx_rr_schedule
    _changed = nginx_rr_changed
