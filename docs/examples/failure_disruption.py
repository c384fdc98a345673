"""A backend fails and comes back: which clients move, and which come back.

Part 1 removes one of eight backends and counts, with ``lbalgo.disruption``,
how many of 20,000 clients each hashing scheme sends somewhere else. A
perfectly consistent hash moves only the clients of the removed backend (1/8
of them, the "minimum"); anything above that is churn the change did not need.
Envoy's ring hash gives each remaining host more ring entries (1024 / 7 each
instead of 1024 / 8), and the new entries take clients from other hosts too.

Part 2 replays three minutes of traffic from 500 clients through the simulator
while backend 3 fails a health check at t = 60 s and recovers at t = 120 s
(keepalived's ``inhibit_on_failure``: weight 0, then the old weight back). It
compares each client's backend before, during and after the failure. A
consistent hash moves only the failed backend's clients, and sends every one
of them back when it recovers. kube-proxy's ClientIP affinity (iptables mode,
30 s timeout) moves more: a client that pauses for longer than the timeout is
re-balanced, failure or not. And after the recovery backend 3's old clients
stay where the failure pinned them.

Run: python docs/examples/failure_disruption.py
"""

import numpy as np

import lbalgo
from lbalgo import simulate, workloads
from lbalgo.sim import Fail, Recover

N = 8
ADDRESSES = [f"10.244.1.{i + 10}:8080" for i in range(N)]
CLIENTS = np.arange(20_000, dtype=np.int64) + 0x0A000001  # 10.0.0.1, 10.0.0.2, ...

print(f"1. remove backend 3 of {N}: clients moved (of {len(CLIENTS)})")
print(f"   {'algorithm':<34}{'moved':>8}{'minimum':>9}{'excess':>8}")
SCHEMES = [
    ("sh (IPVS source hashing)", "sh", {}),
    ("mh (IPVS Maglev)", "mh", {}),
    ("envoy-maglev (source_ip)", "envoy-maglev", {"addresses": ADDRESSES, "hash_policy": "source_ip"}),
    ("envoy-ring-hash (source_ip)", "envoy-ring-hash", {"addresses": ADDRESSES, "hash_policy": "source_ip"}),
    ("nginx-hash consistent", "nginx-hash", {"consistent": True, "servers": ADDRESSES}),
    ("haproxy-source consistent", "haproxy-source", {"hash_type": "consistent"}),
]
for label, name, options in SCHEMES:
    before = lbalgo.get(name)(weights=[1] * N, **options)
    after = lbalgo.get(name)(weights=[1] * N, **options)
    after.remove_backend(3)
    d = lbalgo.disruption(before, after, CLIENTS)
    print(f"   {label:<34}{d.fraction:8.1%}{d.minimum:9.1%}{d.excess:8.1%}")

print()
print("2. backend 3 fails at t=60 s and recovers at t=120 s")
print(f"   {'algorithm':<34}{'clients moved':>14}{'clients of backend 3':>22}")
print(f"   {'':<34}{'during':>14}{'back after':>22}")
workload = workloads.Workload(arrivals=workloads.poisson(rate=200.0), n=36_000,  # 3 minutes
                              lifetimes=workloads.exponential(mean=2.0),
                              clients=workloads.zipf(n_clients=500, s=0.8), seed=5)
events = [Fail(60.0, 3), Recover(120.0, 3)]
CANDIDATES = [
    ("mh", lambda: lbalgo.MH(weights=[1] * N)),
    ("envoy-ring-hash (source_ip)", lambda: lbalgo.EnvoyRingHash(weights=[1] * N, addresses=ADDRESSES,
                                                                  hash_policy="source_ip")),
    ("iptables + ClientIP affinity", lambda: lbalgo.ClientIPAffinity(
        lbalgo.IptablesCascade(weights=[1] * N, seed=2), timeout=30, mode="iptables")),
]
for label, make in CANDIDATES:
    trace = simulate(make(), workload, events=events).trace
    t = trace.arrival
    before, during, after = [
        dict(zip(trace.client[p].tolist(), trace.backend[p].tolist()))  # each client's last backend
        for p in (t < 60.0, (t >= 60.0) & (t < 120.0), t >= 120.0)]
    assert 3 not in during.values()  # nothing goes to a failed backend
    seen = [c for c in during if c in before]
    moved = sum(during[c] != before[c] for c in seen) / len(seen)
    of_3 = [c for c in after if before.get(c) == 3]
    back = sum(after[c] == 3 for c in of_3) / len(of_3)
    print(f"   {label:<34}{moved:14.1%}{back:22.1%}")
