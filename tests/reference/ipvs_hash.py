"""IPVS sh, dh and mh, straight from Linux's ip_vs_sh.c, ip_vs_dh.c and ip_vs_mh.c, with their own hashes.

Nothing here comes from lbalgo: ``hash_32`` and SipHash-1-3 are written out
on Python ints over byte strings, keys are parsed with :mod:`ipaddress`.
"""

from __future__ import annotations

import ipaddress
from math import gcd

from . import register
from .pool import ADD, DELETE, RefScheduler

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


# -- hashes ------------------------------------------------------------------------------

def hash_32(v, bits):
    """include/linux/hash.h: high `bits` bits of v * GOLDEN_RATIO_32 (mod 2**32)."""
    return ((v * 0x61C88647) & M32) >> (32 - bits)


def _rol(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _sipround(v):
    v0, v1, v2, v3 = v
    v0 = (v0 + v1) & M64
    v1 = _rol(v1, 13) ^ v0
    v0 = _rol(v0, 32)
    v2 = (v2 + v3) & M64
    v3 = _rol(v3, 16) ^ v2
    v0 = (v0 + v3) & M64
    v3 = _rol(v3, 21) ^ v0
    v2 = (v2 + v1) & M64
    v1 = _rol(v1, 17) ^ v2
    v2 = _rol(v2, 32)
    return [v0, v1, v2, v3]


def siphash(data: bytes, k0: int, k1: int, c_rounds=1, d_rounds=3) -> int:
    """SipHash-c-d of `data` (64-bit result). hsiphash on 64-bit Linux is SipHash-1-3."""
    v = [0x736F6D6570736575 ^ k0, 0x646F72616E646F6D ^ k1,
         0x6C7967656E657261 ^ k0, 0x7465646279746573 ^ k1]
    whole = len(data) - len(data) % 8
    for i in range(0, whole, 8):
        m = int.from_bytes(data[i:i + 8], "little")
        v[3] ^= m
        for _ in range(c_rounds):
            v = _sipround(v)
        v[0] ^= m
    b = ((len(data) & 0xFF) << 56) | int.from_bytes(data[whole:], "little")
    v[3] ^= b
    for _ in range(c_rounds):
        v = _sipround(v)
    v[0] ^= b
    v[2] ^= 0xFF
    for _ in range(d_rounds):
        v = _sipround(v)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def hsiphash(data: bytes, k0: int, k1: int) -> int:
    """Linux hsiphash on a 64-bit machine: SipHash-1-3 truncated to u32."""
    return siphash(data, k0, k1) & M32


def mh_hash(v, key):
    """ip_vs_mh_hashkey: hsiphash of the u32 v (little-endian bytes) with key {key, key}."""
    return hsiphash((v & M32).to_bytes(4, "little"), key, key)


# -- keys --------------------------------------------------------------------------------

def fold(addr):
    v = int(addr)
    if addr.version == 4:
        return v
    return (v >> 96 ^ v >> 64 ^ v >> 32 ^ v) & M32


def parse_key(key):
    """(folded address, port) of a key: address, "ip:port", "[v6]:port" or (address, port)."""
    if isinstance(key, tuple):
        return fold(ipaddress.ip_address(key[0])), int(key[1])
    if isinstance(key, str):
        text = key.strip()
        if text.startswith("["):
            host, _, port = text[1:].partition("]:")
            return fold(ipaddress.ip_address(host)), int(port)
        if text.count(":") == 1:
            host, port = text.split(":")
            return fold(ipaddress.ip_address(host)), int(port)
        return fold(ipaddress.ip_address(text)), 0
    return fold(ipaddress.ip_address(int(key))), 0


def usable(d):
    return d.weight > 0 and not d.overloaded


# -- schedulers --------------------------------------------------------------------------

@register
class RefSH(RefScheduler):
    name = "sh"

    def init(self):
        self.bits = self.options.get("table_bits", 8)
        self.use_port = self.options.get("port", False)
        self.fallback = self.options.get("fallback", False)
        self.rebuild()

    def rebuild(self):
        size = 1 << self.bits
        listed = self.listed
        if not listed:
            self.buckets = [None] * size
            return
        buckets = []
        i = count = 0
        while len(buckets) < size:
            d = listed[i]
            buckets.append(d)
            count += 1
            if count >= d.weight:  # weight 0 still takes one bucket
                count = 0
                i = (i + 1) % len(listed)
        self.buckets = buckets

    def changed(self, event, index):
        self.rebuild()

    def choose(self, key, now):
        addr, port = parse_key(key)
        if not self.use_port:
            port = 0
        size = 1 << self.bits
        h = hash_32((addr + port) & M32, self.bits)

        def hashkey(offset):
            return (offset + h) % size

        ih = hashkey(0)
        d = self.buckets[ih]
        if d is None:
            return None
        if usable(d):
            return d
        if not self.fallback:
            return None
        for offset in range(size):
            d = self.buckets[hashkey((offset + ih) % size)]
            if d is None:
                return None
            if usable(d):
                return d
        return None


@register
class RefDH(RefScheduler):
    name = "dh"

    def init(self):
        self.bits = self.options.get("table_bits", 8)
        self.rebuild()

    def rebuild(self):
        size = 1 << self.bits
        listed = self.listed
        self.buckets = [listed[i % len(listed)] if listed else None for i in range(size)]

    def changed(self, event, index):
        if event in (ADD, DELETE):
            self.rebuild()

    def choose(self, key, now):
        addr, _ = parse_key(key)
        d = self.buckets[hash_32(addr, self.bits)]
        if d is None or not d.available or not usable(d):
            return None
        return d


PRIMES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071]
HASH1, HASH2 = 2654435761, 2654446892


