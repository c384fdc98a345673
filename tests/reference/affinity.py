"""ClientIP affinity in plain Python, per kube-proxy mode (iptables, nftables, IPVS).

Sources: ``pkg/proxy/iptables/proxier.go`` with Linux ``net/netfilter/xt_recent.c``
(``recent_mt``); ``pkg/proxy/nftables/proxier.go``; ``pkg/proxy/ipvs/proxier.go`` with
``ip_vs_sched_persist`` (``net/netfilter/ipvs/ip_vs_core.c``), ``ip_vs_check_template`` and
``ip_vs_conn_expire`` (``ip_vs_conn.c``).

``RefClientIPAffinity(inner, timeout, mode, ...)`` wraps a reference
scheduler (``tests.reference.REFERENCES[name](...)``) the way
``lbalgo.ClientIPAffinity`` wraps an lbalgo scheduler, with dicts and
OrderedDicts instead of arrays: one OrderedDict per endpoint list (oldest
first), one template per client. Clients are IPv4 integers.
"""

from __future__ import annotations

import math
from collections import OrderedDict

STICKY = 60.0
DEFAULT_CAPACITY = {"iptables": 100, "nftables": 65535, "ipvs": None}


def sticky_expiry(expires, now):
    # The same float arithmetic as the kernel: first expires + 60 k (k >= 1) after now.
    e = expires + STICKY * (math.floor((now - expires) / STICKY) + 1.0)
    while e <= now:
        e += STICKY
    while e - STICKY > now and e - STICKY > expires:
        e -= STICKY
    return e


class Template:
    def __init__(self, backend, expires, timeout):
        self.backend = backend
        self.expires = expires
        self.timeout = timeout
        self.controlled = 1


class RefClientIPAffinity:
    def __init__(self, inner, timeout=10800, mode="iptables", expire_quiescent_template=None, capacity=None):
        self.inner = inner
        self.pool = inner.pool
        self.T = float(timeout)
        self.mode = mode
        self.eqt = True if expire_quiescent_template is None else expire_quiescent_template
        self.capacity = capacity or DEFAULT_CAPACITY[mode]
        self.lists = {}  # backend id -> OrderedDict(client -> last set (iptables) / expiry (nftables))
        self.templates = {}  # client -> Template

    def endpoints(self):
        return [d for d in self.pool.listed if d.weight > 0]

    # -- ipvs templates ---------------------------------------------------------------
    def _new_template(self, client, b, now):
        d = self.pool.backends[b]
        d.persist = getattr(d, "persist", 0) + 1
        if d.upper and d.active + d.inactive >= d.upper:
            d.overloaded = True
        self.templates[client] = Template(b, now + self.T, self.T)

    def _drop_template(self, client):
        d = self.pool.backends[self.templates.pop(client).backend]
        d.persist -= 1
        total = d.active + d.inactive
        if d.lower:
            if total < d.lower:
                d.overloaded = False
        elif d.upper:
            if total * 4 < d.upper * 3:
                d.overloaded = False
        else:
            d.overloaded = False

    def _fire_timers(self, client, now):
        """Run the template's timer firings due by ``now``; False when the template ended."""
        tpl = self.templates.get(client)
        if tpl is None:
            return False
        if tpl.expires <= now:
            if tpl.controlled > 0:
                tpl.expires = sticky_expiry(tpl.expires, now)
                tpl.timeout = STICKY
            else:
                self._drop_template(client)
                return False
        return True

    # -- the decision ----------------------------------------------------------------------
    def pick(self, client, now):
        hit = None
        if self.mode == "ipvs":
            if self._fire_timers(client, now):
                tpl = self.templates[client]
                d = self.pool.backends[tpl.backend]
                if not d.available or (self.eqt and d.weight == 0):
                    self._drop_template(client)
                else:
                    tpl.controlled += 1
                    tpl.expires = now + tpl.timeout
                    hit = tpl.backend
        elif self.mode == "iptables":
            for d in self.endpoints():
                lst = self.lists.get(d.id)
                if lst and client in lst:
                    matched = not (now - self.T > lst[client])
                    oldest = next(iter(lst))
                    if now - self.T > lst[oldest]:
                        del lst[oldest]
                    if matched:
                        hit = d.id
                        break
        else:
            for d in self.endpoints():
                lst = self.lists.get(d.id)
                if lst and client in lst and now < lst[client]:
                    hit = d.id
                    break
        b = hit
        if b is None:
            d = self.inner.choose(client, now)
            b = None if d is None else d.id
        if b is None:
            return -1
        if self.mode == "ipvs":
            if hit is None:
                self._new_template(client, b, now)
        elif self.mode == "iptables":
            lst = self.lists.setdefault(b, OrderedDict())
            if client in lst:
                lst[client] = now
                lst.move_to_end(client)
            else:
                if len(lst) >= self.capacity:
                    lst.popitem(last=False)
                lst[client] = now
        else:
            lst = self.lists.setdefault(b, OrderedDict())
            # Expired elements are gone. Every element has the same timeout, so
            # the OrderedDict (refresh order) is in expiry order: they lead it.
            while lst and now >= next(iter(lst.values())):
                lst.popitem(last=False)
            if client in lst:
                lst[client] = now + self.T
                lst.move_to_end(client)
            elif len(lst) < self.capacity:
                lst[client] = now + self.T
        self.pool.bind(b, self.pool.new_conns == "active")
        return b

    def release(self, b, client=None, now=None, active=None):
        self.inner.release(b, active)
        if client is not None and self.mode == "ipvs":
            tpl = self.templates.get(client)
            if tpl is not None and tpl.backend == b and tpl.controlled > 0:
                self._fire_timers(client, now)
                tpl.controlled -= 1

    # -- pool edits: kube-proxy rewrites the rules; a list of an endpoint that left goes -------------
    def _sync(self):
        if self.mode != "ipvs":
            for b in list(self.lists):
                d = self.pool.backends[b]
                if not (d.available and d.weight > 0):
                    del self.lists[b]

    def set_weight(self, b, w):
        self.inner.set_weight(b, w)
        self._sync()

    def add_backend(self, weight=1, **options):
        b = self.inner.add_backend(weight, **options)
        self._sync()
        return b

    def remove_backend(self, b):
        self.inner.remove_backend(b)
        self._sync()

    # -- inspection ----------------------------------------------------------------------------
    def pinned(self, now):
        out = {}
        if self.mode == "ipvs":
            for client, tpl in self.templates.items():
                expires = tpl.expires
                if expires <= now and tpl.controlled > 0:
                    expires = sticky_expiry(expires, now)
                d = self.pool.backends[tpl.backend]
                if expires > now and d.available and not (self.eqt and d.weight == 0):
                    out[client] = (tpl.backend, expires, tpl.controlled)
            return out
        for d in self.endpoints():
            for client, t in self.lists.get(d.id, {}).items():
                if client in out:
                    continue
                if self.mode == "iptables" and not now - self.T > t:
                    out[client] = (d.id, t + self.T, 0)
                elif self.mode == "nftables" and now < t:
                    out[client] = (d.id, t, 0)
        return out

    def counters(self):
        return [(d.weight, d.active, d.inactive, getattr(d, "persist", 0), d.overloaded, d.available)
                for d in self.pool.backends]
