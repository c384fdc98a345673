"""The simulation engine: conservation, event order, pool events, service models.

The main oracle is ``reference_run``: the same workload driven through the
public Python API (``pick`` / ``release`` / ``Pool`` methods) by a heapq event
loop ordered (time, priority, sequence). The compiled engine must agree on
every decision and leave the pool and the scheduler's state identical.
"""

import contextlib
import heapq
import io
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lbalgo
from lbalgo import LBLC, RR, SH, WLC, WRR, NoBackendAvailable, Pool, Random, simulate
from lbalgo import workloads as W
from lbalgo.sim import Add, Fail, Quiesce, Recover, Remove, SetThresholds, SetWeight


def reference_run(sched, gen, events, key="client"):
    """Drive ``sched`` through the public API; return the backend per connection."""
    heap = []
    order = sorted(range(len(events)), key=lambda i: events[i].time)
    for r, i in enumerate(order):
        heap.append((float(events[i].time), 1, r, "pool", events[i]))
    n = len(gen.arrival)
    keys = gen.client if key == "client" else gen.destination
    for c in range(n):
        heap.append((float(gen.arrival[c]), 2, c, "arrive", c))
    heapq.heapify(heap)
    backend = np.full(n, -1, dtype=np.int64)
    remembered = {}
    seq = 0
    pool = sched.pool
    while heap:
        t, prio, _, kind, x = heapq.heappop(heap)
        if kind == "arrive":
            try:
                b = sched.pick(int(keys[x]), now=t)
            except NoBackendAvailable:
                continue
            backend[x] = b
            heapq.heappush(heap, (t + float(gen.lifetime[x]), 0, seq, "end", b))
            seq += 1
        elif kind == "end":
            sched.release(x)
        else:
            ev = x
            if isinstance(ev, Add):
                pool.add(ev.weight, address=ev.address, u_threshold=ev.u_threshold,
                         l_threshold=ev.l_threshold)
            elif isinstance(ev, Remove):
                pool.remove(ev.backend)
            elif isinstance(ev, SetWeight):
                pool.set_weight(ev.backend, ev.weight)
            elif isinstance(ev, Quiesce):
                pool.set_weight(ev.backend, 0)
            elif isinstance(ev, Fail):
                remembered[ev.backend] = int(pool.weights[ev.backend])
                pool.set_weight(ev.backend, 0)
            elif isinstance(ev, Recover):
                pool.set_weight(ev.backend, remembered.pop(ev.backend))
            elif isinstance(ev, SetThresholds):
                pool.set_thresholds(ev.backend, ev.upper, ev.lower)
    return backend


def _state_arrays(state):
    return list(state) if isinstance(state, tuple) else [state]


def _same_state(a, b):
    sa, sb = _state_arrays(a.state), _state_arrays(b.state)
    assert len(sa) == len(sb)
    for x, y in zip(sa, sb):
        np.testing.assert_array_equal(x, y)


EVENTS = [Add(3.0, weight=3), SetWeight(4.0, 1, 5), Quiesce(5.5, 2), Remove(6.0, 0), Fail(7.0, 3),
          Recover(8.5, 3), SetThresholds(9.0, 1, 4, 2), Add(9.0, weight=1)]


def workload(n=3000, rate=300.0, mean=0.05, seed=3, dests=False):
    return W.Workload(arrivals=W.poisson(rate=rate), n=n, lifetimes=W.exponential(mean=mean),
                      clients=W.zipf(n_clients=200, s=1.0),
                      destinations=W.uniform(n_clients=50, network="192.168.0.0/16") if dests else None,
                      seed=seed).generate()


