"""State machines: the nginx and HAProxy balancers against their plain-Python references, with their options.

``tests/test_stateful.py`` already runs every registered scheduler with its
default options. Here each machine also draws the family's options (nginx:
``down``, ``backup``, ``max_fails``, ``fail_timeout``, ``consistent``,
server strings, ``two``; HAProxy: ``backup``, ``allbackups``, ``ids``,
``hash_type``, ``hash_function``, ``avalanche``, uri cuts, ``draws``) and
steps (failed releases at advancing times, runtime adds of backup servers
or servers with ids, string keys), and checks after every step that both
made the same decisions and hold the same counters.
"""

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import lbalgo
from lbalgo import NoBackendAvailable
from lbalgo._table import ACTIVE, F_AVAILABLE, F_OVERLOAD, FLAGS, INACTIVE, SLOT, WEIGHT
from tests.reference import REFERENCES
from tests.support import KEY_POOL

STRINGS = ["/", "/a", "/a/b?x=1", "/a/b?x=2", "/img/cat.png", "/api/v1/items/42", "x" * 40, "é", "",
           "/a/b/c/d", "k1", "k2", "k3", "session-9f2"]
ADDRESSES = KEY_POOL.tolist()[:24] + ["2001:db8::1", "2001:db8::2:1", "10.1.2.3"]
weights_st = st.integers(0, 6)


def flags(n):
    return st.lists(st.booleans(), min_size=n, max_size=n)


def options_for(name, n):
    """A strategy of scheduler options for ``n`` backends."""
    if name.startswith("nginx-"):
        base = {"down": flags(n), "max_fails": st.integers(0, 3), "fail_timeout": st.integers(0, 5)}
        if name in ("nginx-rr", "nginx-least-conn"):
            base["backup"] = flags(n)
        if name == "nginx-hash":
            base["consistent"] = st.booleans()
            base["servers"] = st.lists(st.sampled_from(["a:80", "b:80", "c", "unix:/s", "a:80"]),
                                       min_size=n, max_size=n)
        if name == "nginx-random":
            base["two"] = st.booleans()
        return st.fixed_dictionaries(base)
    base = {"backup": flags(n), "allbackups": st.booleans()}
    if name != "haproxy-static-rr":
        base["ids"] = st.permutations(list(range(1, n + 1))).map(list) | st.just([None] * n)
    if name in ("haproxy-source", "haproxy-uri", "haproxy-hdr"):
        base["hash_type"] = st.sampled_from(["map-based", "consistent"])
        base["hash_function"] = st.sampled_from([None, "sdbm", "djb2", "wt6", "crc32"])
        base["avalanche"] = st.sampled_from([None, True, False])
    if name == "haproxy-uri":
        base["whole"] = st.booleans()
        base["len"] = st.sampled_from([0, 3, 8])
        base["depth"] = st.sampled_from([0, 1, 2])
    if name == "haproxy-random":
        base["draws"] = st.integers(1, 3)
    return st.fixed_dictionaries(base)


def _by_id(pool):
    return pool.table[:, pool.table[SLOT, : pool.n_ids]].T


