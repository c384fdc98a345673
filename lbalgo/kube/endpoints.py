"""Legacy ``Endpoints`` objects (core/v1) in, kube-proxy's endpoint list per service port out.

Reads what ``kubectl get endpoints -o json`` (or ``-o yaml``) prints, with the
one reader of Kubernetes object files, :func:`~lbalgo.kube.object_files.read_kubernetes_objects`
(a ``List``, single objects, a JSON array or multi-document YAML, with its size,
nesting and encoding checks; other kinds are skipped). An Endpoints object
is named after its Service and holds ``subsets``; each subset is the
Cartesian product of its addresses and its ports::

    subsets[i].addresses[j]          ready: ip, hostname, nodeName, targetRef
    subsets[i].notReadyAddresses[j]  not ready (failed readiness, still starting)
    subsets[i].ports[k]              name (may be unset with one port), port, protocol

kube-proxy's reading, as its Endpoints-era code has it (``BuildPortsToEndpointsMap`` in
``pkg/proxy/util/utils.go`` for the userspace proxier): a service port's endpoints are
every (address, port) with that port name, subset after subset; an address without an IP
or a port of 0 is skipped; only ``addresses`` are ready. The result is the same
:class:`~lbalgo.kube.slices.Endpoint` model as EndpointSlices give, with what the old
objects could say: ready from ``addresses`` versus ``notReadyAddresses`` (serving =
ready: a not-ready pod does not serve), never terminating (the Endpoints controller
drops terminating pods), no zone and no hints. Duplicates of one ``ip:port`` merge, the
ready copy winning; the list is sorted by ``"ip:port"`` as for slices.

Anything that is not a valid object raises :class:`EndpointsError` naming the object and
the field, e.g. ``Endpoints shop/web (endpoints.json items[0]): subsets[0].addresses[2].ip
'10.0.0.300' is not a valid IP address``; so does an address the API server refuses
(unspecified, loopback, link-local, link-local multicast: ``ValidateNonSpecialIP``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import short
from .object_files import read_kubernetes_objects
from .slices import (
    _IPV4,
    PROTOCOLS,
    Endpoint,
    EndpointSlice,
    EndpointSliceError,
    SliceEndpoint,
    SlicePort,
    special_ip_problem,
)

#: The EndpointSlice controller's default ``--max-endpoints-per-slice``, used when mirroring (the
#: mirroring controller's own ``--mirroring-max-endpoints-per-subset`` defaults to 1000).
MAX_PER_SLICE = 100


class EndpointsError(EndpointSliceError):
    """A malformed Endpoints document; the message names the object and the field.

    A subclass of :class:`~lbalgo.kube.EndpointSliceError`, so code that
    catches bad endpoint documents of either API catches both.
    """


@dataclass(frozen=True)
class TargetRef:
    """``targetRef`` of an address (the pod behind it)."""

    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None


@dataclass(frozen=True)
class EndpointAddress:
    """One entry of ``addresses`` or ``notReadyAddresses`` (``ip`` canonical)."""

    ip: str
    family: int
    hostname: str | None = None
    node_name: str | None = None
    target_ref: TargetRef | None = None


@dataclass(frozen=True)
class EndpointPort:
    """One entry of a subset's ``ports`` (``name`` ``""`` when unset, as the API defaults it)."""

    name: str
    port: int
    protocol: str = "TCP"
    app_protocol: str | None = None


@dataclass(frozen=True)
class EndpointSubset:
    """Addresses x ports."""

    addresses: tuple[EndpointAddress, ...] = ()
    not_ready_addresses: tuple[EndpointAddress, ...] = ()
    ports: tuple[EndpointPort, ...] = ()


