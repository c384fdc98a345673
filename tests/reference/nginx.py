"""nginx 1.22 upstream balancers in plain Python, transcribed from the C sources.

``ngx_http_upstream_round_robin.c``, ``ngx_http_upstream_least_conn_module.c``,
``ngx_http_upstream_ip_hash_module.c``, ``ngx_http_upstream_hash_module.c``,
``ngx_http_upstream_random_module.c`` (nginx 1.22.1), with peers as objects
in two lists (primary, backup). Every pool edit is a configuration reload:
the peer lists are rebuilt and every runtime field starts over.
"""

from __future__ import annotations

import ipaddress
import math

from . import register
from .pool import RefScheduler

M32 = 0xFFFFFFFF


def _crc_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc_table()


def crc32_update(reg, data):
    for byte in data:
        reg = CRC_TABLE[(reg ^ byte) & 0xFF] ^ (reg >> 8)
    return reg


def crc32(data):
    return crc32_update(0xFFFFFFFF, data) ^ 0xFFFFFFFF


class Peer:
    def __init__(self, d, cfg):
        self.d = d  # the RefPool backend
        self.weight = d.last_weight  # configured weight (a down peer keeps its own)
        self.down = d.weight == 0
        self.effective_weight = d.weight
        self.current_weight = 0
        self.max_fails = cfg["max_fails"]
        self.fail_timeout = cfg["fail_timeout"]
        self.fails = 0
        self.accessed = 0
        self.checked = 0
        self.server = cfg.get("server", "")

    @property
    def conns(self):
        return self.d.active + self.d.inactive


class RefNginx(RefScheduler):
    insertion = "tail"
    accepts_backup = False

    def init(self):
        o = self.options
        n = len(self.pool.backends)
        backup = o.get("backup") or [False] * n
        max_fails = o.get("max_fails", 1)
        fail_timeout = o.get("fail_timeout", 10)
        self.default_max_fails = max_fails if isinstance(max_fails, int) else 1
        self.default_fail_timeout = fail_timeout if isinstance(fail_timeout, int) else 10
        self.cfg = {}
        for i in range(n):
            self.cfg[i] = {
                "backup": bool(backup[i]),
                "max_fails": max_fails[i] if isinstance(max_fails, list) else max_fails,
                "fail_timeout": fail_timeout[i] if isinstance(fail_timeout, list) else fail_timeout,
                "server": self.server_name(i),
            }
        max_conns = o.get("max_conns")
        if max_conns is not None:
            for i, d in enumerate(self.pool.backends):
                d.upper = d.lower = max_conns[i] if isinstance(max_conns, list) else max_conns
        for i, down in enumerate(o.get("down") or []):
            if down:
                self.pool.backends[i].weight = 0
        self.reload()

    def server_name(self, i):
        servers = self.options.get("servers")
        return servers[i] if servers else f"backend{i}"

    def reload(self):
        self.primary = [Peer(d, self.cfg[d.id]) for d in self.listed if not self.cfg[d.id]["backup"]]
        self.backups = [Peer(d, self.cfg[d.id]) for d in self.listed if self.cfg[d.id]["backup"]]
        self.single = len(self.primary) == 1 and not self.backups
        self.total_weight = sum(p.weight for p in self.primary)
        self.by_id = {p.d.id: p for p in self.primary + self.backups}

    def changed(self, event, index):
        self.reload()

    def add_backend(self, weight=1, u_threshold=0, l_threshold=0, address=None, backup=False, server=None):
        bid = len(self.pool.backends)
        self.cfg[bid] = {"backup": backup, "max_fails": self.default_max_fails,
                         "fail_timeout": self.default_fail_timeout, "server": server or f"backend{bid}"}
        return super().add_backend(weight, u_threshold, l_threshold, address)

    # -- the peer rules ------------------------------------------------------------
    @staticmethod
    def usable(p, now):
        if p.down:
            return False
        if p.max_fails and p.fails >= p.max_fails and now - p.checked <= p.fail_timeout:
            return False
        if p.d.overloaded:  # max_conns
            return False
        return True

    @staticmethod
    def touch(p, now):
        if now - p.checked > p.fail_timeout:
            p.checked = now

    def get_peer(self, peers, now):
        best = None
        total = 0
        for p in peers:
            if not self.usable(p, now):
                continue
            p.current_weight += p.effective_weight
            total += p.effective_weight
            if p.effective_weight < p.d.weight:
                p.effective_weight += 1
            if best is None or p.current_weight > best.current_weight:
                best = p
        if best is None:
            return None
        best.current_weight -= total
        self.touch(best, now)
        return best

    def get_rr_peer(self, now):
        if self.single:
            p = self.primary[0]
            if p.down or p.d.overloaded:
                return None
            return p
        p = self.get_peer(self.primary, now)
        if p is None and self.backups:
            p = self.get_peer(self.backups, now)
        return p

    def choose(self, key, now):
        p = self.choose_peer(key, math.floor(now))
        return None if p is None else p.d

    def release(self, b, active=None, failed=False, now=0.0):
        super().release(b, active)
        p = self.by_id.get(b)
        if p is None or self.single:
            return
        now = math.floor(now)
        if failed:
            p.fails += 1
            p.accessed = now
            p.checked = now
            if p.max_fails:
                p.effective_weight -= p.weight // p.max_fails
                if p.effective_weight < 0:
                    p.effective_weight = 0
        elif p.accessed < p.checked:
            p.fails = 0


