"""IPVS lblc and lblcr, straight from Linux's ip_vs_lblc.c and ip_vs_lblcr.c.

The cache is 1024 Python lists (new entries at the front); the GC timer runs
one tick at a time, every 60 s from ``start``, before a pick at or after it.
"""

from __future__ import annotations

import ipaddress

from . import register
from .pool import RefScheduler

TAB_SIZE = 1024
INTERVAL = 60.0
ENTRY_TIMEOUT = 360.0


def address(key):
    if isinstance(key, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return key
    if isinstance(key, str):
        return ipaddress.ip_address(key.strip())
    v = int(key)
    return ipaddress.IPv4Address(v) if v < 2**32 else ipaddress.IPv6Address(v)


def hash_32(value, bits):
    return ((value * 0x61C88647) & 0xFFFFFFFF) >> (32 - bits)


def bucket(addr):
    v = int(addr)
    if addr.version == 6:
        v = (v >> 96 ^ v >> 64 ^ v >> 32 ^ v) & 0xFFFFFFFF
    return hash_32(v, 10)


def overhead(d):
    return d.active * 256 + d.inactive


class Entry:
    def __init__(self, addr, now):
        self.addr = addr
        self.lastuse = now
        self.dest = None  # lblc
        self.set = []  # lblcr, head first
        self.lastmod = now


class RefLocality(RefScheduler):
    def init(self):
        self.expiration = float(self.options.get("expiration", 86400.0))
        self.max_size = int(self.options.get("max_size", 16384))
        self.start = float(self.options.get("start", 0.0))
        self.buckets = [[] for _ in range(TAB_SIZE)]
        self.entries = 0  # IPVS's entry count (ip_vs_lblc_table.entries)
        self.counter = 1
        self.rover = 0
        self.ticks = 1  # index of the next tick

    # -- GC ------------------------------------------------------------------------
    def tick(self, t):
        if self.counter % 30 == 0:
            for b in range(TAB_SIZE):
                self.sweep(b, t, self.expiration)
            self.counter = 1
        elif self.entries <= self.max_size:
            self.counter += 1
        else:
            goal = (self.entries - self.max_size) * 4 // 3
            goal = min(goal, self.max_size // 2)
            j = self.rover
            for _ in range(TAB_SIZE):
                j = (j + 1) % TAB_SIZE
                goal -= self.sweep(j, t, ENTRY_TIMEOUT)
                if goal <= 0:
                    break
            self.rover = j

    def sweep(self, b, t, idle):
        keep = [en for en in self.buckets[b] if not t >= en.lastuse + idle]
        gone = len(self.buckets[b]) - len(keep)
        self.buckets[b] = keep
        self.entries -= gone
        return gone

    def run_timers(self, now):
        while self.start + INTERVAL * self.ticks <= now:
            self.tick(self.start + INTERVAL * self.ticks)
            self.ticks += 1

    def find(self, addr):
        for en in self.buckets[bucket(addr)]:
            if en.addr == addr:
                return en
        return None

    def add(self, en):
        self.buckets[bucket(en.addr)].insert(0, en)
        self.entries += 1

    # -- shared rules --------------------------------------------------------------
    def lbl_overloaded(self, d):
        return d.active > d.weight and any(x.active * 2 < x.weight for x in self.listed)

    def wlc(self):
        least = None
        for d in self.listed:
            if d.overloaded:
                continue
            if least is None:
                if d.weight > 0:
                    least = d
            elif overhead(least) * d.weight > overhead(d) * least.weight:
                least = d
        return least

    def choose(self, key, now):
        self.run_timers(now)
        return self.schedule(address(key), now)

    def cache_entries(self):
        out = {}
        for b in range(TAB_SIZE):
            for en in self.buckets[b]:
                out[en.addr] = self.describe(en)
        return out


@register
class RefLBLC(RefLocality):
    name = "lblc"

    def schedule(self, addr, now):
        en = self.find(addr)
        if en is not None:
            en.lastuse = now
            d = en.dest
            if d.available and d.weight > 0 and not self.lbl_overloaded(d):
                return d
        d = self.wlc()
        if d is None:
            return None
        if en is not None:
            if en.dest is not d:
                # mainline ip_vs_lblc_new: unlink the old entry (no atomic_dec), hash a new one
                self.buckets[bucket(addr)].remove(en)
                new = Entry(addr, now)
                new.dest = d
                self.add(new)
        else:
            en = Entry(addr, now)
            en.dest = d
            self.add(en)
        return d

    def describe(self, en):
        return (en.dest.id, en.lastuse)


@register
class RefLBLCR(RefLocality):
    name = "lblcr"

    def set_min(self, members):
        least = None
        for d in members:
            if d.overloaded:
                continue
            if least is None:
                if d.weight > 0 and d.available:
                    least = d
            elif overhead(least) * d.weight > overhead(d) * least.weight and d.available:
                least = d
        return least

    def set_max(self, members):
        most = None
        for d in members:
            if most is None:
                if d.weight > 0:
                    most = d
            elif overhead(most) * d.weight < overhead(d) * most.weight and d.weight > 0:
                most = d
        return most

    def insert(self, en, d, now):
        if d not in en.set:
            en.set.insert(0, d)
            en.lastmod = now

    def schedule(self, addr, now):
        en = self.find(addr)
        if en is not None:
            en.lastuse = now
            d = self.set_min(en.set)
            if len(en.set) > 1 and now > en.lastmod + self.expiration:
                m = self.set_max(en.set)
                if m is not None:
                    en.set.remove(m)
                    en.lastmod = now
            if d is not None and not self.lbl_overloaded(d):
                return d
            d = self.wlc()
            if d is None:
                return None
            self.insert(en, d, now)
            return d
        d = self.wlc()
        if d is None:
            return None
        en = Entry(addr, now)
        self.insert(en, d, now)
        self.add(en)
        return d

    def describe(self, en):
        return (tuple(d.id for d in en.set), en.lastuse, en.lastmod)