def machine_for(name):
    cls = lbalgo.get(name)
    ref_cls = REFERENCES[name]
    nginx = name.startswith("nginx-")
    string_keyed = name in ("nginx-hash", "haproxy-uri", "haproxy-hdr")
    keys = STRINGS + KEY_POOL.tolist()[:8] if string_keyed else ADDRESSES

    class Machine(RuleBasedStateMachine):
        @initialize(data=st.data(), weights=st.lists(weights_st, min_size=1, max_size=6),
                    new_conns=st.sampled_from(["active", "inactive"]), thresholds=st.booleans(),
                    seed=st.integers(0, 2**32))
        def build(self, data, weights, new_conns, thresholds, seed):
            opts = data.draw(options_for(name, len(weights)))
            upper = [2] * len(weights) if thresholds else None
            self.real = cls(weights=weights, seed=seed, new_conns=new_conns, u_thresholds=upper, **opts)
            ref_opts = {k: v for k, v in opts.items() if v is not None}
            self.ref = ref_cls(weights, seed=seed, new_conns=new_conns, u_thresholds=upper, **ref_opts)
            self.now = 0.0
            self.accepts_backup = not nginx or name in ("nginx-rr", "nginx-least-conn")

        @rule(key=st.sampled_from(keys), dt=st.sampled_from([0.0, 0.4, 1.0, 3.0, 7.0]))
        def pick(self, key, dt):
            self.now += dt
            try:
                got = self.real.pick(key=key, now=self.now)
            except NoBackendAvailable:
                got = -1
            assert got == self.ref.pick(key=key, now=self.now)

        @precondition(lambda self: nginx)
        @rule(key=st.sampled_from(keys), dt=st.sampled_from([0.0, 0.0, 1.0, 2.0]), times=st.integers(1, 4))
        def failing_requests(self, key, dt, times):
            """Requests whose upstream fails at once (NGX_PEER_FAILED): fails, jail, effective weight."""
            for _ in range(times):
                self.now += dt
                try:
                    got = self.real.pick(key=key, now=self.now)
                except NoBackendAvailable:
                    got = -1
                assert got == self.ref.pick(key=key, now=self.now)
                if got >= 0:
                    self.real.release(got, failed=True, now=self.now)
                    self.ref.release(got, failed=True, now=self.now)

        @rule(data=st.data(), n=st.integers(1, 12))
        def pick_many(self, data, n):
            usable = [k for k in keys if not isinstance(k, str) or string_keyed]
            batch = data.draw(st.lists(st.sampled_from(usable), min_size=n, max_size=n))
            if string_keyed and not all(isinstance(k, str) for k in batch):
                batch = [k if isinstance(k, str) else "k" + str(k) for k in batch]
            if not string_keyed:
                batch = [k for k in batch if isinstance(k, int)] or [int(KEY_POOL[0])]
                batch = np.array(batch, dtype=np.int64)
            got = self.real.pick_many(batch, now=self.now).tolist()
            want = [self.ref.pick(key=k if isinstance(k, str) else int(k), now=self.now) for k in batch]
            assert got == want

        @rule(data=st.data(), failed=st.booleans())
        def release(self, data, failed):
            column = ACTIVE if self.real.pool.new_conns == "active" else INACTIVE
            candidates = np.flatnonzero(_by_id(self.real.pool)[:, column] > 0).tolist()
            if candidates:
                b = data.draw(st.sampled_from(candidates))
                if nginx:
                    self.real.release(b, failed=failed, now=self.now)
                    self.ref.release(b, failed=failed, now=self.now)
                else:
                    self.real.release(b)
                    self.ref.release(b)

        def _listed(self):
            return self.real.list_order.tolist()

        @precondition(lambda self: len(self._listed()) > 0)
        @rule(data=st.data(), w=weights_st)
        def set_weight(self, data, w):
            b = data.draw(st.sampled_from(self._listed()))
            self.real.set_weight(b, w)
            self.ref.set_weight(b, w)

        @precondition(lambda self: len(self._listed()) > 0)
        @rule(data=st.data(), upper=st.integers(0, 3))
        def set_thresholds(self, data, upper):
            b = data.draw(st.sampled_from(self._listed()))
            self.real.pool.set_thresholds(b, upper=upper)
            self.ref.set_thresholds(b, upper=upper)

        @rule(w=weights_st, backup=st.booleans(), with_id=st.booleans(),
              server=st.sampled_from(["a:80", "d"]))
        def add_backend(self, w, backup, with_id, server):
            kw = {}
            if backup and self.accepts_backup:
                kw["backup"] = True
            if name == "nginx-hash":
                kw["server"] = server
            if not nginx and with_id:
                used = set(self.real.server_ids.tolist())
                kw["id"] = next(i for i in range(1, 100) if i not in used)
            assert self.real.add_backend(w, **kw) == self.ref.add_backend(w, **kw)

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
            t = _by_id(self.real.pool)
            got = [(int(r[WEIGHT]), int(r[ACTIVE]), int(r[INACTIVE]), bool(r[FLAGS] & F_OVERLOAD),
                    bool(r[FLAGS] & F_AVAILABLE)) for r in t]
            assert got == self.ref.counters()
            assert self._listed() == [d.id for d in self.ref.listed]

    Machine.__name__ = f"{cls.__name__}OptionsMachine"
    return Machine


NAMES = [n for n in lbalgo.names() if n.startswith(("nginx-", "haproxy-"))]


@pytest.mark.parametrize("name", NAMES)
def test_matches_reference_with_options(name):
    machine = machine_for(name)
    machine.TestCase.settings = settings(max_examples=40, stateful_step_count=35, deadline=None)
    machine.TestCase().runTest()
