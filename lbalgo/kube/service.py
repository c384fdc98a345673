"""One Service port as a kube-proxy sees it, and the node it runs on.

A :class:`Service` is one service port (``namespace/name:port`` and a
protocol: kube-proxy's ``ServicePortName``) with its merged, sorted
endpoints and the Service fields that change the data plane: traffic
policies, session affinity, and whether the port is externally accessible
(NodePort, external IPs, LoadBalancer IPs). :meth:`Service.target` applies
the port classification of ``pkg/proxy/serviceport.go`` (``ExternallyAccessible``,
``UsesClusterEndpoints``, ``UsesLocalEndpoints``) the way ``syncProxyRules`` in
``pkg/proxy/iptables/proxier.go`` does: for one kind of traffic on one node it gives
the endpoints the data plane chooses among, or the verdict (DROP or REJECT) when
there are none.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence

from .slices import Endpoint, EndpointSlice, load_endpointslices, merge_endpoints, ports_of, services_in
from .topology import Categorized, Target, categorize, classify

TRAFFIC = ("internal", "external")
SOURCES = ("external", "pod", "host")
AFFINITIES = ("None", "ClientIP")
DEFAULT_TIMEOUT = 10800  # DefaultClientIPServiceAffinitySeconds
MAX_TIMEOUT = 86400  # MaxClientIPServiceAffinitySeconds


@dataclass(frozen=True)
class Node:
    """The node a kube-proxy runs on.

    Parameters
    ----------
    name : str
        kube-proxy's node name (endpoints with this ``nodeName`` are local).
    zone : str, optional
        The node's ``topology.kubernetes.io/zone`` label.
    prefer_same_node : bool
        The ``PreferSameTrafficDistribution`` feature gate (default on, beta since 1.34).
    """

    name: str
    zone: str | None = None
    prefer_same_node: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Node.name must be a non-empty string, got {self.name!r}")
        if self.zone is not None and not isinstance(self.zone, str):
            raise TypeError(f"Node.zone must be a string or None, got {self.zone!r}")



@dataclass(frozen=True)
class Service:
    """One service port: its endpoints and the Service fields that shape the data plane.

    Build it with :meth:`from_endpointslices`. ``timeout`` is
    ``sessionAffinityConfig.clientIP.timeoutSeconds`` (1..86400, default
    10800). ``node_port`` (0 = none), ``external_ips`` and
    ``load_balancer_ips`` only decide whether the port is externally
    accessible, and appear in the rendered rules.
    """

    namespace: str
    name: str
    port_name: str
    protocol: str
    endpoints: tuple[Endpoint, ...]
    internal_traffic_policy: str = "Cluster"
    external_traffic_policy: str = "Cluster"
    session_affinity: str = "None"
    timeout: int = DEFAULT_TIMEOUT
    cluster_ip: str | None = None
    port_number: int | None = None  # the Service port number (rules only)
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    ip_family: str = "IPv4"
    slices: tuple[EndpointSlice, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        classify(self.internal_traffic_policy, self.external_traffic_policy, False)  # validates
        if self.session_affinity not in AFFINITIES:
            raise ValueError(f"session_affinity must be 'None' or 'ClientIP', got {self.session_affinity!r}")
        t = self.timeout
        if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= MAX_TIMEOUT:
            raise ValueError(f"timeout must be an integer number of seconds in 1..{MAX_TIMEOUT}, got {t!r}")
        if isinstance(self.node_port, bool) or not isinstance(self.node_port, int) \
                or not 0 <= self.node_port <= 65535:
            raise ValueError(f"node_port must be an integer in 0..65535 (0 = none), got {self.node_port!r}")
        if self.ip_family not in ("IPv4", "IPv6"):
            raise ValueError(f"ip_family must be 'IPv4' or 'IPv6', got {self.ip_family!r}")
        # kube-proxy always works on the list sorted by "ip:port" (byte order).
        object.__setattr__(self, "endpoints", tuple(sorted(self.endpoints, key=lambda e: e.key)))

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_endpointslices(cls, slices: Any, service: str | None = None, port: str | None = None,
                            protocol: str | None = None, *, ip_family: str | None = None,
                            **fields: Any) -> "Service":
        """Build one service port from EndpointSlices.

        Parameters
        ----------
        slices : list of EndpointSlice, or anything :func:`load_endpointslices` reads
        service : str, optional
            ``"namespace/name"``; needed only when the slices belong to several Services.
        port : str, optional
            The port name (``""`` for an unnamed single port); needed only when
            the Service has several ports.
        protocol : str, optional
            TCP, UDP or SCTP; needed only when the name is used by several protocols.
        ip_family : str, optional
            "IPv4" or "IPv6" (default: IPv4 if any endpoint is IPv4, else IPv6).
        **fields
            Other :class:`Service` fields: ``internal_traffic_policy``,
            ``external_traffic_policy``, ``session_affinity``, ``timeout``,
            ``cluster_ip``, ``port_number``, ``node_port``, ``external_ips``, ``load_balancer_ips``.
        """
        if not (isinstance(slices, (list, tuple)) and all(isinstance(s, EndpointSlice) for s in slices)):
            slices = load_endpointslices(slices)
        slices = tuple(slices)
        service = _choose(services_in(slices), service, "service",
                          "slices with the kubernetes.io/service-name label")
        pairs = ports_of(slices, service)
        names = list(dict.fromkeys(n for n, _ in pairs))
        port = _choose(names, port, "port", f"named ports of {service}")
        protos = [p for n, p in pairs if n == port]
        protocol = _choose(protos, protocol, "protocol", f"protocols of port {port!r}")
        if ip_family is None:
            families = {s.address_type for s in slices if s.service == service}
            ip_family = "IPv4" if "IPv4" in families or not families else "IPv6"
        namespace, name = service.split("/", 1)
        if "external_ips" in fields:
            fields["external_ips"] = tuple(fields["external_ips"])
        if "load_balancer_ips" in fields:
            fields["load_balancer_ips"] = tuple(fields["load_balancer_ips"])
        return cls(namespace=namespace, name=name, port_name=port, protocol=protocol,
                   endpoints=merge_endpoints(slices, service, port, protocol, ip_family),
                   ip_family=ip_family, slices=slices, **fields)

    @classmethod
    def from_endpoints(cls, endpoints: Any, service: str | None = None, port: str | None = None,
                       protocol: str | None = None, *, ip_family: str | None = None,
                       **fields: Any) -> "Service":
        """Build one service port from legacy core/v1 ``Endpoints`` objects.

        Parameters are those of :meth:`from_endpointslices`; ``endpoints`` is a
        list of :class:`~lbalgo.kube.endpoints.Endpoints` or anything
        :func:`~lbalgo.kube.load_endpoints` reads. ``port`` is ``""`` for the
        unnamed port of a single-port Service. The endpoints are read as
        kube-proxy read Endpoints (see :mod:`lbalgo.kube.endpoints`); the
        Service also keeps the EndpointSlices the mirroring controller would
        write (100 endpoints each), which churn replays start from.
        """
        from . import endpoints as _ep

        if not (isinstance(endpoints, (list, tuple))
                and all(isinstance(e, _ep.Endpoints) for e in endpoints)):
            endpoints = _ep.load_endpoints(endpoints)
        objects = tuple(endpoints)
        service = _choose(_ep.services_of(objects), service, "service", "Endpoints objects")
        pairs = _ep.ports_of(objects, service)
        names = list(dict.fromkeys(n for n, _ in pairs))
        port = _choose(names, port, "port", f"named ports of {service}")
        protos = [p for n, p in pairs if n == port]
        protocol = _choose(protos, protocol, "protocol", f"protocols of port {port!r}")
        if ip_family is None:
            families = {a.family for e in objects if e.service == service for sub in e.subsets
                        for a in sub.addresses + sub.not_ready_addresses}
            ip_family = "IPv4" if 4 in families or not families else "IPv6"
        namespace, name = service.split("/", 1)
        for key in ("external_ips", "load_balancer_ips"):
            if key in fields:
                fields[key] = tuple(fields[key])
        slices = tuple(s for e in objects if e.service == service for s in e.to_slices())
        return cls(namespace=namespace, name=name, port_name=port, protocol=protocol,
                   endpoints=_ep.merge_endpoints(objects, service, port, protocol, ip_family),
                   ip_family=ip_family, slices=slices, **fields)

    def with_slices(self, slices: Sequence[EndpointSlice]) -> "Service":
        """Return the same service port with its endpoints re-read from ``slices``."""
        slices = tuple(slices)
        eps = merge_endpoints(slices, self.service, self.port_name, self.protocol, self.ip_family)
        return dataclasses.replace(self, endpoints=eps, slices=slices)

    def replace(self, **changes: Any) -> "Service":
        """Return a copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    # -- properties ------------------------------------------------------------------------
    @property
    def service(self) -> str:
        """``"namespace/name"``."""
        return f"{self.namespace}/{self.name}"

    @property
    def port_string(self) -> str:
        """kube-proxy's ``ServicePortName`` string ``"namespace/name:port"`` (no ``:port`` if unnamed)."""
        return f"{self.service}:{self.port_name}" if self.port_name else self.service

    @property
    def externally_accessible(self) -> bool:
        """NodePort, external IPs or LoadBalancer IPs (of this family) exist (``ExternallyAccessible``)."""
        return bool(self.node_port or self.external_ips or self.load_balancer_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        """``UsesClusterEndpoints`` (``pkg/proxy/serviceport.go``)."""
        return self._classes()[0]

    @property
    def uses_local_endpoints(self) -> bool:
        """``UsesLocalEndpoints`` (``pkg/proxy/serviceport.go``)."""
        return self._classes()[1]

    def _classes(self) -> tuple[bool, bool]:
        return classify(self.internal_traffic_policy, self.external_traffic_policy,
                        self.externally_accessible)

    @property
    def affinity(self) -> bool:
        """True with ``sessionAffinity: ClientIP``."""
        return self.session_affinity == "ClientIP"

    # -- per node ----------------------------------------------------------------------------
    def endpoints_for(self, node: Node) -> Categorized:
        """``CategorizeEndpoints`` on ``node``: the cluster, local and reachable sets, in order."""
        uses_cluster, uses_local = classify(self.internal_traffic_policy, self.external_traffic_policy,
                                            self.externally_accessible)
        return categorize(self.endpoints, uses_cluster=uses_cluster, uses_local=uses_local,
                          node_name=node.name, zone=node.zone, prefer_same_node=node.prefer_same_node)

    def target(self, node: Node, traffic: str = "internal", source: str = "external",
               *, mode: str = "iptables") -> Target:
        """Return where ``traffic`` from ``source`` goes on ``node``.

        ``traffic`` is "internal" (to the cluster IP) or "external" (to a
        NodePort, LoadBalancer or external IP); ``source`` is "external",
        "pod" or "host".

        ``mode="ipvs"`` applies the IPVS differences: a Local-policy frontend
        with no local endpoint uses the cluster set instead of dropping, and
        the source does not matter (one real-server set per virtual server).
        ``mode="userspace"`` forwards every frontend to every ready endpoint:
        the userspace proxier read Endpoints objects and knew no traffic
        policy, topology hint or terminating endpoint.
        """
        if traffic not in TRAFFIC:
            raise ValueError(f"traffic must be one of {TRAFFIC}, got {traffic!r}")
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        if traffic == "external" and not self.externally_accessible:
            raise ValueError(f"{self.port_string} is not externally accessible (no node_port, "
                             "external_ips or load_balancer_ips)")
        if mode == "userspace":
            ready = tuple(e for e in self.endpoints if e.ready)
            if not ready:
                return Target("reject", "cluster", (), "no ready endpoint: the userspace proxy accepts "
                              "the connection and closes it")
            return Target("forward", "cluster", ready)
        cat = self.endpoints_for(node)
        if traffic == "internal":
            local = self.internal_traffic_policy == "Local"
        else:
            # Pod- and host-originated traffic to an external address short-circuits to the cluster
            # chain in iptables and nftables; an IPVS virtual server has one real-server set for all.
            local = self.external_traffic_policy == "Local" and (source == "external" or mode == "ipvs")
        if mode == "ipvs":
            eps = (cat.local or cat.cluster) if local else cat.cluster
            if not eps:
                return Target("reject", "local" if local else "cluster", (), "no IPVS destinations")
            return Target("forward", "local" if local and cat.local else "cluster", tuple(eps))
        if not cat.has_any:
            return Target("reject", "cluster", (), "the service has no usable endpoint")
        if local:
            if not cat.local:
                policy = "internal" if traffic == "internal" else "external"
                return Target("drop", "local", (), f"{policy}TrafficPolicy=Local and no local endpoint "
                              f"on node {node.name}")
            return Target("forward", "local", cat.local)
        return Target("forward", "cluster", cat.cluster or ())

    def proxy(self, node: Node, mode: str = "iptables", **options: Any) -> Any:
        """Return kube-proxy's data plane for this service port on ``node``.

        A shorthand for ``NodeProxy(self, node, mode, **options)``: see
        :class:`lbalgo.kube.proxy.NodeProxy`, which builds every node proxy.
        """
        from .proxy import NodeProxy  # the data plane sits above the service model: imported on use

        return NodeProxy(self, node, mode, **options)


def _choose(options: list, given: Any, what: str, among: str) -> Any:
    if given is not None:
        if given not in options:
            raise ValueError(f"no {what} {given!r} among the {among} (found: {options or 'none'})")
        return given
    if len(options) == 1:
        return options[0]
    if not options:
        raise ValueError(f"no {among} found")
    raise ValueError(f"several {among}: {options}; choose one with {what}=")