@register
class RefNginxRR(RefNginx):
    name = "nginx-rr"
    accepts_backup = True

    def choose_peer(self, key, now):
        return self.get_rr_peer(now)


@register
class RefNginxLeastConn(RefNginx):
    name = "nginx-least-conn"
    accepts_backup = True

    def least_conn(self, peers, now):
        best = None
        many = False
        p_index = 0
        for i, p in enumerate(peers):
            if not self.usable(p, now):
                continue
            if best is None or p.conns * best.d.weight < best.conns * p.d.weight:
                best, many, p_index = p, False, i
            elif p.conns * best.d.weight == best.conns * p.d.weight:
                many = True
        if best is None:
            return None
        total = 0
        if many:
            for p in peers[p_index:]:
                if p.down:
                    continue
                if p.conns * best.d.weight != best.conns * p.d.weight:
                    continue
                if not self.usable(p, now):
                    continue
                p.current_weight += p.effective_weight
                total += p.effective_weight
                if p.effective_weight < p.d.weight:
                    p.effective_weight += 1
                if p.current_weight > best.current_weight:
                    best = p
        best.current_weight -= total
        self.touch(best, now)
        return best

    def choose_peer(self, key, now):
        if self.single:
            return self.get_rr_peer(now)
        p = self.least_conn(self.primary, now)
        if p is None and self.backups:
            p = self.least_conn(self.backups, now)
        return p


def _address(key):
    return ipaddress.ip_address(key)


@register
class RefNginxIPHash(RefNginx):
    name = "nginx-ip-hash"

    def choose_peer(self, key, now):
        if self.single:
            return self.get_rr_peer(now)
        addr = _address(key)
        data = addr.packed[:3] if addr.version == 4 else addr.packed
        h = 89
        tries = 0
        while self.total_weight:
            for byte in data:
                h = (h * 113 + byte) % 6271
            w = h % self.total_weight
            i = 0
            while w >= self.primary[i].weight:
                w -= self.primary[i].weight
                i += 1
            p = self.primary[i]
            if self.usable(p, now):
                self.touch(p, now)
                return p
            tries += 1
            if tries > 20:
                break
        return self.get_rr_peer(now)


def _key_bytes(key):
    if isinstance(key, str):
        return key.encode()
    if isinstance(key, bytes):
        return key
    return str(ipaddress.ip_address(key)).encode()


def _split_server(server):
    raw = server.encode()
    if raw[:5].lower() == b"unix:":
        return raw[5:], b""
    for j in range(len(raw)):
        c = raw[len(raw) - j - 1]
        if c == ord(":"):
            return raw[: len(raw) - j - 1], raw[len(raw) - j:]
        if not ord("0") <= c <= ord("9"):
            break
    return raw, b""


