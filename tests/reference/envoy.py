"""Envoy's load balancers (v1.36) in plain Python, from ``docs/algorithms/envoy.md``.

Nothing here comes from lbalgo's Envoy package: the hashes are written out on
Python integers, the EDF scheduler is a ``heapq`` of ``(deadline, order, id)``,
ring lookups use ``bisect``. Only the seeded generator is shared with the
other references (xoshiro128**, two outputs per 64-bit draw), because the
stream is part of lbalgo's contract, not of Envoy's algorithm.
"""

from __future__ import annotations

import bisect
import heapq
import ipaddress
import math

from . import register
from .pool import ADD, RefScheduler
from .random_ import Xoshiro128

M64 = (1 << 64) - 1
P1, P2, P3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
P4, P5 = 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5
MUL = 0xC6A4A7935BD1E995


# -- hashes --------------------------------------------------------------------------------------
def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _round(acc, lane):
    return _rotl((acc + lane * P2) & M64, 31) * P1 & M64


def xxh64(data: bytes, seed: int = 0) -> int:
    """XXH64 (Yann Collet's reference algorithm)."""
    n = len(data)
    p = 0
    if n >= 32:
        v = [(seed + P1 + P2) & M64, (seed + P2) & M64, seed & M64, (seed - P1) & M64]
        while p + 32 <= n:
            for k in range(4):
                v[k] = _round(v[k], int.from_bytes(data[p + 8 * k: p + 8 * k + 8], "little"))
            p += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & M64
        for lane in v:
            h = ((h ^ _round(0, lane)) * P1 + P4) & M64
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while p + 8 <= n:
        h = (_rotl(h ^ _round(0, int.from_bytes(data[p: p + 8], "little")), 27) * P1 + P4) & M64
        p += 8
    if p + 4 <= n:
        h = (_rotl(h ^ (int.from_bytes(data[p: p + 4], "little") * P1 & M64), 23) * P2 + P3) & M64
        p += 4
    for byte in data[p:]:
        h = _rotl(h ^ (byte * P5 & M64), 11) * P1 & M64
    h ^= h >> 33
    h = h * P2 & M64
    h ^= h >> 29
    h = h * P3 & M64
    return h ^ (h >> 32)


def murmur2_64(data: bytes, seed: int = 0xC70F6907) -> int:
    """libstdc++ ``_Hash_bytes`` for 64-bit size_t."""
    n = len(data)
    h = (seed ^ (n * MUL)) & M64
    aligned = n - n % 8
    for p in range(0, aligned, 8):
        k = int.from_bytes(data[p: p + 8], "little") * MUL & M64
        k = (k ^ (k >> 47)) * MUL & M64
        h = (h ^ k) * MUL & M64
    if n % 8:
        h = (h ^ int.from_bytes(data[aligned:], "little")) * MUL & M64
    h = (h ^ (h >> 47)) * MUL & M64
    return h ^ (h >> 47)


