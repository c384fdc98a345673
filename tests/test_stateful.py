"""Random operation sequences on each compiled scheduler and on its plain-Python reference.

A Hypothesis state machine applies the same pick / release / set_weight /
add_backend / remove_backend / set_thresholds / activate / deactivate steps to
both and checks after every step that they made the same decisions and hold
the same counters and flags.
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

NAMES = [n for n in lbalgo.names() if n in REFERENCES]
weights_st = st.integers(min_value=0, max_value=6)


def _by_id(pool):
    """The table's slot rows as one row per backend id (columns: the row constants)."""
    return pool.table[:, pool.table[SLOT, : pool.n_ids]].T


def machine_for(name):
    cls = lbalgo.get(name)
    ref_cls = REFERENCES[name]

    class Machine(RuleBasedStateMachine):
        @initialize(weights=st.lists(weights_st, min_size=0, max_size=6),
                    new_conns=st.sampled_from(["active", "inactive"]),
                    thresholds=st.booleans(), seed=st.integers(0, 2**32))
        def build(self, weights, new_conns, thresholds, seed):
            upper = [3] * len(weights) if thresholds else None
            self.real = cls(weights=weights, seed=seed, new_conns=new_conns, u_thresholds=upper)
            self.ref = ref_cls(weights, seed=seed, new_conns=new_conns, u_thresholds=upper)
            self.now = 0.0

        @rule(key=st.sampled_from(KEY_POOL.tolist()), dt=st.sampled_from([0.0, 0.5, 7.0, 61.0, 3600.0]))
        def pick(self, key, dt):
            self.now += dt
            try:
                got = self.real.pick(key=key, now=self.now)
            except NoBackendAvailable:
                got = -1
            assert got == self.ref.pick(key=key, now=self.now)

        @rule(n=st.integers(1, 20), key=st.sampled_from(KEY_POOL.tolist()))
        def pick_many(self, n, key):
            keys = np.roll(KEY_POOL, key % 7)[:n]
            got = self.real.pick_many(keys, now=self.now).tolist()
            assert got == [self.ref.pick(key=int(k), now=self.now) for k in keys]

        def _with_conns(self, column):
            t = _by_id(self.real.pool)
            return np.flatnonzero(t[:, column] > 0).tolist()

        @rule(data=st.data())
        def release(self, data):
            column = ACTIVE if self.real.pool.new_conns == "active" else INACTIVE
            candidates = self._with_conns(column)
            if candidates:
                b = data.draw(st.sampled_from(candidates))
                self.real.release(b)
                self.ref.release(b)

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
        @rule(data=st.data(), upper=st.integers(0, 4))
        def set_thresholds(self, data, upper):
            b = data.draw(st.sampled_from(self._listed()))
            self.real.pool.set_thresholds(b, upper=upper)
            self.ref.set_thresholds(b, upper=upper)

        @rule(w=weights_st)
        def add_backend(self, w):
            assert self.real.add_backend(w) == self.ref.add_backend(w)

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

    Machine.__name__ = f"{cls.__name__}Machine"
    return Machine


@pytest.mark.parametrize("name", NAMES)
def test_matches_reference(name):
    machine = machine_for(name)
    machine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
    machine.TestCase().runTest()
