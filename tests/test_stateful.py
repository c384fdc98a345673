"""Random operation sequences on each compiled scheduler and on its plain-Python reference.

A Hypothesis state machine builds a scheduler with options drawn for it
(lc / wlc with ``index="tree"`` as well as the scan, ``incremental`` wrr,
sh / mh ``port`` and ``fallback``, table sizes, lblc / lblcr expiration,
cache size and timer start, upper and lower thresholds per backend,
``new_conns``; a few hundred backends for the IPVS connection schedulers),
applies the same steps to it and to its
reference (picks one at a time and in batches with non-decreasing times,
releases of either kind through the scheduler or straight on the pool,
activate / deactivate, weight and threshold edits, backends added with
thresholds and removed) and checks after every step that both made the same
decisions and hold the same counters, flags and list order; for lblc and
lblcr, the same cache and GC state too.

A second machine does the same for ClientIP affinity (ipvs templates,
iptables and nftables lists) over an inner scheduler, comparing pins as well.

The nginx / HAProxy options and Envoy's host states have machines of their
own (``test_nginx_haproxy_stateful.py``, ``test_envoy.py``).
"""

import ipaddress

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import lbalgo
from lbalgo import NoBackendAvailable
from lbalgo._table import ACTIVE, F_AVAILABLE, F_OVERLOAD, FLAGS, INACTIVE, SLOT, WEIGHT
from lbalgo.schedulers.affinity import ClientIPAffinity
from tests.reference import REFERENCES
from tests.reference.affinity import RefClientIPAffinity
from tests.support import KEY_POOL

NAMES = [n for n in lbalgo.names() if n in REFERENCES]
# lblc / lblcr need long runs for their GC (a tick every 60 s, full sweeps every 30 ticks, size pressure)
STEPS = {"lblc": 120, "lblcr": 120}
DAY = 86400.0
weights_st = st.integers(min_value=0, max_value=6)
upper_st = st.integers(0, 3)
lower_st = st.integers(0, 3)
steps_st = st.sampled_from([0.0, 0.5, 1.0, 7.0, 61.0, 400.0, 3600.0])

