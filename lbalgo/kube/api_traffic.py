"""Why EndpointSlices exist, in bytes: what the API server sends kube-proxies, legacy Endpoints vs slices.

:func:`api_traffic` builds a synthetic Service of P pods on N nodes and measures the bytes
the API server sends to every node's kube-proxy per change and over a rolling update of
every pod: the legacy Endpoints object is resent whole on each change, an EndpointSlice
change resends one slice of at most 100 endpoints
(:class:`~lbalgo.kube.slice_controller.SliceSet` plays the controller).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Sequence

from .. import _validate
from .slice_controller import PodChange, SliceSet
from .slices import EndpointSlice, SliceEndpoint, SlicePort


@dataclass(frozen=True)
class ApiTraffic:
    """Bytes the API server sends to the kube-proxies watching one Service (see :func:`api_traffic`).

    Object sizes are watch events of the JSON objects :mod:`lbalgo.kube.objects`
    builds; totals are per-node bytes times ``nodes``.
    """

    pods: int
    nodes: int
    max_per_slice: int
    endpoints_object: int  # bytes of the Endpoints object with every pod ready (one event)
    slice_object: int  # bytes of one full EndpointSlice (one event)
    per_change_endpoints: int  # one pod turns not ready: bytes to every node, legacy Endpoints
    per_change_slices: int  # the same change with EndpointSlices
    rolling_changes: int  # changes in the replayed rolling update (a new pod added, its old pod removed)
    rolling_endpoints: int  # bytes to every node over the rolling update, legacy Endpoints
    rolling_slices: int  # the same with EndpointSlices
    blog_method_endpoints: int  # the blog's count: one whole-object resend per replaced pod

    def to_text(self) -> str:
        """Return the numbers as text, with units."""
        return "\n".join([
            f"Service of {self.pods:,} pods watched by {self.nodes:,} nodes (EndpointSlices of at most "
            f"{self.max_per_slice}):",
            f"  Endpoints object: {_human(self.endpoints_object)}; one full EndpointSlice: "
            f"{_human(self.slice_object)}",
            f"  one change: {_human(self.per_change_endpoints)} (Endpoints) vs "
            f"{_human(self.per_change_slices)} (EndpointSlices)",
            f"  rolling update ({self.rolling_changes:,} changes): {_human(self.rolling_endpoints)} vs "
            f"{_human(self.rolling_slices)}",
            f"  the blog's count (one resend of the whole object per replaced pod): "
            f"{_human(self.blog_method_endpoints)}",
        ]) + "\n"


def _human(n: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.2f} {unit}"
    return f"{n} B"


def synthetic_service(pods: int, nodes: int, *, namespace: str = "default", service: str = "web",
                      max_per_slice: int = 100, zones: Sequence[str] = ("us-central1-a", "us-central1-b",
                                                                         "us-central1-c"),
                      port: SlicePort = SlicePort("http", 8080, "TCP")) -> list[EndpointSlice]:
    """EndpointSlices of a Service of ``pods`` ready pods spread over ``nodes`` nodes.

    Pod ``k`` has address ``10.(k // 65536).(k // 256 % 256).(k % 256)`` (in
    10.0.0.0/8 from 10.0.0.0), runs on node ``k mod nodes``, whose zone is
    ``zones[node mod len(zones)]``; node names look like GKE's
    (``gke-prod-default-pool-<8 hex>-<4 characters>``). Slices hold
    ``max_per_slice`` pods each, in pod order.
    """
    pods, nodes = _validate.positive_count(pods, "pods"), _validate.positive_count(nodes, "nodes")
    if pods > 1 << 24:
        raise ValueError(f"pods must be at most {1 << 24} (one 10.0.0.0/8), got {pods}")
    names = [_node_name(i) for i in range(min(nodes, pods))]
    eps = [SliceEndpoint(address=f"10.{k >> 16}.{k >> 8 & 255}.{k & 255}", family=4,
                         node_name=names[k % nodes], zone=zones[k % nodes % len(zones)]) for k in range(pods)]
    return [EndpointSlice(f"{service}-{_suffix(service, i)}", namespace, service, "IPv4", (port,),
                          tuple(eps[i:i + max_per_slice])) for i in range(0, pods, max_per_slice)]


def _node_name(i: int) -> str:
    h = hashlib.sha256(f"node{i}".encode()).hexdigest()
    return f"gke-prod-default-pool-{h[:8]}-{h[8:12]}"


def _suffix(service: str, i: int) -> str:
    d = hashlib.sha256(f"{service}/{i}".encode()).digest()
    return "".join("bcdfghjklmnpqrstvwxz2456789"[b % 27] for b in d[:5])


def api_traffic(pods: int = 5000, nodes: int = 3000, *, max_per_slice: int = 100,
                **service: Any) -> ApiTraffic:
    """Compute what the API server sends kube-proxies for one Service, legacy Endpoints versus EndpointSlices.

    Builds :func:`synthetic_service` (``service`` passes its options), then
    measures, per watching node and times ``nodes``:

    - one change: a pod turns not ready; legacy: the whole Endpoints object
      is resent; slices: the one slice holding the pod;
    - a rolling update of every pod, replayed through :class:`SliceSet` as
      ``pods`` pairs of changes (a new pod added on the old pod's node, the
      old pod removed), each measured as it happens;
    - the blog's arithmetic for the same update: ``pods`` resends of the
      whole object (one per replaced pod).
    """
    pods, nodes = _validate.positive_count(pods, "pods"), _validate.positive_count(nodes, "nodes")
    slices = synthetic_service(pods, nodes, max_per_slice=max_per_slice, **service)
    ss = SliceSet(slices, slices[0].service, max_per_slice)
    full_endpoints = ss.endpoints_bytes()
    full_slice = ss.sizer.slice_size(slices[0])
    first = slices[0].endpoints[0]
    flap = ss.apply(PodChange(0.0, "not_ready", first.address))
    ss.apply(PodChange(0.0, "ready", first.address))
    old = [e for s in slices for e in s.endpoints]
    legacy = sliced = 0
    for k, e in enumerate(old):
        new_ip = f"10.{128 + (k >> 16)}.{k >> 8 & 255}.{k & 255}"
        for change in (PodChange(float(k), "add", new_ip, node=e.node_name, zone=e.zone),
                       PodChange(float(k), "remove", e.address)):
            ob = ss.apply(change)
            legacy += ob.endpoints_bytes
            sliced += ob.slice_bytes
    return ApiTraffic(pods=pods, nodes=nodes, max_per_slice=max_per_slice, endpoints_object=full_endpoints,
                      slice_object=full_slice, per_change_endpoints=flap.endpoints_bytes * nodes,
                      per_change_slices=flap.slice_bytes * nodes, rolling_changes=2 * pods,
                      rolling_endpoints=legacy * nodes, rolling_slices=sliced * nodes,
                      blog_method_endpoints=pods * full_endpoints * nodes)
