"""Least connections on a pool of unequal servers: lc vs wlc (and sed, wrr, rr).

Four backends whose capacities differ (8, 4, 2 and 2 workers, given as IPVS
weights), 20,000 requests arriving at 85 % of the pool's total capacity,
exponential service times of 1 s. Each backend serves its queue FIFO with as
many servers as its weight (``servers="weight"``).

lc balances the *number* of open connections and ignores the weights, so the
small backends get more than their share and queue; wlc divides by the weight
first. sed (IPVS
"shortest expected delay") adds one to the count before dividing, which keeps
the big backend a little busier. Round robin ignores the load altogether.

Run: python docs/examples/least_connections.py
"""

import lbalgo
from lbalgo import simulate, workloads

WEIGHTS = [8, 4, 2, 2]
CAPACITY = sum(WEIGHTS)  # requests per second the pool serves at full load (1 s each)

workload = workloads.Workload(
    arrivals=workloads.poisson(rate=0.85 * CAPACITY),
    n=20_000,
    lifetimes=workloads.exponential(mean=1.0),  # the work of each request, in seconds
    seed=11,
)

print("response time (arrival to departure) and time queued, in seconds")
print(f"{'algorithm':<10}{'mean':>9}{'p99':>9}{'wait p99':>10}   share of requests per backend")
for name in ["rr", "wrr", "lc", "wlc", "sed"]:
    scheduler = lbalgo.get(name)(weights=WEIGHTS)
    result = simulate(scheduler, workload, service="fifo", servers="weight")
    m = result.metrics()
    shares = " ".join(f"{s:5.1%}" for s in m["shares"])
    sojourn, wait = m["sojourn"], m["wait"]
    print(f"{name:<10}{sojourn['mean']:9.2f}{sojourn['p99']:9.2f}{wait['p99']:10.2f}   {shares}")
print(f"{'capacity':<38}   " + " ".join(f"{w / CAPACITY:5.1%}" for w in WEIGHTS))
print()
print("rr sends a quarter of the requests to each backend: the two small ones get 3.4 per second")
print("for 2 per second of capacity, and their queues grow for as long as the run lasts.")
