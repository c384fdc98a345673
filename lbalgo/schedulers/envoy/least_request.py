"""envoy-least-request: Envoy's LEAST_REQUEST (``least_request_lb.cc``, ``LeastRequestLoadBalancer``).

::

    built:     seed_ = random()                       (EdfLoadBalancerBase)
    refresh:   per host source: weights all equal and no slow start, or one host:
                   unweighted; else EDF = createWithPicks(hosts, weight, seed_)
               weight(host) = w / (active + 1) ** active_request_bias
                   (bias 1: w / (active + 1); bias 0: w)
    pick(now): random()                               (the priority choice)
               source = healthy hosts; all hosts in panic; nothing with fail_traffic_on_panic
               EDF: the earliest deadline, re-added with weight(host) now
               N_CHOICES: choice_count times: h = hosts[random() mod n];
                          keep h if it has strictly fewer active requests than the kept one
               FULL_SCAN: the host with the fewest active requests; a tie with the
                          k-th tied host replaces the kept one when random() mod k == 0

Active requests are the backend's active connections (``ACTIVE``). With
equal weights ``active_request_bias`` does not matter (v1.36; later
releases force EDF when it is set). Ties in P2C keep the first draw; the
two draws may hit the same host.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..registry import register
from ._edf_lb import EdfBalancer, edf_lb_changed, lr_schedule
from ._hosts import BIAS, BIAS_SET, CHOICES, FULL_SCAN

SELECTION_METHODS = ("N_CHOICES", "FULL_SCAN")


@register
class EnvoyLeastRequest(EdfBalancer):
    """Envoy ``LEAST_REQUEST``: power of N choices, or EDF on ``weight / (active + 1) ** bias``.

    Parameters
    ----------
    weights : sequence of int
        Envoy weights in EDS order (0: not in the host set).
    choice_count : int
        Hosts sampled per decision (``choice_count``, >= 2, default 2).
    active_request_bias : float
        Exponent of ``active + 1`` in the EDF weight (default 1.0, >= 0).
    selection_method : {"N_CHOICES", "FULL_SCAN"}
        How the unweighted pick chooses (default ``N_CHOICES``).
    panic_threshold, fail_traffic_on_panic, slow_start, random, seed
        As for :class:`~lbalgo.schedulers.envoy.EnvoyRoundRobin`.
    """

    name = "envoy-least-request"
    summary = "Envoy LEAST_REQUEST: P2C on active requests; EDF on w/(active+1)^bias when weights differ"
    source = "Envoy v1.36 least_request_lb.cc (LeastRequestLoadBalancer), load_balancer_impl.cc"
    scans_pool = True

    _schedule = lr_schedule
    _changed = edf_lb_changed

    def __init__(self, weights=None, *, choice_count: int = 2, active_request_bias: float | None = None,
                 selection_method: str = "N_CHOICES", **options) -> None:
        if isinstance(choice_count, (bool, np.bool_)) or not isinstance(choice_count, numbers.Integral):
            raise TypeError(f"choice_count must be an integer >= 2, got {choice_count!r}")
        if not 2 <= int(choice_count) <= 1000:
            raise ValueError(f"choice_count must be in 2..1000 (Envoy: >= 2), got {int(choice_count)}")
        if active_request_bias is not None:
            if isinstance(active_request_bias, (bool, np.bool_)) \
                    or not isinstance(active_request_bias, numbers.Real):
                raise TypeError(f"active_request_bias must be a number >= 0, got {active_request_bias!r}")
            if not math.isfinite(float(active_request_bias)) or float(active_request_bias) < 0:
                raise ValueError(f"active_request_bias must be finite and >= 0, got {active_request_bias!r}")
        if selection_method not in SELECTION_METHODS:
            raise ValueError(f"selection_method must be one of {SELECTION_METHODS}, got {selection_method!r}")
        self.choice_count = int(choice_count)
        self.active_request_bias = 1.0 if active_request_bias is None else float(active_request_bias)
        self._bias_set = active_request_bias is not None
        self.selection_method = selection_method
        super().__init__(weights, **options)

    def _configure(self, state: np.ndarray, fstate: np.ndarray) -> None:
        super()._configure(state, fstate)
        state[CHOICES] = self.choice_count
        state[FULL_SCAN] = self.selection_method == "FULL_SCAN"
        state[BIAS_SET] = self._bias_set
        fstate[BIAS] = self.active_request_bias