# The IPVS connection schedulers also run with a few hundred backends (many equal loads: tie-breaks).
MANY = {"rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "twos"}

# Keys: IPv4 integers for every scheduler. The IPVS hashing schedulers also get IPv6 clients
# (X and Y share their 32-bit XOR fold with the IPv4 Z) and client ports; lblc / lblcr get the
# IPv6 destinations, whose cache entries must stay apart although they share a bucket.
X, Y = "2001:db8::1", "2001:db8::1:0:0"
Z = str(ipaddress.IPv4Address(0x20010DB9))
INTS = KEY_POOL.tolist()[:24]
HASHED = INTS + [X, Y, Z, "10.0.0.1:80", "10.0.0.1:8080", ("10.0.0.2", 443), ("10.0.0.2", 1), f"[{X}]:53"]
LOCALITY_STRINGS = [X, Y, Z, "10.0.0.1", "10.0.0.2"]


def key_groups(name):
    """Lists of keys that may be mixed in one batch (lblc's batches are all integers or all strings)."""
    if name in ("sh", "dh", "mh"):
        return [HASHED]
    if name in ("lblc", "lblcr"):
        return [INTS[:12], LOCALITY_STRINGS]
    return [INTS]


# Options that switch to another implementation get a test (and an example budget) each.
VARIANTS = {"lc": [{"index": "scan"}, {"index": "tree"}], "wlc": [{"index": "scan"}, {"index": "tree"}]}
CASES = [(name, fixed) for name in NAMES for fixed in VARIANTS.get(name, [{}])]


def options_for(name, fixed):
    """A strategy of the scheduler's own options (the pool options are drawn in ``build``)."""
    opts = {
        "wrr": {"incremental": st.booleans()},
        "random": {"weighted": st.booleans()},
        "sh": {"port": st.booleans(), "fallback": st.booleans(), "table_bits": st.sampled_from([4, 5, 8])},
        "dh": {"table_bits": st.sampled_from([4, 8])},
        "mh": {"port": st.booleans(), "fallback": st.booleans(),
               "table_size": st.sampled_from([251, 509, 4093])},
        "lblc": {"expiration": st.sampled_from([0.0, 50.0, 400.0, DAY]),
                 "max_size": st.sampled_from([0, 1, 3, 16384]), "start": st.sampled_from([0.0, 1000.5])},
        "userspace": {"affinity": st.booleans(), "timeout": st.sampled_from([1, 60, 10800]),
                      "protocol": st.sampled_from(["TCP", "UDP"])},
        # small tables keep the plain-Python rebuilds quick; test_envoy.py runs the options themselves
        "envoy-maglev": {"table_size": st.sampled_from([101, 1021])},
        "envoy-ring-hash": {"minimum_ring_size": st.sampled_from([16, 64, 256])},
    }
    opts["lblcr"] = opts["lblc"]
    return st.fixed_dictionaries({**opts.get(name, {}), **{k: st.just(v) for k, v in fixed.items()}})


def per_backend(n, values):
    """None (no thresholds) or one value per backend."""
    return st.none() | st.lists(values, min_size=n, max_size=n)


def _by_id(pool):
    """The table's slot rows as one row per backend id (columns: the row constants)."""
    return pool.table[:, pool.table[SLOT, : pool.n_ids]].T


def _pick(s, key, now):
    try:
        return s.pick(key=key, now=now)
    except NoBackendAvailable:
        return -1


def machine_for(name, fixed=None):
    cls = lbalgo.get(name)
    ref_cls = REFERENCES[name]
    groups = key_groups(name)
    all_keys = [k for g in groups for k in g]
    few = st.lists(weights_st, min_size=0, max_size=6)
    many = st.lists(st.integers(0, 3), min_size=20, max_size=300)
    if name in MANY:  # about a quarter of the runs with many backends
        weights_of = st.sampled_from([few, few, few, many]).flatmap(lambda weights: weights)
    else:
        weights_of = few

    class Machine(RuleBasedStateMachine):
        @initialize(data=st.data(), weights=weights_of, new_conns=st.sampled_from(["active", "inactive"]),
                    seed=st.integers(0, 2**32), options=options_for(name, fixed or {}))
        def build(self, data, weights, new_conns, seed, options):
            upper = data.draw(per_backend(len(weights), upper_st), label="u_thresholds")
            lower = data.draw(per_backend(len(weights), lower_st), label="l_thresholds")
            pool = dict(seed=seed, new_conns=new_conns, u_thresholds=upper, l_thresholds=lower)
            self.real = cls(weights=weights, **pool, **options)
            self.ref = ref_cls(weights, **pool, **options)
            self.now = options.get("start", 0.0)  # lblc / lblcr: their GC timer starts there

        @rule(key=st.sampled_from(all_keys), dt=steps_st)
        def pick(self, key, dt):
            self.now += dt
            assert _pick(self.real, key, self.now) == self.ref.pick(key=key, now=self.now)

        @rule(data=st.data(), group=st.sampled_from(groups), spread=st.booleans())
        def pick_many(self, data, group, spread):
            keys = data.draw(st.lists(st.sampled_from(group), min_size=1, max_size=20), label="keys")
            if spread:  # one non-decreasing time per connection
                times = self.now + np.cumsum(data.draw(st.lists(steps_st, min_size=len(keys),
                                                                max_size=len(keys)), label="steps"))
                now = times
                self.now = float(times[-1])
            else:
                times = [self.now] * len(keys)
                now = self.now
            got = self.real.pick_many(keys, now=now).tolist()
            assert got == [self.ref.pick(key=k, now=float(t)) for k, t in zip(keys, times)]

        def _with_conns(self, column):
            t = _by_id(self.real.pool)
            return np.flatnonzero(t[:, column] > 0).tolist()

        @rule(data=st.data(), kind=st.sampled_from([None, True, False]), on_pool=st.booleans(),
              count=st.integers(1, 3))
        def release(self, data, kind, on_pool, count):
            """Connections of one backend end (of the default kind or a given one), told to the scheduler
            or straight to its pool."""
            column = ACTIVE if (self.real.pool.new_conns == "active" if kind is None else kind) else INACTIVE
            candidates = self._with_conns(column)
            if candidates:
                b = data.draw(st.sampled_from(candidates))
                for _ in range(min(count, int(_by_id(self.real.pool)[b, column]))):
                    (self.real.pool if on_pool else self.real).release(b, active=kind)
                    self.ref.release(b, kind)

        @rule(data=st.data())
        def activate(self, data):
            candidates = self._with_conns(INACTIVE)
            if candidates:
                b = data.draw(st.sampled_from(candidates))
                self.real.pool.activate(b)
                self.ref.activate(b)

        @rule(data=st.data())
        def deactivate(self, data):
            candidates = self._with_conns(ACTIVE)
            if candidates:
                b = data.draw(st.sampled_from(candidates))
                self.real.pool.deactivate(b)
                self.ref.deactivate(b)

        def _listed(self):
            return self.real.list_order.tolist()

        @precondition(lambda self: len(self._listed()) > 0)
        @rule(data=st.data(), w=weights_st)
        def set_weight(self, data, w):
            b = data.draw(st.sampled_from(self._listed()))
            self.real.set_weight(b, w)
            self.ref.set_weight(b, w)

        @precondition(lambda self: len(self._listed()) > 0)
        @rule(data=st.data(), upper=upper_st, lower=lower_st)
        def set_thresholds(self, data, upper, lower):
            b = data.draw(st.sampled_from(self._listed()))
            self.real.pool.set_thresholds(b, upper=upper, lower=lower)
            self.ref.set_thresholds(b, upper=upper, lower=lower)

        @rule(w=weights_st, upper=upper_st, lower=lower_st)
        def add_backend(self, w, upper, lower):
            got = self.real.add_backend(w, u_threshold=upper, l_threshold=lower)
            assert got == self.ref.add_backend(w, u_threshold=upper, l_threshold=lower)

        @precondition(lambda self: len(self._listed()) > 0)
        @rule(data=st.data())
        def remove_backend(self, data):
            b = data.draw(st.sampled_from(self._listed()))
            self.real.remove_backend(b)
            self.ref.remove_backend(b)

        @invariant()
        def same_pool(self):
            if not hasattr(self, "real"):
                return
            pool = self.real.pool
            t = _by_id(pool)
            got = [(int(r[WEIGHT]), int(r[ACTIVE]), int(r[INACTIVE]), bool(r[FLAGS] & F_OVERLOAD),
                    bool(r[FLAGS] & F_AVAILABLE)) for r in t]
            assert got == self.ref.counters()
            assert self._listed() == [d.id for d in self.ref.listed]

        if name in ("lblc", "lblcr"):
            @invariant()
            def same_cache(self):
                if not hasattr(self, "real"):
                    return
                real, ref = self.real, self.ref
                assert {a: tuple(e) for a, e in real.cache_entries().items()} == ref.cache_entries()
                gc = (real.entry_counter, real.gc_counter, real.rover)
                assert gc == (ref.entries, ref.counter, ref.rover)

    Machine.__name__ = f"{cls.__name__}Machine"
    return Machine


@pytest.mark.parametrize("name, fixed", CASES, ids=[name + "".join(f"-{v}" for v in fixed.values())
                                                    for name, fixed in CASES])
def test_matches_reference(name, fixed):
    machine = machine_for(name, fixed)
    machine.TestCase.settings = settings(max_examples=50, stateful_step_count=STEPS.get(name, 40),
                                         deadline=None)
    machine.TestCase().runTest()


# -- ClientIP affinity over an inner scheduler -------------------------------------------------------
CLIENTS = [0x0A000001 + i for i in range(6)]
# (inner scheduler, mode, expire_quiescent_template)
AFFINITY_CASES = [("rr", "ipvs", True), ("rr", "ipvs", False), ("wrr", "ipvs", True), ("lc", "ipvs", False),
                  ("iptables", "iptables", None), ("rr", "iptables", None), ("nftables", "nftables", None)]


def affinity_machine(inner, mode, eqt):
    class Machine(RuleBasedStateMachine):
        @initialize(data=st.data(), weights=st.lists(st.integers(0, 2), min_size=1, max_size=4),
                    timeout=st.sampled_from([1, 5, 60]), capacity=st.sampled_from([1, 2, 100]),
                    new_conns=st.sampled_from(["active", "inactive"]))
        def build(self, data, weights, timeout, capacity, new_conns):
            upper = data.draw(per_backend(len(weights), st.integers(0, 3)), label="u_thresholds")
            opts = dict(timeout=timeout, mode=mode)
            if mode == "ipvs":
                opts["expire_quiescent_template"] = eqt
            else:
                opts["capacity"] = capacity
            pool = dict(seed=4, u_thresholds=upper, new_conns=new_conns)
            self.real = ClientIPAffinity(lbalgo.get(inner)(weights=weights, **pool), **opts)
            self.ref = RefClientIPAffinity(REFERENCES[inner](weights, **pool), **opts)
            self.now = 0.0
            self.live = []  # (backend, client) of the open connections

        @rule(client=st.sampled_from(CLIENTS), dt=st.sampled_from([0.0, 0.5, 1.0, 2.5, 5.0, 10.0]),
              batch=st.booleans())
        def pick(self, client, dt, batch):
            self.now += dt
            if batch:
                got = self.real.pick_many([client], now=self.now)[0]
            else:
                got = _pick(self.real, client, self.now)
            assert got == self.ref.pick(client, self.now)
            if got >= 0:
                self.live.append((int(got), client))

        @rule(clients=st.lists(st.sampled_from(CLIENTS), min_size=2, max_size=8),
              dts=st.lists(st.sampled_from([0.0, 0.5, 2.5]), min_size=8, max_size=8))
        def pick_many(self, clients, dts):
            times = self.now + np.cumsum(dts[: len(clients)])
            got = self.real.pick_many(clients, now=times).tolist()
            assert got == [self.ref.pick(c, float(t)) for c, t in zip(clients, times)]
            self.now = float(times[-1])
            self.live += [(b, c) for b, c in zip(got, clients) if b >= 0]

        @precondition(lambda self: self.live)
        @rule(i=st.integers(0, 50), with_key=st.booleans())
        def release(self, i, with_key):
            b, client = self.live.pop(i % len(self.live))
            key = client if with_key else None
            self.real.release(b, key=key, now=self.now)
            self.ref.release(b, key, self.now)

        @precondition(lambda self: len(self.real.list_order) > 0)
        @rule(i=st.integers(0, 50), w=st.integers(0, 2))
        def set_weight(self, i, w):
            listed = self.real.list_order.tolist()
            b = listed[i % len(listed)]
            self.real.set_weight(b, w)
            self.ref.set_weight(b, w)

        @precondition(lambda self: len(self.real.list_order) > 0)
        @rule(i=st.integers(0, 50))
        def remove_backend(self, i):
            listed = self.real.list_order.tolist()
            b = listed[i % len(listed)]
            self.real.remove_backend(b)
            self.ref.remove_backend(b)

        @rule(w=st.integers(0, 2))
        def add_backend(self, w):
            assert self.real.add_backend(w) == self.ref.add_backend(w)

        @invariant()
        def same_state(self):
            if not hasattr(self, "real"):
                return
            p = self.real.pool
            got = [(int(p.weights[b]), int(p.active_conns[b]), int(p.inactive_conns[b]),
                    int(p.persist_conns[b]), bool(p.overloaded[b]), bool(p.available[b]))
                   for b in range(p.n_ids)]
            assert got == self.ref.counters()
            pins = {int(a): tuple(v) for a, v in self.real.pinned(self.now).items()}
            assert pins == self.ref.pinned(self.now)

    Machine.__name__ = f"Affinity{inner.title()}{mode.title()}Machine"
    return Machine


@pytest.mark.parametrize("inner, mode, eqt", AFFINITY_CASES)
def test_affinity_matches_reference(inner, mode, eqt):
    machine = affinity_machine(inner, mode, eqt)
    machine.TestCase.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)
    machine.TestCase().runTest()