@pytest.mark.parametrize("make, key", [
    (lambda: RR(weights=[1, 2, 3, 1]), "client"),
    (lambda: WRR(weights=[4, 3, 2, 1]), "client"),
    (lambda: WLC(weights=[4, 2, 1, 1], u_thresholds=[0, 6, 0, 0]), "client"),
    (lambda: SH(weights=[1, 1, 2, 1]), "client"),
    (lambda: LBLC(weights=[1, 1, 2, 1]), "destination"),
], ids=["rr", "wrr", "wlc", "sh", "lblc"])
def test_engine_matches_the_python_api_step_by_step(make, key):
    gen = workload(dests=key == "destination")
    a, b = make(), make()
    if hasattr(b, "reserve"):  # simulate() makes room for every pick first (LBLC's cache rows)
        b.reserve(len(gen.arrival))
    res = simulate(a, gen, events=EVENTS)
    expect = reference_run(b, gen, EVENTS, key=key)
    np.testing.assert_array_equal(res.trace.backend, expect)
    # The Python pool is left as the API would leave it.
    assert a.pool.n_ids == b.pool.n_ids == 6
    np.testing.assert_array_equal(a.pool.list_order, b.pool.list_order)
    np.testing.assert_array_equal(a.pool.table[: a.pool.n_ids], b.pool.table[: b.pool.n_ids])
    assert a.pool.addresses == b.pool.addresses and a.pool.ports == b.pool.ports
    _same_state(a, b)
    # And it keeps working from Python afterwards.
    assert a.pick(1234, now=100.0) == b.pick(1234, now=100.0)


def test_conservation_and_counters_return_to_zero():
    gen = workload(n=20000, rate=2000.0, mean=0.01)
    s = WLC(weights=[3, 1, 1], u_thresholds=[4, 2, 2])  # thresholds make some arrivals drop
    res = simulate(s, gen)
    b = res.trace.backend
    assert len(b) == 20000 and ((b >= -1) & (b < 3)).all()
    dropped = b == -1
    assert res.drops == int(dropped.sum()) > 0
    assert np.isnan(res.trace.end[dropped]).all() and not np.isnan(res.trace.end[~dropped]).any()
    assert res.counts().sum() + res.drops == 20000
    # every scheduled connection ends exactly once
    assert res.stats["connection_events"] == 20000 - res.drops
    assert res.events == 20000 + res.stats["connection_events"]
    assert not s.active_conns.any() and not s.inactive_conns.any()
    assert not s.pool.overloaded.any()


def test_equal_times_order_ends_then_pool_events_then_arrivals():
    # Arrivals at t = 0, 1, 2, ...; each lives exactly 1 s, so one ends as the next arrives.
    gen = W.Workload(arrivals=W.constant_rate(1.0), n=6, lifetimes=W.constant(1.0)).generate()
    s = WLC(weights=[1, 1])
    # Ends come first: the backend is free again, so WLC keeps choosing backend 0.
    res = simulate(s, gen)
    assert res.trace.backend.tolist() == [0] * 6
    # A pool event at t = 3 applies before the arrival at t = 3.
    s = RR(weights=[1, 1])
    res = simulate(s, gen, events=[Quiesce(3.0, 0)])
    assert res.trace.backend.tolist() == [0, 1, 0, 1, 1, 1]
    s = RR(weights=[1, 1])
    res = simulate(s, gen, events=[Quiesce(3.0 + 1e-9, 0)])
    assert res.trace.backend.tolist() == [0, 1, 0, 1, 1, 1]
    s = RR(weights=[1, 1])
    res = simulate(s, gen, events=[Quiesce(2.0 + 1e-9, 0)])
    assert res.trace.backend.tolist() == [0, 1, 0, 1, 1, 1]
    s = RR(weights=[1, 1])
    res = simulate(s, gen, events=[Quiesce(2.0, 0)])
    assert res.trace.backend.tolist() == [0, 1, 1, 1, 1, 1]


def test_pool_events_at_their_times_and_pool_left_consistent():
    gen = W.Workload(arrivals=W.constant_rate(10.0), n=100, lifetimes=W.constant(0.05)).generate()
    s = RR(pool=Pool([1, 1], addresses=["10.0.0.2", "10.0.0.9"], insertion="address"))
    res = simulate(s, gen, events=[Add(2.0, weight=1, address="10.0.0.5:80"), Fail(5.0, 0), Recover(8.0, 0)])
    t, b = res.trace.arrival, res.trace.backend
    assert set(b[t < 2.0]) == {0, 1} and set(b[(t >= 2.0) & (t < 5.0)]) == {0, 1, 2}
    assert set(b[(t >= 5.0) & (t < 8.0)]) == {1, 2} and set(b[t >= 8.0]) == {0, 1, 2}
    pool = s.pool
    assert pool.n_ids == 3 and len(pool.addresses) == 3 and pool.ports == [0, 0, 80]
    # kube-proxy string order: "10.0.0.2:0" < "10.0.0.5:80" < "10.0.0.9:0"
    assert pool.list_order.tolist() == [0, 2, 1]
    assert pool.weights.tolist() == [1, 1, 1]
    assert res.weights.tolist() == [1, 1, 1]


