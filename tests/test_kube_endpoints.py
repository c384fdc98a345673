"""Legacy core/v1 Endpoints: parsing, bad input, the same endpoints as EndpointSlices, and the bytes
the API server sends for each API."""

import copy
import json

import pytest

from lbalgo.kube import EndpointSliceError, Node, Service, load_endpointslices
from lbalgo.kube.churn import PodChange, SliceSet, api_traffic, synthetic_service
from lbalgo.kube.endpoints import EndpointsError, load_endpoints
from lbalgo.kube.objects import (
    Sizer,
    dumps,
    endpoints_object,
    event_size,
    pod_ref,
    slice_object,
)
from lbalgo.kube.slices import EndpointSlice, SliceEndpoint, SlicePort


def ref(name):
    return {"kind": "Pod", "namespace": "shop", "name": name, "uid": f"uid-{name}"}


# The Endpoints controller's view of the shop/web pods of tests/data/kube_slices.json: ready pods in
# addresses, the not-ready one in notReadyAddresses, terminating pods left out.
ENDPOINTS = {
    "apiVersion": "v1", "kind": "List",
    "items": [
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "shop"},
         "subsets": [
             {"addresses": [{"ip": "10.244.2.9", "nodeName": "worker-a1", "targetRef": ref("web-9")},
                            {"ip": "10.244.3.7", "nodeName": "worker-b1", "targetRef": ref("web-7")},
                            {"ip": "10.244.3.15", "nodeName": "worker-b1", "hostname": "web-15"},
                            {"ip": "10.244.5.4", "nodeName": "worker-c2"}],
              "notReadyAddresses": [{"ip": "10.244.2.100", "nodeName": "worker-a2"}],
              "ports": [{"name": "http", "port": 8080, "protocol": "TCP"},
                        {"name": "metrics", "port": 9090}]}]},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "db", "namespace": "shop"},
         "subsets": [{"addresses": [{"ip": "10.244.7.1"}], "ports": [{"port": 5432}]},
                     {"addresses": [{"ip": "10.244.7.2"}, {"ip": "10.244.7.1"}],
                      "notReadyAddresses": [{"ip": "10.244.7.1"}], "ports": [{"port": 5432}]}]},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}},
    ],
}

# The same pods as EndpointSlices, conditions as the EndpointSlice controller sets them.
SLICES = {
    "apiVersion": "v1", "kind": "List",
    "items": [{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "web-x", "namespace": "shop",
                            "labels": {"kubernetes.io/service-name": "web"}},
               "addressType": "IPv4",
               "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
               "endpoints": [
                   {"addresses": [ip], "nodeName": node,
                    "conditions": {"ready": ready, "serving": ready, "terminating": False}}
                   for ip, node, ready in (("10.244.5.4", "worker-c2", True),
                                           ("10.244.2.9", "worker-a1", True),
                                           ("10.244.2.100", "worker-a2", False),
                                           ("10.244.3.15", "worker-b1", True),
                                           ("10.244.3.7", "worker-b1", True))]}],
}


def test_parse_fields():
    objs = load_endpoints(ENDPOINTS)
    assert [o.service for o in objs] == ["shop/web", "shop/db"]  # the Service object is skipped
    web = objs[0]
    sub = web.subsets[0]
    assert [a.ip for a in sub.addresses] == ["10.244.2.9", "10.244.3.7", "10.244.3.15", "10.244.5.4"]
    assert sub.addresses[0].target_ref.name == "web-9" and sub.addresses[2].hostname == "web-15"
    assert sub.not_ready_addresses[0].node_name == "worker-a2"
    assert [(p.name, p.port, p.protocol) for p in sub.ports] == [("http", 8080, "TCP"),
                                                                  ("metrics", 9090, "TCP")]
    assert objs[1].subsets[0].ports[0].name == ""  # the unnamed port of a single-port Service


