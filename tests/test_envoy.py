"""Envoy balancers: Envoy's host states against the reference, statistics, keys, bad input.

The general state machine (tests/test_stateful.py) covers picks, releases
and pool edits for every scheduler; the one here adds what only Envoy has
(health-check failure and recovery, exclusion, forced refreshes, injected
random streams) and runs each policy with its options.
"""

import math

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import lbalgo
from lbalgo import NoBackendAvailable, _table
from lbalgo.schedulers.envoy import (
    EnvoyLeastRequest,
    EnvoyMaglev,
    EnvoyRingHash,
    EnvoyRoundRobin,
    _hash,
    xxhash64_of,
)
from tests.reference import REFERENCES

CONFIGS = [
    ("envoy-round-robin", {}),
    ("envoy-round-robin", {"panic_threshold": 80, "fail_traffic_on_panic": True}),
    ("envoy-round-robin", {"slow_start": {"window": 30, "aggression": 2.0, "min_weight_percent": 5}}),
    ("envoy-least-request", {}),
    ("envoy-least-request", {"choice_count": 3, "active_request_bias": 0.5}),
    ("envoy-least-request", {"selection_method": "FULL_SCAN", "active_request_bias": 0.0}),
    ("envoy-least-request", {"slow_start": {"window": 20}}),
    ("envoy-random", {"panic_threshold": 0}),
    ("envoy-ring-hash", {"minimum_ring_size": 64, "hash_function": "MURMUR_HASH_2"}),
    ("envoy-ring-hash", {"minimum_ring_size": 16, "maximum_ring_size": 40, "hash_policy": "source_ip"}),
    ("envoy-maglev", {"table_size": 101}),
    ("envoy-maglev", {"table_size": 13, "hash_policy": "source_ip"}),
]
CLIENTS = [0x0A000001 + 7919 * i for i in range(16)]
HASHES = CLIENTS + [xxhash64_of(f"user-{i}") for i in range(16)] + [0, (1 << 64) - 1]


def _machine(name, options):
    cls = lbalgo.get(name)
    ref_cls = REFERENCES[name]
    source_ip = options.get("hash_policy") == "source_ip"
    keys = CLIENTS if source_ip else HASHES

    class Machine(RuleBasedStateMachine):
        @initialize(weights=st.lists(st.integers(0, 5), max_size=6), seed=st.integers(0, 2**32),
                    stream=st.none() | st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=5))
        def build(self, weights, seed, stream):
            opts = dict(options)
            if stream is not None:
                opts["random"] = stream
            self.real = cls(weights=weights, seed=seed, **opts)
            self.ref = ref_cls(weights, seed=seed, **opts)
            self.now = 0.0

        def _listed(self):
            return self.real.list_order.tolist()

        @rule(key=st.sampled_from(keys), dt=st.sampled_from([0.0, 0.25, 3.0, 11.0]), release=st.booleans())
        def pick(self, key, dt, release):
            self.now += dt
            key = key if cls.keyed else None
            try:
                got = self.real.pick(key=key, now=self.now)
            except NoBackendAvailable:
                got = -1
            assert got == self.ref.pick(key=key, now=self.now)
            if release and got >= 0:
                self.real.release(got)
                self.ref.release(got)

        @rule(n=st.integers(1, 12), shift=st.integers(0, 31))
        def pick_many(self, n, shift):
            batch = [keys[(shift + i) % len(keys)] for i in range(n)]
            arr = np.array(batch, dtype=np.uint64) if cls.keyed else n
            got = self.real.pick_many(arr, now=self.now).tolist()
            assert got == [self.ref.pick(key=k, now=self.now) for k in batch]

        @precondition(lambda self: self._listed())
        @rule(data=st.data(), w=st.integers(0, 5))
        def set_weight(self, data, w):
            b = data.draw(st.sampled_from(self._listed()))
            if self.real.pool.failed[b]:
                return
            self.real.set_weight(b, w)
            self.ref.set_weight(b, w)

        @precondition(lambda self: self._listed())
        @rule(data=st.data())
        def fail_or_recover(self, data):
            b = data.draw(st.sampled_from(self._listed()))
            if self.real.pool.failed[b]:
                self.real.pool.recover(b)
                self.ref.recover(b)
            else:
                self.real.pool.fail(b)
                self.ref.fail(b)

        @precondition(lambda self: self._listed())
        @rule(data=st.data(), excluded=st.booleans())
        def exclude(self, data, excluded):
            b = data.draw(st.sampled_from(self._listed()))
            self.real.exclude(b, excluded)
            self.ref.exclude(b, excluded)

        @rule(w=st.integers(0, 5), port=st.integers(1, 65535))
        def add_backend(self, w, port):
            address = f"192.0.2.{port % 250 + 1}:{port}"
            assert self.real.add_backend(w, address=address) == self.ref.add_backend(w, address=address)

        @precondition(lambda self: self._listed())
        @rule(data=st.data())
        def remove_backend(self, data):
            b = data.draw(st.sampled_from(self._listed()))
            self.real.remove_backend(b)
            self.ref.remove_backend(b)

        @rule()
        def refresh(self):
            self.real.refresh(now=self.now)
            self.ref.refresh(now=self.now)

        @rule(stream=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=4))
        def inject(self, stream):
            if cls.randomized:
                self.real.inject_random(stream)
                self.ref.inject_random(stream)

        @invariant()
        def same_counters(self):
            if hasattr(self, "real"):
                assert self.real.active_conns.tolist() == [d.active for d in self.ref.pool.backends]
                assert self.real.in_panic == self.ref.panic

    Machine.__name__ = f"{cls.__name__}EnvoyMachine"
    return Machine


