"""kube-proxy's userspace mode in plain Python (``LoadBalancerRR`` and ``TryConnectEndpoints``).

A list, an index and a dict, as ``roundrobin.go`` keeps them, and the same
generator and ``Perm`` construction as lbalgo (that is the algorithm), so
traces must match exactly for the same seed.
"""

from __future__ import annotations

import ipaddress

from . import register
from .pool import RefScheduler
from .random_ import Xoshiro128

DIAL_TIMEOUTS = (0.25, 0.5, 1.0, 2.0)


@register
class RefUserspace(RefScheduler):
    name = "userspace"
    insertion = "address"

    def init(self):
        self.rng = Xoshiro128(self.seed)
        self.affinity = self.options.get("affinity", False)
        self.ttl = self.options.get("timeout", 10800)
        self.retry = self.options.get("protocol", "TCP") == "TCP"
        self.endpoints = []  # backend objects, shuffled
        self.index = 0
        self.sticky = {}  # client -> [backend, last_used]
        self.busy = float("-inf")
        self.delays = []  # per pick: seconds before the dial succeeded or gave up
        self.changed(0, 0)

    def changed(self, event, index):
        new = [d for d in self.listed if d.weight > 0 or getattr(d, "failed", False)]
        if {d.id for d in new} == {d.id for d in self.endpoints} and len(new) == len(self.endpoints):
            return
        keep = {d.id for d in new}
        for client in [c for c, (d, _) in self.sticky.items() if d.id not in keep]:
            del self.sticky[client]
        m = [0] * len(new)
        for i in range(len(new)):  # Go's rand.Perm
            j = self.rng.below(i + 1)
            m[i] = m[j]
            m[j] = i
        shuffled = [None] * len(new)
        for i, j in enumerate(m):  # ShuffleStrings
            shuffled[j] = new[i]
        self.endpoints = shuffled
        self.index = 0

    def _client(self, key):
        if key is None:
            return None
        return ipaddress.ip_address(key) if not isinstance(key, int) else ipaddress.ip_address(key)

    def choose(self, key, now):
        t = max(now, self.busy)
        client = self._client(key) if self.affinity else None
        spent = 0.0
        reset = False
        chosen = None
        for attempt, timeout in enumerate(DIAL_TIMEOUTS):
            if not self.endpoints:
                break
            at = t + spent
            d = None
            if self.affinity and not reset and client in self.sticky:
                e, last = self.sticky[client]
                if int(at - last) < self.ttl:
                    self.sticky[client][1] = at
                    d = e
            if d is None:
                d = self.endpoints[self.index]
                self.index = (self.index + 1) % len(self.endpoints)
                if self.affinity:
                    self.sticky[client] = [d, at]
            if self.retry and getattr(d, "failed", False):
                spent += timeout
                reset = True
                continue
            chosen = d
            break
        self.busy = t + spent
        self.delays.append(t + spent - now)
        return chosen

    # a pod that stops answering stays in the Endpoints object: weight 0 in the pool, but listed
    def fail(self, b):
        d = self.pool.backends[b]
        d.saved_weight, d.failed = d.weight, True
        d.weight = 0
        self.changed(3, self.pool.listed.index(d))

    def recover(self, b):
        d = self.pool.backends[b]
        d.failed = False
        d.weight = d.saved_weight
        if d.weight:
            d.last_weight = d.weight
        self.changed(3, self.pool.listed.index(d))