def test_service_from_endpoints_reads_as_kube_proxy_did():
    svc = Service.from_endpoints(load_endpoints(ENDPOINTS), "shop/web", port="http",
                                 session_affinity="ClientIP", timeout=10800)
    assert [(e.key, e.ready, e.node_name) for e in svc.endpoints] == [
        ("10.244.2.100:8080", False, "worker-a2"), ("10.244.2.9:8080", True, "worker-a1"),
        ("10.244.3.15:8080", True, "worker-b1"), ("10.244.3.7:8080", True, "worker-b1"),
        ("10.244.5.4:8080", True, "worker-c2")]
    assert not any(e.terminating or e.zone or e.zone_hints for e in svc.endpoints)
    # The unnamed port; a duplicate address merges, the ready copy winning.
    db = Service.from_endpoints(ENDPOINTS, "shop/db")
    assert db.port_name == "" and [(e.key, e.ready) for e in db.endpoints] == [
        ("10.244.7.1:5432", True), ("10.244.7.2:5432", True)]
    p = svc.proxy(Node(name="worker-a1"), mode="userspace", seed=7)
    assert p.pick(client="10.0.0.5", now=0.0) in p.endpoints and len(p.endpoints) == 4


def test_endpoints_and_endpointslices_give_the_same_set():
    a = Service.from_endpoints(ENDPOINTS, "shop/web", "http")
    b = Service.from_endpointslices(load_endpointslices(SLICES), "shop/web", "http")
    assert a.endpoints == b.endpoints  # every field kube-proxy reads
    node = Node("worker-b1", "eu-west-1b")
    for mode in ("iptables", "nftables", "ipvs", "userspace"):
        assert a.proxy(node, mode=mode).endpoints == b.proxy(node, mode=mode).endpoints
    # The mirrored slices of the Endpoints object read back to the same list too.
    mirrored = load_endpoints(ENDPOINTS)[0].to_slices()
    assert Service.from_endpointslices(mirrored, "shop/web", "http").endpoints == a.endpoints
    assert a.slices == tuple(mirrored)


