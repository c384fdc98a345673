"""ClientIP affinity: pick_many over about 100,000 distinct clients (Zipf), per mode.

Group ``affinity-<mode>``: the compiled wrapper (``ClientIPAffinity``) and
the plain-Python reference (``tests/reference/affinity.py``) on the same key
stream, in the same run. 10 endpoints of weight 1 (kube-proxy), timeout
10800 s, one connection every 3.6 ms (1,000,000 over an hour: most clients
return within the timeout, the iptables lists overflow their 100 entries).
ns per decision in ``extra_info``; best of the rounds.
"""

import numpy as np
import pytest

import lbalgo
from bench.conftest import ns_per
from lbalgo import workloads
from tests.reference import REFERENCES
from tests.reference.affinity import RefClientIPAffinity

N = 1_000_000
REF_N = 50_000
N_CLIENTS = 145_000  # a Zipf (s = 1.0) population: about 100,000 of them appear in the stream
BACKENDS = 10
MODES = {"iptables": "iptables", "nftables": "nftables", "ipvs": "rr"}

_stream = {}


def stream():
    if not _stream:
        wl = workloads.Workload(arrivals=workloads.poisson(rate=N / 3600.0), n=N,
                                lifetimes=workloads.lognormal(mean=2.0, sigma=1.0),
                                clients=workloads.zipf(n_clients=N_CLIENTS, s=1.0), seed=11)
        g = wl.generate()
        _stream.update(keys=np.ascontiguousarray(g.client, dtype=np.int64),
                       times=np.ascontiguousarray(g.arrival, dtype=np.float64))
    return _stream["keys"], _stream["times"]


def fresh(mode):
    inner = lbalgo.get(MODES[mode])(weights=[1] * BACKENDS, seed=1)
    return lbalgo.ClientIPAffinity(inner, mode=mode)


@pytest.mark.parametrize("mode", list(MODES))
def test_affinity_lbalgo(benchmark, mode):
    benchmark.group = f"affinity-{mode}"
    keys, times = stream()
    fresh(mode).pick_many(keys[:1000], now=times[:1000])  # warm-up JIT / load the cache
    ids = benchmark.pedantic(lambda s: s.pick_many(keys, now=times), setup=lambda: ((fresh(mode),), {}),
                             rounds=5, iterations=1)
    assert len(ids) == N and (ids >= 0).all()
    benchmark.extra_info.update(impl="lbalgo", mode=mode, n_backends=BACKENDS, decisions=N,
                                distinct_clients=int(len(np.unique(keys))),
                                ns_per_decision=ns_per(benchmark, N, "min"))


@pytest.mark.parametrize("mode", list(MODES))
def test_affinity_plain_python(benchmark, mode):
    benchmark.group = f"affinity-{mode}"
    keys, times = stream()
    keys, times = keys[:REF_N].tolist(), times[:REF_N].tolist()

    def setup():
        ref = RefClientIPAffinity(REFERENCES[MODES[mode]]([1] * BACKENDS, seed=1), mode=mode)
        return (ref,), {}

    def run(ref):
        pick = ref.pick
        return [pick(k, t) for k, t in zip(keys, times)]

    ids = benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    assert len(ids) == REF_N and min(ids) >= 0
    # the same decisions as the compiled wrapper on this prefix
    assert ids == fresh(mode).pick_many(np.array(keys), now=np.array(times)).tolist()
    benchmark.extra_info.update(impl="plain-python", mode=mode, n_backends=BACKENDS, decisions=REF_N,
                                ns_per_decision=ns_per(benchmark, REF_N, "min"))
