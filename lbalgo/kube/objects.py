"""The API objects the control plane sends kube-proxy, as JSON, to measure what they weigh.

kube-proxy watches its endpoint objects: with the legacy API one ``Endpoints``
object per Service, rewritten whole on every change; with EndpointSlices the
one slice (at most 100 endpoints by default) that changed. Every watching node
receives each write as a watch event ``{"type": "MODIFIED", "object": {...}}``.
This module builds both kinds of object the way their controllers fill them in
(``pkg/controller/endpoint`` and ``pkg/controller/endpointslice``; field order as
the Go structs declare it) and measures the compact JSON of the events.

What is filled in, per address / endpoint: the IP, ``nodeName``, and ``targetRef``
(kind, namespace, name and uid of the pod); slices add ``conditions`` and ``zone``.
Pod names and uids are derived from the address (a ReplicaSet-style name,
``<service>-<10 characters>-<5 characters>``, and a UUID), so the two APIs carry
the same pods. Object metadata holds name, namespace, uid, resourceVersion,
creationTimestamp and labels (slices: their owner reference too);
``managedFields`` are left out (see ``docs/kube-proxy.md``).

Sizes of large objects are summed from the JSON of their pieces, which
:func:`event_size` of the whole object equals exactly (the tests check it):
serializing a 1 MB Endpoints object for every change of a 5,000-pod rolling
update would take minutes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any, Iterable, Sequence

from .slices import SERVICE_NAME_LABEL, EndpointSlice, SliceEndpoint, SlicePort

_ALNUM = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes draws generated names from
CREATED = "2020-09-02T00:00:00Z"
RESOURCE_VERSION = "12345678"
SLICE_MANAGER = "endpointslice-controller.k8s.io"


def dumps(obj: Any) -> str:
    """Compact JSON, as the API server writes it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def event_size(obj: dict, kind: str = "MODIFIED") -> int:
    """Bytes of the watch event that carries ``obj`` (UTF-8 compact JSON)."""
    return len(dumps({"type": kind, "object": obj}).encode())


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\0".join(parts).encode()).digest()


def pod_ref(namespace: str, service: str, ip: str) -> dict:
    """``targetRef`` of the pod behind ``ip``: a ReplicaSet-style name and a UUID derived from the address."""
    d = _digest(namespace, service, ip)
    name = "".join(_ALNUM[b % len(_ALNUM)] for b in d[:15])
    return {"kind": "Pod", "namespace": namespace, "name": f"{service}-{name[:10]}-{name[10:]}",
            "uid": str(uuid.UUID(bytes=d[16:32]))}


def _uid(*parts: str) -> str:
    return str(uuid.UUID(bytes=_digest(*parts)[:16]))


def _ports_json(ports: Sequence[SlicePort], legacy: bool) -> list[dict]:
    """core/v1 ``EndpointPort`` (name omitted when empty, port, protocol), or discovery/v1's."""
    if legacy:
        return [({"name": p.name} if p.name else {}) | {"port": p.port or 0, "protocol": p.protocol}
                for p in ports]
    return [{"name": p.name or "", "protocol": p.protocol, "port": p.port or 0} for p in ports]


# -- legacy Endpoints -------------------------------------------------------------------------------


def endpoints_address(e: SliceEndpoint, namespace: str, service: str) -> dict:
    """One ``addresses`` / ``notReadyAddresses`` entry for endpoint ``e``."""
    out: dict = {"ip": e.address}
    if e.node_name:
        out["nodeName"] = e.node_name
    out["targetRef"] = pod_ref(namespace, service, e.address)
    return out


def endpoints_skeleton(namespace: str, service: str, ports: Sequence[SlicePort]) -> dict:
    """Return the Endpoints object without its addresses (one subset: every pod shares the ports)."""
    return {"kind": "Endpoints", "apiVersion": "v1",
            "metadata": {"name": service, "namespace": namespace,
                         "uid": _uid(namespace, service, "endpoints"),
                         "resourceVersion": RESOURCE_VERSION, "creationTimestamp": CREATED,
                         "labels": {"app": service}},
            "subsets": [{"ports": _ports_json(ports, legacy=True)}]}


def endpoints_object(namespace: str, service: str, ports: Sequence[SlicePort],
                     endpoints: Iterable[SliceEndpoint]) -> dict:
    """Return the Endpoints object the Endpoints controller writes for these endpoints.

    Ready (and not terminating) pods go to ``addresses``, not-ready ones to
    ``notReadyAddresses``; terminating pods are left out, as the controller
    leaves out pods with a deletion timestamp. Addresses are sorted by IP.
    """
    obj = endpoints_skeleton(namespace, service, ports)
    ready, not_ready = _split(endpoints)
    sub = obj["subsets"][0]
    if ready:
        sub["addresses"] = [endpoints_address(e, namespace, service) for e in ready]
    if not_ready:
        sub["notReadyAddresses"] = [endpoints_address(e, namespace, service) for e in not_ready]
    if ready or not_ready:
        obj["subsets"] = [{k: sub[k] for k in ("addresses", "notReadyAddresses", "ports") if k in sub}]
    else:
        del obj["subsets"]  # omitempty
    return obj