# -- shared: host set, panic, random ----------------------------------------------------------------
class _EnvoyRef(RefScheduler):
    insertion = "tail"
    draws_seed = False

    def init(self):
        o = self.options
        self.panic_threshold = math.floor(float(o.get("panic_threshold", 50)) + 0.5)
        self.fail_on_panic = o.get("fail_traffic_on_panic", False)
        stream = o.get("random")
        self.stream = None if stream is None else list(stream)
        self.pos = 0
        self.rng = Xoshiro128(self.seed)
        self.excluded = set()
        self.failed = {}  # id -> saved weight
        self.clock = 0.0
        self.snapshot = None
        self.hosts, self.healthy, self.panic = [], [], False
        if self.draws_seed:
            self.seed_value = self.draw()
        self.setup()
        self.refresh_if_changed(force=True)

    def setup(self):
        pass

    def draw(self):
        if self.stream is None:
            hi = self.rng.u32()
            return (hi << 32) | self.rng.u32()
        v = self.stream[min(self.pos, len(self.stream) - 1)]
        self.pos += 1
        return v

    def inject_random(self, values):
        self.stream = list(values)
        self.pos = 0

    def eweight(self, d):
        return self.failed[d.id] if d.id in self.failed else d.weight

    def status(self, d):
        return (1 if d.id in self.failed else 0) | (2 if d.id in self.excluded else 0)

    def refresh_if_changed(self, force=False):
        snap = [(d.id, self.eweight(d), self.status(d)) for d in self.listed if self.eweight(d) > 0]
        if snap == self.snapshot and not force:
            return
        before = {} if self.snapshot is None else {b: st for b, _, st in self.snapshot}
        self.snapshot = snap
        by_id = self.pool.backends
        self.hosts = [by_id[b] for b, _, _ in snap]
        self.healthy = [by_id[b] for b, _, st in snap if st == 0]
        for d in self.healthy:
            if before.get(d.id, 0) & 1:
                self.recovered(d)
        count = len(self.hosts) - sum(1 for d in self.hosts if d.id in self.excluded)
        availability = min(100, 140 * len(self.healthy) // count) if count else 0
        share = 100.0 * len(self.healthy) / count if count else 0.0
        self.panic = (not (self.panic_threshold == 0 and availability == 0)
                      and availability < 100 and share < self.panic_threshold)
        self.rebuild()

    def recovered(self, d):
        pass

    def rebuild(self):
        pass

    def source(self):
        if self.panic:
            return None if self.fail_on_panic else self.hosts
        return self.healthy

    def changed(self, event, index):
        self.refresh_if_changed()

    # Envoy's host states, as lbalgo's pool and the Envoy classes change them
    def fail(self, b):
        d = self.pool.backends[b]
        self.failed[b] = d.weight
        d.weight = 0
        self.refresh_if_changed()

    def recover(self, b):
        d = self.pool.backends[b]
        d.weight = self.failed.pop(b)
        if d.weight:
            d.last_weight = d.weight
        self.refresh_if_changed()

    def exclude(self, b, excluded=True):
        (self.excluded.add if excluded else self.excluded.discard)(b)
        self.refresh_if_changed()

    def refresh(self, now=None):
        if now is not None:
            self.clock = now
        self.refresh_if_changed(force=True)

    def pick(self, key=None, now=0.0):
        self.clock = now
        return super().pick(key, now)


# -- EDF balancers --------------------------------------------------------------------------------------
class _Edf:
    """Envoy's EdfScheduler: a min-heap of (deadline, order, id)."""

    def __init__(self):
        self.heap, self.time, self.order = [], 0.0, 0

    def add(self, weight, b):
        heapq.heappush(self.heap, (self.time + 1.0 / weight, self.order, b))
        self.order += 1

    def pick_and_add(self, weight_of):
        deadline, _, b = heapq.heappop(self.heap)
        self.time = deadline
        self.add(weight_of(b), b)
        return b

    @classmethod
    def with_picks(cls, ids, weight_of, picks):
        """createWithPicks: floor(P * w / W) picks each at once, the rest one by one."""
        picks = (picks & 0xFFFFFFFF) % 429496729
        edf = cls()
        if not ids:
            return edf
        aug = [weight_of(b) + 1e-13 for b in ids]
        total = 0.0
        for w in aug:
            total += w
        done = 0
        for k, (b, w) in enumerate(zip(ids, aug)):
            fp = int(w * picks / total)
            if fp > 0 and fp / w >= picks / total:
                fp -= 1
            edf.heap.append(((fp + 1) / w, k, b))
            edf.time = max(edf.time, fp / w)
            done += fp
        heapq.heapify(edf.heap)
        edf.order = len(ids)
        for _ in range(picks - done):
            edf.pick_and_add(weight_of)
        return edf


class _EdfRef(_EnvoyRef):
    draws_seed = True
    least_request = False

    def setup(self):
        o = self.options
        ss = o.get("slow_start")
        self.window = 0.0 if ss is None else float(ss["window"])
        self.aggression = 1.0 if ss is None else float(ss.get("aggression", 1.0))
        self.min_weight = 0.1 if ss is None else float(ss.get("min_weight_percent", 10)) / 100.0
        self.pass_time = {}
        self.latest_added = 0.0
        self.rr = {"all": self.seed_value, "healthy": self.seed_value}
        self.edf = {"all": None, "healthy": None}

    @staticmethod
    def ms(seconds):
        return math.floor(seconds * 1000.0 + 1e-6)

    def in_slow_start(self):
        return self.window > 0 and self.ms(self.clock - self.latest_added) <= self.ms(self.window)

    def recovered(self, d):
        self.pass_time[d.id] = self.clock

    def factor(self, d):
        t = self.pass_time.get(d.id)
        if t is None or d.id in self.failed or d.id in self.excluded:
            return 1.0
        elapsed, window = self.ms(self.clock - t), self.ms(self.window)
        if elapsed >= window:
            return 1.0
        tf = max(1.0, float(elapsed)) / window
        if not (self.aggression == 1.0 or tf == 1.0):
            tf = tf ** (1.0 / self.aggression)
        return max(tf, self.min_weight)

    def weight(self, b):
        d = self.pool.backends[b]
        w = float(self.eweight(d))
        if self.least_request:
            given = self.options.get("active_request_bias")
            bias = 1.0 if given is None else float(given)
            if bias == 1.0:
                w = w / (d.active + 1)
            elif bias != 0.0:
                w = w / float(d.active + 1) ** bias
        if self.in_slow_start():
            w *= self.factor(d)
        return w

    def rebuild(self):
        if self.window > 0:
            for d in self.healthy:
                t = self.pass_time.setdefault(d.id, self.clock)
                if t > self.latest_added and self.ms(self.clock - t) <= self.ms(self.window):
                    self.latest_added = t
        for name, hosts in (("all", self.hosts), ("healthy", self.healthy)):
            ws = {self.eweight(d) for d in hosts}
            if (len(ws) <= 1 and not self.in_slow_start()) or len(hosts) <= 1:
                self.edf[name] = None
            else:
                self.edf[name] = _Edf.with_picks([d.id for d in hosts], self.weight, self.seed_value)

    def choose(self, key, now):
        self.draw()  # the priority choice
        hosts = self.source()
        if not hosts:
            return None
        name = "all" if hosts is self.hosts else "healthy"
        if self.edf[name] is not None:
            return self.pool.backends[self.edf[name].pick_and_add(self.weight)]
        return self.unweighted(name, hosts)


@register
class RefEnvoyRoundRobin(_EdfRef):
    name = "envoy-round-robin"

    def unweighted(self, name, hosts):
        d = hosts[self.rr[name] % len(hosts)]
        self.rr[name] += 1
        return d


@register
class RefEnvoyLeastRequest(_EdfRef):
    name = "envoy-least-request"
    least_request = True

    def unweighted(self, name, hosts):
        if self.options.get("selection_method", "N_CHOICES") == "FULL_SCAN":
            best, tied = hosts[0], 1
            for d in hosts[1:]:
                if d.active < best.active:
                    best, tied = d, 1
                elif d.active == best.active:
                    tied += 1
                    if self.draw() % tied == 0:
                        best = d
            return best
        best = None
        for _ in range(self.options.get("choice_count", 2)):
            d = hosts[self.draw() % len(hosts)]
            if best is None or d.active < best.active:
                best = d
        return best


@register
class RefEnvoyRandom(_EnvoyRef):
    name = "envoy-random"

    def choose(self, key, now):
        r = self.draw()
        hosts = self.source()
        return hosts[r % len(hosts)] if hosts else None


# -- hashing balancers -------------------------------------------------------------------------------
class _HashRef(_EnvoyRef):
    def host_key(self, d):
        o = self.options
        keys = o.get("hash_keys")
        if keys is not None and d.id < len(keys) and keys[d.id]:
            return keys[d.id].encode()
        if o.get("use_hostname_for_hashing"):
            return o["hostnames"][d.id].encode()
        if d.address is None:
            return f"{ipaddress.IPv4Address(0x0A000001 + d.id)}:80".encode()
        host = f"[{d.address}]" if d.address.version == 6 else str(d.address)
        return f"{host}:{d.port}".encode()

    def request_hash(self, key):
        if self.options.get("hash_policy", "request") == "source_ip":
            return xxh64(str(ipaddress.IPv4Address(int(key))).encode())
        if isinstance(key, str):
            return xxh64(key.encode())
        return int(key) & M64

    def normalized(self):
        hosts = self.hosts if self.panic else self.healthy
        total = sum(self.eweight(d) for d in hosts)
        return [(d, self.eweight(d) * 1.0 / total) for d in hosts]


@register
class RefEnvoyRingHash(_HashRef):
    name = "envoy-ring-hash"

    def rebuild(self):
        o = self.options
        lo, hi = o.get("minimum_ring_size", 1024), o.get("maximum_ring_size", 8 * 1024 * 1024)
        murmur = o.get("hash_function", "XX_HASH") == "MURMUR_HASH_2"
        entries = []
        weights = self.normalized()
        if weights:
            least = min(w for _, w in weights)
            scale = min(math.ceil(least * lo) / least, float(hi))
            current = target = 0.0
            for d, w in weights:
                target += scale * w
                i = 0
                while current < target:
                    text = self.host_key(d) + b"_" + str(i).encode()
                    entries.append((murmur2_64(text) if murmur else xxh64(text), len(entries), d))
                    i += 1
                    current += 1.0
        entries.sort(key=lambda e: (e[0], e[1]))
        self.points = [h for h, _, _ in entries]
        self.owners = [d for _, _, d in entries]

    def choose(self, key, now):
        if not self.points:
            return None
        i = bisect.bisect_left(self.points, self.request_hash(key))
        return self.owners[i if i < len(self.points) else 0]


@register
class RefEnvoyMaglev(_HashRef):
    name = "envoy-maglev"

    def rebuild(self):
        m = self.options.get("table_size", 65537)
        self.m = m
        self.table = [None] * m
        weights = self.normalized()
        if not weights:
            return
        largest = max(w for _, w in weights)
        rows = sorted(((self.host_key(d), i, d, w) for i, (d, w) in enumerate(weights)),
                      key=lambda r: (r[0], r[1]))
        build = [{"d": d, "w": w, "target": 0.0, "next": 0,
                  "offset": xxh64(k) % m, "skip": xxh64(k, 1) % (m - 1) + 1} for k, _, d, w in rows]
        filled, iteration = 0, 1
        while filled < m:
            for e in build:
                if filled == m:
                    break
                if iteration * e["w"] < e["target"]:
                    continue
                e["target"] += largest
                c = (e["offset"] + e["skip"] * e["next"]) % m
                while self.table[c] is not None:
                    e["next"] += 1
                    c = (e["offset"] + e["skip"] * e["next"]) % m
                self.table[c] = e["d"]
                e["next"] += 1
                filled += 1
            iteration += 1

    def choose(self, key, now):
        return self.table[self.request_hash(key) % self.m]


__all__ = ["xxh64", "murmur2_64", "ADD"]
