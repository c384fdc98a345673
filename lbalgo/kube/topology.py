"""kube-proxy's ``CategorizeEndpoints``: which endpoints a node may use, per traffic policy.

Read from ``CategorizeEndpoints`` in kube-proxy's ``pkg/proxy/topology.go`` (current code,
no feature gates but ``PreferSameTrafficDistribution``). The input is the
sorted endpoint list of one service port; every output keeps that order. ::

    categorize(endpoints, uses_cluster, uses_local, node, zone):
        no endpoints: return nil, nil, nil, has_any = false
        if uses_cluster:
            mode = topology mode from the hints of the READY endpoints:
                none ready                                        -> ""
                gate on, every ready one has a node hint,
                    and one of them names this node               -> PreferSameNode
                every ready one has a zone hint,
                    and one of them names this node's zone        -> PreferSameZone
                otherwise                                         -> ""
            cluster = ready endpoints available for the mode
                      ("" all; PreferSameNode: node hint = node; PreferSameZone: zone hint = zone)
            if cluster is empty (no endpoint is ready anywhere):
                cluster = serving and terminating endpoints (hints ignored)
            has_any = cluster is not empty
        if not uses_local: all = cluster; return
        has_any |= some endpoint is ready, or serving and terminating (anywhere)
        local = local ready endpoints, else local serving-and-terminating ones, else nil
        all = local if not uses_cluster
              cluster if mode == "" and local did not fall back (cluster is a superset)
              else the union of both

Topology is never applied to the local set, and its terminating fallback is
decided on its own. kube-proxy builds the union from a Go map (order
unspecified; only per-endpoint chains use it): here it is sorted like the
input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .slices import Endpoint

POLICIES = ("Cluster", "Local")
PREFER_SAME_ZONE = "PreferSameZone"
PREFER_SAME_NODE = "PreferSameNode"


def classify(internal_traffic_policy: str, external_traffic_policy: str,
             externally_accessible: bool) -> tuple[bool, bool]:
    """Return ``(uses cluster endpoints, uses local endpoints)`` of a service port (``serviceport.go``).

    External ``Local`` policy on a port that is not externally accessible is
    ignored.
    """
    for what, value in (("internal_traffic_policy", internal_traffic_policy),
                        ("external_traffic_policy", external_traffic_policy)):
        if value not in POLICIES:
            raise ValueError(f"{what} must be 'Cluster' or 'Local', got {value!r}")
    external_local = external_traffic_policy == "Local" and externally_accessible
    uses_cluster = internal_traffic_policy != "Local" or externally_accessible
    uses_local = internal_traffic_policy == "Local" or external_local
    return uses_cluster, uses_local


@dataclass(frozen=True)
class Target:
    """Where one kind of traffic goes on one node: a verdict and the endpoints to choose among.

    ``verdict`` is "forward" (choose among ``endpoints``), "drop" (Local
    policy, no local endpoint) or "reject" (no usable endpoint anywhere).
    ``chain`` is the policy chain used: "cluster" (``KUBE-SVC`` /
    ``service-``) or "local" (``KUBE-SVL`` / ``local-``).
    :meth:`lbalgo.kube.Service.target` picks it from what :func:`categorize`
    returns.
    """

    verdict: str
    chain: str
    endpoints: tuple[Endpoint, ...] = ()
    reason: str = ""

    def keys(self) -> list[str]:
        """Return the ``"ip:port"`` strings, in rule order."""
        return [e.key for e in self.endpoints]


@dataclass(frozen=True)
class Categorized:
    """What ``CategorizeEndpoints`` returns for one service port on one node.

    ``cluster`` / ``local`` are None when the service never uses that
    policy (Go nil), and may be empty tuples otherwise.
    """

    cluster: tuple[Endpoint, ...] | None
    local: tuple[Endpoint, ...] | None
    all_reachable: tuple[Endpoint, ...]
    has_any: bool
    topology_mode: str = ""
    cluster_terminating: bool = False  # the cluster set fell back to serving+terminating
    local_terminating: bool = False  # the local set fell back to serving+terminating

    def keys(self, which: str = "cluster") -> list[str]:
        """Return the ``"ip:port"`` strings of one set ("cluster", "local" or "all")."""
        eps = {"cluster": self.cluster, "local": self.local, "all": self.all_reachable}[which]
        return [e.key for e in eps or ()]


def topology_mode(endpoints: Sequence[Endpoint], node_name: str, zone: str,
                  prefer_same_node: bool = True) -> str:
    """Return the hint mode ("", "PreferSameZone" or "PreferSameNode").

    Hints of endpoints that are not ready are ignored.
    """
    ready = [e for e in endpoints if e.ready]
    if not ready:
        return ""
    if prefer_same_node and all(e.node_hints for e in ready) \
            and any(node_name in e.node_hints for e in ready):
        return PREFER_SAME_NODE
    if all(e.zone_hints for e in ready) and any(zone in e.zone_hints for e in ready):
        return PREFER_SAME_ZONE
    return ""


def _available(e: Endpoint, mode: str, node_name: str, zone: str) -> bool:
    if mode == PREFER_SAME_NODE:
        return node_name in e.node_hints
    if mode == PREFER_SAME_ZONE:
        return zone in e.zone_hints
    return True


def categorize(endpoints: Sequence[Endpoint], *, uses_cluster: bool, uses_local: bool,
               node_name: str, zone: str | None = None, prefer_same_node: bool = True) -> Categorized:
    """Split one service port's sorted endpoints as kube-proxy on ``node_name`` does.

    Parameters
    ----------
    endpoints : sequence of Endpoint
        The merged, sorted list (:func:`lbalgo.kube.slices.merge_endpoints`).
    uses_cluster, uses_local : bool
        From :func:`classify`.
    node_name : str
        kube-proxy's node name (decides ``isLocal`` and node hints).
    zone : str, optional
        The node's ``topology.kubernetes.io/zone`` label (missing: ``""``).
    prefer_same_node : bool
        The ``PreferSameTrafficDistribution`` feature gate (beta, on, since 1.34).
    """
    if not endpoints:
        return Categorized(None, None, (), False)
    zone = zone or ""
    mode = ""
    cluster: tuple[Endpoint, ...] | None = None
    cluster_terminating = False
    has_any = False
    if uses_cluster:
        mode = topology_mode(endpoints, node_name, zone, prefer_same_node)
        cluster = tuple(e for e in endpoints if e.ready and _available(e, mode, node_name, zone))
        if not cluster:
            cluster = tuple(e for e in endpoints if e.serving and e.terminating)
            cluster_terminating = bool(cluster)
        has_any = bool(cluster)
    if not uses_local:
        return Categorized(cluster, None, cluster or (), has_any, mode, cluster_terminating)

    local_ready = local_terminating_any = False
    for e in endpoints:
        if e.ready:
            has_any = True
            local_ready |= e.is_local(node_name)
        elif e.serving and e.terminating:
            has_any = True
            local_terminating_any |= e.is_local(node_name)
    local: tuple[Endpoint, ...] | None = None
    local_terminating = False
    if local_ready:
        local = tuple(e for e in endpoints if e.is_local(node_name) and e.ready)
    elif local_terminating_any:
        local_terminating = True
        local = tuple(e for e in endpoints if e.is_local(node_name) and e.serving and e.terminating)

    if not uses_cluster:
        reachable = local or ()
    elif mode == "" and not local_terminating:
        reachable = cluster or ()
    else:
        keys = {e.key: e for e in (cluster or ())}
        keys.update({e.key: e for e in (local or ())})
        reachable = tuple(keys[k] for k in sorted(keys))
    return Categorized(cluster, local, reachable, has_any, mode, cluster_terminating, local_terminating)
