"""IPVS rr and wrr, straight from Linux's net/netfilter/ipvs/ip_vs_rr.c and ip_vs_wrr.c."""

from __future__ import annotations

from math import gcd

from . import register
from .pool import DELETE, RefScheduler


@register
class RefRR(RefScheduler):
    name = "rr"

    def init(self):
        self.cursor = None  # None = list head, else the Backend last chosen

    def changed(self, event, index):
        if event == DELETE and self.cursor is not None and not self.cursor.available:
            # the deleted backend was under the cursor: step back to its predecessor
            self.cursor = self.listed[index - 1] if index > 0 else None

    def choose(self, key, now):
        listed = self.listed
        start = 0 if self.cursor is None else listed.index(self.cursor) + 1
        scan = listed[start:] + (listed[:start] if self.cursor is not None else [])
        for d in scan:
            if d.weight > 0 and not d.overloaded:
                self.cursor = d
                return d
        return None


@register
class RefWRR(RefScheduler):
    name = "wrr"

    def init(self):
        incremental = self.options.get("incremental", False)
        self.cl = None
        if incremental:
            full = self.listed[:]
            self.pool.listed = []
            self.cw, self.mw, self.di = 0, 0, 1
            for d in reversed(full):
                self.pool.listed.insert(0, d)
                self.reset()
        else:
            self.cw = 0
            self.reset()
            self.cw = self.mw

    def reset(self):
        positive = [d.weight for d in self.listed if d.weight > 0]
        g = 0
        for w in positive:
            g = gcd(g, w)
        self.di = g or 1
        self.mw = max([d.weight for d in self.listed], default=0) - (self.di - 1)
        self.cl = None
        if self.cw > self.mw or self.cw == 0:
            self.cw = self.mw
        elif self.di > 1:
            self.cw = (self.cw // self.di) * self.di + 1

    def changed(self, event, index):
        self.reset()

    def choose(self, key, now):
        if self.mw == 0:
            return None
        listed = self.listed
        last = self.cl
        stop = None
        last_pass = restarted = False
        start = 0 if last is None else listed.index(last) + 1
        while True:
            for d in listed[start:]:
                if not d.overloaded and d.weight >= self.cw:
                    self.cl = d
                    return d
                if d is stop:
                    self.cl = d
                    return None
            start = 0
            self.cw -= self.di
            if self.cw <= 0:
                self.cw = self.mw
                if last_pass or last is None:
                    self.cl = None
                    return None
                restarted = True
            last_pass = self.cw <= self.di
            if last_pass and restarted and last is not None:
                stop = last
