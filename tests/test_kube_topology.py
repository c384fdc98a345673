"""CategorizeEndpoints (pkg/proxy/topology.go) case by case, and the traffic-policy table.

The table: the port classification of pkg/proxy/serviceport.go (ExternallyAccessible,
UsesClusterEndpoints, UsesLocalEndpoints) as syncProxyRules in pkg/proxy/iptables/proxier.go uses it.
"""

import pytest

from lbalgo.kube import Node, Service, categorize, classify
from lbalgo.kube.slices import Endpoint

NODE = "node-a"


def ep(ip, *, ready=True, serving=True, terminating=False, node=None, zones=(), nodes=()):
    return Endpoint(ip=ip, port=80, ready=ready, serving=serving, terminating=terminating, node_name=node,
                    zone_hints=frozenset(zones), node_hints=frozenset(nodes))


def cat(eps, uses_cluster=True, uses_local=False, zone="zone-a", gate=True):
    return categorize(sorted(eps, key=lambda e: e.key), uses_cluster=uses_cluster, uses_local=uses_local,
                      node_name=NODE, zone=zone, prefer_same_node=gate)


def ips(eps):
    return None if eps is None else [e.ip for e in eps]


# -- topology hints --------------------------------------------------------------------------------

def test_no_hints_keeps_every_ready_endpoint():
    c = cat([ep("10.0.0.1"), ep("10.0.0.2"), ep("10.0.0.3", ready=False, serving=False)])
    assert ips(c.cluster) == ["10.0.0.1", "10.0.0.2"] and c.topology_mode == "" and c.has_any
    assert c.local is None and ips(c.all_reachable) == ips(c.cluster)


def test_zone_hints_present_filter_to_this_zone():
    c = cat([ep("10.0.0.1", zones=["zone-a"]), ep("10.0.0.2", zones=["zone-b"]),
             ep("10.0.0.3", zones=["zone-a", "zone-c"])])
    assert c.topology_mode == "PreferSameZone"
    assert ips(c.cluster) == ["10.0.0.1", "10.0.0.3"]


def test_partial_hints_disable_topology():
    # One ready endpoint without a hint disables topology for everyone.
    c = cat([ep("10.0.0.1", zones=["zone-a"]), ep("10.0.0.2", zones=["zone-b"]), ep("10.0.0.3")])
    assert c.topology_mode == "" and ips(c.cluster) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


def test_hints_on_not_ready_endpoints_are_ignored():
    c = cat([ep("10.0.0.1", zones=["zone-a"]), ep("10.0.0.2", zones=["zone-b"]),
             ep("10.0.0.3", ready=False)])  # not ready and unhinted: does not disable topology
    assert c.topology_mode == "PreferSameZone" and ips(c.cluster) == ["10.0.0.1"]


def test_no_endpoint_hinted_for_this_zone_means_no_filtering():
    c = cat([ep("10.0.0.1", zones=["zone-b"]), ep("10.0.0.2", zones=["zone-c"])])
    assert c.topology_mode == "" and ips(c.cluster) == ["10.0.0.1", "10.0.0.2"]


def test_missing_zone_label_never_matches():
    c = cat([ep("10.0.0.1", zones=["zone-a"]), ep("10.0.0.2", zones=["zone-b"])], zone=None)
    assert c.topology_mode == "" and len(c.cluster) == 2


def test_prefer_same_node():
    eps = [ep("10.0.0.1", zones=["zone-a"], nodes=[NODE]), ep("10.0.0.2", zones=["zone-a"], nodes=["node-b"]),
           ep("10.0.0.3", zones=["zone-b"], nodes=["node-c"])]
    c = cat(eps)
    assert c.topology_mode == "PreferSameNode" and ips(c.cluster) == ["10.0.0.1"]
    # Feature gate off: node hints are ignored, zone hints apply.
    c = cat(eps, gate=False)
    assert c.topology_mode == "PreferSameZone" and ips(c.cluster) == ["10.0.0.1", "10.0.0.2"]


