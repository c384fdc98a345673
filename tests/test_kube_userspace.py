"""kube-proxy's userspace mode: the shuffled round robin, its ClientIP map, the dial retries."""

import itertools
from pathlib import Path

import numpy as np
import pytest

import lbalgo
from lbalgo import NoBackendAvailable, UserspaceRR
from lbalgo.kube import Node, Service, load_endpointslices
from lbalgo.schedulers.affinity import ClientIPAffinity
from lbalgo.sim import Fail, Recover
from tests.reference import REFERENCES
from tests.reference.random_ import Xoshiro128

DATA = Path(__file__).parent / "data"
ADDRS = [f"10.0.0.{i}:80" for i in range(5)]


def make(n=5, **kw):
    return UserspaceRR(weights=[1] * n, seed=kw.pop("seed", 7), addresses=ADDRS[:n] if n <= 5 else None, **kw)


# -- the shuffle -----------------------------------------------------------------------------------


def test_exact_sequence_for_a_fixed_seed():
    s = make()
    assert s.endpoint_order == [2, 0, 4, 3, 1] and s.index == 0 and s.shuffles == 1
    assert [s.pick(now=float(i)) for i in range(7)] == [2, 0, 4, 3, 1, 2, 0]
    s.add_backend(1, address="10.0.0.9:80")  # a new set: reshuffled, index back to 0
    assert s.endpoint_order == [2, 0, 4, 3, 5, 1] and s.index == 0 and s.shuffles == 2
    assert [s.pick(now=10.0 + i) for i in range(6)] == [2, 0, 4, 3, 5, 1]
    s.remove_backend(2)
    assert s.endpoint_order == [5, 4, 0, 1, 3]
    assert [s.pick(now=20.0 + i) for i in range(5)] == [5, 4, 0, 1, 3]
    # The plain-Python reference (a list, an index, Go's Perm) agrees pick for pick.
    ref = REFERENCES["userspace"]([1] * 5, seed=7, addresses=ADDRS)
    got = [ref.pick(now=float(i)) for i in range(7)]
    ref.add_backend(1, address="10.0.0.9:80")
    got += [ref.pick(now=10.0 + i) for i in range(6)]
    ref.remove_backend(2)
    got += [ref.pick(now=20.0 + i) for i in range(5)]
    assert got == [2, 0, 4, 3, 1, 2, 0] + [2, 0, 4, 3, 5, 1] + [5, 4, 0, 1, 3]


@pytest.mark.parametrize("seed", range(8))
def test_two_endpoints_by_hand(seed):
    # Perm(2): i = 0 draws Intn(1) = 0 (one u32 consumed); i = 1 draws j = Intn(2), the top bit
    # of the second u32. j = 0 gives m = [1, 0]: ShuffleStrings puts s[0] at 1, s[1] at 0.
    rng = Xoshiro128(seed)
    rng.u32()
    j = rng.u32() >> 31
    assert UserspaceRR(weights=[1, 1], seed=seed).endpoint_order == ([1, 0] if j == 0 else [0, 1])


def test_the_shuffle_is_uniform_over_orders():
    counts = {p: 0 for p in itertools.permutations(range(4))}
    for seed in range(4800):
        counts[tuple(UserspaceRR(weights=[1] * 4, seed=seed).endpoint_order)] += 1
    observed = np.array(list(counts.values()), dtype=float)
    chi2 = ((observed - 200.0) ** 2 / 200.0).sum()
    assert chi2 < 49.7  # 23 degrees of freedom, p = 0.001


def test_only_a_change_of_the_set_reshuffles():
    s = make()
    order = s.endpoint_order
    s.pick(now=0.0)
    s.pick(now=0.0)
    s.set_weight(3, 5)  # still in the set: nothing happens
    s.pool.fail(4)  # a failed pod stays listed in the Endpoints object
    s.pool.recover(4)
    assert (s.endpoint_order, s.index, s.shuffles) == (order, 2, 1)
    s.set_weight(3, 0)  # out of the set
    assert s.shuffles == 2 and s.index == 0 and 3 not in s.endpoint_order
    with s.batch():  # one Endpoints update with three edits: one comparison, one shuffle
        s.set_weight(3, 1)
        s.remove_backend(0)
        s.add_backend(1, address="10.0.0.7:80")
    assert s.shuffles == 3 and sorted(s.endpoint_order) == [1, 2, 3, 4, 5]
    with s.batch():  # edits that end with the same set: no shuffle at all
        s.set_weight(1, 0)
        s.set_weight(1, 1)
    assert s.shuffles == 3