@pytest.mark.parametrize("name, options", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_matches_reference_with_envoy_host_states(name, options):
    machine = _machine(name, options)
    machine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
    machine.TestCase().runTest()


# -- statistics -----------------------------------------------------------------------------------
def _released_picks(scheduler, n, picks):
    """Pick ``picks`` times, ending each request at once (the active counts stay pinned)."""
    counts = np.zeros(n, dtype=np.int64)
    pick, release = scheduler.pick, scheduler.release
    for _ in range(picks):
        b = pick()
        counts[b] += 1
        release(b)
    return counts


def test_p2c_prefers_the_less_loaded_as_two_draws_predict():
    """Two uniform draws, the one with fewer active requests kept: P(rank r) = ((n-r)^2 - (n-r-1)^2) / n^2.

    Active requests are pinned at 0, 1, 2, 3 (each pick is released at once).
    Bound: every share within 5 standard deviations of its expectation.
    """
    n, picks = 4, 100_000
    s = EnvoyLeastRequest([1] * n, seed=11)
    for b, k in enumerate([0, 1, 2, 3]):
        for _ in range(k):
            _table.bind(s.pool.table, b, True)
    counts = _released_picks(s, n, picks)
    expected = np.array([((n - r) ** 2 - (n - r - 1) ** 2) / n**2 for r in range(n)])
    sigma = np.sqrt(picks * expected * (1 - expected))
    assert np.all(np.abs(counts - picks * expected) < 5 * sigma), (counts, picks * expected)


def test_full_scan_spreads_ties_evenly():
    """Envoy's FullScanMultipleHostsWithLeastRequests: the three tied hosts share the picks (5 sigma)."""
    s = EnvoyLeastRequest([1] * 5, seed=3, selection_method="FULL_SCAN")
    for b, k in enumerate([3, 3, 1, 1, 1]):
        for _ in range(k):
            _table.bind(s.pool.table, b, True)
    picks = 60_000
    counts = _released_picks(s, 5, picks)
    assert counts[0] == counts[1] == 0
    sigma = math.sqrt(picks * (1 / 3) * (2 / 3))
    assert np.all(np.abs(counts[2:] - picks / 3) < 5 * sigma)


def test_random_is_uniform_over_healthy_hosts_whatever_the_weights():
    s = lbalgo.get("envoy-random")([1, 5, 9, 0], seed=5)
    counts = np.bincount(s.pick_many(60_000), minlength=4)
    assert counts[3] == 0
    sigma = math.sqrt(60_000 * (1 / 3) * (2 / 3))
    assert np.all(np.abs(counts[:3] - 20_000) < 5 * sigma)


# -- panic, exclusion, keys -------------------------------------------------------------------------
def test_excluded_hosts_leave_the_panic_arithmetic_but_serve_in_panic():
    s = EnvoyRoundRobin([1, 1, 1, 1], random=[0])
    s.exclude(2)
    s.exclude(3)
    s.pool.fail(0)
    assert not s.in_panic and s.healthy_hosts == [1]  # 1 of 2 counted hosts: 50 %, not below
    s.pool.fail(1)
    assert s.in_panic  # none of the 2 counted hosts is healthy
    assert s.pick_many(8).tolist() == [0, 1, 2, 3] * 2  # every host, the excluded and the failed too
    s.exclude(2, False)
    assert s.excluded.tolist() == [False, False, False, True]


def test_string_keys_hash_like_envoys_header_policy_and_source_ip_like_its_ip_policy():
    r = EnvoyRingHash([1, 1, 1], minimum_ring_size=32)
    assert r.lookup("user-7") == r.lookup(xxhash64_of("user-7"))
    ip = EnvoyRingHash([1, 1, 1], minimum_ring_size=32, hash_policy="source_ip")
    assert ip.lookup("10.1.2.3") == r.lookup(xxhash64_of("10.1.2.3"))
    batch = np.array([0x0A010203], dtype=np.uint32)
    assert ip.lookup_many(batch).tolist() == [r.lookup(xxhash64_of("10.1.2.3"))]
    with pytest.raises(ValueError, match="IPv4"):
        ip.pick(key="2001:db8::1")
    m = EnvoyMaglev([1, 1], table_size=7)
    assert m.pick_many(["a", "b"]).tolist() == [m.lookup(xxhash64_of("a")), m.lookup(xxhash64_of("b"))]


def test_host_keys_and_default_addresses():
    m = EnvoyMaglev([1, 1], addresses=["127.0.0.1:90", "[2001:db8::1]:443"], table_size=7)
    assert [m.host_key(0), m.host_key(1)] == ["127.0.0.1:90", "[2001:db8::1]:443"]
    b = m.add_backend(2)
    assert m.host_key(b) == "10.0.0.3:80"
    h = EnvoyMaglev([1], table_size=7, use_hostname_for_hashing=True, hostnames=["a.example"])
    with pytest.raises(ValueError, match="hostname"):
        h.add_backend(1)
    assert len(h.pool) == 1
    assert h.host_key(h.add_backend(1, hostname="b.example")) == "b.example"


def test_plain_python_hashes_agree_with_the_compiled_ones():
    data = np.frombuffer(bytes(range(200)), dtype=np.uint8)
    for n in (0, 3, 4, 7, 8, 31, 32, 33, 64, 100, 200):
        for seed in (0, 1, 12345):
            plain = _hash._signed(_hash._xxhash64_py(data, 0, n, seed) & _hash.M64)
            assert plain == _hash.xxhash64(data, 0, n, seed)
        seed = _hash.MURMUR_SEED
        assert _hash._murmur2_64_py(data, 0, n, seed) == _hash.murmur2_64(data, 0, n, seed)


def test_ring_regrows_when_weights_need_more_entries():
    r = EnvoyRingHash([1, 1], minimum_ring_size=8)
    small = int(r.state[lbalgo.schedulers.envoy._hosts.TABLE_SIZE])
    r.add_backend(1)
    r.set_weight(0, 65535)
    assert len(r.ring) > small
    assert set(r.lookup_many(np.arange(0, 2**63, 2**55, dtype=np.uint64)).tolist()) <= {0, 1, 2}


# -- bad input ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, options, error, match", [
    ("envoy-round-robin", {"panic_threshold": 101}, ValueError, "panic_threshold"),
    ("envoy-round-robin", {"panic_threshold": "50"}, TypeError, "panic_threshold"),
    ("envoy-round-robin", {"random": []}, ValueError, "at least one value"),
    ("envoy-round-robin", {"random": [-1]}, ValueError, "64-bit"),
    ("envoy-round-robin", {"slow_start": {"aggression": 1}}, ValueError, "window"),
    ("envoy-round-robin", {"slow_start": {"window": 10, "aggression": 0}}, ValueError, "aggression"),
    ("envoy-round-robin", {"slow_start": {"window": 10, "speed": 1}}, ValueError, "unknown key"),
    ("envoy-least-request", {"choice_count": 1}, ValueError, "choice_count"),
    ("envoy-least-request", {"active_request_bias": -1.0}, ValueError, "active_request_bias"),
    ("envoy-least-request", {"selection_method": "ALL"}, ValueError, "selection_method"),
    ("envoy-ring-hash", {"minimum_ring_size": 0}, ValueError, "minimum_ring_size"),
    ("envoy-ring-hash", {"hash_function": "CRC"}, ValueError, "hash_function"),
    ("envoy-ring-hash", {"hash_policy": "cookie"}, ValueError, "hash_policy"),
    ("envoy-ring-hash", {"use_hostname_for_hashing": True}, ValueError, "hostname"),
    ("envoy-ring-hash", {"hostnames": ["a"]}, ValueError, "hostnames has 1 entries"),
    ("envoy-maglev", {"table_size": 65536}, ValueError, "prime"),
    ("envoy-maglev", {"table_size": 5000017}, ValueError, "table_size"),
])
def test_bad_options_name_the_problem(name, options, error, match):
    with pytest.raises(error, match=match):
        lbalgo.get(name)(weights=[1, 1], **options)