def test_per_id_state_is_resized_before_the_run():
    s = Random(weights=[1] * 3, seed=5)
    cap = s.pool.capacity
    events = [Add(0.5 + i * 0.01, weight=1) for i in range(cap)]
    gen = W.Workload(arrivals=W.constant_rate(100.0), n=500, lifetimes=W.constant(0.02)).generate()
    res = simulate(s, gen, events=events)
    assert s.pool.n_ids == 3 + cap and s.pool.capacity >= 3 + cap
    assert res.counts()[3:].sum() > 0 and not s.active_conns.any()
    # every added backend is drawn afterwards: the per-id state grew with the pool
    assert (np.bincount(s.pick_many(20_000), minlength=s.pool.n_ids) > 0).all()


def test_drops_when_nothing_qualifies():
    gen = W.Workload(arrivals=W.constant_rate(1.0), n=10, lifetimes=W.constant(0.5)).generate()
    s = RR(weights=[1, 1])
    res = simulate(s, gen, events=[Quiesce(4.5, 0), Quiesce(4.5, 1), SetWeight(7.0, 1, 1)])
    assert res.trace.backend.tolist() == [0, 1, 0, 1, 0, -1, -1, 1, 1, 1]
    assert res.drops == 2 and res.metrics()["dropped"] == 2


def test_fifo_queue_hand_computed():
    # One backend, one server: arrivals at 0,1,2,3 needing 2.5 s each.
    gen = W.Workload(arrivals=W.replay([0.0, 1.0, 2.0, 3.0]), lifetimes=W.constant(2.5)).generate()
    s = RR(weights=[1])
    res = simulate(s, gen, service="fifo", sample_every=1.0)
    assert res.trace.start.tolist() == [0.0, 2.5, 5.0, 7.5]
    assert res.trace.end.tolist() == [2.5, 5.0, 7.5, 10.0]
    # counted active while queued and in service
    assert res.samples_active[:, 0].tolist() == [1, 2, 3, 3, 3, 2, 2, 2, 1, 1, 0]
    m = res.metrics()
    assert m["wait"]["mean"] == pytest.approx((0 + 1.5 + 3 + 4.5) / 4)
    # two servers (weight 2) and speeds
    s = RR(weights=[2])
    res = simulate(s, gen, service="fifo", servers="weight")
    assert res.trace.start.tolist() == [0.0, 1.0, 2.5, 3.5]
    s = RR(weights=[1])
    res = simulate(s, gen, service="fifo", speeds=[2.5])
    assert res.trace.end.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_tcp_life_cycle_counters():
    gen = W.Workload(arrivals=W.constant_rate(1.0), n=2, lifetimes=W.constant(3.0)).generate()
    s = RR(pool=Pool([1], new_conns="inactive"))
    res = simulate(s, gen, lifecycle="tcp", establish=0.5, linger=2.0, sample_every=0.5)
    # conn 0: SYN 0, established 0.5, closed 3.5, gone 5.5; conn 1: 1, 1.5, 4.5, 6.5
    act = res.samples_active[:, 0].tolist()
    ina = res.samples_inactive[:, 0].tolist()
    times = res.sample_times.tolist()
    assert times == [0.5 * k for k in range(14)]
    assert act == [0, 1, 1, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0]
    assert ina == [1, 0, 1, 0, 0, 0, 0, 1, 1, 2, 2, 1, 1, 0]
    assert res.trace.start.tolist() == [0.5, 1.5] and res.trace.end.tolist() == [3.5, 4.5]
    assert not s.active_conns.any() and not s.inactive_conns.any()
    # UDP: never established
    s = RR(pool=Pool([1], new_conns="inactive"))
    res = simulate(s, gen, lifecycle="tcp", establish=math.inf, linger=1.0, sample_every=1.0)
    assert res.samples_active.sum() == 0 and res.samples_inactive[:, 0].tolist() == [1, 2, 2, 2, 1, 0]


