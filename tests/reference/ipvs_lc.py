"""IPVS lc, wlc, sed, nq, fo, ovf and twos, straight from Linux's ip_vs_{lc,wlc,sed,nq,fo,ovf,twos}.c.

All are stateless except twos, which draws from the same generator as lbalgo
(``Xoshiro128``) in the same order, so traces match for the same seed. The
lc / wlc references ignore ``index=``: the tree must decide as the scan does.
"""

from __future__ import annotations

from . import register
from .pool import RefScheduler
from .random_ import Xoshiro128


def overhead(d):
    return d.active * 256 + d.inactive


def eligible(d):
    return not d.overloaded and d.weight > 0


@register
class RefLC(RefScheduler):
    name = "lc"

    def choose(self, key, now):
        least = None
        for d in self.listed:
            if eligible(d) and (least is None or overhead(d) < overhead(least)):
                least = d
        return least


class _WeightedLeast(RefScheduler):
    """wlc's walk: the first candidate, then strictly smaller cost/weight among the rest."""

    def cost(self, d):
        raise NotImplementedError

    def choose(self, key, now):
        listed = self.listed
        start = next((i for i, d in enumerate(listed) if eligible(d)), None)
        if start is None:
            return None
        least = listed[start]
        for d in listed[start + 1:]:
            if d.overloaded:
                continue
            if self.cost(least) * d.weight > self.cost(d) * least.weight:
                least = d
        return least


@register
class RefWLC(_WeightedLeast):
    name = "wlc"

    def cost(self, d):
        return overhead(d)


@register
class RefSED(_WeightedLeast):
    name = "sed"

    def cost(self, d):
        return d.active + 1


@register
class RefNQ(RefScheduler):
    name = "nq"

    def choose(self, key, now):
        least = None
        for d in self.listed:
            if not eligible(d):
                continue
            if d.active == 0:
                return d
            if least is None or (least.active + 1) * d.weight > (d.active + 1) * least.weight:
                least = d
        return least


@register
class RefFO(RefScheduler):
    name = "fo"

    def choose(self, key, now):
        best, hw = None, 0
        for d in self.listed:
            if not d.overloaded and d.weight > hw:
                best, hw = d, d.weight
        return best


@register
class RefOVF(RefScheduler):
    name = "ovf"

    def choose(self, key, now):
        best = None
        for d in self.listed:
            if not eligible(d) or d.active > d.weight:
                continue
            if best is None or d.weight > best.weight:
                best = d
        return best


@register
class RefTWOS(RefScheduler):
    name = "twos"

    def init(self):
        self.rng = Xoshiro128(self.seed)

    def choose(self, key, now):
        cands = [d for d in self.listed if eligible(d)]
        if not cands:
            return None
        total = sum(d.weight for d in cands) + 1
        r1 = self.rng.below(total)
        r2 = self.rng.below(total)
        c1 = c2 = None
        for d in cands:
            r1 -= d.weight
            r2 -= d.weight
            if r1 <= 0 and c1 is None:
                c1 = d
            if r2 <= 0 and c2 is None:
                c2 = d
            if c1 is not None and c2 is not None:
                break
        if c2.weight * overhead(c1) > c1.weight * overhead(c2):
            return c2
        return c1
