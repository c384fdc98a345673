"""lblc and lblcr: compiled vs plain Python, keyed by destination address.

Workload: 10,000 distinct destination addresses drawn with Zipf-like
popularity (p_k ~ 1/k), one decision per millisecond of simulated time (so
GC ticks run every 60,000 decisions), weights 1..10.

Groups:

``locality-churn-<algo>-<n>``
    Steady state: each decision first releases the connection made ``8 n``
    decisions earlier (about 8 open connections per backend), then picks
    one. For lbalgo the whole loop is one compiled kernel (:func:`churn`).
``locality-pick-<algo>-<n>``
    ``pick_many(keys, now=times)`` only (counters grow), beside the reference.

``ns_per_decision`` (fastest round) goes into ``extra_info``, and
``speedup_vs_python`` for lbalgo (the reference of the group runs first).
Target: at least 40x the plain-Python reference at 100 backends.
"""

import numpy as np
import pytest

import lbalgo
from bench.conftest import mixed_weights, ns_per
from lbalgo._jit import kernel
from lbalgo._table import ACTIVE, COUNT_ACTIVE, INACTIVE, unbind
from tests.reference import REFERENCES

ALGOS = ["lblc", "lblcr"]
SIZES = [10, 100, 1000]
POPULATION = 10_000
TICK = 0.001  # seconds between decisions

_results: dict[tuple, float] = {}


def destinations(count, seed=0):
    """``count`` IPv4 destination addresses, Zipf-like over POPULATION addresses."""
    rng = np.random.default_rng(seed)
    addresses = (0x0A000000 + rng.choice(2**24, size=POPULATION, replace=False)).astype(np.uint32)
    p = 1.0 / np.arange(1, POPULATION + 1)
    return addresses[rng.choice(POPULATION, size=count, p=p / p.sum())]


@kernel(cache=False)
def churn(schedule, table, state, fstate, mode, keys, now, out, ring, cursor, steps):
    """``steps`` keyed decisions, each after releasing the one made ``len(ring)`` decisions ago.

    ``cursor`` = (ring position, position in ``keys``, decisions so far), kept across calls.
    ``schedule`` counts each connection itself; ``now`` is its one-element time array.
    """
    k = ring.shape[0]
    j = cursor[0]
    q = cursor[1]
    done = 0
    for _ in range(steps):
        old = ring[j]
        if old >= 0:
            unbind(table, old, mode == COUNT_ACTIVE)
        now[0] = cursor[2] * TICK
        backend = schedule(table, state, fstate, keys, now, out, q, q + 1, mode)
        cursor[2] += 1
        if backend >= 0:
            done += 1
        ring[j] = backend
        j = j + 1 if j + 1 < k else 0
        q = q + 1 if q + 1 < keys.shape[0] else 0
    cursor[0] = j
    cursor[1] = q
    return done


def _ns(benchmark, decisions):
    return ns_per(benchmark, decisions, "min")


def _steps(n):
    return max(20_000, 2_000_000 // n)


def _ref_steps(n):
    return max(100, 40_000 // n)


def _lbalgo_churn(benchmark, name, n):
    s = lbalgo.get(name)(weights=mixed_weights(n))
    s.reserve(POPULATION)  # each distinct address needs at most one entry (and for lblcr, n members)
    if name == "lblcr":
        s.reserve(POPULATION * 4)
    pool = s.pool
    keys = destinations(200_000).astype(np.int64)
    ring = np.full(8 * n, -1, dtype=np.int64)
    cursor = np.zeros(3, dtype=np.int64)
    now = np.zeros(1, dtype=np.float64)
    out = np.empty(len(keys), dtype=np.int64)
    args = (s._schedule.compiled, pool.table, s.state, s.fstate, pool.count_mode,
            keys, now, out, ring, cursor)
    churn(*args, len(ring))  # compile; one ring turn opens len(ring) connections
    steps = _steps(n)
    done = benchmark(churn.compiled, *args, steps)
    assert done == steps and s.cache_size <= POPULATION  # reserve() left a free row for every decision
    return _ns(benchmark, steps), steps, s.cache_size


def _ref_churn(benchmark, name, n):
    ref = REFERENCES[name](mixed_weights(n))
    keys = destinations(200_000).tolist()
    ring = [-1] * (8 * n)
    cursor = [0, 0, 0]
    steps = _ref_steps(n)

    def run(count=steps):
        pick, release = ref.pick, ref.release
        k = len(ring)
        j, q, t = cursor
        for _ in range(count):
            old = ring[j]
            if old >= 0:
                release(old)
            ring[j] = pick(keys[q], t * TICK)
            t += 1
            j = j + 1 if j + 1 < k else 0
            q = q + 1 if q + 1 < len(keys) else 0
        cursor[:] = [j, q, t]

    run(len(ring))
    benchmark.pedantic(run, rounds=3, iterations=1)
    return _ns(benchmark, steps), steps, len(ref.cache_entries())


def _record(benchmark, group, impl, n, ns, steps, cached):
    _results[(group, impl)] = ns
    info = dict(impl=impl, n_backends=n, decisions=steps, ns_per_decision=ns, cached_addresses=cached)
    if impl == "lbalgo" and ns and _results.get((group, "plain-python")):
        info["speedup_vs_python"] = _results[(group, "plain-python")] / ns
    benchmark.extra_info.update(info)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("impl", ["plain-python", "lbalgo"])
@pytest.mark.parametrize("name", ALGOS)
def test_churn(benchmark, name, impl, n):
    group = f"locality-churn-{name}-{n}"
    benchmark.group = group
    run = _lbalgo_churn if impl == "lbalgo" else _ref_churn
    ns, steps, cached = run(benchmark, name, n)
    _record(benchmark, group, impl, n, ns, steps, cached)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("impl", ["plain-python", "lbalgo"])
@pytest.mark.parametrize("name", ALGOS)
def test_pick(benchmark, name, impl, n):
    group = f"locality-pick-{name}-{n}"
    benchmark.group = group
    if impl == "lbalgo":
        count = _steps(n)
        keys = destinations(count, seed=1)
        times = np.arange(count) * TICK
        s = lbalgo.get(name)(weights=mixed_weights(n))
        s.pick_many(keys[:10], now=0.0)  # warm-up JIT / load cache
        state, fstate = s.state, s.fstate

        def run():
            # a fresh cache, counters and clock per round, so every round makes the same decisions
            s.pool.table[ACTIVE] = 0
            s.pool.table[INACTIVE] = 0
            s.state, s.fstate = state.copy(), fstate.copy()
            return s.pick_many(keys, now=times)

        ids = benchmark.pedantic(run, rounds=5, iterations=1)
        assert len(ids) == count and (ids >= 0).all()
        cached = s.cache_size
    else:
        count = _ref_steps(n)
        keys = destinations(count, seed=1).tolist()

        def run():
            ref = REFERENCES[name](mixed_weights(n))
            return [ref.pick(k, i * TICK) for i, k in enumerate(keys)], len(ref.cache_entries())

        ids, cached = benchmark.pedantic(run, rounds=3, iterations=1)
    _record(benchmark, group, impl, n, _ns(benchmark, count), count, cached)