def test_validation_errors():
    gen = workload(n=10)
    with pytest.raises(ValueError, match="new_conns='inactive'"):
        simulate(RR(weights=[1]), gen, lifecycle="tcp")
    with pytest.raises(lbalgo.UnknownBackend, match=r"events\[1\].*was removed"):
        simulate(RR(weights=[1, 1]), gen, events=[Remove(1.0, 0), SetWeight(2.0, 0, 3)])
    with pytest.raises(ValueError, match=r"events\[0\].*not failed"):
        simulate(RR(weights=[1, 1]), gen, events=[Recover(1.0, 0)])
    with pytest.raises(ValueError, match="time must be"):
        simulate(RR(weights=[1, 1]), gen, events=[Remove(-1.0, 0)])
    with pytest.raises(ValueError, match="service"):
        simulate(RR(weights=[1]), gen, service="lifo")
    with pytest.raises(ValueError, match="needs destinations"):
        simulate(LBLC(weights=[1]), gen)
    with pytest.raises(TypeError):
        simulate(RR(weights=[1]), [1, 2, 3])
    with pytest.raises(ValueError, match="servers"):
        simulate(RR(weights=[1, 1]), gen, service="fifo", servers=[1, 2, 3])
    bad = W.Generated(np.array([0.0, 1.0]), np.array([1.0, np.nan]), np.zeros(2, dtype=np.int64), None)
    with pytest.raises(ValueError, match=r"lifetime\[1\]"):
        simulate(RR(weights=[1]), bad)
    bad = W.Generated(np.array([1.0, 0.0]), np.ones(2), np.zeros(2, dtype=np.int64), None)
    with pytest.raises(ValueError, match="non-decreasing"):
        simulate(RR(weights=[1]), bad)
    shared = Pool([1, 1])
    a, _ = RR(pool=shared), WRR(pool=shared)
    with pytest.raises(ValueError, match="shared"):
        simulate(a, gen, events=[Quiesce(1.0, 0)])


def test_wlc_keeps_weighted_open_connections_level_until_the_arrivals_stop():
    wl = W.Workload(arrivals=W.poisson(rate=2000.0), n=20_000, lifetimes=W.lognormal(mean=2.0, sigma=1.0),
                    clients=W.zipf(n_clients=5_000, s=1.1), seed=7)
    weights = np.array([4, 2, 1, 1])
    res = simulate(WLC(weights=weights.tolist()), wl, sample_every=1.0)
    m = res.metrics()
    assert m["connections"] == 20_000 and m["dropped"] == 0
    assert m["open_max_over_mean"] < 1.2 and 0.97 < m["open_jain"] <= 1.0
    assert 0 < m["affinity_hit_ratio"] < 1
    # imbalance_max: the largest max / mean, over the samples, of the open connections per unit of weight
    per_weight = res.samples_active / weights
    mean = per_weight.mean(axis=1)
    loaded = mean > 0
    imbalance = per_weight[loaded].max(axis=1) / mean[loaded]
    assert m["imbalance_max"] == pytest.approx(imbalance.max(), rel=1e-12)
    # While connections keep arriving, WLC holds every backend within a few connections of its
    # share; the imbalance the metric reports comes from the drain after the last arrival.
    arriving = res.sample_times[loaded] <= res.trace.arrival[-1]
    assert arriving.sum() >= 9 and imbalance[arriving].max() < 1.01 < m["imbalance_max"]
    # The trace is the generated workload, each connection open for exactly its lifetime.
    gen = wl.generate()
    tr = res.trace
    np.testing.assert_array_equal(tr.arrival, gen.arrival)
    np.testing.assert_array_equal(tr.client, gen.client)
    np.testing.assert_array_equal(tr.end, gen.arrival + gen.lifetime)
    assert np.bincount(tr.backend, minlength=4).tolist() == m["counts"].tolist()


DETERMINISM = textwrap.dedent("""
    import hashlib, numpy as np
    from lbalgo import Random, simulate, workloads as W
    wl = W.Workload(arrivals=W.poisson(rate=500.0), n=5000, lifetimes=W.exponential(mean=0.1),
                    clients=W.uniform(n_clients=300), seed=11)
    res = simulate(Random(weights=[3, 2, 1], seed=4), wl, service="fifo")
    h = hashlib.sha256()
    for a in (res.trace.backend, res.trace.start, res.trace.end, res.trace.client):
        h.update(np.ascontiguousarray(a).tobytes())
    print(h.hexdigest())
""")