def test_the_kube_proxy_family_and_registry():
    cls = lbalgo.get("userspace")
    assert cls is UserspaceRR and cls.family == "kube-proxy" and cls.randomized
    assert "userspace" in lbalgo.names()
    with pytest.raises(ValueError, match="timeout must be in 1..86400"):
        UserspaceRR(weights=[1], affinity=True, timeout=0)
    with pytest.raises(ValueError, match="SCTP"):
        UserspaceRR(weights=[1], protocol="SCTP")
    with pytest.raises(TypeError, match="affinity"):
        UserspaceRR(weights=[1], affinity="yes")


# -- ClientIP affinity -----------------------------------------------------------------------------


def test_affinity_expires_at_the_truncation_boundary():
    # int(time.Since(last).Seconds()) < ttl: the entry is reused up to, not at, ttl seconds.
    s = make(affinity=True, timeout=10)
    first = s.pick("10.1.0.1", now=0.0)
    assert s.pick("10.1.0.1", now=9.75) == first  # int(9.75) = 9 < 10 (rounding would say 10)
    assert s.entries()[next(iter(s.entries()))].last_used == 9.75  # refreshed on use
    assert s.pick("10.1.0.1", now=19.5) == first  # 9.75 s after the refresh
    index = s.index
    nxt = s.endpoint_order[index]
    assert s.pick("10.1.0.1", now=29.5) == nxt != first  # exactly 10.0 s: expired, round robin
    assert s.index == (index + 1) % 5
    # iptables' xt_recent (--rcheck --seconds 10) still matches at exactly 10 s: the modes differ.
    it = ClientIPAffinity(lbalgo.get("iptables")(weights=[1] * 5, seed=7), mode="iptables", timeout=10)
    b = it.pick("10.1.0.1", now=0.0)
    assert it.pick("10.1.0.1", now=10.0) == b


def test_affinity_hits_do_not_move_the_index_and_misses_overwrite():
    s = make(affinity=True, timeout=60)
    order = s.endpoint_order
    assert [s.pick(c, now=1.0) for c in ("10.1.0.1", "10.1.0.2", "10.1.0.1", "10.1.0.3")] == \
        [order[0], order[1], order[0], order[2]]
    assert s.index == 3 and s.clients == 3
    # One entry per client: after expiry the new endpoint replaces the old one.
    assert s.pick("10.1.0.1", now=100.0) == order[3]
    assert s.entries()[next(c for c in s.entries() if str(c) == "10.1.0.1")] == (order[3], 100.0)
    assert s.pinned(100.0) == {c: e.backend for c, e in s.entries().items() if str(c) == "10.1.0.1"}


def test_affinity_entries_go_with_their_endpoint():
    s = make(affinity=True, timeout=3600)
    clients = [f"10.1.0.{i}" for i in range(5)]
    pinned = {c: s.pick(c, now=0.0) for c in clients}  # one client per endpoint
    gone = pinned["10.1.0.2"]
    s.remove_backend(gone)
    kept = {str(c): e.backend for c, e in s.entries().items()}
    assert "10.1.0.2" not in kept and kept == {c: b for c, b in pinned.items() if b != gone}
    # The others stay pinned across the reshuffle; the orphan is balanced anew.
    assert all(s.pick(c, now=1.0) == b for c, b in kept.items())
    assert s.pick("10.1.0.2", now=1.0) != gone
    # No endpoint at all (resetService): every entry goes, and a returning set starts empty.
    with s.batch():
        for b in s.list_order.tolist():
            s.remove_backend(int(b))
    assert s.entries() == {}
    with pytest.raises(NoBackendAvailable, match="no endpoints"):
        s.pick("10.1.0.1", now=2.0)


def test_entries_are_pruned_while_affinity_is_off():
    s = make(affinity=True, timeout=3600)
    b = s.pick("10.1.0.1", now=0.0)
    s.set_affinity(False)
    s.remove_backend(b)  # removeStaleAffinity runs whatever the affinity type
    s.set_affinity(True)
    assert s.entries() == {} and s.pick("10.1.0.1", now=1.0) != b