def test_prefer_same_node_falls_back_to_zone_when_no_hint_names_the_node():
    eps = [ep("10.0.0.2", zones=["zone-a"], nodes=["node-b"]),
           ep("10.0.0.3", zones=["zone-b"], nodes=["node-c"])]
    c = cat(eps)
    assert c.topology_mode == "PreferSameZone" and ips(c.cluster) == ["10.0.0.2"]


def test_prefer_same_node_needs_every_ready_endpoint_hinted():
    eps = [ep("10.0.0.1", zones=["zone-a"], nodes=[NODE]), ep("10.0.0.2", zones=["zone-b"])]
    c = cat(eps)
    assert c.topology_mode == "PreferSameZone" and ips(c.cluster) == ["10.0.0.1"]


# -- terminating fallbacks ---------------------------------------------------------------------------

def test_cluster_falls_back_to_serving_terminating_only_when_nothing_is_ready():
    term = ep("10.0.0.2", ready=False, serving=True, terminating=True, zones=["zone-b"])
    gone = ep("10.0.0.3", ready=False, serving=False, terminating=True)
    c = cat([ep("10.0.0.1"), term, gone])
    assert ips(c.cluster) == ["10.0.0.1"] and not c.cluster_terminating
    c = cat([term, gone])
    assert ips(c.cluster) == ["10.0.0.2"] and c.cluster_terminating and c.has_any  # hints ignored
    c = cat([gone, ep("10.0.0.4", ready=False, serving=False)])
    assert c.cluster == () and not c.has_any


def test_local_fallback_is_independent_of_cluster():
    eps = [ep("10.0.0.1", node="node-b"),
           ep("10.0.0.2", ready=False, serving=True, terminating=True, node=NODE),
           ep("10.0.0.3", ready=False, serving=False, terminating=True, node=NODE)]
    c = cat(eps, uses_cluster=True, uses_local=True)
    assert ips(c.cluster) == ["10.0.0.1"] and ips(c.local) == ["10.0.0.2"] and c.local_terminating
    assert ips(c.all_reachable) == ["10.0.0.1", "10.0.0.2"]  # merged because local fell back


def test_local_prefers_ready_and_ignores_hints():
    eps = [ep("10.0.0.1", node=NODE, zones=["zone-b"]), ep("10.0.0.2", node="node-b", zones=["zone-a"]),
           ep("10.0.0.3", ready=False, serving=True, terminating=True, node=NODE, zones=["zone-b"])]
    c = cat(eps, uses_cluster=True, uses_local=True)
    assert ips(c.local) == ["10.0.0.1"] and not c.local_terminating
    assert ips(c.cluster) == ["10.0.0.2"] and c.topology_mode == "PreferSameZone"
    assert ips(c.all_reachable) == ["10.0.0.1", "10.0.0.2"]  # topology on: union


def test_local_only_service_has_any_from_anywhere():
    c = cat([ep("10.0.0.1", node="node-b")], uses_cluster=False, uses_local=True)
    assert c.cluster is None and c.local is None and c.has_any and c.all_reachable == ()
    c = cat([ep("10.0.0.1", ready=False, serving=False, node="node-b")], uses_cluster=False, uses_local=True)
    assert not c.has_any


def test_empty_endpoints():
    c = cat([], uses_cluster=True, uses_local=True)
    assert c.cluster is None and c.local is None and not c.has_any


def test_union_is_cluster_when_no_topology_and_local_ready():
    eps = [ep("10.0.0.1", node=NODE), ep("10.0.0.2", node="node-b")]
    c = cat(eps, uses_cluster=True, uses_local=True)
    assert ips(c.all_reachable) == ["10.0.0.1", "10.0.0.2"] and ips(c.local) == ["10.0.0.1"]


