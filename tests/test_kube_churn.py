"""Churn replay, object churn, the scaling model and EndpointSlice scenarios."""

import json
from pathlib import Path

import numpy as np
import pytest

from lbalgo.kube import Node, Service, load_endpointslices, scaling
from lbalgo.kube.churn import PodChange, SliceSet, run_churn
from lbalgo.kube.slices import EndpointSlice, SliceEndpoint, SlicePort

DATA = Path(__file__).parent / "data"


def web(**kw):
    return Service.from_endpointslices(load_endpointslices(DATA / "kube_slices.json"), "shop/web", "http",
                                       cluster_ip="10.96.0.20", port_number=80, **kw)


def big_slices(n, per=100):
    out = []
    for k in range(0, n, per):
        eps = tuple(SliceEndpoint(address=f"10.{1 + i // 65536}.{i // 256 % 256}.{i % 256}",
                                  node_name=f"n{i % 7}") for i in range(k, min(n, k + per)))
        out.append(EndpointSlice(f"big-{k // per}", "ns", "big", "IPv4", (SlicePort("http", 80),), eps))
    return out


def test_slice_set_object_churn_at_100_per_slice():
    s = SliceSet(big_slices(1000), "ns/big")
    ob = s.apply(PodChange(0, "not_ready", "10.1.1.44"))
    # One EndpointSlice of 100 endpoints is rewritten; an Endpoints object would carry all 1000.
    assert (ob.slices_written, ob.slice_endpoints, ob.endpoints_object_endpoints) == (1, 100, 1000)
    ob = s.apply(PodChange(1, "add", "10.9.9.9", node="n1"))
    assert ob.slice_endpoints == 1 and len(s.slices()) == 11  # every slice full: a new one
    ob = s.apply(PodChange(2, "remove", "10.9.9.9"))
    assert ob.slice_endpoints == 0 and len(s.slices()) == 10  # the emptied slice is deleted
    with pytest.raises(KeyError):
        s.apply(PodChange(3, "remove", "10.200.0.1"))
    with pytest.raises(ValueError):
        PodChange(0, "explode", "10.0.0.1")


def test_churn_replay_all_modes():
    svc = web(session_affinity="ClientIP", timeout=60)
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0, 100, 1500))
    clients = (0x0A000000 + rng.integers(0, 40, 1500)).astype(np.uint32)
    changes = [PodChange(20, "add", "10.244.3.200", node="worker-b2", zone="eu-west-1b"),
               PodChange(50, "terminating", "10.244.3.7"), PodChange(80, "remove", "10.244.3.7")]
    rep = run_churn(svc, Node("worker-b1", "eu-west-1b"), changes, clients, times, duration=30.0)
    # The default compares all four modes (userspace joined when it was added).
    assert set(rep.modes) == {"iptables", "nftables", "ipvs", "userspace"}
    for mode, r in rep.modes.items():
        assert len(r.syncs) == 3 and len(r.phase_counts) == 4 and r.dropped == 0
        assert sum(sum(c.values()) for c in r.phase_counts) == 1500
        assert "10.244.3.7:8080" not in r.phase_counts[2]  # gone from the rules after the t=51 sync
        # Clients pinned to the terminating endpoint move right after the sync.
        moved = [x for x in r.lost_affinity if 51 <= x[0] < 80]
        assert moved and all(old == "10.244.3.7:8080" for _, _, old, _ in moved)
    ipvs = rep.modes["ipvs"]
    assert ipvs.syncs[1].quiesced == ("10.244.3.7:8080",)  # connections still open: weight 0
    # userspace: every set change reshuffles (the add, the terminating pod leaving the ready
    # set); the removal of an endpoint already gone changes nothing.
    assert [s.reshuffled for s in rep.modes["userspace"].syncs] == [True, True, False]
    assert all(not s.reshuffled for m in ("iptables", "nftables", "ipvs") for s in rep.modes[m].syncs)
    assert rep.objects[0].slices_written == 1
    assert "EndpointSlice objects written" in rep.to_text()


def test_churn_without_affinity_counts_rebalancing():
    svc = web()
    times = np.linspace(0, 10, 200)
    clients = np.full(200, 0x0A000001, dtype=np.uint32)
    rep = run_churn(svc, Node("worker-b1", "eu-west-1b"), [], clients, times, modes=("iptables", "ipvs"))
    assert len(rep.modes["iptables"].lost_affinity) > 50  # random: the one client moves about half the time
    assert len(rep.modes["ipvs"].lost_affinity) == 199  # rr over two endpoints alternates


def test_scaling_model(tmp_path):
    assert scaling.cascade_rules(1) == 1
    assert scaling.cascade_rules(10) == pytest.approx(5.5, abs=1e-6)
    assert scaling.cascade_draws(10) == pytest.approx(5.4, abs=1e-6)
    it = [scaling.dispatch_cost("iptables", s, 10).rules for s in (10, 1000, 30000)]
    assert it[2] > it[1] > it[0] and it[2] == pytest.approx(15000.5 + 1 + 5.5 + 2)
    nft = {scaling.dispatch_cost("nftables", s, 10).total for s in (10, 30000)}
    ipvs = {scaling.dispatch_cost("ipvs", s, 10).total for s in (10, 30000)}
    assert len(nft) == 1 and len(ipvs) == 1  # independent of the number of services
    assert scaling.dispatch_cost("ipvs", 10, 100, scheduler="wlc").lookups > \
        scaling.dispatch_cost("ipvs", 10, 100).lookups  # lc/wlc scan the real servers
    assert scaling.dispatch_cost("iptables", 100, 10, position="worst").rules > \
        scaling.dispatch_cost("iptables", 100, 10, position="best").rules
    base, per_rule = scaling.fit_rule_cost()
    assert 5 < per_rule < 50  # ns per rule: a fit to three published points
    table = scaling.table_markdown(scaling.curve())
    assert "| 30,000 |" in table
    try:
        import matplotlib  # noqa: F401
        have = True
    except ImportError:
        have = False
    assert scaling.plot(str(tmp_path / "curve.png")) is have  # skipped cleanly without matplotlib


def test_scenario_from_endpointslices(tmp_path):
    from lbalgo import scenario

    (tmp_path / "slices.json").write_text((DATA / "kube_slices.json").read_text())
    toml = tmp_path / "s.toml"
    toml.write_text('connections = 1000\n[pool]\nendpointslices = "slices.json"\nservice = "shop/web"\n'
                    'port = "http"\nnode = "worker-a1"\nzone = "eu-west-1a"\n')
    assert scenario.load(toml).weights == (1, 1)
    toml.write_text('[pool]\nendpointslices = "slices.json"\nservice = "shop/web"\nport = "http"\n')
    assert scenario.load(toml).weights == (1,) * 5
    toml.write_text('[pool]\nendpointslices = "slices.json"\nport = "http"\n')
    with pytest.raises(scenario.ScenarioError, match="several"):
        scenario.load(toml)
    toml.write_text('[pool]\nendpointslices = "slices.json"\nservice = "shop/web"\nport = "http"\n'
                    'weight = 3\n')
    with pytest.raises(scenario.ScenarioError, match="unknown field pool.weight"):
        scenario.load(toml)


def test_cli_compare_with_endpointslice_scenario(capsys):
    from lbalgo.cli import main

    assert main(["compare", str(DATA / "kube_scenario.toml"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scenario"]["pool"]["weights"] == [1, 1]
    assert [r["algorithm"] for r in data["results"]] == ["iptables", "nftables", "rr"]
