"""HAProxy 2.6 balance algorithms in plain Python, transcribed from the C sources.

``src/lb_fwrr.c``, ``lb_fwlc.c``, ``lb_fas.c``, ``lb_map.c``, ``lb_chash.c``,
``backend.c`` (HAProxy 2.6.12). ebtrees are modelled by :class:`Tree`: a
list kept in (key, insertion) order, which is how an ebtree with duplicate
keys iterates. Pool edits map onto the runtime API as lbalgo documents:
``set weight`` (up / down / new weight), ``add server`` + ``enable``,
``disable`` + ``del server``; for the map-based algorithms an add or a
removal is a new configuration.
"""

from __future__ import annotations

import bisect
import ipaddress
import math

from . import register
from .nginx import crc32
from .pool import ADD, DELETE, RefScheduler

M32 = 0xFFFFFFFF
SCALE = 16
EW_MAX = 4096


def full_hash(a):
    a = (a + 0x7ED55D16 + (a << 12)) & M32
    a = (a ^ 0xC761C23C ^ (a >> 19)) & M32
    a = (a + 0x165667B1 + (a << 5)) & M32
    a = ((a + 0xD3A2646C) & M32) ^ ((a << 9) & M32)
    a = (a + 0xFD7046C5 + (a << 3)) & M32
    a = (a ^ 0xB55A4F09 ^ (a >> 16)) & M32
    return (a * 3221225473) & M32


def sdbm(data):
    h = 0
    for c in data:
        h = (c + (h << 6) + (h << 16) - h) & M32
    return h


def djb2(data):
    h = 5381
    for c in data:
        h = (h * 33 + c) & M32
    return h


def wt6(data):
    h0, h1, step0, step1 = 0xA53C965A, 0x5CA6953A, 6, 18
    for t in data:
        h0 = ~(h0 ^ t) & M32
        h1 = ~(h1 + t) & M32
        t = ((h1 << step0) | (h1 >> (32 - step0))) & M32
        h1 = ((h0 << step1) | (h0 >> (32 - step1))) & M32
        h0 = t
        t = ((h0 >> 16) ^ h1) & 0xFFFF
        step0, step1 = t & 0x1F, t >> 11
    return h0 ^ h1


FUNCTIONS = {"sdbm": sdbm, "djb2": djb2, "wt6": wt6, "crc32": crc32}


class Tree:
    """An ebtree with duplicates: nodes in (key, insertion) order."""

    counter = 0

    def __init__(self):
        self.items = []  # (key, seq, obj)

    def insert(self, key, obj):
        Tree.counter += 1
        bisect.insort(self.items, (key & M32, Tree.counter, obj), key=lambda t: (t[0], t[1]))
        return (key & M32, Tree.counter)

    def delete(self, obj):
        self.items = [t for t in self.items if t[2] is not obj]

    def __contains__(self, obj):
        return any(t[2] is obj for t in self.items)

    def first(self):
        return self.items[0][2] if self.items else None

    def ordered(self):
        return [t[2] for t in self.items]


class Server:
    def __init__(self, d, backup, explicit_id):
        self.d = d
        self.backup = backup
        self.explicit_id = explicit_id
        self.puid = explicit_id
        self.cur_eweight = 0
        self.lb_tree = None
        self.npos = self.lpos = self.rweight = 0
        self.key = 0

    @property
    def served(self):
        return self.d.active + self.d.inactive

    @property
    def full(self):
        return self.d.overloaded