# -- the traffic-policy table (pkg/proxy/serviceport.go) ---------------------------------------------

# (iTP, eTP, externally accessible) -> (cluster computed, local computed, ClusterIP uses, external uses)
TABLE = [
    ("Cluster", "Cluster", False, True, False, "cluster", None),
    ("Cluster", "Cluster", True, True, False, "cluster", "cluster"),
    ("Cluster", "Local", False, True, False, "cluster", None),
    ("Cluster", "Local", True, True, True, "cluster", "local"),
    ("Local", "Cluster", False, False, True, "local", None),
    ("Local", "Cluster", True, True, True, "local", "cluster"),
    ("Local", "Local", False, False, True, "local", None),
    ("Local", "Local", True, True, True, "local", "local"),
]


@pytest.mark.parametrize("itp, etp, ext, has_cluster, has_local, internal, external", TABLE)
def test_traffic_policy_table(itp, etp, ext, has_cluster, has_local, internal, external):
    assert classify(itp, etp, ext) == (has_cluster, has_local)
    eps = (ep("10.0.0.1", node=NODE), ep("10.0.0.2", node="node-b"))
    svc = Service("ns", "web", "http", "TCP", eps, internal_traffic_policy=itp, external_traffic_policy=etp,
                  node_port=30080 if ext else 0)
    node = Node(NODE, "zone-a")
    c = svc.endpoints_for(node)
    assert (c.cluster is not None) == has_cluster and (c.local is not None) == has_local
    t = svc.target(node, "internal")
    assert t.chain == internal and t.verdict == "forward"
    if external is None:
        with pytest.raises(ValueError, match="not externally accessible"):
            svc.target(node, "external")
        return
    assert svc.target(node, "external").chain == external
    # Pod- and host-originated traffic to an external address short-circuits to the cluster chain.
    assert svc.target(node, "external", source="pod").chain == "cluster"
    assert svc.target(node, "external", source="host").chain == "cluster"


def test_drop_and_reject_outcomes():
    remote = (ep("10.0.0.2", node="node-b"),)
    node = Node(NODE)
    svc = Service("ns", "web", "http", "TCP", remote, internal_traffic_policy="Local")
    t = svc.target(node)
    assert t.verdict == "drop" and "no local endpoint" in t.reason
    # IPVS: a Local frontend without local endpoints uses the cluster set (nil here: no destinations).
    assert svc.target(node, mode="ipvs").verdict == "reject"
    svc = svc.replace(external_traffic_policy="Local", node_port=30080)
    assert svc.target(node, "external").verdict == "drop"
    assert svc.target(node, "external", source="pod").verdict == "forward"
    ipvs = svc.target(node, "external", mode="ipvs")
    assert ipvs.verdict == "forward" and ipvs.keys() == ["10.0.0.2:80"]
    none = Service("ns", "web", "http", "TCP", (ep("10.0.0.3", ready=False, serving=False),))
    assert none.target(node).verdict == "reject"
    assert Service("ns", "web", "http", "TCP", ()).target(node).verdict == "reject"


def test_fixture_per_node():
    from pathlib import Path

    from lbalgo.kube import load_endpointslices
    slices = load_endpointslices(Path(__file__).parent / "data" / "kube_slices.json")
    svc = Service.from_endpointslices(slices, "shop/web", "http")
    a = svc.endpoints_for(Node("worker-a1", "eu-west-1a"))
    assert a.topology_mode == "PreferSameZone" and a.keys() == ["10.244.2.31:8080", "10.244.2.9:8080"]
    c = svc.endpoints_for(Node("worker-c1", "eu-west-1c"))
    assert c.keys() == ["10.244.5.4:8080"]  # the terminating 10.244.4.12 is not used: others are ready
    x = svc.endpoints_for(Node("worker-x", "eu-west-1x"))  # no hint for this zone: everything ready
    assert x.topology_mode == "" and len(x.cluster) == 5