@dataclass(frozen=True)
class Endpoints:
    """The parts of a core/v1 ``Endpoints`` object that matter for load balancing."""

    name: str
    namespace: str
    subsets: tuple[EndpointSubset, ...] = ()
    where: str = field(default="", compare=False)

    @property
    def service(self) -> str:
        """``"namespace/name"`` of the Service (an Endpoints object has its Service's name)."""
        return f"{self.namespace}/{self.name}"

    def to_slices(self, max_per_slice: int = MAX_PER_SLICE) -> list[EndpointSlice]:
        """Return the EndpointSlices the mirroring controller would write for this object.

        One group of slices per subset and IP family, at most ``max_per_slice``
        endpoints each (default 100, the EndpointSlice controller's size, so
        that churn replays compare like with like; the mirroring controller's
        own default is 1000), labelled with the Service's name; ``addresses``
        are ready and serving, ``notReadyAddresses`` neither.
        """
        if isinstance(max_per_slice, bool) or not isinstance(max_per_slice, int) \
                or not 1 <= max_per_slice <= 1000:
            raise ValueError(f"max_per_slice must be an integer in 1..1000, got {max_per_slice!r}")
        out: list[EndpointSlice] = []
        for i, sub in enumerate(self.subsets):
            ports = tuple(SlicePort(p.name, p.port, p.protocol) for p in sub.ports)
            rows = [(a, True) for a in sub.addresses] + [(a, False) for a in sub.not_ready_addresses]
            for family, kind in ((4, "IPv4"), (6, "IPv6")):
                eps = [SliceEndpoint(a.ip, family, ready, ready, False, a.node_name)
                       for a, ready in rows if a.family == family]
                for k in range(0, len(eps), max_per_slice):
                    out.append(EndpointSlice(name=f"{self.name}-{i}-{kind.lower()}-{k // max_per_slice}",
                                             namespace=self.namespace, service_name=self.name,
                                             address_type=kind, ports=ports,
                                             endpoints=tuple(eps[k:k + max_per_slice]), where=self.where))
        return out


# -- reading documents ----------------------------------------------------------------------------


def load_endpoints(source: Any) -> list[Endpoints]:
    """Read Endpoints objects from a file path, a JSON/YAML string, or parsed objects.

    Parameters
    ----------
    source : str, pathlib.Path, dict or list
        A path to a ``.json`` / ``.yaml`` / ``.yml`` file (``kubectl get
        endpoints -o json|yaml``), the text of one, or already parsed objects:
        a ``List``, one object, or a list of objects. Objects of other kinds
        are skipped; an object without ``kind`` is read as Endpoints.

    Returns
    -------
    list of Endpoints
        In document order.

    Raises
    ------
    EndpointsError
        When the text does not parse or an object is malformed; the message
        names the object (its name and position) and the field.
    """
    objects = read_kubernetes_objects(source, error=EndpointsError)
    return [parse_endpoints(obj, where) for where, obj in objects
            if obj.get("kind", "Endpoints") == "Endpoints"]