class RefHAProxy(RefScheduler):
    """The server list, weights, ids, backups and the backend's counts."""

    insertion = "tail"
    map_based = False

    def init(self):
        o = self.options
        n = len(self.pool.backends)
        backup = o.get("backup") or [False] * n
        ids = o.get("ids") or [None] * n
        self.allbackups = o.get("allbackups", False)
        maxconn = o.get("maxconn")
        if maxconn is not None:
            for i, d in enumerate(self.pool.backends):
                d.upper = d.lower = maxconn[i] if isinstance(maxconn, list) else maxconn
        self.servers = {d.id: Server(d, bool(backup[i]), ids[i] or 0)
                        for i, d in enumerate(self.pool.backends)}
        self.wmult = self.gcd() if self.map_based else 1
        self.assign_ids()
        self.start()

    def gcd(self):
        g = 0
        for d in self.listed:
            g = math.gcd(g, min(d.weight, 256))
        return g or 1

    def srv_list(self):
        return [self.servers[d.id] for d in self.listed]

    def assign_ids(self):
        for s in self.srv_list():
            s.puid = s.explicit_id
        next_id = 1
        for s in self.srv_list():
            if not s.puid:
                used = {t.puid for t in self.srv_list() if t is not s}
                while next_id in used:
                    next_id += 1
                s.puid = next_id
            next_id += 1

    def next_eweight(self, s):
        if not s.d.available:
            return 0
        wdiv = 1 if self.map_based else SCALE  # init_server_map leaves lbprm.wdiv at 1
        return (min(s.d.weight, 256) * wdiv + self.wmult - 1) // self.wmult

    def recount(self):
        self.srv_act = self.srv_bck = self.tot_wact = self.tot_wbck = 0
        self.fbck = None
        for s in self.srv_list():
            if s.cur_eweight <= 0:
                continue
            if s.backup:
                if not self.srv_bck and not self.allbackups:
                    self.fbck = s
                self.srv_bck += 1
                self.tot_wbck += s.cur_eweight
            else:
                self.srv_act += 1
                self.tot_wact += s.cur_eweight
        if self.srv_act:
            self.tot_weight, self.tot_used = self.tot_wact, self.srv_act
        elif self.fbck is not None:
            self.tot_weight, self.tot_used = self.fbck.cur_eweight, 1
        else:
            self.tot_weight, self.tot_used = self.tot_wbck, self.srv_bck

    def add_backend(self, weight=1, u_threshold=0, l_threshold=0, address=None, backup=False, id=None):
        self._pending = (backup, id or 0)
        return super().add_backend(weight, u_threshold, l_threshold, address)

    def changed(self, event, index):
        if event == ADD:
            d = self.listed[index]
            backup, explicit = getattr(self, "_pending", (False, 0))
            self._pending = (False, 0)
            s = self.servers[d.id] = Server(d, backup, explicit)
            if not self.map_based:
                used = {t.puid for t in self.srv_list() if t is not s}
                s.puid = explicit or next(i for i in range(1, 1 << 20) if i not in used)
            self.added(s)
        elif event == DELETE:
            s = next(t for t in self.servers.values() if not t.d.available and t.puid)
            self.set_eweight(s, 0)
            s.puid = 0
        else:
            self.set_eweight(self.servers[self.listed[index].id], None)
        self.recount()

    def added(self, s):
        self.set_eweight(s, None)

    def choose(self, key, now):
        s = self.choose_server(key)
        return None if s is None else s.d

    def group(self):
        """'act', 'bck', a lone first backup (a Server) or None."""
        if self.srv_act:
            return False
        if self.fbck is not None:
            return self.fbck
        if self.srv_bck:
            return True
        return None


