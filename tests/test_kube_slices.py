"""EndpointSlice ingestion: formats, kube-proxy's defaulting, merging, ordering, errors."""

import json
from pathlib import Path

import pytest

from lbalgo.kube import EndpointSliceError, Service, load_endpointslices
from lbalgo.kube.slices import merge_endpoints, parse_endpointslice

DATA = Path(__file__).parent / "data"


def slice_obj(endpoints, name="s1", ports=None, address_type="IPv4", service="web", namespace="ns"):
    meta = {"name": name, "namespace": namespace}
    if service is not None:
        meta["labels"] = {"kubernetes.io/service-name": service}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta,
            "addressType": address_type,
            "ports": ports if ports is not None else [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": endpoints}


def test_json_list_and_yaml_documents_agree():
    j = load_endpointslices(DATA / "kube_slices.json")
    y = load_endpointslices(DATA / "kube_slices.yaml")
    assert [s.name for s in j] == ["web-abcde", "web-fghij", "api-xyz12"]
    assert j == y


def test_text_and_parsed_objects_and_single_object():
    text = (DATA / "kube_slices.json").read_text()
    assert load_endpointslices(text) == load_endpointslices(json.loads(text))
    one = slice_obj([{"addresses": ["10.0.0.1"]}])
    assert len(load_endpointslices(one)) == 1
    assert len(load_endpointslices([one, one])) == 2
    assert len(load_endpointslices(json.dumps(one))) == 1


def test_yaml_text_single_document():
    pytest.importorskip("yaml")
    text = "kind: EndpointSlice\napiVersion: discovery.k8s.io/v1\nmetadata: {name: a, namespace: n}\n" \
           "addressType: IPv4\nendpoints:\n- addresses: [10.1.1.1]\n"
    (s,) = load_endpointslices(text)
    assert s.endpoints[0].address == "10.1.1.1"
    assert s.service_name is None  # no label: kube-proxy ignores the slice


def test_other_kinds_are_skipped():
    doc = {"kind": "List", "items": [{"kind": "Service", "metadata": {"name": "x"}}, slice_obj([])]}
    assert [s.name for s in load_endpointslices(doc)] == ["s1"]


def test_condition_defaulting_as_kube_proxy():
    # Unset ready -> true, unset serving -> true (not "same as ready"), unset terminating -> false.
    s = parse_endpointslice(slice_obj([
        {"addresses": ["10.0.0.1"]},
        {"addresses": ["10.0.0.2"], "conditions": {"ready": False}},
        {"addresses": ["10.0.0.3"], "conditions": {"ready": None, "serving": None, "terminating": None}},
        {"addresses": ["10.0.0.4"], "conditions": {"ready": False, "serving": True, "terminating": True}},
    ]))
    flags = [(e.ready, e.serving, e.terminating) for e in s.endpoints]
    assert flags == [(True, True, False), (False, True, False), (True, True, False), (False, True, True)]


def test_only_first_address_is_used():
    s = parse_endpointslice(slice_obj([{"addresses": ["10.0.0.9", "10.0.0.1"]}]))
    assert s.endpoints[0].address == "10.0.0.9"


def test_string_order_not_numeric():
    eps = [{"addresses": [a]} for a in ["10.244.2.9", "10.244.2.31", "10.244.10.1", "10.244.2.100"]]
    got = [e.key for e in merge_endpoints([parse_endpointslice(slice_obj(eps))], "ns/web", "http")]
    assert got == ["10.244.10.1:8080", "10.244.2.100:8080", "10.244.2.31:8080", "10.244.2.9:8080"]


def test_merge_prefers_non_terminating_copy():
    a = parse_endpointslice(slice_obj([{"addresses": ["10.0.0.1"]}], name="a"))
    b = parse_endpointslice(slice_obj([{"addresses": ["10.0.0.1"], "conditions": {
        "ready": False, "serving": True, "terminating": True}}], name="b"))
    for order in ([a, b], [b, a]):
        (ep,) = merge_endpoints(order, "ns/web", "http")
        assert ep.ready and not ep.terminating


def test_fixture_merge_and_filtering():
    svc = Service.from_endpointslices(load_endpointslices(DATA / "kube_slices.json"), "shop/web", "http")
    keys = [e.key for e in svc.endpoints]
    assert keys == ["10.244.2.100:8080", "10.244.2.31:8080", "10.244.2.9:8080", "10.244.3.15:8080",
                    "10.244.3.7:8080", "10.244.4.12:8080", "10.244.5.4:8080"]
    by = {e.key: e for e in svc.endpoints}
    assert by["10.244.2.31:8080"].ready  # the terminating duplicate in web-fghij lost
    assert by["10.244.4.12:8080"].terminating and by["10.244.4.12:8080"].serving
    assert by["10.244.2.9:8080"].zone_hints == {"eu-west-1a"}
    metrics = Service.from_endpointslices(DATA / "kube_slices.json", "shop/web", "metrics")
    assert {e.port for e in metrics.endpoints} == {9090}


def test_port_and_protocol_matching_and_ignored_ports():
    s = parse_endpointslice(slice_obj([{"addresses": ["10.0.0.1"]}], ports=[
        {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns", "port": 53, "protocol": "TCP"},
        {"name": None, "port": 80}, {"name": "zero", "port": 0}]))
    assert merge_endpoints([s], "ns/web", "dns", "UDP")[0].port == 53
    assert merge_endpoints([s], "ns/web", "zero") == ()
    with pytest.raises(ValueError, match="several protocols"):
        Service.from_endpointslices([s], port="dns")
    assert Service.from_endpointslices([s], port="dns", protocol="UDP").protocol == "UDP"


def test_unnamed_port_string():
    s = parse_endpointslice(slice_obj([{"addresses": ["10.0.0.1"]}], ports=[{"name": "", "port": 80}]))
    svc = Service.from_endpointslices([s])
    assert svc.port_name == "" and svc.port_string == "ns/web"


def test_ipv6_and_dual_stack():
    slices = load_endpointslices(DATA / "kube_slices_dualstack.json")
    v4 = Service.from_endpointslices(slices, "shop/web", "http")
    v6 = Service.from_endpointslices(slices, "shop/web", "http", ip_family="IPv6")
    assert v4.ip_family == "IPv4" and all(":" not in e.ip for e in v4.endpoints)
    # IPv6 endpoint strings are bracketed and sorted as strings.
    assert [e.key for e in v6.endpoints] == ["[fd00:10:244:2::1f]:8080", "[fd00:10:244:2::9]:8080"]


def test_ipv6_canonical_form():
    s = parse_endpointslice(slice_obj([{"addresses": ["FD00:0::0001"]}], address_type="IPv6"))
    assert s.endpoints[0].address == "fd00::1"


@pytest.mark.parametrize("mutate, field", [
    (lambda o: o["endpoints"][0].__setitem__("addresses", ["10.0.0.300"]), "endpoints[0].addresses[0]"),
    (lambda o: o["endpoints"][0].__setitem__("addresses", "10.0.0.1"), "endpoints[0].addresses"),
    (lambda o: o["endpoints"][0].__setitem__("conditions", {"ready": "yes"}),
     "endpoints[0].conditions.ready"),
    (lambda o: o.__setitem__("addressType", "IPv5"), "addressType"),
    (lambda o: o["ports"][0].__setitem__("port", "80"), "ports[0].port"),
    (lambda o: o["ports"][0].__setitem__("protocol", "ICMP"), "ports[0].protocol"),
    (lambda o: o["endpoints"][0].__setitem__("hints", {"forZones": ["a"]}), "endpoints[0].hints.forZones[0]"),
    (lambda o: o["endpoints"][0].__setitem__("nodeName", 7), "endpoints[0].nodeName"),
    (lambda o: o.__setitem__("endpoints", {"a": 1}), "endpoints"),
    (lambda o: o["metadata"].pop("name"), "metadata.name"),
    (lambda o: o.__setitem__("apiVersion", "v1"), "apiVersion"),
])
def test_malformed_objects_name_the_object_and_field(mutate, field):
    obj = slice_obj([{"addresses": ["10.0.0.1"]}], name="bad-slice")
    mutate(obj)
    doc = {"kind": "List", "items": [slice_obj([], name="fine"), obj]}
    with pytest.raises(EndpointSliceError) as e:
        load_endpointslices(doc)
    msg = str(e.value)
    assert field in msg
    assert "items[1]" in msg
    assert "bad-slice" in msg or field == "metadata.name"


def test_unparseable_text_and_missing_file(tmp_path):
    with pytest.raises(EndpointSliceError, match="not valid JSON"):
        load_endpointslices('{"kind": "List", ')
    with pytest.raises(EndpointSliceError, match="cannot read"):
        load_endpointslices(tmp_path / "missing.json")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    pytest.importorskip("yaml")
    with pytest.raises(EndpointSliceError, match="not valid YAML"):
        load_endpointslices(bad)


def test_json_works_without_yaml(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "yaml", None)  # as if PyYAML were not installed
    assert len(load_endpointslices(DATA / "kube_slices.json")) == 3
    with pytest.raises(EndpointSliceError, match=r"reading YAML needs PyYAML \(pip install 'lbalgo\[yaml\]'"):
        load_endpointslices(DATA / "kube_slices.yaml")


def test_import_lbalgo_does_not_import_kube_or_yaml():
    import subprocess
    import sys
    code = "import sys, lbalgo; print('lbalgo.kube' in sys.modules, 'yaml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parent.parent, check=True).stdout
    assert out.split() == ["False", "False"]


def test_service_selection_errors():
    slices = load_endpointslices(DATA / "kube_slices.json")
    with pytest.raises(ValueError, match="several"):
        Service.from_endpointslices(slices)
    with pytest.raises(ValueError, match="no service"):
        Service.from_endpointslices(slices, "shop/nope")
    with pytest.raises(ValueError, match="timeout"):
        Service.from_endpointslices(slices, "shop/web", "http", timeout=86401)
    assert Service.from_endpointslices(slices, "shop/web", "http", timeout=86400).timeout == 86400