def _cut(text: str, limit: int = 80) -> str:
    """Return a name from the document, cut for messages."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Ctx:
    def __init__(self, what: str) -> None:
        self.what = what

    def fail(self, path: str, problem: str) -> None:
        raise EndpointsError(f"{self.what}: {path} {problem}")


def _list(ctx: _Ctx, obj: dict, key: str, path: str) -> list:
    value = obj.get(key)
    if value is None:
        return []
    if type(value) is not list:
        ctx.fail(path, f"must be a list, got {type(value).__name__}")
    return value


def _opt_str(ctx: _Ctx, obj: dict, key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is not None and type(value) is not str:
        ctx.fail(path, f"must be a string, got {short(value)}")
    return value


def parse_endpoints(obj: dict, where: str = "input") -> Endpoints:
    """Validate one Endpoints object (a parsed JSON/YAML mapping)."""
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    ctx = _Ctx(f"Endpoints {short(name)} ({where})" if isinstance(name, str) else f"Endpoints at {where}")
    if not isinstance(meta, dict):
        ctx.fail("metadata", "must be an object with name and namespace")
    if not isinstance(name, str) or not name:
        ctx.fail("metadata.name", "must be a non-empty string")
    namespace = _opt_str(ctx, meta, "namespace", "metadata.namespace") or "default"
    ctx.what = f"Endpoints {_cut(namespace)}/{_cut(name)} ({where})"
    api = obj.get("apiVersion", "v1")
    if api != "v1":
        ctx.fail("apiVersion", f"must be v1, got {short(api)}")
    subsets = tuple(_subset(ctx, s, i) for i, s in enumerate(_list(ctx, obj, "subsets", "subsets")))
    return Endpoints(name=name, namespace=namespace, subsets=subsets, where=where)


def _subset(ctx: _Ctx, s: Any, i: int) -> EndpointSubset:
    path = f"subsets[{i}]"
    if type(s) is not dict:
        ctx.fail(path, "must be an object")
    ready = tuple(_address(ctx, a, f"{path}.addresses[{j}]")
                  for j, a in enumerate(_list(ctx, s, "addresses", f"{path}.addresses")))
    not_ready = tuple(_address(ctx, a, f"{path}.notReadyAddresses[{j}]")
                      for j, a in enumerate(_list(ctx, s, "notReadyAddresses", f"{path}.notReadyAddresses")))
    ports = tuple(_port(ctx, p, f"{path}.ports[{k}]")
                  for k, p in enumerate(_list(ctx, s, "ports", f"{path}.ports")))
    return EndpointSubset(ready, not_ready, ports)


def _address(ctx: _Ctx, a: Any, path: str) -> EndpointAddress:
    if type(a) is not dict:
        ctx.fail(path, "must be an object")
    ip = a.get("ip")
    if type(ip) is not str or not ip:
        ctx.fail(f"{path}.ip", f"must be a non-empty string, got {short(ip)}")
    try:  # the API server takes no spaces and no zones
        parsed = ipaddress.ip_address(ip) if ip == ip.strip() and "%" not in ip else None
    except ValueError:
        parsed = None
    if parsed is None:
        ctx.fail(f"{path}.ip", f"{short(ip)} is not a valid IP address")
    problem = special_ip_problem(parsed)
    if problem:
        ctx.fail(f"{path}.ip", f"{short(ip)} {problem}: the API server rejects such Endpoints "
                               "(ValidateNonSpecialIP)")
    canonical, family = (ip, 4) if _IPV4.fullmatch(ip) else (str(parsed), parsed.version)
    hostname = _opt_str(ctx, a, "hostname", f"{path}.hostname")
    node_name = _opt_str(ctx, a, "nodeName", f"{path}.nodeName")
    ref = a.get("targetRef")
    target = None
    if ref is not None:
        if type(ref) is not dict:
            ctx.fail(f"{path}.targetRef", "must be an object")
        target = TargetRef(*(_opt_str(ctx, ref, k, f"{path}.targetRef.{k}")
                             for k in ("kind", "namespace", "name", "uid")))
    return EndpointAddress(canonical, family, hostname, node_name, target)


def _port(ctx: _Ctx, p: Any, path: str) -> EndpointPort:
    if type(p) is not dict:
        ctx.fail(path, "must be an object")
    name = _opt_str(ctx, p, "name", f"{path}.name") or ""
    number = p.get("port")
    if type(number) is not int or not 0 <= number <= 65535:
        ctx.fail(f"{path}.port", f"must be an integer in 0..65535, got {short(number)}")
    protocol = p.get("protocol") or "TCP"
    if protocol not in PROTOCOLS:
        ctx.fail(f"{path}.protocol", f"must be one of {', '.join(PROTOCOLS)}, got {short(protocol)}")
    app = _opt_str(ctx, p, "appProtocol", f"{path}.appProtocol")
    return EndpointPort(name, number, protocol, app)


# -- merging into one service port ------------------------------------------------------------------


def services_of(objects: Sequence[Endpoints]) -> list[str]:
    """``"namespace/name"`` of every Service the objects belong to, in first-seen order."""
    return list(dict.fromkeys(e.service for e in objects))


def ports_of(objects: Sequence[Endpoints], service: str) -> list[tuple[str, str]]:
    """``(port name, protocol)`` pairs of ``service`` with a non-zero port number."""
    seen: dict[tuple[str, str], None] = {}
    for e in objects:
        if e.service == service:
            for sub in e.subsets:
                for p in sub.ports:
                    if p.port:
                        seen.setdefault((p.name, p.protocol))
    return list(seen)


def merge_endpoints(objects: Sequence[Endpoints], service: str, port_name: str, protocol: str = "TCP",
                    ip_family: str = "IPv4") -> tuple[Endpoint, ...]:
    """kube-proxy's endpoint list of one service port from Endpoints objects, sorted by ``"ip:port"``."""
    version = 6 if ip_family == "IPv6" else 4
    merged: dict[str, Endpoint] = {}
    for obj in objects:
        if obj.service != service:
            continue
        for sub in obj.subsets:
            for p in sub.ports:
                if p.name != port_name or p.protocol != protocol or not p.port:
                    continue
                for addrs, ready in ((sub.addresses, True), (sub.not_ready_addresses, False)):
                    for a in addrs:
                        if a.family != version:
                            continue
                        ep = Endpoint(ip=a.ip, port=p.port, ready=ready, serving=ready, terminating=False,
                                      node_name=a.node_name, slice=obj.name)
                        if ep.key not in merged or (ready and not merged[ep.key].ready):
                            merged[ep.key] = ep
    return tuple(merged[k] for k in sorted(merged))


__all__ = ["Endpoints", "EndpointSubset", "EndpointAddress", "EndpointPort", "TargetRef", "EndpointsError",
           "load_endpoints", "parse_endpoints", "merge_endpoints", "services_of", "ports_of"]