@register
class RefHAProxyRoundRobin(RefHAProxy):
    name = "haproxy-roundrobin"

    class Group:
        def __init__(self, total):
            self.curr_pos = self.curr_weight = self.next_weight = total
            self.curr = Tree()
            self.t0, self.t1 = Tree(), Tree()
            self.init, self.next = self.t0, self.t1

    def start(self):
        for s in self.srv_list():
            s.cur_eweight = self.next_eweight(s)
        self.recount()
        self.act = self.Group(self.tot_wact)
        self.bck = self.Group(self.tot_wbck)
        for s in self.srv_list():
            if s.cur_eweight:
                self.queue_by_weight(self.grp(s).init, s, s.cur_eweight)

    def grp(self, s):
        return self.bck if s.backup else self.act

    @staticmethod
    def queue_by_weight(tree, s, ew):
        s.key = EW_MAX - ew
        tree.insert(s.key, s)
        s.lb_tree = tree

    @staticmethod
    def dequeue(s):
        if s.lb_tree is not None:
            s.lb_tree.delete(s)

    def queue_srv(self, s, ew):
        g = self.grp(s)
        if not ew:
            s.lb_tree = None
        elif s.npos >= 2 * g.curr_weight or s.npos >= g.curr_weight + g.next_weight:
            s.npos -= g.curr_weight
            self.queue_by_weight(g.next, s, ew)
        else:
            s.key = 256 * s.npos + (EW_MAX + s.rweight - ew) // SCALE
            g.curr.insert(s.key, s)
            s.lb_tree = g.curr

    def get_srv(self, s):
        g = self.grp(s)
        if s.lb_tree is g.init:
            s.npos = s.rweight = 0
        elif s.lb_tree is g.next:
            s.npos += g.curr_weight
        elif s.lb_tree is None:
            s.npos = g.curr_pos

    def from_group(self, g):
        s1 = g.curr.first()
        if s1 is not None and s1.cur_eweight and s1.npos <= g.curr_pos:
            return s1
        s2 = g.init.first()
        if s2 is not None and s2.cur_eweight:
            s2.npos = s2.rweight = 0
            return s2
        return s1

    @staticmethod
    def update_position(g, s):
        ew = s.cur_eweight
        if not ew:
            return
        if not s.npos:
            s.npos = g.curr_pos
        s.lpos = s.npos
        s.npos += g.next_weight // ew
        s.rweight += g.next_weight % ew
        if s.rweight >= ew:
            s.rweight -= ew
            s.npos += 1

    def choose_server(self, key):
        which = self.group()
        if which is None:
            return None
        if isinstance(which, Server):
            return which
        g = self.bck if which else self.act
        switched = False
        full = []
        srv = None
        while True:
            if not g.curr_weight:
                g.curr_pos = g.curr_weight = g.next_weight
            srv = self.from_group(g)
            if srv is None:
                if switched:
                    break
                switched = True
                g.init, g.next = g.next, g.init
                g.curr_weight = g.next_weight
                g.curr_pos = g.curr_weight
                continue
            self.update_position(g, srv)
            self.dequeue(srv)
            g.curr_pos += 1
            if not srv.full:
                self.queue_srv(srv, srv.cur_eweight)
                break
            full.insert(0, srv)
            srv = None
        for s in full:
            if switched:
                self.queue_by_weight(g.init, s, s.cur_eweight)
            else:
                self.queue_srv(s, s.cur_eweight)
        return srv

    def set_eweight(self, s, ew):
        new = self.next_eweight(s) if ew is None else ew
        old = s.cur_eweight
        if new == old:
            return
        g = self.grp(s)
        if not old:  # up
            g.next_weight += new
            self.get_srv(s)
            s.npos = g.curr_pos + (g.next_weight + g.curr_weight - g.curr_pos) // new
            self.queue_srv(s, new)
        elif not new:  # down
            g.next_weight -= old
            self.dequeue(s)
            s.lb_tree = None
        else:
            g.next_weight = g.next_weight - old + new
            if s.lb_tree is g.init:
                self.dequeue(s)
                self.queue_by_weight(g.init, s, new)
            elif s.lb_tree is None:
                self.get_srv(s)
                s.npos = g.curr_pos + (g.next_weight + g.curr_weight - g.curr_pos) // new
                self.queue_srv(s, new)
            else:
                self.get_srv(s)
                prev_next = s.npos
                step = g.next_weight // new
                s.npos = s.lpos + step
                s.rweight = 0
                if s.npos > prev_next:
                    s.npos = prev_next
                if s.npos < g.curr_pos + 2:
                    s.npos = g.curr_pos + step
                self.dequeue(s)
                self.queue_srv(s, new)
        s.cur_eweight = new