def test_same_seed_same_run_across_processes():
    outs = {subprocess.run([sys.executable, "-c", DETERMINISM], capture_output=True, text=True,
                           check=True).stdout.strip() for _ in range(2)}
    assert len(outs) == 1
    ns = {}
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(DETERMINISM, ns)
    assert buf.getvalue().strip() in outs


def test_trace_bytes_per_connection():
    gen = workload(n=1000)
    res = simulate(RR(weights=[1, 1]), gen)
    # arrival 8 + backend 4 + end 8 + client 8 (start shares the arrival array)
    assert res.trace.nbytes == 1000 * 28
    res = simulate(RR(weights=[1, 1]), gen, service="fifo")
    assert res.trace.nbytes == 1000 * 36


@pytest.mark.parametrize("cls", [lbalgo.LC, WLC])
def test_tree_index_is_told_about_every_counter_move(cls):
    # simulate() reports ends, establishes and closes through the scheduler's ``_touch``
    # kernel, so the tree index decides exactly as the scan.
    gen = workload(n=4000, rate=400.0, mean=0.05)
    weights = [4, 2, 1, 1, 3]
    scan = simulate(cls(weights=weights), gen, events=EVENTS)
    tree = simulate(cls(weights=weights, index="tree"), gen, events=EVENTS)
    np.testing.assert_array_equal(scan.trace.backend, tree.trace.backend)
    scan = simulate(cls(pool=Pool(weights, new_conns="inactive")), gen, lifecycle="tcp", establish=0.01,
                    linger=0.02)
    tree = simulate(cls(pool=Pool(weights, new_conns="inactive"), index="tree"), gen, lifecycle="tcp",
                    establish=0.01, linger=0.02)
    np.testing.assert_array_equal(scan.trace.backend, tree.trace.backend)


def test_processor_sharing_hand_computed():
    # One backend, speed 1. Job 0 (work 3) at t=0, job 1 (work 1) at t=1: alone until 1
    # (V=1), then two jobs at rate 1/2 each: job 1 (tag 2) leaves at 3, job 0 (tag 3) at 4.
    gen = W.Workload(arrivals=W.replay([0.0, 1.0]), lifetimes=W.given([3.0, 1.0])).generate()
    s = RR(weights=[1])
    res = simulate(s, gen, service="ps", sample_every=1.0)
    assert res.trace.end.tolist() == [4.0, 3.0] and res.trace.start.tolist() == [0.0, 1.0]
    assert res.samples_active[:, 0].tolist() == [1, 2, 2, 1, 0]
    assert not s.active_conns.any()
    # Equal tags leave in arrival order, at the same time; a speed of 2 halves everything.
    gen = W.Workload(arrivals=W.replay([0.0, 1.0]), lifetimes=W.given([2.0, 1.0])).generate()
    res = simulate(RR(weights=[1]), gen, service="ps")
    assert res.trace.end.tolist() == [3.0, 3.0]
    res = simulate(RR(weights=[1]), gen, service="ps", speeds=[2.0])
    assert res.trace.end.tolist() == [1.0, 1.5]
    # Many jobs: work is conserved (the processor is busy exactly while jobs are present).
    gen = W.Workload(arrivals=W.poisson(rate=0.8), n=5000, lifetimes=W.exponential(mean=1.0),
                     seed=4).generate()
    res = simulate(RR(weights=[1]), gen, service="ps")
    arrival, end = res.trace.arrival, res.trace.end
    # busy periods: a new one starts at an arrival after every earlier connection has ended
    starts = np.r_[True, arrival[1:] > np.maximum.accumulate(end)[:-1]]
    busy = (np.maximum.reduceat(end, np.flatnonzero(starts)) - arrival[starts]).sum()
    assert 100 < starts.sum() < len(arrival)  # idle gaps and queues both occur
    assert busy == pytest.approx(gen.lifetime.sum(), rel=1e-9)
    # (absolute tolerance: end - arrival loses bits when the times are large)
    assert (res.trace.sojourn >= gen.lifetime - 1e-12 * res.trace.end).all()