@register
class RefNginxHash(RefNginx):
    name = "nginx-hash"

    def reload(self):
        super().reload()
        if not self.options.get("consistent"):
            return
        points = []
        for p in self.primary:
            host, port = _split_server(p.server)
            base = crc32_update(0xFFFFFFFF, host + b"\0" + port)
            prev = 0
            for _ in range(160 * p.weight):
                value = crc32_update(base, prev.to_bytes(4, "little")) ^ M32
                points.append((value, p.server))
                prev = value
        points.sort(key=lambda point: point[0])  # stable, as glibc's merge-sort qsort
        self.points = []
        for value, server in points:
            if not self.points or self.points[-1][0] != value:
                self.points.append((value, server))

    def choose_peer(self, key, now):
        data = _key_bytes(key)
        if self.single or not data:
            return self.get_rr_peer(now)
        if self.options.get("consistent"):
            return self.chash(data, now)
        h = 0
        for rehash in range(21 if self.total_weight else 0):
            prefix = str(rehash).encode() if rehash else b""
            h += (crc32(prefix + data) >> 16) & 0x7FFF
            w = h % self.total_weight
            i = 0
            while w >= self.primary[i].weight:
                w -= self.primary[i].weight
                i += 1
            p = self.primary[i]
            if self.usable(p, now):
                self.touch(p, now)
                return p
        return self.get_rr_peer(now)

    def chash(self, data, now):
        h = crc32(data)
        n = len(self.points)
        if not n:
            return self.get_rr_peer(now)
        i = 0
        while i < n and self.points[i][0] < h:
            i += 1
        for _ in range(21):
            server = self.points[i % n][1]
            best = None
            total = 0
            for p in self.primary:
                if not self.usable(p, now) or p.server != server:
                    continue
                p.current_weight += p.effective_weight
                total += p.effective_weight
                if p.effective_weight < p.d.weight:
                    p.effective_weight += 1
                if best is None or p.current_weight > best.current_weight:
                    best = p
            if best is not None:
                best.current_weight -= total
                self.touch(best, now)
                return best
            i += 1
        return self.get_rr_peer(now)


class GlibcRandom:
    """glibc ``srandom`` / ``random`` (TYPE_3, degree 31, separation 3)."""

    def __init__(self, seed):
        seed &= M32
        if seed == 0:
            seed = 1

        def int32(x):
            x &= M32
            return x - (1 << 32) if x & 0x80000000 else x

        r = [int32(seed)]
        word = int32(seed)
        for _ in range(30):
            hi = int(word / 127773)  # C truncation
            lo = word - hi * 127773
            word = int32(16807 * lo - 2836 * hi)
            if word < 0:
                word += 2147483647
            r.append(word)
        self.r = [x & M32 for x in r]
        self.f, self.b = 3, 0
        for _ in range(310):
            self.random()

    def random(self):
        self.r[self.f] = (self.r[self.f] + self.r[self.b]) & M32
        result = self.r[self.f] >> 1
        self.f += 1
        if self.f >= 31:
            self.f = 0
            self.b += 1
        else:
            self.b += 1
            if self.b >= 31:
                self.b = 0
        return result


@register
class RefNginxRandom(RefNginx):
    name = "nginx-random"

    def init(self):
        self.rng = GlibcRandom(self.seed)
        super().init()

    def reload(self):
        super().reload()
        self.ranges = []
        total = 0
        for p in self.primary:
            self.ranges.append(total)
            total += p.weight

    def peek(self):
        x = self.rng.random() % self.total_weight
        i, j = 0, len(self.primary)
        while j - i > 1:
            k = (i + j) // 2
            if x < self.ranges[k]:
                j = k
            else:
                i = k
        return self.primary[i]

    def choose_peer(self, key, now):
        if len(self.primary) < 2 or not self.total_weight:
            return self.get_rr_peer(now)
        tries = 0
        prev = None
        two = self.options.get("two", False)
        while True:
            p = self.peek()
            if (not two or p is not prev) and self.usable(p, now):
                if not two:
                    self.touch(p, now)
                    return p
                if prev is not None:
                    if p.conns * prev.d.weight > prev.conns * p.d.weight:
                        p = prev
                    self.touch(p, now)
                    return p
                prev = p
            tries += 1
            if tries > 20:
                return self.get_rr_peer(now)
