"""lbalgo.kube: ingestion + categorization, and one node's pick through the iptables model.

Groups:

``kube-load``
    ``load_endpointslices`` + ``Service.from_endpointslices`` +
    ``endpoints_for`` on 100 slices of 100 endpoints (10,000 endpoints, one
    JSON document). Target: < 200 ms.
``kube-pick``
    one ``NodeProxy.pick`` (iptables mode, n = 100 endpoints) from Python,
    next to the plain-Python cascade of ``tests/reference`` and a bare
    ``IptablesCascade.pick``; and the compiled batch ``pick_many``.
"""

import json
import time

import numpy as np
import pytest

from bench.conftest import ns_per
from lbalgo import IptablesCascade
from lbalgo.kube import Node, Service, load_endpointslices
from tests.reference import REFERENCES

N_SLICES, PER_SLICE = 100, 100


def _document():
    items = []
    for s in range(N_SLICES):
        eps = []
        for i in range(PER_SLICE):
            k = s * PER_SLICE + i
            zone = f"zone-{k % 3}"
            eps.append({"addresses": [f"10.{244 + k // 65536}.{k // 256 % 256}.{k % 256}"],
                        "conditions": {"ready": k % 17 != 0, "serving": True, "terminating": k % 17 == 0},
                        "nodeName": f"node-{k % 50}", "zone": zone,
                        "hints": {"forZones": [{"name": zone}]},
                        "targetRef": {"kind": "Pod", "namespace": "ns", "name": f"web-{k}"}})
        items.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                      "metadata": {"name": f"web-{s:03d}", "namespace": "ns",
                                   "labels": {"kubernetes.io/service-name": "web"}},
                      "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                      "endpoints": eps})
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    path = tmp_path_factory.mktemp("kube") / "slices.json"
    path.write_text(_document())
    return path


def _load_and_categorize(path):
    svc = Service.from_endpointslices(load_endpointslices(path), port="http")
    return svc, svc.endpoints_for(Node("node-7", "zone-1"))


@pytest.mark.benchmark(group="kube-load")
def test_json_parse_only_10k(benchmark, document):
    text = document.read_text()
    benchmark.pedantic(json.loads, args=(text,), rounds=5, iterations=1)
    benchmark.extra_info.update(impl="json.loads of the same document (the floor)")


@pytest.mark.benchmark(group="kube-load")
def test_load_and_categorize_10k(benchmark, document):
    svc, cat = benchmark.pedantic(_load_and_categorize, args=(document,), rounds=5, iterations=1)
    assert len(svc.endpoints) == N_SLICES * PER_SLICE
    assert cat.topology_mode == "PreferSameZone" and 0 < len(cat.cluster) < len(svc.endpoints)
    t0 = time.perf_counter()
    json.loads(document.read_text())
    floor = time.perf_counter() - t0
    # Target: < 200 ms; json_loads_s is the floor (parsing the same text) on this machine.
    benchmark.extra_info.update(endpoints=len(svc.endpoints), cluster_set=len(cat.cluster),
                                json_loads_s=floor)


def _proxy(n):
    eps = [{"addresses": [f"10.244.0.{i}"]} for i in range(n)]
    doc = {"kind": "EndpointSlice", "metadata": {"name": "s", "namespace": "ns",
                                                 "labels": {"kubernetes.io/service-name": "web"}},
           "addressType": "IPv4", "ports": [{"name": "http", "port": 80}], "endpoints": eps}
    return Service.from_endpointslices(load_endpointslices(doc)).proxy(Node("node-a"), seed=1)


@pytest.mark.benchmark(group="kube-pick")
def test_nodeproxy_pick_iptables_100(benchmark):
    p = _proxy(100)
    p.pick("10.0.0.5")  # warm-up JIT / load cache
    ep = benchmark(p.pick, "10.0.0.5", 0.0)
    assert ep in p.ids
    benchmark.extra_info.update(impl="NodeProxy.pick (compiled cascade)", n=100)


@pytest.mark.benchmark(group="kube-pick")
def test_scheduler_pick_iptables_100(benchmark):
    s = IptablesCascade(weights=[1] * 100, seed=1)
    s.pick()
    assert 0 <= benchmark(s.pick) < 100
    benchmark.extra_info.update(impl="IptablesCascade.pick (no kube layer)", n=100)


@pytest.mark.benchmark(group="kube-pick")
def test_plain_python_cascade_100(benchmark):
    ref = REFERENCES["iptables"]([1] * 100, seed=1)
    assert 0 <= benchmark(ref.pick) < 100
    benchmark.extra_info.update(impl="plain Python cascade (tests/reference)", n=100)


@pytest.mark.benchmark(group="kube-pick")
def test_nodeproxy_pick_many_iptables_100(benchmark):
    p = _proxy(100)
    clients = np.arange(100_000, dtype=np.uint32)
    p.pick_many(clients[:10])
    ids = benchmark(p.pick_many, clients)
    assert (ids >= 0).all()
    benchmark.extra_info.update(impl="NodeProxy.pick_many", n=100, decisions=len(clients),
                                ns_per_decision=ns_per(benchmark, len(clients), "min"))