def test_bad_calls_leave_the_scheduler_unchanged():
    s = EnvoyRoundRobin([1, 2, 3], seed=4)
    state, fstate = s.state.copy(), s.fstate.copy()
    with pytest.raises(ValueError):
        s.inject_random([1, 2**64])
    with pytest.raises(lbalgo.UnknownBackend):
        s.exclude(7)
    with pytest.raises(TypeError):
        s.exclude(0, "yes")
    with pytest.raises(ValueError):
        s.refresh(now=float("nan"))
    assert np.array_equal(s.state, state) and np.array_equal(s.fstate, fstate, equal_nan=True)
    r = EnvoyRingHash([1, 1])
    before = r.state.copy()
    for bad in (-1, 2**64, 1.5, None):
        with pytest.raises((TypeError, ValueError)):
            r.pick(key=bad)
    with pytest.raises(ValueError):
        r.pick_many(np.array([1, -2]))
    assert np.array_equal(r.state, before) and not r.active_conns.any()


GROWING = ["envoy-round-robin", "envoy-least-request", "envoy-ring-hash", "envoy-maglev"]


@pytest.mark.parametrize("name", GROWING)
def test_growing_the_table_changes_no_decision(name):
    """A resize (more backend ids) keeps the EDF trees, key bytes and tables as they were."""
    cls = lbalgo.get(name)
    a, b = cls([3, 1, 2, 5], seed=9), cls([3, 1, 2, 5], seed=9)
    keys = np.array(HASHES * 4, dtype=np.uint64)
    arg = keys if cls.keyed else len(keys)
    a.pick_many(arg)
    b.pick_many(arg)
    a.pool.reserve(500)
    assert a.pool.capacity > b.pool.capacity
    assert a.pick_many(arg).tolist() == b.pick_many(arg).tolist()
    assert a.add_backend(2, address="192.0.2.9:80") == b.add_backend(2, address="192.0.2.9:80")
    assert a.pick_many(arg).tolist() == b.pick_many(arg).tolist()