def test_ipv6_clients_keep_their_identity():
    s = make(affinity=True, timeout=60)
    a, b = "2001:db8::1", "2001:db8:0:0:1::"  # distinct addresses whose 32-bit folds collide
    assert s.pick(a, now=0.0) != s.pick(b, now=0.0)
    assert s.clients == 2


def test_times_must_not_go_back():
    s = make()
    s.pick(now=5.0)
    with pytest.raises(ValueError, match="goes back in time"):
        s.pick(now=4.0)
    with pytest.raises(ValueError, match="goes back in time"):
        s.pick_many(3, now=np.array([6.0, 5.0, 7.0]))


# -- failed dials ------------------------------------------------------------------------------------


def test_a_failed_dial_costs_its_timeout_and_moves_on():
    s = make()
    order = s.endpoint_order
    s.pool.fail(order[1])
    assert s.pick(now=0.0) == order[0] and s.dial_delays().tolist() == [0.0]
    assert s.pick(now=1.0) == order[2] and s.dial_delays().tolist() == [0.25]  # 250 ms, then the next
    assert s.busy_until == 1.25
    # Three failed endpoints in a row (order[4], order[0], order[1]): 250 + 500 + 1000 ms.
    s.pool.fail(order[4])
    s.pool.fail(order[0])
    assert [s.pick(now=2.0 + i) for i in range(2)] == [order[3], order[2]]
    assert s.dial_delays(1).tolist() == [1.75]
    # Every endpoint failed: four dials (3.75 s), then the client connection is closed.
    for b in order:
        if not s.pool.failed[b]:
            s.pool.fail(b)
    with pytest.raises(NoBackendAvailable, match="all four dials failed"):
        s.pick(now=10.0)
    assert s.busy_until == 13.75 and s.dial_delays().tolist() == [3.75]


def test_the_accept_loop_waits_for_a_failing_dial():
    s = make()
    order = s.endpoint_order
    s.pool.fail(order[0])
    ids = s.pick_many(4, now=np.array([0.0, 0.1, 0.2, 0.5]))
    assert ids.tolist() == [order[1], order[2], order[3], order[4]]
    # The first waited 250 ms; the next ones queued behind it until t = 0.25.
    assert s.dial_delays().tolist() == pytest.approx([0.25, 0.15, 0.05, 0.0])


def test_retry_resets_affinity_to_the_next_endpoint():
    s = make(affinity=True, timeout=600)
    order = s.endpoint_order
    pinned = s.pick("10.1.0.1", now=0.0)
    assert pinned == order[0]
    s.pool.fail(pinned)  # the pod stops answering; the Endpoints object still lists it
    assert s.pick("10.1.0.1", now=5.0) == order[1]  # affinity dial fails, the retry takes the next
    assert s.dial_delays().tolist() == [0.25]
    assert s.entries()[next(iter(s.entries()))] == (order[1], 5.25)  # re-pinned when the retry ran
    assert s.pick("10.1.0.1", now=6.0) == order[1] and s.dial_delays().tolist() == [0.0]


def test_udp_dials_never_fail():
    s = make(protocol="UDP")
    order = s.endpoint_order
    s.pool.fail(order[0])
    assert s.pick(now=0.0) == order[0] and s.dial_delays().tolist() == [0.0]


def test_failed_dials_match_the_reference():
    rng = np.random.default_rng(3)
    real = make(affinity=True, timeout=30, seed=11)
    ref = REFERENCES["userspace"]([1] * 5, seed=11, addresses=ADDRS, affinity=True, timeout=30)
    now = 0.0
    for step in range(400):
        now += float(rng.choice([0.0, 0.1, 0.3, 2.0, 31.0]))
        op = rng.random()
        if op < 0.08:
            b = int(rng.integers(0, 5))
            listed = real.pool.failed[b]
            (real.pool.recover if listed else real.pool.fail)(b)
            (ref.recover if listed else ref.fail)(b)
            continue
        client = f"10.2.0.{int(rng.integers(0, 12))}"
        try:
            got = real.pick(client, now=now)
        except NoBackendAvailable:
            got = -1
        assert got == ref.pick(key=client, now=now), step
        assert real.dial_delays()[0] == pytest.approx(ref.delays[-1]), step


