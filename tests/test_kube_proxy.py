"""The per-node data planes: chain names, rules, probabilities, IPVS termination, affinity timelines."""

import re

import numpy as np
import pytest

from lbalgo import NoBackendAvailable
from lbalgo.kube import Node, Service
from lbalgo.kube.rules import (
    iptables_chain,
    iptables_sep_chain,
    nft_chain,
    nft_endpoint_chain,
    saved_probability,
)
from lbalgo.kube.slices import Endpoint
from lbalgo.schedulers.kube_random import probability_string
from tests.support import cascade_shares, numgen_shares

NODE = Node("node-a", "zone-a")


def service(n, **kw):
    eps = tuple(sorted((Endpoint(ip=f"10.180.0.{i + 1}", port=80, node_name="node-a" if i == 0 else "node-b")
                        for i in range(n)), key=lambda e: e.key))
    kw.setdefault("cluster_ip", "172.30.0.41")
    kw.setdefault("port_number", 80)
    return Service("ns1", "svc1", "p80", "TCP", eps, **kw)


def test_chain_names_match_kube_proxy_examples():
    assert iptables_chain("KUBE-SVC", "ns1/svc1:p80", "TCP") == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert iptables_sep_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80") == "KUBE-SEP-SXIVWICOYRO3J4NJ"
    assert nft_chain("service", "ns5", "svc5", "tcp", "p80") == "service-HVFWP5L3-ns5/svc5/tcp/p80"
    assert nft_endpoint_chain("endpoint", "ns5", "svc5", "tcp", "p80", "10.180.0.3", 80) == \
        "endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80"


def test_affinity_rule_text_matches_kube_proxy_test():
    p = service(1, session_affinity="ClientIP").proxy(NODE)
    rules = p.rules()
    assert ("-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment \"ns1/svc1:p80 -> 10.180.0.1:80\" -m recent "
            "--name KUBE-SEP-SXIVWICOYRO3J4NJ --rcheck --seconds 10800 --reap "
            "-j KUBE-SEP-SXIVWICOYRO3J4NJ") in rules
    assert ("-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m recent --name "
            "KUBE-SEP-SXIVWICOYRO3J4NJ --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80") in rules
    assert ("-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 "
            "--dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O") in rules


@pytest.mark.parametrize("n", range(1, 11))
def test_iptables_probability_strings_and_shares(n):
    p = service(n).proxy(NODE)
    stats = [m.group(1) for r in p.rules() if (m := re.search(r"--probability (\S+)", r))]
    assert stats == [probability_string(n - i) for i in range(n - 1)]
    assert stats == p.scheduler.rules()[:-1]
    assert len(stats) == n - 1 and all(len(s.split(".")[1]) == 10 for s in stats)
    shares = p.shares()
    assert list(shares) == p.endpoints
    # the shares the written rules give, worked out exactly from their probability strings
    exact = [float(x) for x in cascade_shares(stats)]
    assert list(shares.values()) == pytest.approx(exact, rel=1e-14, abs=0)
    assert max(abs(s - 1 / n) for s in shares.values()) < 3e-10
    nft = service(n).proxy(NODE, mode="nftables")
    assert list(nft.shares().values()) == [float(x) for x in numgen_shares(n)]
    (numgen,) = [r for r in nft.rules() if "numgen" in r]
    assert f"numgen random mod {n} vmap" in numgen and numgen.count("goto endpoint-") == n


def test_spec_table_strings():
    assert [probability_string(k) for k in (3, 2)] == ["0.3333333333", "0.5000000000"]
    assert probability_string(6) == "0.1666666667" and probability_string(7) == "0.1428571429"
    # iptables-save shows the quantised value with 11 decimals (print_match, iptables' libxt_statistic.c).
    assert [saved_probability(k) for k in (3, 5, 6, 7)] == \
        ["0.33333333349", "0.20000000019", "0.16666666651", "0.14285714272"]
    saved = [r for r in service(3).proxy(NODE).rules(saved=True) if "--probability" in r]
    assert "0.33333333349" in saved[0] and "0.50000000000" in saved[1]


