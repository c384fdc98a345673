"""Plain-Python backend pool with IPVS accounting (Linux ip_vs_ctl.c, ip_vs_conn.c, include/net/ip_vs.h)."""

from __future__ import annotations

import ipaddress

ADD, DELETE, UPDATE = 1, 2, 3


class Backend:
    def __init__(self, bid, weight, upper=0, lower=0, address=None, port=0):
        self.id = bid
        self.weight = weight
        self.last_weight = weight
        self.active = 0
        self.inactive = 0
        self.overloaded = False
        self.available = True
        self.upper = upper
        self.lower = lower
        self.address = address
        self.port = port


class RefPool:
    def __init__(self, weights, u_thresholds=None, l_thresholds=None, new_conns="active",
                 insertion="head", addresses=None):
        n = len(weights)
        u_thresholds = u_thresholds or [0] * n
        l_thresholds = l_thresholds or [0] * n
        addrs = [None] * n if addresses is None else [_parse(a) for a in addresses]
        self.backends = [Backend(i, int(w), u_thresholds[i], l_thresholds[i],
                                 *addrs[i] if addrs[i] else (None, 0))
                         for i, w in enumerate(weights)]
        self.listed = list(self.backends)  # list order
        self.new_conns = new_conns
        self.insertion = insertion

    # IPVS ip_vs_bind_dest / ip_vs_unbind_dest
    def bind(self, b, as_active):
        d = self.backends[b]
        if as_active:
            d.active += 1
        else:
            d.inactive += 1
        if d.upper and d.active + d.inactive >= d.upper:
            d.overloaded = True

    def unbind(self, b, was_active):
        d = self.backends[b]
        if was_active:
            d.active -= 1
        else:
            d.inactive -= 1
        total = d.active + d.inactive
        if d.lower:
            if total < d.lower:
                d.overloaded = False
        elif d.upper:
            if total * 4 < d.upper * 3:
                d.overloaded = False
        else:
            d.overloaded = False

    def insert_position(self, backend):
        if self.insertion == "head":
            return 0
        if self.insertion == "tail" or backend.address is None:
            return len(self.listed)
        key = _endpoint(backend)
        for i, other in enumerate(self.listed):
            if key < _endpoint(other):
                return i
        return len(self.listed)


def _parse(a):
    if isinstance(a, str) and a.count(":") == 1:
        host, port = a.split(":")
        return ipaddress.ip_address(host), int(port)
    return ipaddress.ip_address(a), 0


def _endpoint(d):
    host = f"[{d.address}]" if d.address.version == 6 else str(d.address)
    return f"{host}:{d.port}"


class RefScheduler:
    """Reference base: pool edits call ``changed(event, index)`` (0-based list index)."""

    name = ""
    insertion = "head"

    def __init__(self, weights=(), *, seed=None, u_thresholds=None, l_thresholds=None,
                 new_conns="active", addresses=None, **options):
        insertion = self.insertion
        if insertion == "address" and addresses is None:
            insertion = "tail"
        self.pool = RefPool(list(weights), u_thresholds, l_thresholds, new_conns, insertion, addresses)
        self.seed = seed or 0
        self.options = options
        self.init()

    # to override
    def init(self):
        pass

    def changed(self, event, index):
        pass

    def choose(self, key, now):
        raise NotImplementedError

    # public surface
    @property
    def listed(self):
        return self.pool.listed

    def pick(self, key=None, now=0.0):
        d = self.choose(key, now)
        if d is None:
            return -1
        self.pool.bind(d.id, self.pool.new_conns == "active")
        return d.id

    def release(self, b, active=None):
        was_active = (self.pool.new_conns == "active") if active is None else active
        self.pool.unbind(b, was_active)

    def activate(self, b):
        d = self.pool.backends[b]
        d.inactive -= 1
        d.active += 1

    def deactivate(self, b):
        d = self.pool.backends[b]
        d.active -= 1
        d.inactive += 1

    def add_backend(self, weight=1, u_threshold=0, l_threshold=0, address=None):
        bid = len(self.pool.backends)
        addr, port = _parse(address) if address is not None else (None, 0)
        d = Backend(bid, weight, u_threshold, l_threshold, addr, port)
        self.pool.backends.append(d)
        index = self.pool.insert_position(d)
        self.pool.listed.insert(index, d)
        self.changed(ADD, index)
        return bid

    def remove_backend(self, b):
        d = self.pool.backends[b]
        index = self.pool.listed.index(d)
        del self.pool.listed[index]
        d.available = False
        self.changed(DELETE, index)

    def set_weight(self, b, w):
        d = self.pool.backends[b]
        d.weight = w
        if w:
            d.last_weight = w
        self.changed(UPDATE, self.pool.listed.index(d))

    def set_thresholds(self, b, upper=0, lower=0):
        d = self.pool.backends[b]
        old = d.upper
        d.upper, d.lower = upper, lower
        if upper == 0 or upper > old:
            d.overloaded = False
        self.changed(UPDATE, self.pool.listed.index(d))

    def counters(self):
        return [(d.weight, d.active, d.inactive, d.overloaded, d.available) for d in self.pool.backends]