@register
class RefHAProxyLeastConn(RefHAProxy):
    name = "haproxy-leastconn"

    def start(self):
        self.act, self.bck = Tree(), Tree()
        for s in self.srv_list():
            s.cur_eweight = self.next_eweight(s)
            if s.cur_eweight:
                s.lb_tree = self.bck if s.backup else self.act
                self.queue(s, s.cur_eweight)
        self.recount()

    def queue(self, s, ew):
        inflight = s.served
        s.key = (inflight + 1) * EW_MAX // ew if inflight else 0
        s.lb_tree.insert(s.key, s)

    def reposition(self, s):
        if s.lb_tree is None or not s.d.available:
            return
        ew = s.cur_eweight
        inflight = s.served
        new_key = (inflight + 1) * EW_MAX // (ew or 1) if inflight else 0
        if s in s.lb_tree and ew and s.key == new_key:
            return
        s.lb_tree.delete(s)
        s.key = new_key
        s.lb_tree.insert(new_key, s)

    def choose_server(self, key):
        which = self.group()
        if which is None:
            return None
        if isinstance(which, Server):
            return which
        for s in (self.bck if which else self.act).ordered():
            if not s.full:
                return s
        return None

    def pick(self, key=None, now=0.0):
        b = super().pick(key, now)
        if b >= 0:
            self.reposition(self.servers[b])
        return b

    def release(self, b, active=None):
        super().release(b, active)
        self.reposition(self.servers[b])

    def set_eweight(self, s, ew):
        new = self.next_eweight(s) if ew is None else ew
        if new == s.cur_eweight:
            return
        if s.lb_tree is not None:
            s.lb_tree.delete(s)
        if new:
            s.lb_tree = self.bck if s.backup else self.act
            self.queue(s, new)
        else:
            s.lb_tree = None
        s.cur_eweight = new


@register
class RefHAProxyFirst(RefHAProxy):
    name = "haproxy-first"

    def start(self):
        for s in self.srv_list():
            s.cur_eweight = self.next_eweight(s)
        self.recount()

    def set_eweight(self, s, ew):
        s.cur_eweight = self.next_eweight(s) if ew is None else ew

    def choose_server(self, key):
        which = self.group()
        if which is None:
            return None
        if isinstance(which, Server):
            return which
        group = sorted((s for s in self.srv_list() if s.cur_eweight and s.backup == which),
                       key=lambda s: s.puid)
        return next((s for s in group if not s.full), None)


class MapMixin:
    """lb_map.c: the server map, rebuilt on every change; add / remove are new configurations."""

    map_based = True

    def start(self):
        self.rr_idx = 0
        self.load()

    def load(self):
        for s in self.srv_list():
            s.cur_eweight = self.next_eweight(s)
        self.recount()
        self.recalc()

    def recalc(self):
        if not self.tot_used:
            return
        tot = self.tot_weight
        flag = not self.srv_act
        for s in self.srv_list():
            s.wscore = 0
        self.map = []
        for _ in range(tot):
            best, top = None, 0
            for s in self.srv_list():
                if s.backup != flag or s.cur_eweight <= 0:
                    continue
                if tot == 1:
                    best = s
                    break
                s.wscore += s.cur_eweight
                v = int((s.wscore + tot) / tot)  # C division
                if best is None or v > top:
                    top, best = v, s
            self.map.append(best)
            if best is not None:
                best.wscore -= tot

    def changed(self, event, index):
        if event in (ADD, DELETE):
            if event == ADD:
                d = self.listed[index]
                backup, explicit = getattr(self, "_pending", (False, 0))
                self._pending = (False, 0)
                self.servers[d.id] = Server(d, backup, explicit)
            self.wmult = self.gcd()
            self.rr_idx = 0
            self.assign_ids()
            self.load()
            return
        s = self.servers[self.listed[index].id]
        ew = self.next_eweight(s)
        if ew != s.cur_eweight:
            s.cur_eweight = ew
            self.recount()
            self.recalc()

    def map_rr(self):
        if not self.tot_weight:
            return None
        if self.rr_idx < 0 or self.rr_idx >= self.tot_weight:
            self.rr_idx = 0
        idx = self.rr_idx
        while True:
            s = self.map[idx]
            idx += 1
            if not s.full:
                self.rr_idx = idx
                return s
            if idx == self.tot_weight:
                idx = 0
            if idx == self.rr_idx:
                return None

    def lookup(self, h):
        return self.map[h % self.tot_weight] if self.tot_weight else None

    def fallback(self):
        return self.map_rr()