def test_load_from_files(tmp_path):
    (tmp_path / "e.json").write_text(json.dumps(ENDPOINTS))
    yaml = pytest.importorskip("yaml")
    (tmp_path / "e.yaml").write_text(yaml.safe_dump_all(ENDPOINTS["items"]))
    assert load_endpoints(tmp_path / "e.json") == load_endpoints(str(tmp_path / "e.yaml"))
    with pytest.raises(EndpointsError, match="cannot read"):
        load_endpoints(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{ not json")
    with pytest.raises(EndpointsError, match="not valid JSON"):
        load_endpoints(tmp_path / "bad.json")


def edit(path, value):
    doc = copy.deepcopy(ENDPOINTS["items"][0])
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize("path, value, message", [
    (["metadata"], "web", "Endpoints at input: metadata must be an object"),
    (["metadata", "name"], "", "metadata.name must be a non-empty string"),
    (["apiVersion"], "v2", "Endpoints shop/web (input): apiVersion must be v1, got 'v2'"),
    (["subsets"], {"a": 1}, "subsets must be a list, got dict"),
    (["subsets", 0], "x", "subsets[0] must be an object"),
    (["subsets", 0, "addresses"], "10.0.0.1", "subsets[0].addresses must be a list, got str"),
    (["subsets", 0, "addresses", 2, "ip"], "10.244.3.300",
     "subsets[0].addresses[2].ip '10.244.3.300' is not a valid IP address"),
    (["subsets", 0, "addresses", 1, "ip"], KeyError, "subsets[0].addresses[1].ip must be a non-empty string"),
    (["subsets", 0, "addresses", 1, "ip"], "10.244.3.7 ",
     "subsets[0].addresses[1].ip '10.244.3.7 ' is not a valid"),
    (["subsets", 0, "addresses", 1, "ip"], "127.0.0.1", "ip '127.0.0.1' may not be in the loopback range"),
    (["subsets", 0, "notReadyAddresses", 0, "ip"], "fe80::1", "may not be in the link-local range"),
    (["subsets", 0, "notReadyAddresses", 0, "nodeName"], 7,
     "subsets[0].notReadyAddresses[0].nodeName must be a string, got 7"),
    (["subsets", 0, "addresses", 0, "targetRef"], "pod",
     "subsets[0].addresses[0].targetRef must be an object"),
    (["subsets", 0, "addresses", 0, "targetRef", "uid"], 5, "targetRef.uid must be a string"),
    (["subsets", 0, "ports", 0, "port"], "8080", "subsets[0].ports[0].port must be an integer in 0..65535, "
                                                 "got '8080'"),
    (["subsets", 0, "ports", 1, "port"], 70000, "subsets[0].ports[1].port must be an integer"),
    (["subsets", 0, "ports", 0, "protocol"], "QUIC",
     "subsets[0].ports[0].protocol must be one of TCP, UDP, SCTP"),
    (["subsets", 0, "ports", 0, "name"], ["http"], "subsets[0].ports[0].name must be a string"),
])
def test_bad_input_names_the_object_and_the_field(path, value, message):
    with pytest.raises(EndpointsError) as info:
        load_endpoints(edit(path, value))
    assert message in str(info.value)
    assert isinstance(info.value, EndpointSliceError)  # one family of errors for both APIs


def test_bad_values_are_cut_short_and_the_valid_object_is_unchanged():
    doc = edit(["subsets", 0, "addresses", 0, "ip"], "x" * 10_000)
    with pytest.raises(EndpointsError) as info:
        load_endpoints(doc)
    assert len(str(info.value)) < 200
    assert load_endpoints(ENDPOINTS)[0].subsets[0].addresses[0].ip == "10.244.2.9"  # the fixture is intact
    with pytest.raises(EndpointsError, match="expected an object"):
        load_endpoints([ENDPOINTS["items"][0], 3])
    with pytest.raises(ValueError, match="no port 'grpc'"):
        Service.from_endpoints(ENDPOINTS, "shop/web", port="grpc")


def test_ipv6_and_port_zero():
    doc = {"kind": "Endpoints", "metadata": {"name": "v6"},
           "subsets": [{"addresses": [{"ip": "2001:DB8::1"}, {"ip": "10.0.0.1"}],
                        "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 0}]}]}
    svc = Service.from_endpoints(doc, port="a", ip_family="IPv6")
    assert [e.key for e in svc.endpoints] == ["[2001:db8::1]:80"]  # canonical form, one family
    with pytest.raises(ValueError, match="no port 'b'"):  # port 0 is skipped, as kube-proxy did
        Service.from_endpoints(doc, port="b")


# -- the bytes the API server sends --------------------------------------------------------------------


PORTS = (SlicePort("http", 8080, "TCP"),)


def two_pods():
    return [SliceEndpoint("10.0.0.1", 4, True, True, False, "n1", "z1"),
            SliceEndpoint("10.0.0.2", 4, False, False, False, "n2", "z1")]


def test_object_json_by_hand():
    r1, r2 = pod_ref("shop", "web", "10.0.0.1"), pod_ref("shop", "web", "10.0.0.2")
    assert r1["name"].startswith("web-") and len(r1["name"]) == 20 and len(r1["uid"]) == 36
    obj = endpoints_object("shop", "web", PORTS, two_pods())
    uid = obj["metadata"]["uid"]

    def rf(r):
        return (f'{{"kind":"Pod","namespace":"shop","name":"{r["name"]}","uid":"{r["uid"]}"}}')

    text = ('{"kind":"Endpoints","apiVersion":"v1","metadata":{"name":"web","namespace":"shop",'
            f'"uid":"{uid}","resourceVersion":"12345678","creationTimestamp":"2020-09-02T00:00:00Z",'
            '"labels":{"app":"web"}},"subsets":[{"addresses":[{"ip":"10.0.0.1","nodeName":"n1","targetRef":'
            f'{rf(r1)}}}],"notReadyAddresses":[{{"ip":"10.0.0.2","nodeName":"n2","targetRef":{rf(r2)}}}],'
            '"ports":[{"name":"http","port":8080,"protocol":"TCP"}]}]}')
    assert dumps(obj) == text
    assert event_size(obj) == len('{"type":"MODIFIED","object":') + len(text) + 1


def test_churn_bytes_against_hand_computed_cases():
    # One slice of two pods; a third pod is added, then the not-ready one is removed.
    base = EndpointSlice("web-a", "shop", "web", "IPv4", PORTS, tuple(two_pods()))
    ss = SliceSet([base], "shop/web", max_per_slice=2)
    third = SliceEndpoint("10.0.0.3", 4, True, True, False, "n3", "z2")
    ob = ss.apply(PodChange(1.0, "add", "10.0.0.3", node="n3", zone="z2"))
    # The slice is full: a new one (ADDED) holds the pod; the Endpoints object holds all three.
    new = EndpointSlice("web-churn1", "shop", "web", "IPv4", PORTS, (third,))
    assert ob.slice_bytes == len(dumps({"type": "ADDED", "object": slice_object(new)}))
    assert ob.endpoints_bytes == len(dumps({"type": "MODIFIED", "object": endpoints_object(
        "shop", "web", PORTS, two_pods() + [third])}))
    ob2 = ss.apply(PodChange(2.0, "remove", "10.0.0.2"))
    left = EndpointSlice("web-a", "shop", "web", "IPv4", PORTS, (two_pods()[0],))
    assert ob2.slice_bytes == len(dumps({"type": "MODIFIED", "object": slice_object(left)}))
    assert ob2.endpoints_bytes == len(dumps({"type": "MODIFIED", "object": endpoints_object(
        "shop", "web", PORTS, [two_pods()[0], third])}))
    # Removing the last pod of a slice deletes it: the DELETED event carries its last state.
    ob3 = ss.apply(PodChange(3.0, "remove", "10.0.0.3"))
    assert ob3.slice_bytes == len(dumps({"type": "DELETED", "object": slice_object(new)}))
    # Every node receives every event.
    from lbalgo.kube.churn import ChurnReport

    rep = ChurnReport([], [ob, ob2, ob3], {}, 60.0)
    assert rep.api_bytes(3) == (3 * (ob.slice_bytes + ob2.slice_bytes + ob3.slice_bytes),
                                3 * (ob.endpoints_bytes + ob2.endpoints_bytes + ob3.endpoints_bytes))
    with pytest.raises(ValueError, match="positive"):
        rep.api_bytes(0)
    with pytest.raises(ValueError, match="already in the slices"):
        ss.apply(PodChange(4.0, "add", "10.0.0.1", node="n1"))


def test_sums_equal_the_serialized_objects():
    svc = synthetic_service(250, 7, max_per_slice=100)
    eps = [e for s in svc for e in s.endpoints]
    eps[3] = SliceEndpoint(eps[3].address, 4, False, False, False, eps[3].node_name, eps[3].zone)
    eps[9] = SliceEndpoint(eps[9].address, 4, False, True, True, eps[9].node_name, eps[9].zone)
    sizer = Sizer("default", "web", PORTS)
    assert sizer.endpoints_size(eps) == event_size(endpoints_object("default", "web", PORTS, eps))
    assert sizer.endpoints_size([]) == event_size(endpoints_object("default", "web", PORTS, []))
    for s in svc:
        assert sizer.slice_size(s) == event_size(slice_object(s))


def test_api_traffic_small_case_by_hand():
    t = api_traffic(pods=3, nodes=2, max_per_slice=2)
    slices = synthetic_service(3, 2, max_per_slice=2)
    eps = [e for s in slices for e in s.endpoints]
    full = event_size(endpoints_object("default", "web", PORTS, eps))
    assert t.endpoints_object == full and t.slice_object == event_size(slice_object(slices[0]))
    flapped = [SliceEndpoint(eps[0].address, 4, False, False, False, eps[0].node_name, eps[0].zone)] + eps[1:]
    assert t.per_change_endpoints == 2 * event_size(endpoints_object("default", "web", PORTS, flapped))
    flapped_slice = EndpointSlice(slices[0].name, "default", "web", "IPv4", PORTS, (flapped[0], eps[1]))
    assert t.per_change_slices == 2 * event_size(slice_object(flapped_slice))
    assert t.rolling_changes == 6 and t.blog_method_endpoints == 3 * full * 2
    # Three pods: a slice's own metadata (labels, owner reference, conditions) outweighs the two
    # extra addresses a legacy object carries; EndpointSlices only win on large Services.
    assert t.rolling_slices > t.rolling_endpoints > 0


def test_api_traffic_at_the_blogs_scale():
    t = api_traffic(pods=5000, nodes=3000)
    # Measured on lbalgo's objects: about 1 MB for 5,000 pods (the blog: "might end up with 1.5MB").
    assert 0.8e6 < t.endpoints_object < 1.2e6
    assert t.per_change_endpoints == pytest.approx(t.endpoints_object * 3000, rel=0.01)
    assert t.per_change_endpoints / t.per_change_slices > 25  # one slice of 100 instead of 5,000
    assert t.rolling_changes == 10_000 and t.rolling_endpoints > 20e12
    assert "rolling update" in t.to_text()
