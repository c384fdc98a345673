"""envoy-random: Envoy's RANDOM (``random_lb.cc``, ``RandomLoadBalancer::peekOrChoose``).

::

    pick():
        r = random()                                  one draw serves both choices:
        source = healthy hosts; all hosts in panic; nothing with fail_traffic_on_panic
        hosts[r mod n]                                (the priority choice uses r mod 100)

Uniform over the source's hosts: Envoy's RANDOM ignores weights (a weight
only decides membership here: 0 leaves the backend out of the host set).
"""

from __future__ import annotations

from ..._jit import kernel
from ..._table import account, item
from ..registry import register
from ._base import EnvoyBase
from ._hosts import (
    CLOCK,
    N_ALL,
    N_HEALTHY,
    R_ALL,
    R_HEALTHY,
    at,
    collect_hosts,
    draw,
    source_of,
    umod,
)


@kernel(signature="changed")
def random_changed(table, state, fstate, event, where):
    """Refresh the host lists and the panic flag when the host set changed."""
    collect_hosts(table, state, fstate, fstate[CLOCK])


@kernel(signature="schedule", refcount=False)
def random_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """One draw per decision: ``hosts[r mod n]`` of the source."""
    backend = -1
    for i in range(first, last):
        fstate[CLOCK] = item(times, i)
        r = draw(state)
        source = source_of(state)
        b = -1
        if source >= 0:
            n = state[N_ALL] if source == 0 else state[N_HEALTHY]
            if n > 0:
                b = state[(at(state, R_ALL) if source == 0 else at(state, R_HEALTHY)) + umod(r, n)]
        backend = account(table, b, mode)
        out[i] = backend
    return backend


@register
class EnvoyRandom(EnvoyBase):
    """Envoy ``RANDOM``: a uniform draw over the healthy hosts (all hosts in panic).

    Parameters
    ----------
    weights : sequence of int
        Envoy weights; only whether a weight is 0 (not in the host set) matters.
    panic_threshold, fail_traffic_on_panic, random, seed
        As for :class:`~lbalgo.schedulers.envoy.EnvoyRoundRobin`.
    """

    name = "envoy-random"
    summary = "Envoy RANDOM: hosts[random() mod n], weights ignored; all hosts below the panic threshold"
    source = "Envoy v1.36 random_lb.cc (RandomLoadBalancer::peekOrChoose)"

    _schedule = random_schedule
    _changed = random_changed
