"""Weighted round robin, five ways: IPVS, nginx, HAProxy (two) and Envoy.

Every proxy gives a backend of weight 5 five requests out of every seven when
its neighbours have weight 1, but each one orders them differently. IPVS
``wrr`` sends the heavy backend's requests in bursts; nginx's smooth weighted
round robin and HAProxy's weight trees interleave them; Envoy's round robin
(an earliest-deadline-first schedule) starts at a point of its cycle drawn
from the seed the balancer is built with.
Bursts matter when a request is expensive: a burst is load the heavy backend
takes all at once.

Run: python docs/examples/weighted_round_robin.py
"""

import numpy as np

import lbalgo

WEIGHTS = [5, 1, 1]
POLICIES = [
    ("wrr", "IPVS wrr"),
    ("nginx-rr", "nginx (smooth weighted rr)"),
    ("haproxy-roundrobin", "HAProxy roundrobin"),
    ("haproxy-static-rr", "HAProxy static-rr"),
    ("envoy-round-robin", "Envoy ROUND_ROBIN"),
]

print(f"weights {WEIGHTS}: the first 21 requests go to backend ...")
for name, label in POLICIES:
    s = lbalgo.get(name)(weights=WEIGHTS, seed=3)
    print(f"  {label:<28}{' '.join(str(b) for b in s.pick_many(21).tolist())}")

print()
print("over 7,000 requests:")
print(f"  {'':<28}{'requests per backend':>22}{'longest burst':>15}")
for name, label in POLICIES:
    s = lbalgo.get(name)(weights=WEIGHTS, seed=3)
    picks = s.pick_many(7000)
    counts = np.bincount(picks, minlength=len(WEIGHTS))
    changes = np.flatnonzero(np.diff(picks) != 0)
    longest = int(np.diff(np.r_[-1, changes, len(picks) - 1]).max())  # most requests in a row to one backend
    print(f"  {label:<28}{' '.join(f'{c:>6}' for c in counts):>22}{longest:>15}")