@register
class RefMH(RefScheduler):
    name = "mh"

    def init(self):
        self.m = self.options.get("table_size", 4093)
        self.tab_bits = (PRIMES.index(self.m) + 8) // 2
        self.use_port = self.options.get("port", False)
        self.fallback = self.options.get("fallback", False)
        self.slots = [None] * self.m
        self.rebuild()

    @staticmethod
    def identity(d):
        if d.address is None:
            return (0x0A000001 + d.id) & M32  # 10.0.0.1 + id, port 0
        return (fold(d.address) + d.port) & M32

    def rebuild(self):
        m = self.m
        listed = self.listed
        if len(listed) > m:
            return  # EINVAL: the old table stays
        g = 0
        for d in listed:
            if d.last_weight > 0:
                g = gcd(g, d.last_weight)
        if g < 1:
            self.slots = [None] * m
            return
        mw = max(d.last_weight for d in listed)
        rshift = max(0, (mw // g).bit_length() - self.tab_bits)
        setup = []
        for d in listed:
            v = self.identity(d)
            turns = (d.last_weight // g) >> rshift or (1 if d.last_weight else 0)
            setup.append({"perm": mh_hash(v, HASH1) % m, "skip": mh_hash(v, HASH2) % (m - 1) + 1,
                          "turns": turns, "dest": d})
        taken = [False] * m
        n = 0
        while n < m:
            i = 0
            while i < len(setup):
                s = setup[i]
                if s["turns"] < 1:
                    i += 1
                    continue
                for _ in range(s["turns"]):
                    while taken[s["perm"]]:
                        s["perm"] = (s["perm"] + s["skip"]) % m
                    taken[s["perm"]] = True
                    self.slots[s["perm"]] = s["dest"]
                    n += 1
                    if n == m:
                        return
                i += 1

    def changed(self, event, index):
        self.rebuild()

    def choose(self, key, now):
        addr, port = parse_key(key)
        if not self.use_port:
            port = 0
        m = self.m
        ih = mh_hash(addr + port, HASH1) % m
        d = self.slots[ih]
        if d is None:
            return None
        if usable(d):
            return d
        if not self.fallback:
            return None
        for offset in range(m):
            r = (offset + ih) % m
            d = self.slots[mh_hash(r + port + addr, HASH1) % m]
            if d is None:
                return None
            if usable(d):
                return d
        return None
