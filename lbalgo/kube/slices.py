"""EndpointSlices in, kube-proxy's endpoint list per service port out.

Reads what ``kubectl get endpointslices -o json`` (or ``-o yaml``) prints: a
``List``, single objects, a JSON array or a multi-document YAML file. Only
the ``discovery.k8s.io`` fields that change load balancing are kept
(``staging/src/k8s.io/api/discovery/v1/types.go``), with kube-proxy's reading of them
(``pkg/proxy/endpointslicecache.go``)::

    ready       = conditions.ready is unset or true
    serving     = conditions.serving is unset or true     (not "same as ready")
    terminating = conditions.terminating is set and true
    address     = addresses[0]                            (the others are ignored)

Endpoints of one service port are gathered from every slice of the service
that has a port with that name and protocol, merged by ``"ip:port"`` (a
non-terminating copy replaces an earlier one; a terminating copy never
replaces) and sorted by that string, byte-wise, as ``endpointslicecache.go`` sorts
them: ``10.244.2.31:8080`` comes before ``10.244.2.9:8080``. kube-proxy skips, with a
log line, slices without the ``kubernetes.io/service-name`` label, ports without a
name or with port 0, endpoints without addresses and endpoints of the other IP
family; so does this module. Anything that is not a valid object at all
(a field of the wrong type, an address that does not parse) raises
:class:`EndpointSliceError` naming the object and the field. So does an
address the API server would have refused (:func:`special_ip_problem`):
``"10.0.0.1 "`` (a space), ``fe80::1%eth0`` (a zone), ``0.0.0.0``, loopback,
link-local and link-local multicast addresses; a slice holding one cannot
come from a cluster. ``255.255.255.255`` and other multicast addresses pass
API validation and kube-proxy uses them, so they are accepted.

Files are read by :func:`~lbalgo.kube.object_files.read_kubernetes_objects`,
the one reader of Kubernetes object files (also used for legacy Endpoints):
sizes, nesting and encodings are checked, YAML aliases refused, and YAML
parsed by libyaml when PyYAML has it.

kube-proxy keeps slices in a Go map, so when two non-terminating copies of
one ``ip:port`` disagree the winner is unspecified; here the later slice in
the document wins.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import short
from .object_files import KubeObjectError, read_kubernetes_objects

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# Canonical dotted-quad IPv4 (no leading zeros): already in the form ipaddress would print.
_IPV4 = re.compile(r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}")
ADDRESS_TYPES = ("IPv4", "IPv6", "FQDN")
PROTOCOLS = ("TCP", "UDP", "SCTP")


class EndpointSliceError(KubeObjectError):
    """A malformed EndpointSlice document; the message names the object and the field.

    Also raised (as the reader's error) for a file that cannot be read, is too
    large, is not UTF-8 or does not parse; see :func:`read_kubernetes_objects`.
    """


@dataclass(frozen=True)
class SlicePort:
    """One entry of an EndpointSlice's ``ports`` (``name`` None: unset, ``port`` None: unset)."""

    name: str | None
    port: int | None
    protocol: str = "TCP"


@dataclass(slots=True)
class SliceEndpoint:
    """One entry of an EndpointSlice's ``endpoints``, as kube-proxy reads it (treat as read-only)."""

    address: str | None  # addresses[0], canonical; None when addresses is empty
    family: int = 4  # 4, 6, or 0 for FQDN
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str | None = None
    zone: str | None = None
    zone_hints: frozenset[str] = frozenset()
    node_hints: frozenset[str] = frozenset()


@dataclass(frozen=True)
class EndpointSlice:
    """The parts of a ``discovery.k8s.io/v1`` EndpointSlice that matter for load balancing."""

    name: str
    namespace: str
    service_name: str | None
    address_type: str
    ports: tuple[SlicePort, ...] = ()
    endpoints: tuple[SliceEndpoint, ...] = ()
    where: str = field(default="", compare=False)  # position in the source document

    @property
    def service(self) -> str | None:
        """``"namespace/name"`` of the owning Service (None without the label)."""
        return None if self.service_name is None else f"{self.namespace}/{self.service_name}"


@dataclass(slots=True)
class Endpoint:
    """One endpoint of one service port, after kube-proxy's merge (``pkg/proxy/endpointslicecache.go``).

    Treat it as read-only (it is not frozen, for speed: 10,000 are built per load).
    """

    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str | None = None
    zone: str | None = None
    zone_hints: frozenset[str] = frozenset()
    node_hints: frozenset[str] = frozenset()
    slice: str = field(default="", compare=False)
    #: kube-proxy's endpoint string ``"ip:port"`` (``"[ip6]:port"``); the sort key. Derived.
    key: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        self.key = f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"

    def is_local(self, node_name: str) -> bool:
        """Return True when ``nodeName`` is set and equals ``node_name`` (which must be non-empty)."""
        return bool(node_name) and self.node_name == node_name

    def __str__(self) -> str:
        return self.key


# -- reading documents ----------------------------------------------------------------------


def load_endpointslices(source: Any) -> list[EndpointSlice]:
    """Read EndpointSlices from a file path, a JSON/YAML string, or parsed objects.

    Parameters
    ----------
    source : str, pathlib.Path, dict or list
        A path to a ``.json`` / ``.yaml`` / ``.yml`` file (``kubectl get
        endpointslices -o json|yaml``), the text of one, or already parsed
        objects: a ``List``, one object, or a list of objects. Objects of
        other kinds (``Service``, ``Pod``) are skipped.

    Returns
    -------
    list of EndpointSlice
        In document order.

    Raises
    ------
    EndpointSliceError
        When the text does not parse or an object is malformed; the message
        names the object (kind, name and position) and the field. Files are
        read as :func:`read_kubernetes_objects` reads them (size, encoding and
        nesting limits; no YAML aliases).
    """
    slices: list[EndpointSlice] = []
    for where, obj in read_kubernetes_objects(source, error=EndpointSliceError):
        if obj.get("kind", "EndpointSlice") == "EndpointSlice":
            slices.append(parse_endpointslice(obj, where))
    return slices


# -- one object -------------------------------------------------------------------------------


def parse_endpointslice(obj: dict, where: str = "input") -> EndpointSlice:
    """Validate one EndpointSlice object (a parsed JSON/YAML mapping)."""
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    ctx = _Ctx(f"EndpointSlice {short(name)} ({where})" if isinstance(name, str) else "EndpointSlice at "
                                                                                      f"{where}")
    if not isinstance(meta, dict):
        ctx.fail("metadata", "must be an object with name and namespace")
    if not isinstance(name, str) or not name:
        ctx.fail("metadata.name", "must be a non-empty string")
    namespace = _opt_str(ctx, meta, "namespace", "metadata.namespace") or "default"
    ctx.what = f"EndpointSlice {_cut(namespace)}/{_cut(name)} ({where})"
    api = obj.get("apiVersion", "discovery.k8s.io/v1")
    if not isinstance(api, str) or not api.startswith("discovery.k8s.io/"):
        ctx.fail("apiVersion", f"must be discovery.k8s.io/v1, got {short(api)}")
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        ctx.fail("metadata.labels", "must be an object")
    service_name = labels.get(SERVICE_NAME_LABEL)
    if service_name is not None and not isinstance(service_name, str):
        ctx.fail(f"metadata.labels[{SERVICE_NAME_LABEL}]", "must be a string")
    address_type = obj.get("addressType")
    if address_type not in ADDRESS_TYPES:
        ctx.fail("addressType", f"must be one of {', '.join(ADDRESS_TYPES)}, got {short(address_type)}")
    ports = tuple(_port(ctx, p, i) for i, p in enumerate(_list(ctx, obj, "ports")))
    endpoints = tuple(_endpoint(ctx, e, i, address_type) for i, e in enumerate(_list(ctx, obj, "endpoints")))
    return EndpointSlice(name=name, namespace=namespace, service_name=service_name or None,
                         address_type=address_type, ports=ports, endpoints=endpoints, where=where)


def _cut(text: str, limit: int = 80) -> str:
    """Return a name from the document, cut for messages."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Ctx:
    def __init__(self, what: str) -> None:
        self.what = what

    def fail(self, path: str, problem: str) -> None:
        raise EndpointSliceError(f"{self.what}: {path} {problem}")


def _list(ctx: _Ctx, obj: dict, key: str, path: str | None = None) -> list:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        ctx.fail(path or key, f"must be a list, got {type(value).__name__}")
    return value


def _opt_str(ctx: _Ctx, obj: dict, key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        ctx.fail(path, f"must be a string, got {short(value)}")
    return value


def _opt_bool(ctx: _Ctx, obj: dict, key: str, path: str) -> bool | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        ctx.fail(path, f"must be true, false or null, got {short(value)}")
    return value


def _port(ctx: _Ctx, p: Any, i: int) -> SlicePort:
    path = f"ports[{i}]"
    if not isinstance(p, dict):
        ctx.fail(path, "must be an object")
    name = _opt_str(ctx, p, "name", f"{path}.name")
    number = p.get("port")
    if number is not None and (isinstance(number, bool) or not isinstance(number, int)
                               or not 0 <= number <= 65535):
        ctx.fail(f"{path}.port", f"must be an integer in 0..65535, got {short(number)}")
    protocol = p.get("protocol") or "TCP"
    if protocol not in PROTOCOLS:
        ctx.fail(f"{path}.protocol", f"must be one of {', '.join(PROTOCOLS)}, got {short(protocol)}")
    return SlicePort(name=name, port=number, protocol=protocol)


_EMPTY: frozenset[str] = frozenset()
#: Canonical IPv4 strings with these prefixes take the slow path, which names the problem.
_SPECIAL_V4_PREFIXES = ("127.", "169.254.", "224.0.0.")
_LINK_LOCAL_MULTICAST_V4 = ipaddress.ip_network("224.0.0.0/24")


def special_ip_problem(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why the API server refuses ``ip`` as an endpoint address, or None.

    This is Kubernetes' ``ValidateNonSpecialIP``.

    Endpoints and EndpointSlices may not hold an unspecified, loopback,
    link-local or link-local multicast address; an IPv4-mapped IPv6 address is
    judged as its IPv4 address (as Go's ``net.IP`` does). Other addresses,
    broadcast ``255.255.255.255`` and other multicast included, are accepted
    and kube-proxy uses them as they are.
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return "may not be unspecified"
    if ip.is_loopback:
        return "may not be in the loopback range (127.0.0.0/8, ::1/128)"
    if ip.is_link_local:
        return "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
    if (ip in _LINK_LOCAL_MULTICAST_V4 if ip.version == 4
            else ip.packed[0] == 0xFF and ip.packed[1] & 0x0F == 0x02):
        return "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
    return None


def _endpoint(ctx: _Ctx, e: Any, i: int, address_type: str) -> SliceEndpoint:
    # The hot path of ingestion (one call per endpoint): plain checks, no helpers on the common path.
    if type(e) is not dict:
        ctx.fail(f"endpoints[{i}]", "must be an object")
    addresses = e.get("addresses")
    address, family = None, 0
    if addresses:
        if type(addresses) is not list:
            ctx.fail(f"endpoints[{i}].addresses", f"must be a list, got {type(addresses).__name__}")
        first = addresses[0]
        if type(first) is not str:
            ctx.fail(f"endpoints[{i}].addresses[0]", f"must be a string, got {short(first)}")
        if address_type == "FQDN":
            address = first
        elif _IPV4.fullmatch(first) and not first.startswith(_SPECIAL_V4_PREFIXES) and first != "0.0.0.0":
            address, family = first, 4
        else:
            ip = None
            if "%" not in first and first == first.strip():  # the API server takes no zones, no spaces
                try:
                    ip = ipaddress.ip_address(first)
                except ValueError:
                    pass
            if ip is None:
                ctx.fail(f"endpoints[{i}].addresses[0]", f"{short(first)} is not a valid {address_type} "
                                                         "address")
            problem = special_ip_problem(ip)
            if problem:
                ctx.fail(f"endpoints[{i}].addresses[0]", f"{short(first)} {problem}: the API server rejects "
                                                         "such EndpointSlices (ValidateNonSpecialIP)")
            address, family = str(ip), ip.version
    elif addresses is not None and type(addresses) is not list:
        ctx.fail(f"endpoints[{i}].addresses", f"must be a list, got {type(addresses).__name__}")
    cond = e.get("conditions")
    ready = serving = terminating = None
    if cond:
        if type(cond) is not dict:
            ctx.fail(f"endpoints[{i}].conditions", "must be an object")
        ready, serving, terminating = cond.get("ready"), cond.get("serving"), cond.get("terminating")
        if not (type(ready) is bool and type(serving) is bool and type(terminating) is bool):
            for name, v in (("ready", ready), ("serving", serving), ("terminating", terminating)):
                if v is not None and type(v) is not bool:
                    ctx.fail(f"endpoints[{i}].conditions.{name}", "must be true, false or null, got "
                                                                  f"{short(v)}")
    node_name, zone = e.get("nodeName"), e.get("zone")
    if node_name is not None and type(node_name) is not str:
        ctx.fail(f"endpoints[{i}].nodeName", f"must be a string, got {short(node_name)}")
    if zone is not None and type(zone) is not str:
        ctx.fail(f"endpoints[{i}].zone", f"must be a string, got {short(zone)}")
    hints = e.get("hints")
    zone_hints = node_hints = _EMPTY
    if hints:
        if type(hints) is not dict:
            ctx.fail(f"endpoints[{i}].hints", "must be an object")
        if "forZones" in hints:
            zone_hints = _hint_names(ctx, hints["forZones"], f"endpoints[{i}].hints.forZones")
        if "forNodes" in hints:
            node_hints = _hint_names(ctx, hints["forNodes"], f"endpoints[{i}].hints.forNodes")
    return SliceEndpoint(address, family, ready is not False, serving is not False, terminating is True,
                         node_name, zone, zone_hints, node_hints)


_HINTS: dict[str, frozenset[str]] = {}


def _hint_names(ctx: _Ctx, items: Any, path: str) -> frozenset[str]:
    if type(items) is list and len(items) == 1 and type(items[0]) is dict:
        name = items[0].get("name")  # the common case: one hint, its own zone or node
        if type(name) is str:
            hint = _HINTS.get(name)
            if hint is None:
                hint = frozenset((name,))
                if len(_HINTS) < 4096:  # zone and node names repeat: share one frozenset each
                    _HINTS[name] = hint
            return hint
    if not items:
        if items is not None and type(items) is not list:
            ctx.fail(path, f"must be a list, got {type(items).__name__}")
        return _EMPTY
    if type(items) is not list:
        ctx.fail(path, f"must be a list, got {type(items).__name__}")
    names = []
    for j, h in enumerate(items):
        if type(h) is not dict or type(h.get("name")) is not str:
            ctx.fail(f"{path}[{j}]", f"must be an object with a string name, got {short(h)}")
        names.append(h["name"])
    return frozenset(names)


# -- merging into one service port --------------------------------------------------------------


def services_in(slices: Sequence[EndpointSlice]) -> list[str]:
    """``"namespace/name"`` of every Service the slices belong to, in first-seen order."""
    seen: dict[str, None] = {}
    for s in slices:
        if s.service is not None:
            seen.setdefault(s.service)
    return list(seen)


def ports_of(slices: Sequence[EndpointSlice], service: str) -> list[tuple[str, str]]:
    """``(port name, protocol)`` pairs kube-proxy would build a service port for."""
    seen: dict[tuple[str, str], None] = {}
    for s in slices:
        if s.service == service:
            for p in s.ports:
                if p.name is not None and p.port:
                    seen.setdefault((p.name, p.protocol))
    return list(seen)


def merge_endpoints(slices: Sequence[EndpointSlice], service: str, port_name: str, protocol: str = "TCP",
                    ip_family: str = "IPv4") -> tuple[Endpoint, ...]:
    """kube-proxy's endpoint list of one service port, sorted by ``"ip:port"``.

    ``service`` is ``"namespace/name"``; ``ip_family`` is ``"IPv4"`` or
    ``"IPv6"`` (kube-proxy runs one proxier per family and each ignores the
    other family's endpoints).
    """
    version = 6 if ip_family == "IPv6" else 4
    merged: dict[str, Endpoint] = {}
    for s in slices:
        if s.service != service or s.address_type == "FQDN":
            continue
        for p in s.ports:
            if p.name != port_name or p.protocol != protocol or not p.port:
                continue
            for e in s.endpoints:
                if e.address is None or e.family != version:
                    continue
                ep = Endpoint(ip=e.address, port=p.port, ready=e.ready, serving=e.serving,
                              terminating=e.terminating, node_name=e.node_name, zone=e.zone,
                              zone_hints=e.zone_hints, node_hints=e.node_hints, slice=s.name)
                # A terminating copy never replaces: a reused pod IP prefers the running pod.
                if ep.key not in merged or not ep.terminating:
                    merged[ep.key] = ep
    return tuple(merged[k] for k in sorted(merged))