def test_rule_order_follows_string_order():
    eps = tuple(Endpoint(ip=ip, port=8080) for ip in ["10.244.2.9", "10.244.2.31"])
    p = Service("ns", "web", "http", "TCP", eps, cluster_ip="10.96.0.1", port_number=80).proxy(NODE)
    assert p.endpoints == ["10.244.2.31:8080", "10.244.2.9:8080"]
    stat = [r for r in p.rules() if r.startswith("-A KUBE-SVC-")]
    assert "0.5000000000" in stat[0] and "10.244.2.31:8080" in stat[0]


def test_pick_uses_the_compiled_cascade_and_is_seeded():
    a = [service(5).proxy(NODE, seed=3).pick("10.1.1.1") for _ in range(1)]
    p1, p2 = service(5).proxy(NODE, seed=3), service(5).proxy(NODE, seed=3)
    seq1 = [p1.pick("10.1.1.1") for _ in range(50)]
    assert seq1 == [p2.pick("10.1.1.1") for _ in range(50)] and seq1[0] == a[0]
    ids = service(5).proxy(NODE, seed=3).pick_many(np.arange(50, dtype=np.uint32))
    assert [p1.endpoint(i) for i in ids] == seq1


def test_distribution_is_uniform():
    p = service(4).proxy(NODE, seed=1)
    ids = p.pick_many(np.zeros(200_000, dtype=np.uint32))
    counts = np.bincount(ids, minlength=4) / len(ids)
    assert np.allclose(counts, 0.25, atol=0.005)  # 200k draws: sd ~0.001


def test_drop_raises_and_pick_many_gives_minus_one():
    svc = service(2, internal_traffic_policy="Local")
    p = svc.proxy(Node("node-z"))
    assert p.verdict == "drop"
    with pytest.raises(NoBackendAvailable, match="DROP"):
        p.pick("10.1.1.1")
    assert (p.pick_many(np.zeros(3, dtype=np.uint32)) == -1).all()
    assert any("has no local endpoints" in r and r.endswith("-j DROP") for r in p.rules())


def test_local_policy_uses_svl_chain():
    p = service(3, internal_traffic_policy="Local").proxy(NODE)
    assert p.endpoints == ["10.180.0.1:80"]
    assert any(r.startswith("-A KUBE-SERVICES") and "KUBE-SVL-" in r for r in p.rules())


def test_sync_adds_and_removes_in_order():
    svc = service(3)
    p = svc.proxy(NODE)
    eps = svc.endpoints[:1] + (Endpoint(ip="10.180.0.10", port=80),) + svc.endpoints[2:]
    report = p.sync(svc.replace(endpoints=tuple(sorted(eps, key=lambda e: e.key))), now=5.0)
    assert report.added == ("10.180.0.10:80",) and report.removed == ("10.180.0.2:80",)
    # Byte order: "10.180.0.10:80" < "10.180.0.1:80" because "0" < ":".
    assert p.endpoints == ["10.180.0.10:80", "10.180.0.1:80", "10.180.0.3:80"]
    assert report.rules_changed > 0 and report.rules_after == report.rules_before


def test_ipvs_round_robin_and_graceful_termination():
    svc = service(3)
    p = svc.proxy(NODE, mode="ipvs")
    assert p.rules()[0] == "-A -t 172.30.0.41:80 -s rr"
    first = [p.pick("10.1.1.1", now=0.0) for _ in range(3)]
    assert sorted(first) == sorted(p.endpoints)  # rr visits each once
    gone = first[0]
    # `gone` has one open connection: it is quiesced, not deleted.
    r = p.sync(svc.replace(endpoints=tuple(e for e in svc.endpoints if e.key != gone)), now=10.0)
    assert r.quiesced == (gone,) and r.removed == () and r.rules_changed == 1
    assert f"-r {gone} -m -w 0" in " ".join(p.rules())
    assert gone not in [p.pick("10.1.1.1", now=11.0) for _ in range(6)]
    p.release(gone)
    p.pick("10.1.1.1", now=59.0)
    assert gone in p.ids  # deleted only by the 60 s check
    p.pick("10.1.1.1", now=60.0)
    assert gone not in p.ids and gone not in " ".join(p.rules())


def test_ipvs_endpoint_back_while_draining_is_readded():
    svc = service(2)
    p = svc.proxy(NODE, mode="ipvs")
    ep = p.pick("10.1.1.1")
    old_id = p.ids[ep]
    p.sync(svc.replace(endpoints=tuple(e for e in svc.endpoints if e.key != ep)), now=1.0)
    assert ep in p.draining
    p.sync(svc, now=2.0)
    assert ep not in p.draining and p.ids[ep] != old_id and int(p.pool.weights[p.ids[ep]]) == 1