@register
class RefHAProxyStaticRR(MapMixin, RefHAProxy):
    name = "haproxy-static-rr"

    def choose_server(self, key):
        return self.map_rr()


class ChashMixin:
    """lb_chash.c: rings of points full_hash(puid * 4096 + j), nearest point."""

    def start(self):
        self.rings = {False: Tree(), True: Tree()}
        self.last = None  # (tree, node) of next_server
        for s in self.srv_list():
            s.nodes_tot = min(s.d.weight, 256) * SCALE
            s.nodes_now = 0
            s.node_puids = [s.puid] * s.nodes_tot
            s.nodes = [None] * s.nodes_tot
            s.cur_eweight = 0
            self.set_eweight(s, None)
        self.recount()

    def added(self, s):
        s.nodes_tot = min(s.d.weight, 256) * SCALE
        s.nodes_now = 0
        s.node_puids = [s.explicit_id] * s.nodes_tot  # srv_alloc_lb runs before the id is set
        s.nodes = [None] * s.nodes_tot
        self.set_eweight(s, None)

    def node_key(self, s, j):
        return full_hash((s.node_puids[j] * EW_MAX + j) & M32)

    def delete_node(self, s, j):
        ring = self.rings[s.backup]
        node = (s, j)
        if self.last is not None and self.last[1] == node:
            items = ring.items
            i = next(k for k, t in enumerate(items) if t[2] == node)
            nxt = items[(i + 1) % len(items)][2]
            self.last = None if nxt == node else (ring, nxt)
        ring.items = [t for t in ring.items if t[2] != node]

    def queue_dequeue(self, s, ew):
        while s.nodes_now > ew:
            s.nodes_now -= 1
            self.delete_node(s, s.nodes_now)
        if s.nodes_tot < ew:
            while s.nodes_now > 0:
                s.nodes_now -= 1
                self.delete_node(s, s.nodes_now)
            s.node_puids = s.node_puids + [s.puid] * (ew - s.nodes_tot)
            s.nodes_tot = ew
        while s.nodes_now < ew and s.nodes_now < s.nodes_tot:
            self.rings[s.backup].insert(self.node_key(s, s.nodes_now), (s, s.nodes_now))
            s.nodes_now += 1

    def set_eweight(self, s, ew):
        new = self.next_eweight(s) if ew is None else ew
        if new == s.cur_eweight:
            return
        if not new:
            while s.nodes_now > 0:
                s.nodes_now -= 1
                self.delete_node(s, s.nodes_now)
        else:
            self.queue_dequeue(s, new)
        s.cur_eweight = new

    def lookup(self, h):
        which = self.group()
        if which is None:
            return None
        if isinstance(which, Server):
            return which
        items = self.rings[which].items
        if not items:
            return None
        keys = [t[0] for t in items]
        i = bisect.bisect_left(keys, h)
        nxt = i if i < len(items) else 0
        prv = nxt - 1 if nxt > 0 else len(items) - 1
        dp = (h - keys[prv]) & M32
        dn = (keys[nxt] - h) & M32
        return items[prv if dp <= dn else nxt][2][0]

    def fallback(self):
        which = self.group()
        if which is None:
            return None
        if isinstance(which, Server):
            return which
        root = self.rings[which]
        stop = node = self.last
        while True:
            if node is not None:
                tree, n = node
                nodes = tree.ordered()
                i = nodes.index(n)
                node = (tree, nodes[i + 1]) if i + 1 < len(nodes) else None
            if node is None:
                node = (root, root.first()) if root.items else None
            self.last = node
            if node is None:
                return None
            if stop is None:
                stop = node
            s = node[1][0]
            if not s.full:
                return s
            if node == stop:
                self.last = None
                return None


