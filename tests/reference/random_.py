"""Random, iptables cascade and nftables numgen in plain Python.

They use the same generator and the same sampling method as lbalgo (that is
the algorithm), so traces must match exactly for the same seed.
"""

from __future__ import annotations

from lbalgo._rng import new_state
from lbalgo.schedulers.kube_random import probability_int

from . import register
from .pool import RefScheduler

M32 = 0xFFFFFFFF


class Xoshiro128:
    def __init__(self, seed):
        self.s = [int(x) for x in new_state(seed)]

    def u32(self):
        s0, s1, s2, s3 = self.s
        x = (s1 * 5) & M32
        result = ((((x << 7) | (x >> 25)) & M32) * 9) & M32
        t = (s1 << 9) & M32
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 11) | (s3 >> 21)) & M32
        self.s = [s0, s1, s2, s3]
        return result

    def below(self, bound):
        # Lemire: floor(r * bound / 2**32), rejecting the biased low part
        threshold = (2**32 - bound) % bound
        while True:
            product = self.u32() * bound
            if product & M32 >= threshold:
                return product >> 32


@register
class RefRandom(RefScheduler):
    name = "random"

    def init(self):
        self.rng = Xoshiro128(self.seed)
        self.weighted = self.options.get("weighted", True)
        self.changed(0, 0)

    def w(self, d):
        return d.weight if self.weighted else 1

    def changed(self, event, index):
        cands = [d for d in self.listed if d.weight > 0]
        self.cands = cands
        k = len(cands)
        self.total = sum(self.w(d) for d in cands)
        self.uniform = len({self.w(d) for d in cands}) <= 1
        scaled = [self.w(d) * k for d in cands]
        self.threshold = [self.total] * k
        self.alias = list(cands)
        small = [i for i in range(k) if scaled[i] < self.total]
        large = [i for i in range(k) if scaled[i] >= self.total]
        while small and large:
            s = small.pop()
            g = large[-1]
            self.threshold[s] = scaled[s]
            self.alias[s] = cands[g]
            scaled[g] -= self.total - scaled[s]
            if scaled[g] < self.total:
                large.pop()
                small.append(g)

    def choose(self, key, now):
        k = len(self.cands)
        if k == 0:
            return None
        for _ in range(32):
            if self.uniform:
                c, u = self.rng.below(k), 0
            elif k * self.total < 2**31:  # one draw gives both the column and the threshold test
                c, u = divmod(self.rng.below(k * self.total), self.total)
            else:
                c = self.rng.below(k)
                u = self.rng.below(self.total)
            d = self.cands[c] if u < self.threshold[c] else self.alias[c]
            if not d.overloaded:
                return d
        ok = [d for d in self.cands if not d.overloaded]
        total = sum(self.w(d) for d in ok)
        if total == 0:
            return None
        r = self.rng.below(total)
        for d in ok:
            r -= self.w(d)
            if r < 0:
                return d


@register
class RefIptables(RefScheduler):
    name = "iptables"
    insertion = "address"

    def init(self):
        self.rng = Xoshiro128(self.seed)

    def choose(self, key, now):
        eps = [d for d in self.listed if d.weight > 0]
        n = len(eps)
        for i, d in enumerate(eps[:-1]):
            if (self.rng.u32() & 0x7FFFFFFF) < probability_int(n - i):
                return d
        return eps[-1] if eps else None


@register
class RefNftables(RefScheduler):
    name = "nftables"
    insertion = "address"

    def init(self):
        self.rng = Xoshiro128(self.seed)

    def choose(self, key, now):
        eps = [d for d in self.listed if d.weight > 0]
        if not eps:
            return None
        return eps[(self.rng.u32() * len(eps)) >> 32]
