"""envoy-round-robin: Envoy's ROUND_ROBIN (``round_robin_lb.h``, ``RoundRobinLoadBalancer``).

::

    built:     seed_ = random()                       (EdfLoadBalancerBase)
    refresh:   per host source (all hosts, healthy hosts):
                   index = seed_ the first time the source is seen (kept afterwards)
                   weights all equal and no slow start: unweighted
                   at most one host: unweighted
                   else: EDF = createWithPicks(hosts, weight, seed_)
    pick(now): random()                               (the priority choice)
               source = healthy hosts; all hosts in panic; nothing with fail_traffic_on_panic
               EDF:        the earliest deadline, re-added at time + 1 / weight(now)
               unweighted: hosts[index mod n]; index += 1

So equal weights rotate from ``seed_ mod n`` (``Seed``: 1 -> hosts 1, 2, 0, 1),
and weights 1, 2 give ``1 0 1 1 0 1`` with seed 0 (``Weighted``). The index
survives host changes; the EDF scheduler is rebuilt on each. Weight 0 is
not an Envoy endpoint: such backends are out of the host set. See
``docs/algorithms/envoy.md`` for panic, exclusion, slow start and the random
source.
"""

from __future__ import annotations

from ..registry import register
from ._edf_lb import EdfBalancer, edf_lb_changed, rr_schedule


@register
class EnvoyRoundRobin(EdfBalancer):
    """Envoy ``ROUND_ROBIN``: index rotation, or EDF when the weights differ.

    Parameters
    ----------
    weights : sequence of int
        Envoy ``load_balancing_weight`` per backend, in EDS order; 0 leaves
        the backend out of the host set.
    panic_threshold : float
        ``common_lb_config.healthy_panic_threshold`` (percent, default 50).
    fail_traffic_on_panic : bool
        ``zone_aware_lb_config.fail_traffic_on_panic``: no host at all in panic.
    slow_start : dict, optional
        ``slow_start_config``: ``{"window": seconds, "aggression": 1.0,
        "min_weight_percent": 10}``.
    random : sequence of int, optional
        A recorded stream of 64-bit values in place of the seeded generator
        (Envoy's mocked ``random()``); the last value repeats.
    seed : int
        Seed of the generator (``seed_`` is its first draw).
    """

    name = "envoy-round-robin"
    summary = "Envoy ROUND_ROBIN: seeded rotation; EDF (deadline += 1/weight) when weights differ"
    source = "Envoy v1.36 round_robin_lb.h, load_balancer_impl.cc (EdfLoadBalancerBase), edf_scheduler.h"

    _schedule = rr_schedule
    _changed = edf_lb_changed
