"""Properties of CategorizeEndpoints and of the proxies' endpoint sets under random churn."""

from hypothesis import given, settings
from hypothesis import strategies as st

from lbalgo.kube import Node, Service, categorize
from lbalgo.kube.slices import Endpoint

NODES = ["node-a", "node-b", "node-c"]
ZONES = ["z1", "z2"]


@st.composite
def endpoints(draw, max_size=12):
    n = draw(st.integers(0, max_size))
    out = []
    for i in range(n):
        ready = draw(st.booleans())
        serving = ready or draw(st.booleans())
        terminating = (not ready) and draw(st.booleans())
        zones = frozenset(draw(st.lists(st.sampled_from(ZONES), max_size=2)))
        nodes = frozenset(draw(st.lists(st.sampled_from(NODES), max_size=1)))
        out.append(Endpoint(ip=f"10.0.{i // 10}.{draw(st.integers(0, 255))}", port=80 + i, ready=ready,
                            serving=serving, terminating=terminating, node_name=draw(st.sampled_from(NODES)),
                            zone_hints=zones, node_hints=nodes))
    return tuple(sorted(out, key=lambda e: e.key))


@settings(max_examples=100)
@given(endpoints(), st.booleans(), st.booleans(), st.sampled_from(NODES), st.sampled_from(ZONES + [None]))
def test_categorize_invariants(eps, uses_cluster, uses_local, node, zone):
    c = categorize(eps, uses_cluster=uses_cluster, uses_local=uses_local, node_name=node, zone=zone)
    keys = [e.key for e in eps]
    for part in (c.cluster, c.local, c.all_reachable):
        ks = [e.key for e in part or ()]
        assert ks == sorted(ks) and set(ks) <= set(keys)  # order kept, subset
    any_ready = any(e.ready for e in eps)
    if not eps or not uses_cluster:
        assert c.cluster is None
    else:
        if any_ready:
            assert c.cluster and all(e.ready for e in c.cluster)  # topology always leaves one
        else:
            assert all(e.serving and e.terminating for e in c.cluster)
    if c.local is not None:
        assert all(e.node_name == node for e in c.local)
        assert all(e.ready for e in c.local) or all(e.serving and e.terminating for e in c.local)
    union = {e.key for e in (c.cluster or ())} | {e.key for e in (c.local or ())}
    assert {e.key for e in c.all_reachable} == union
    if eps and (uses_cluster or uses_local):
        assert c.has_any == any(e.ready or (e.serving and e.terminating) for e in eps)


@settings(max_examples=30)
@given(st.lists(endpoints(max_size=8), min_size=1, max_size=5),
       st.sampled_from(["iptables", "nftables", "ipvs"]))
def test_proxy_endpoints_follow_syncs(versions, mode):
    node = Node("node-a", "z1")
    svc = Service("ns", "web", "http", "TCP", versions[0])
    p = svc.proxy(node, mode=mode)
    for t, eps in enumerate(versions[1:], start=1):
        svc = svc.replace(endpoints=eps)
        p.sync(svc, now=float(t))
        target = svc.target(node, mode=mode)
        want = target.keys() if target.verdict == "forward" else []
        if mode == "ipvs":
            assert sorted(p.endpoints) == sorted(want)  # list order: IPVS head insertion
        else:
            assert p.endpoints == want  # rule order = categorized order
