"""kube-proxy userspace mode and the node-proxy build.

Groups:

``kube-build``
    Building one node's proxy (``Service.proxy``) for a Service of 10,000
    endpoints, in iptables, nftables, userspace and IPVS mode, in the same
    run. iptables, nftables and userspace build their pool in one step from
    the sorted endpoint list; IPVS adds real servers one by one at the head of
    its list (as ``ip_vs_add_dest`` links them). Target: iptables and nftables
    within 3x of the IPVS build; ``test_build_ratio`` interleaves the builds
    and asserts it (the minimum of several rounds, on a shared machine).
``kube-userspace``
    ``UserspaceRR.pick_many`` (100,000 decisions, 100 endpoints, ClientIP
    affinity over 1,000 clients) beside the plain-Python reference of
    ``tests/reference``.
"""

import time

import numpy as np
import pytest

from bench.conftest import ns_per, paired
from lbalgo import UserspaceRR
from lbalgo.kube import Node, Service
from lbalgo.kube.slices import EndpointSlice, SliceEndpoint, SlicePort
from tests.reference import REFERENCES

N = 10_000
BUILD_RATIOS = [("ratio_vs_ipvs", "iptables", "ipvs"), ("nft_ratio_vs_ipvs", "nftables", "ipvs"),
                ("userspace_ratio_vs_ipvs", "userspace", "ipvs")]


def _service(n=N):
    eps = tuple(SliceEndpoint(address=f"10.{k >> 16}.{k >> 8 & 255}.{k & 255}", node_name=f"node-{k % 50}")
                for k in range(n))
    # Endpoints in a scrambled order (as slices hold them), so the sort is part of the work.
    order = np.random.default_rng(1).permutation(n)
    eps = tuple(eps[i] for i in order)
    port = (SlicePort("http", 80),)
    return Service.from_endpointslices([EndpointSlice("big", "ns", "big", "IPv4", port, eps)])


@pytest.fixture(scope="module")
def service():
    svc = _service()
    for mode in ("iptables", "nftables", "ipvs", "userspace"):
        svc.proxy(Node("node-1"), mode=mode)  # compile / load every kernel first
    return svc


@pytest.mark.benchmark(group="kube-build")
@pytest.mark.parametrize("mode", ["iptables", "nftables", "userspace", "ipvs"])
def test_build_10k(benchmark, service, mode):
    p = benchmark.pedantic(service.proxy, args=(Node("node-1"),), kwargs={"mode": mode}, rounds=5,
                           iterations=1)
    assert len(p.endpoints) == N
    benchmark.extra_info.update(impl=f"Service.proxy(mode={mode!r})", endpoints=N)
    paired("build-10k", mode, benchmark.stats.stats.min if benchmark.stats else None, benchmark.extra_info,
           BUILD_RATIOS)


def test_build_ratio(service):
    """The iptables and nftables builds stay within 3x of the IPVS build (min of interleaved rounds)."""
    best = {m: float("inf") for m in ("iptables", "nftables", "ipvs")}
    for _ in range(5):
        for mode in best:
            t0 = time.perf_counter()
            service.proxy(Node("node-1"), mode=mode)
            best[mode] = min(best[mode], time.perf_counter() - t0)
    print(f"build of {N} endpoints, min of 5: " + ", ".join(f"{m} {t * 1e3:.1f} ms" for m, t in best.items()))
    assert best["iptables"] < 3 * best["ipvs"]
    assert best["nftables"] < 3 * best["ipvs"]


@pytest.mark.benchmark(group="kube-userspace")
def test_userspace_pick_many(benchmark):
    keys = (0x0A000000 + np.random.default_rng(2).integers(0, 1000, 100_000)).astype(np.uint32)
    times = np.arange(len(keys), dtype=np.float64) * 0.01
    s = UserspaceRR(weights=[1] * 100, seed=1, affinity=True, timeout=60)
    s.pick_many(keys[:10], now=times[:10])

    def run():
        fresh = UserspaceRR(weights=[1] * 100, seed=1, affinity=True, timeout=60)
        return fresh.pick_many(keys, now=times)

    ids = benchmark.pedantic(run, rounds=5, iterations=1)
    assert (ids >= 0).all()
    benchmark.extra_info.update(impl="UserspaceRR.pick_many", decisions=len(keys),
                                ns_per_decision=ns_per(benchmark, len(keys), "min"))


@pytest.mark.benchmark(group="kube-userspace")
def test_userspace_reference(benchmark):
    keys = (0x0A000000 + np.random.default_rng(2).integers(0, 1000, 10_000)).tolist()

    def run():
        ref = REFERENCES["userspace"]([1] * 100, seed=1, affinity=True, timeout=60)
        return [ref.pick(k, now=i * 0.01) for i, k in enumerate(keys)]

    out = benchmark.pedantic(run, rounds=3, iterations=1)
    assert min(out) >= 0
    benchmark.extra_info.update(impl="plain Python (tests/reference)", decisions=len(keys),
                                ns_per_decision=ns_per(benchmark, len(keys), "min"))