def test_ipvs_udp_deletes_at_once_and_scheduler_choice():
    svc = service(2).replace(protocol="UDP")
    p = svc.proxy(NODE, mode="ipvs", scheduler="wlc")
    ep = p.pick("10.1.1.1")
    r = p.sync(svc.replace(endpoints=tuple(e for e in svc.endpoints if e.key != ep)), now=1.0)
    assert r.removed == (ep,) and not p.draining
    assert p.rules()[0].startswith("-A -u 172.30.0.41:80 -s wlc")


def test_ipvs_local_policy_fallback():
    svc = service(2, external_traffic_policy="Local", node_port=30080)
    far = Node("node-z")
    assert svc.proxy(far, traffic="external").verdict == "drop"
    p = svc.proxy(far, mode="ipvs", traffic="external")
    assert p.verdict == "forward" and len(p.endpoints) == 2
    assert any(r.startswith("-A -t <node-ip>:30080") for r in p.rules())


def test_externally_accessible_rules():
    svc = service(2, external_traffic_policy="Local", node_port=30080, load_balancer_ips=("5.6.7.8",))
    rules = svc.proxy(NODE, cluster_cidr="10.0.0.0/8").rules()
    text = "\n".join(rules)
    assert ("-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 30080 "
            "-j KUBE-EXT-") in text
    assert "pod traffic for ns1/svc1:p80 external destinations\" -s 10.0.0.0/8 -j KUBE-SVC-" in text
    assert re.search(r"-A KUBE-EXT-\S+ -j KUBE-SVL-", text)
    nft = "\n".join(svc.proxy(NODE, mode="nftables", cluster_cidr="10.0.0.0/8").rules())
    assert "service-nodeports { tcp . 30080 : goto external-" in nft


# -- affinity timelines ------------------------------------------------------------------------------

def test_iptables_affinity_timeline():
    svc = service(4, session_affinity="ClientIP", timeout=100)
    p = svc.proxy(NODE, seed=5)
    e = p.pick("10.9.9.9", now=0.0)
    assert all(p.pick("10.9.9.9", now=t) == e for t in (50.0, 149.0))  # each new connection refreshes
    later = [p.pick("10.9.9.9", now=149.0 + 100.0 + 1 + i * 200) for i in range(20)]
    assert len(set(later)) > 1  # after the timeout the cascade decides again
    # The endpoint leaves the chain: its clients are re-balanced at once.
    q = svc.proxy(NODE, seed=5)
    e = q.pick("10.9.9.9", now=0.0)
    q.sync(svc.replace(endpoints=tuple(x for x in svc.endpoints if x.key != e)), now=1.0)
    assert q.pick("10.9.9.9", now=2.0) != e
    q.sync(svc, now=3.0)  # back, with an empty list
    pins = q.chooser.pinned(now=3.0)
    assert "10.9.9.9" not in {str(k) for k, pin in pins.items() if q.endpoint(pin.backend) == e}


def test_nftables_affinity_timeline():
    svc = service(4, session_affinity="ClientIP", timeout=100)
    p = svc.proxy(NODE, mode="nftables", seed=2)
    e = p.pick("10.9.9.9", now=0.0)
    assert p.pick("10.9.9.9", now=99.0) == e
    assert "update @affinity-" in "\n".join(p.rules())
    assert any("timeout 100s" in r for r in p.rules())


def test_ipvs_persistence_timeline():
    svc = service(3, session_affinity="ClientIP", timeout=100)
    p = svc.proxy(NODE, mode="ipvs")
    assert p.rules()[0] == "-A -t 172.30.0.41:80 -s rr -p 100"
    e = p.pick("10.9.9.9", now=0.0)
    assert [p.pick("10.9.9.9", now=t) for t in (10.0, 20.0)] == [e, e]
    other = p.pick("10.8.8.8", now=21.0)
    assert other != e  # rr moved on for a new client
    # Quiesced (terminating) endpoint: expire_quiescent_template breaks affinity at the next connection.
    p.sync(svc.replace(endpoints=tuple(x for x in svc.endpoints if x.key != e)), now=30.0)
    assert e in p.draining
    assert p.pick("10.9.9.9", now=31.0) != e