def test_dial_latency_in_the_simulator():
    from lbalgo import simulate, workloads

    # 8 connections/s, one of 4 endpoints dead from t = 20 to 60: every fourth connection dials
    # it first (250 ms), and the ones that arrive meanwhile wait for the accept loop; it is busy
    # half of the time and keeps up.
    wl = workloads.Workload(arrivals=workloads.poisson(rate=8.0), n=800,
                            lifetimes=workloads.exponential(mean=1.0), seed=4)
    s = make(n=4)
    dead = s.endpoint_order[1]
    sim = simulate(s, wl, events=[Fail(20.0, dead), Recover(60.0, dead)])
    lat = s.dial_latency(sim)
    arrival, backend = sim.trace.arrival, sim.trace.backend
    assert not ((arrival >= 20.0) & (arrival < 60.0) & (backend == dead)).any()
    assert (lat.delay[arrival < 20.0] == 0).all() and (lat.delay[arrival > 65.0] == 0).all()
    hit = (arrival >= 20.0) & (arrival < 60.0)
    assert 0.25 < np.mean(lat.delay[hit] > 0) < 1.0 and lat.max >= 0.25 and lat.affected > 40
    # The same arrivals through pick_many with the failure applied at the same times agree.
    twin = make(n=4)
    arr = wl.generate().arrival
    parts = [(arr < 20.0), (arr >= 20.0) & (arr < 60.0), (arr >= 60.0)]
    out, delays = [], []
    for k, mask in enumerate(parts):
        if k == 1:
            twin.pool.fail(dead)
        if k == 2:
            twin.pool.recover(dead)
        out.append(twin.pick_many(int(mask.sum()), now=arr[mask]))
        delays.append(twin.dial_delays())
    assert np.array_equal(np.concatenate(out), backend)
    assert np.allclose(np.concatenate(delays), lat.delay)
    finite = backend >= 0
    assert np.allclose(lat.sojourn[finite], (sim.trace.end - arrival + lat.delay)[finite])


def test_the_accept_loop_saturates():
    # 20 connections/s with one of 4 endpoints dead: failed dials need 1.25 s per second, so the
    # single accept loop falls behind and every later connection waits longer (no listen-backlog
    # limit is modelled).
    s = make(n=4)
    s.pool.fail(s.endpoint_order[0])
    s.pick_many(400, now=np.arange(400) / 20.0)
    d = s.dial_delays()
    assert d[-1] > 4.0 and d[-1] > d[200] > d[40]


# -- the node proxy --------------------------------------------------------------------------------


def web(**kw):
    return Service.from_endpointslices(load_endpointslices(DATA / "kube_slices.json"), "shop/web", "http",
                                       cluster_ip="10.96.0.20", port_number=80, **kw)


def test_node_proxy_userspace_mode():
    svc = web(session_affinity="ClientIP", timeout=10800, internal_traffic_policy="Local")
    p = svc.proxy(Node("worker-a1", "eu-west-1a"), mode="userspace", seed=7)
    # No traffic policy, no topology: every ready endpoint of the port, on every node.
    assert p.endpoints == sorted(e.key for e in svc.endpoints if e.ready)
    ep = p.pick(client="10.0.0.5", now=0.0)
    assert ep == p.keys[p.scheduler.endpoint_order[0]]
    assert all(p.pick(client="10.0.0.5", now=float(t)) == ep for t in range(1, 20))
    assert p.rules()[1].startswith("-A KUBE-PORTALS-CONTAINER -m comment --comment shop/web:http -p tcp "
                                   "-m tcp --dport 80 -d 10.96.0.20/32 -j REDIRECT")
    assert set(p.shares().values()) == {1 / len(p.endpoints)}