def _split(endpoints: Iterable[SliceEndpoint]) -> tuple[list, list]:
    eps = sorted((e for e in endpoints if e.address is not None and not e.terminating),
                 key=lambda e: e.address)
    return [e for e in eps if e.ready], [e for e in eps if not e.ready]


# -- EndpointSlices ----------------------------------------------------------------------------------


def slice_endpoint(e: SliceEndpoint, namespace: str, service: str) -> dict:
    """One ``endpoints`` entry of an EndpointSlice."""
    out: dict = {"addresses": [e.address],
                 "conditions": {"ready": e.ready, "serving": e.serving, "terminating": e.terminating},
                 "targetRef": pod_ref(namespace, service, e.address)}
    if e.node_name:
        out["nodeName"] = e.node_name
    if e.zone:
        out["zone"] = e.zone
    if e.zone_hints or e.node_hints:
        hints: dict = {}
        if e.zone_hints:
            hints["forZones"] = [{"name": z} for z in sorted(e.zone_hints)]
        if e.node_hints:
            hints["forNodes"] = [{"name": n} for n in sorted(e.node_hints)]
        out["hints"] = hints
    return out


def slice_object(s: EndpointSlice) -> dict:
    """Return the EndpointSlice object as the EndpointSlice controller writes it."""
    service = s.service_name or s.name
    obj = {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
           "metadata": {"name": s.name, "generateName": f"{service}-", "namespace": s.namespace,
                        "uid": _uid(s.namespace, s.name, "slice"), "resourceVersion": RESOURCE_VERSION,
                        "generation": 1, "creationTimestamp": CREATED,
                        "labels": {"endpointslice.kubernetes.io/managed-by": SLICE_MANAGER,
                                   SERVICE_NAME_LABEL: service},
                        "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": service,
                                             "uid": _uid(s.namespace, service, "service"), "controller": True,
                                             "blockOwnerDeletion": True}]},
           "addressType": s.address_type,
           "endpoints": [slice_endpoint(e, s.namespace, service)
                         for e in s.endpoints if e.address is not None],
           "ports": _ports_json(s.ports, legacy=False)}
    return obj


# -- sizes, summed from the pieces -------------------------------------------------------------------


class Sizer:
    """Watch-event sizes of the objects of one Service, from cached per-endpoint JSON sizes.

    ``endpoints_size(eps)`` equals ``event_size(endpoints_object(...))`` and
    ``slice_size(s)`` equals ``event_size(slice_object(s))`` (to the byte).
    """

    def __init__(self, namespace: str, service: str, ports: Sequence[SlicePort]) -> None:
        self.namespace, self.service, self.ports = namespace, service, tuple(ports)
        self._address: dict[tuple, int] = {}
        self._entry: dict[tuple, int] = {}
        self._slice_base: dict[tuple, int] = {}
        empty = endpoints_skeleton(namespace, service, self.ports)
        self._ep_empty = event_size({k: v for k, v in empty.items() if k != "subsets"})
        self._ep_base = event_size(empty)  # one subset holding only the ports

    def address_size(self, e: SliceEndpoint) -> int:
        """Bytes of ``e``'s entry in the Endpoints object's address lists."""
        key = (e.address, e.node_name)
        size = self._address.get(key)
        if size is None:
            entry = endpoints_address(e, self.namespace, self.service)
            size = self._address[key] = len(dumps(entry).encode())
        return size

    def endpoints_size(self, endpoints: Iterable[SliceEndpoint]) -> int:
        """Bytes of the event carrying the Endpoints object of these endpoints."""
        ready, not_ready = _split(endpoints)
        return self.endpoints_size_from(len(ready), sum(self.address_size(e) for e in ready),
                                        len(not_ready), sum(self.address_size(e) for e in not_ready))

    def endpoints_size_from(self, ready: int, ready_bytes: int, not_ready: int, not_ready_bytes: int) -> int:
        """:meth:`endpoints_size` from the count and summed :meth:`address_size` of each address list."""
        if not ready and not not_ready:
            return self._ep_empty
        size = self._ep_base
        for count, total, key in ((ready, ready_bytes, "addresses"),
                                  (not_ready, not_ready_bytes, "notReadyAddresses")):
            if count:
                # "key":[a,b,...], : the quoted key and colon, the brackets, the items, the commas
                # between them, and the comma before the next key
                size += (len(key) + 3) + 2 + total + (count - 1) + 1
        return size

    def _entry_size(self, e: SliceEndpoint) -> int:
        key = (e.address, e.node_name, e.zone, e.ready, e.serving, e.terminating, e.zone_hints, e.node_hints)
        size = self._entry.get(key)
        if size is None:
            size = self._entry[key] = len(dumps(slice_endpoint(e, self.namespace, self.service)).encode())
        return size

    def slice_size(self, s: EndpointSlice, kind: str = "MODIFIED") -> int:
        """Bytes of the event carrying slice ``s``."""
        key = (s.name, s.namespace, s.service_name, s.address_type, s.ports, kind)
        base = self._slice_base.get(key)
        if base is None:
            base = self._slice_base[key] = event_size(slice_object(EndpointSlice(
                s.name, s.namespace, s.service_name, s.address_type, s.ports, ())), kind)
        eps = [e for e in s.endpoints if e.address is not None]
        return base + sum(self._entry_size(e) for e in eps) + max(0, len(eps) - 1)