class HashMixin:
    """backend.c: get_server_sh / _uh / _hh and the fallback of assign_server."""

    kind = "source"

    def setup_hash(self):
        o = self.options
        self.hash_type = o.get("hash_type") or "map-based"
        fn = o.get("hash_function")
        self.function = FUNCTIONS[fn or "sdbm"]
        av = o.get("avalanche")
        self.avalanche = av if av is not None else (self.hash_type == "consistent" and fn is None)

    def key_hash(self, key):
        if self.kind == "source":
            addr = ipaddress.ip_address(key)
            v = int(addr)
            return v if addr.version == 4 else (v >> 96 ^ v >> 64 ^ v >> 32 ^ v) & M32
        if isinstance(key, (str, bytes)):
            data = key.encode() if isinstance(key, str) else key
        else:
            data = str(ipaddress.ip_address(key)).encode()
        if self.kind == "uri":
            data = self.cut(data)
        return self.function(data)

    def cut(self, data):
        o = self.options
        length = o.get("len", 0)
        depth = o.get("depth", 0)
        if length:
            data = data[:length]
        out = bytearray()
        slashes = 0
        for c in data:
            if c == ord("/"):
                slashes += 1
                if depth and slashes == depth + 1:
                    break
            elif c == ord("?") and not o.get("whole", False):
                break
            out.append(c)
        return bytes(out)

    def choose_server(self, key):
        if not self.tot_weight:
            return None
        srv = None
        missing = self.kind == "hdr" and isinstance(key, (str, bytes)) and not key
        if self.tot_used == 1 or not missing:
            if self.tot_used == 1:
                h = 0
            else:
                h = self.key_hash(key)
                if self.avalanche:
                    h = full_hash(h)
            srv = self.lookup(h)
        if srv is None:
            srv = self.fallback()
        return srv


def _hash_classes(kind, name):
    class MapHash(HashMixin, MapMixin, RefHAProxy):
        pass

    class ChashHash(HashMixin, ChashMixin, RefHAProxy):
        pass

    class Ref:
        """Dispatch on hash_type at construction."""

        def __new__(cls, weights=(), **kw):
            consistent = kw.get("hash_type") == "consistent"
            klass = ChashHash if consistent else MapHash
            obj = klass.__new__(klass)
            obj.kind = kind
            obj.options = kw
            HashMixin.setup_hash(obj)
            klass.__init__(obj, weights, **kw)
            return obj

    Ref.name = name
    Ref.__name__ = f"Ref{name}"
    return Ref


RefHAProxySource = register(_hash_classes("source", "haproxy-source"))
RefHAProxyURI = register(_hash_classes("uri", "haproxy-uri"))
RefHAProxyHdr = register(_hash_classes("hdr", "haproxy-hdr"))


@register
class RefHAProxyRandom(ChashMixin, RefHAProxy):
    name = "haproxy-random"

    def init(self):
        x = (2463534242 + self.seed) & M32
        self.prng = x or 1
        super().init()

    def statistical_prng(self):
        x = self.prng
        x ^= (x << 13) & M32
        x ^= x >> 17
        x ^= (x << 5) & M32
        self.prng = x
        return x

    def choose_server(self, key):
        if not self.tot_weight:
            return None
        curr = None
        draws = self.options.get("draws", 2)
        while True:
            prev = curr
            curr = self.lookup(self.statistical_prng())
            if curr is None:
                break
            if prev is not None and prev is not curr and \
                    curr.served * prev.cur_eweight > prev.served * curr.cur_eweight:
                curr = prev
            draws -= 1
            if draws <= 0:
                break
        if curr is not None and curr.full:
            curr = None
        return curr