def test_node_proxy_sync_reshuffles_once_and_keeps_affinity():
    svc = web(session_affinity="ClientIP", timeout=60)
    p = svc.proxy(Node("worker-b1"), mode="userspace", seed=3)
    before = {c: p.pick(c, now=0.0) for c in ("10.0.0.1", "10.0.0.2", "10.0.0.3")}
    victim = before["10.0.0.1"]
    slices = [s for s in svc.slices]
    edited = []
    for s in slices:  # drop the victim and one other endpoint in one update
        eps = tuple(e for e in s.endpoints if f"{e.address}:8080" not in (victim, "10.244.9.9:8080"))
        edited.append(type(s)(s.name, s.namespace, s.service_name, s.address_type, s.ports, eps, s.where))
    shuffles = p.scheduler.shuffles
    rep = p.sync(svc.with_slices(edited), now=1.0)
    assert rep.reshuffled and p.scheduler.shuffles == shuffles + 1 and rep.removed == (victim,)
    assert rep.rules_changed == 0  # the portal rules never name an endpoint
    assert p.pick("10.0.0.1", now=2.0) != victim
    assert all(p.pick(c, now=2.0) == b for c, b in before.items() if b != victim)
    same = p.sync(svc.with_slices(edited), now=3.0)
    assert not same.reshuffled


def test_affinity_type_change_keeps_the_old_timeout():
    p = web().proxy(Node("worker-b1"), mode="userspace", seed=1)
    p.sync(web(session_affinity="ClientIP", timeout=5), now=0.0)
    assert p.scheduler.affinity and p.scheduler.timeout == 10800  # newServiceInternal keeps ttlSeconds
    a = p.pick("10.0.0.1", now=1.0)
    assert p.pick("10.0.0.1", now=100.0) == a


def test_fail_is_a_userspace_notion():
    p = web().proxy(Node("worker-b1"), mode="userspace", seed=1)
    ep = p.keys[p.scheduler.endpoint_order[0]]
    p.fail(ep)
    assert p.pick(now=0.0) != ep and p.dial_delay == 0.25
    p.recover(ep)
    with pytest.raises(KeyError, match="no endpoint"):
        p.fail("10.9.9.9:80")
    with pytest.raises(ValueError, match="only the userspace proxy"):
        web().proxy(Node("worker-b1"), mode="iptables").fail(ep)


def test_userspace_refuses_sctp_and_a_capacity():
    svc = web().replace(protocol="SCTP")
    with pytest.raises(ValueError, match="SCTP"):
        svc.proxy(Node("n"), mode="userspace")
    with pytest.raises(ValueError, match="no limit"):
        web().proxy(Node("n"), mode="userspace", affinity_capacity=10)


def test_compare_runs_userspace(capsys):
    from lbalgo.cli import main

    assert main(["compare", "--algorithms", "userspace,iptables,nftables,rr", "--weights", "1,1,1,1",
                 "--connections", "4000", "--no-timing", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "userspace" in out and "iptables" in out
    assert main(["list"]) == 0
    assert "userspace" in capsys.readouterr().out


# -- the O(n log n) build ----------------------------------------------------------------------------


def _big_service(n):
    from lbalgo.kube.slices import EndpointSlice, SliceEndpoint, SlicePort

    eps = tuple(SliceEndpoint(address=f"10.{k >> 16}.{k >> 8 & 255}.{k & 255}", node_name=f"n{k % 50}")
                for k in range(n))
    port = (SlicePort("http", 80),)
    return Service.from_endpointslices([EndpointSlice("big", "ns", "big", "IPv4", port, eps)])


@pytest.mark.parametrize("mode", ["iptables", "nftables", "userspace"])
def test_the_one_step_build_matches_insertion(mode):
    svc = _big_service(300)
    p = svc.proxy(Node("n1"), mode=mode, seed=5)
    assert p.endpoints == sorted(e.key for e in svc.endpoints)  # "ip:port" order, as before
    # The same proxy grown by syncs (one insertion at a time) holds the same list.
    q = svc.replace(endpoints=svc.endpoints[:1]).proxy(Node("n1"), mode=mode, seed=5)
    q.sync(svc, now=0.0)
    assert q.endpoints == p.endpoints


def test_wrapped_in_kernel_affinity_the_map_still_grows():
    # ClientIPAffinity calls the inner scheduler's _schedule_one directly: it must make room too.
    inner = UserspaceRR(weights=[1] * 3, seed=2, affinity=True, timeout=60)
    outer = ClientIPAffinity(inner, mode="iptables", timeout=60)
    for i in range(300):
        outer.pick(f"10.3.{i // 256}.{i % 256}", now=float(i))
    assert inner.clients == 300
