"""``NodeProxy.sync`` applies the versions of a Service in time order, and refuses a time going back."""

import math

import pytest

from lbalgo.errors import InvalidArgument, InvalidArgumentType
from lbalgo.kube import Node, NodeProxy, Service
from lbalgo.kube.slices import Endpoint

NODE = Node("node-a", "zone-a")


def service(n):
    eps = tuple(Endpoint(ip=f"10.180.0.{i + 1}", port=80, node_name="node-b") for i in range(n))
    return Service("ns1", "svc1", "p80", "TCP", eps, cluster_ip="172.30.0.41", port_number=80)


@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs", "userspace"])
def test_a_sync_earlier_than_the_previous_one_is_refused_and_changes_nothing(mode):
    proxy = NodeProxy(service(3), NODE, mode)
    assert proxy.sync(service(2), now=10.0).time == 10.0
    rules, endpoints, draining = proxy.rules(), proxy.endpoints, dict(proxy.draining)
    with pytest.raises(InvalidArgument, match=r"now = 9\.5 goes back in time.*synced at 10\.0"):
        proxy.sync(service(4), now=9.5)
    assert (proxy.rules(), proxy.endpoints, proxy.draining) == (rules, endpoints, draining)
    assert len(proxy.sync(service(4), now=10.0).added) == 2  # the same time again is fine


@pytest.mark.parametrize("now", [math.nan, math.inf, "soon", None])
def test_a_sync_time_must_be_a_finite_number(now):
    proxy = NodeProxy(service(2), NODE, "iptables")
    with pytest.raises((InvalidArgument, InvalidArgumentType), match="now"):
        proxy.sync(service(3), now=now)
    assert len(proxy.endpoints) == 2
