"""The EndpointSlice controller for one Service, simplified: which API objects each pod change writes.

A simplified EndpointSlice controller (kubernetes/kubernetes, package ``endpointslice``; the KEP
``keps/sig-network/20190603-EndpointSlice-API.md``) over the EndpointSlice API
(``staging/src/k8s.io/api/discovery/v1/types.go``; hints as
``staging/src/k8s.io/endpointslice/trafficdist/trafficdist.go`` writes them):

- a new endpoint goes into the first slice with room (``max_per_slice``, default 100);
- a changed or removed endpoint rewrites only its own slice; an empty slice is deleted;
- not-ready and terminating endpoints lose their zone hints (the controller hints ready
  endpoints only).

Each change is counted as the API objects it writes, next to what the legacy ``Endpoints``
object (one object holding every address) would have written, and as the bytes of the watch
events that carry them to each watching node, measured on the JSON of the objects
:mod:`lbalgo.kube.objects` builds. :mod:`lbalgo.kube.churn` replays these changes through
kube-proxy; :mod:`lbalgo.kube.api_traffic` scales them to a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .. import addresses
from .objects import Sizer
from .slices import EndpointSlice, SliceEndpoint

ACTIONS = ("add", "ready", "not_ready", "terminating", "remove")


@dataclass(frozen=True)
class PodChange:
    """One endpoint event at ``time`` seconds.

    ``action``: "add" (a ready pod), "ready", "not_ready" (failing readiness
    probe), "terminating" (deleted, still serving during its grace period)
    or "remove" (gone). ``node`` and ``zone`` are needed for "add".
    """

    time: float
    action: str
    ip: str
    node: str | None = None
    zone: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"PodChange.action must be one of {ACTIONS}, got {self.action!r}")
        addresses.parse(self.ip, "PodChange.ip")


@dataclass(frozen=True)
class ObjectChurn:
    """API objects written for one change: EndpointSlices versus the legacy Endpoints object.

    The byte counts are what one watching node receives: the watch event of
    each written slice, versus the event carrying the whole Endpoints object.
    """

    slices_written: int  # EndpointSlice objects created, updated or deleted
    slice_endpoints: int  # endpoints carried by the written slices
    endpoints_object_endpoints: int  # addresses carried by the one Endpoints object
    slice_bytes: int = 0  # bytes of the written slices' watch events, per watching node
    endpoints_bytes: int = 0  # bytes of the Endpoints object's watch event, per watching node


class SliceSet:
    """The EndpointSlices of one Service, maintained like the EndpointSlice controller (simplified)."""

    def __init__(self, slices: Sequence[EndpointSlice], service: str, max_per_slice: int = 100) -> None:
        if not 1 <= max_per_slice <= 1000:
            raise ValueError(f"max_per_slice must be in 1..1000, got {max_per_slice}")
        mine = [s for s in slices if s.service == service]
        if not mine:
            raise ValueError(f"no EndpointSlice belongs to {service}")
        self.service = service
        self.max_per_slice = max_per_slice
        self.template = mine[0]
        self.others = [s for s in slices if s.service != service]
        self.members: dict[str, list[SliceEndpoint]] = {s.name: list(s.endpoints) for s in mine}
        self.meta = {s.name: s for s in mine}
        self.hinted = any(e.zone_hints for s in mine for e in s.endpoints)
        self._serial = 0
        self._where = {e.address: name for name, eps in self.members.items() for e in eps}
        ports = next((s.ports for s in mine if s.ports), ())
        self.sizer = Sizer(self.template.namespace, self.template.service_name or self.template.name, ports)
        # Running sums of the Endpoints object's addresses: [count, bytes] of ready / not-ready ones.
        self._legacy = {True: [0, 0], False: [0, 0]}
        for eps in self.members.values():
            for e in eps:
                self._account(e, +1)

    def slices(self) -> list[EndpointSlice]:
        """Return the current slices (the service's first, then the others unchanged)."""
        return [self._slice(name) for name in self.members] + self.others

    def _slice(self, name: str, endpoints: Sequence[SliceEndpoint] | None = None) -> EndpointSlice:
        m = self.meta.get(name, self.template)
        eps = self.members[name] if endpoints is None else endpoints
        return EndpointSlice(name=name, namespace=m.namespace, service_name=m.service_name,
                             address_type=m.address_type, ports=m.ports or self.template.ports,
                             endpoints=tuple(eps), where=m.where)

    def _account(self, e: SliceEndpoint, sign: int) -> None:
        """Add (+1) or take out (-1) ``e``'s address in the Endpoints object's running sums."""
        if e.address is None or e.terminating:  # the Endpoints controller leaves terminating pods out
            return
        group = self._legacy[e.ready]
        group[0] += sign
        group[1] += sign * self.sizer.address_size(e)

    def endpoints_bytes(self) -> int:
        """Bytes of the watch event carrying the Endpoints object as it stands."""
        (rn, rb), (nn, nb) = self._legacy[True], self._legacy[False]
        return self.sizer.endpoints_size_from(rn, rb, nn, nb)

    def _find(self, ip: str) -> tuple[str, int]:
        name = self._where.get(ip)
        if name is not None:
            for i, e in enumerate(self.members[name]):
                if e.address == ip:
                    return name, i
        raise KeyError(f"no endpoint {ip} in the slices of {self.service}")

    def apply(self, change: PodChange) -> ObjectChurn:
        """Apply one change; return the API objects it wrote (and their bytes per watching node)."""
        parsed = addresses.parse(change.ip)
        ip = str(parsed)
        if change.action == "add":
            hints = frozenset([change.zone]) if self.hinted and change.zone else frozenset()
            e = SliceEndpoint(address=ip, family=parsed.version, node_name=change.node, zone=change.zone,
                              zone_hints=hints)
            if ip in self._where:
                raise ValueError(f"endpoint {ip} is already in the slices of {self.service}")
            name = next((n for n, eps in self.members.items() if len(eps) < self.max_per_slice), None)
            kind = "MODIFIED"
            if name is None:
                self._serial += 1
                base = self.template.service_name or "svc"
                name = f"{base}-churn{self._serial}"
                self.members[name] = []
                kind = "ADDED"
            self.members[name].append(e)
            self._where[ip] = name
            self._account(e, +1)
        else:
            name, i = self._find(ip)
            old = self.members[name][i]
            self._account(old, -1)
            kind = "MODIFIED"
            if change.action == "remove":
                before = self._slice(name)
                del self.members[name][i]
                del self._where[ip]
                if not self.members[name]:
                    del self.members[name]  # the emptied slice is deleted: the event carries its last state
                    return ObjectChurn(1, 0, self.total(), self.sizer.slice_size(before, "DELETED"),
                                       self.endpoints_bytes())
            else:
                ready = change.action == "ready"
                serving = change.action in ("ready", "terminating")
                hints = frozenset([old.zone]) if ready and self.hinted and old.zone else frozenset()
                new = SliceEndpoint(
                    address=old.address, family=old.family, ready=ready, serving=serving,
                    terminating=change.action == "terminating", node_name=old.node_name, zone=old.zone,
                    zone_hints=hints, node_hints=old.node_hints if ready else frozenset())
                self.members[name][i] = new
                self._account(new, +1)
        return ObjectChurn(1, len(self.members[name]), self.total(),
                           self.sizer.slice_size(self._slice(name), kind), self.endpoints_bytes())

    def total(self) -> int:
        """Endpoints in all of the service's slices (what one Endpoints object would hold)."""
        return sum(len(v) for v in self.members.values())
